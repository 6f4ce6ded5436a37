"""Who the caller is: the name and role of the presented key, so a client (the desk page) shows only
the actions that role may take."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.auth import Role, Viewer

router = APIRouter(tags=["auth"])


class Me(BaseModel):
    name: str = Field(description="The key's name (the bootstrap admin key has its own).")
    role: Role = Field(description="viewer < responder < admin: each includes the ones before it.")


@router.get("/me")
async def who_am_i(who: Viewer) -> Me:
    """The caller's key name and role. Every key has at least the viewer role."""
    return Me(name=who.name, role=who.role)
