"""Posts from collectors, written to `posts.raw` like any source."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from api.auth import Responder
from api.deps import Context
from pantau import metrics
from pantau.domain import utcnow
from pantau.normalise import PostIn, make_envelope
from storage.spool import SpoolFull

router = APIRouter(tags=["ingest"])


class IngestBatch(BaseModel):
    posts: list[PostIn] = Field(min_length=1, description="One or more posts in the Pantau post shape.")
    source: str = Field(default="api", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")


class IngestResult(BaseModel):
    accepted: int


@router.post(
    "/ingest",
    status_code=202,
    responses={503: {"description": "The spool of accepted posts is full: retry after Retry-After seconds."}},
)
async def ingest(batch: IngestBatch, ctx: Context, who: Responder) -> IngestResult:
    if len(batch.posts) > ctx.settings.api_max_batch_posts:
        raise HTTPException(413, f"at most {ctx.settings.api_max_batch_posts} posts per request")
    received_at = utcnow()
    envelopes = []
    for i, post in enumerate(batch.posts):
        try:
            payload = post.model_dump(mode="json", exclude_none=True)
            envelopes.append(make_envelope(payload, source=batch.source, received_at=received_at))
        except (TypeError, ValueError) as exc:  # e.g. extra fields nested deeper than encoders go
            # The 422 body the schema documents: a list of errors, each naming where.
            raise RequestValidationError(
                [{"type": "value_error", "loc": ("body", "posts", i), "msg": f"cannot be encoded: {exc}"}]
            ) from None
    limit = ctx.settings.max_post_message_bytes
    oversize = [i for i, envelope in enumerate(envelopes) if len(envelope) > limit]
    if oversize:
        raise HTTPException(413, f"posts {oversize[:10]} are over the {limit}-byte limit for one post")
    if ctx.spool_writer is None:
        await ctx.producer.send_many(envelopes)
    else:
        try:
            # On disk before the 202: a crash after it loses nothing (the forwarder sends them on).
            await ctx.spool_writer.send_many(envelopes)
        except SpoolFull as exc:
            metrics.SPOOL_REFUSED.inc(len(envelopes))
            raise HTTPException(503, f"{exc}: try again later", headers={"Retry-After": "5"}) from None
    metrics.INGESTED.inc(len(envelopes))
    return IngestResult(accepted=len(envelopes))
