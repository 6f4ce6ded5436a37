"""API keys, for admins: list, add (the key shown once) and revoke."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from api.auth import Admin, ApiKey, Role
from api.deps import Context

log = logging.getLogger(__name__)

router = APIRouter(tags=["admin"])


class ApiKeyOut(BaseModel):
    """An API key as listed: never its secret or hash."""

    id: str
    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None

    @staticmethod
    def of(key: ApiKey) -> ApiKeyOut:
        return ApiKeyOut.model_validate(key.public())


class KeyRequest(BaseModel):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    role: Role = Role.viewer


class NewKey(BaseModel):
    id: str
    name: str
    role: Role
    key: str = Field(description="Shown once; only its hash is stored.")


@router.get("/keys")
async def list_keys(ctx: Context, who: Admin) -> list[ApiKeyOut]:
    return [ApiKeyOut.of(k) for k in await ctx.authenticator.store.list()]


@router.post("/keys", status_code=201)
async def add_key(body: KeyRequest, ctx: Context, who: Admin) -> NewKey:
    try:
        record, key = await ctx.authenticator.store.add(body.name, body.role)
    except ValueError as exc:
        raise HTTPException(409, str(exc)) from None
    log.info("API key %s (%s, %s) added by %s", record.id, record.name, record.role, who.name)
    return NewKey(id=record.id, name=record.name, role=record.role, key=key)


@router.delete("/keys/{key}")
async def revoke_key(key: Annotated[str, PathParam(max_length=64)], ctx: Context, who: Admin) -> ApiKeyOut:
    try:
        record = await ctx.authenticator.store.revoke(key)
    except KeyError:
        raise HTTPException(404, f"no API key {key!r}") from None
    log.info("API key %s (%s) revoked by %s", record.id, record.name, who.name)
    return ApiKeyOut.of(record)
