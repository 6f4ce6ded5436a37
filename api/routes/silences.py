"""Silences: hush alerts that match labels for a while, for the whole desk."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, model_validator

from alerts.config import Matcher
from alerts.dispatcher import SilenceStore
from alerts.routing import Silence, SilenceState
from api.auth import Responder, Viewer
from api.deps import ApiTime, Context
from pantau.domain import utcnow

log = logging.getLogger(__name__)

router = APIRouter(tags=["silences"])

MAX_SILENCE_MINUTES = 30 * 24 * 60


class SilenceRequest(BaseModel):
    matchers: list[Matcher] = Field(
        min_length=1, max_length=20, description='Each {"name", "op", "value"}, or a string: target="raka".'
    )
    starts_at: ApiTime | None = Field(default=None, description="Default: now.")
    ends_at: ApiTime | None = Field(default=None, description="Give this or duration_minutes.")
    duration_minutes: int | None = Field(default=None, ge=1, le=MAX_SILENCE_MINUTES)
    comment: str = Field(min_length=1, max_length=500, description="Why: shown to the rest of the desk.")

    @model_validator(mode="after")
    def _one_end(self) -> SilenceRequest:
        if (self.ends_at is None) == (self.duration_minutes is None):
            raise ValueError("give exactly one of ends_at and duration_minutes")
        return self


class SilenceOut(Silence):
    status: SilenceState


@router.get("/silences")
async def list_silences(ctx: Context, who: Viewer, state: SilenceState | None = None) -> list[SilenceOut]:
    now = utcnow()
    return [
        SilenceOut(**s.model_dump(), status=s.state(now))
        for s in await ctx.silences.all(now)
        if state is None or s.state(now) == state
    ]


@router.post("/silences", status_code=201)
async def create_silence(body: SilenceRequest, ctx: Context, who: Responder) -> SilenceOut:
    now = utcnow()
    starts = body.starts_at or now
    ends = body.ends_at or starts + timedelta(minutes=body.duration_minutes or 0)
    if ends <= max(starts, now):
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("body", "ends_at"), "msg": "must be after starts_at and now",
              "input": str(ends)}]
        )  # fmt: skip
    if ends - starts > timedelta(minutes=MAX_SILENCE_MINUTES):
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("body", "ends_at"),
              "msg": f"a silence lasts at most {MAX_SILENCE_MINUTES // 1440} days", "input": str(ends)}]
        )  # fmt: skip
    matchers = tuple(body.matchers)
    silence = Silence(id=SilenceStore.new_id(), matchers=matchers, starts_at=starts, ends_at=ends,
                      created_by=who.name, created_at=now, comment=body.comment)  # fmt: skip
    await ctx.silences.put(silence)
    log.info("silence %s by %s: %s until %s", silence.id, who.name, [str(m) for m in matchers], ends)
    return SilenceOut(**silence.model_dump(), status=silence.state(now))


@router.delete("/silences/{silence_id}")
async def expire_silence(
    silence_id: Annotated[str, PathParam(max_length=64)], ctx: Context, who: Responder
) -> SilenceOut:
    now = utcnow()
    silence = await ctx.silences.expire(silence_id, by=who.name, now=now)
    if silence is None:
        raise HTTPException(404, f"no silence {silence_id!r}")
    return SilenceOut(**silence.model_dump(), status=silence.state(now))
