"""The thin HTTP API: alerts for rapid-response staff, ingestion for collectors, health for operators.

It never imports the streams package: it meets the worker in ClickHouse (history, posts) and Redis
(live alert state and feed), and writes incoming posts to the `posts.raw` topic like any source.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from redis.asyncio import Redis
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from alerts.lifecycle import acknowledge
from alerts.state import AlertState
from config.settings import Settings
from pantau import metrics
from pantau.bus import RawProducer, ensure_topics
from pantau.domain import Alert, AlertStatus, Severity, SignalKind, utcnow
from pantau.normalise import PostIn, make_envelope
from storage.client import open_client
from storage.repository import AlertQuery, ClickHouseStore

log = logging.getLogger(__name__)


@dataclass
class ApiContext:
    settings: Settings
    store: ClickHouseStore
    alert_state: AlertState
    producer: RawProducer


class BodySizeLimit:
    """Refuse request bodies over `max_bytes` with 413, by header or while they stream in."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        seen = 0
        too_large = False
        response_started = False

        async def limited_receive() -> Message:
            nonlocal seen, too_large
            if too_large:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # Look like a client that went away: the app stops reading, we answer 413.
                    too_large = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if too_large:
                return  # whatever the app says about the cut-off body is replaced by the 413
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not too_large:
                raise
        if too_large and not response_started:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = orjson.dumps({"detail": f"request body over {self.max_bytes} bytes"})
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class IngestBatch(BaseModel):
    posts: list[PostIn] = Field(min_length=1, description="One or more posts in the Pantau post shape.")
    source: str = Field(default="api", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")


class IngestResult(BaseModel):
    accepted: int


class AlertPage(BaseModel):
    items: list[Alert]
    total: int
    limit: int
    offset: int


class AlertDetail(BaseModel):
    alert: Alert
    evidence_posts: list[dict[str, Any]]


class AckRequest(BaseModel):
    by: str = Field(default="anonymous", min_length=1, max_length=100)


def get_context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context


Context = Annotated[ApiContext, Depends(get_context)]


def create_app(settings: Settings, context: ApiContext | None = None) -> FastAPI:
    """The API. With `context` given (`pantau up`, tests) it shares the caller's clients; without, it
    opens its own from the settings (`pantau api`, a separate process)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if context is not None:
            yield
            return
        # An early POST /ingest must not let the broker auto-create posts.raw with its own defaults.
        await ensure_topics(settings.kafka_brokers, settings.topic_partitions, settings.topic_replication)
        client = await asyncio.to_thread(open_client, settings.resolved_clickhouse_dsn)
        redis = Redis.from_url(settings.redis_url)
        producer = RawProducer(settings.kafka_brokers)
        await producer.start()
        app.state.context = ApiContext(
            settings=settings,
            store=ClickHouseStore(client),
            alert_state=AlertState(
                redis,
                dedup_ttl_seconds=settings.alert_dedup_ttl_seconds,
                feed_maxlen=settings.alert_feed_maxlen,
            ),
            producer=producer,
        )
        try:
            yield
        finally:
            await producer.stop()
            await redis.aclose()
            await asyncio.to_thread(client.close)

    app = FastAPI(
        title="Pantau",
        version="0.1.0",
        description="Alerts, live feed and ingestion for a political social-media war room.",
        lifespan=lifespan,
    )
    app.add_middleware(BodySizeLimit, max_bytes=settings.api_max_body_bytes)
    if context is not None:
        app.state.context = context

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"])
    async def readyz(ctx: Context) -> JSONResponse:
        async def check(probe: Callable[[], Awaitable[Any]]) -> str:
            try:
                await asyncio.wait_for(probe(), timeout=3.0)
                return "ok"
            except Exception as exc:
                return f"error: {type(exc).__name__}: {exc}"[:300]

        results = dict(
            zip(
                ("kafka", "clickhouse", "redis"),
                await asyncio.gather(
                    check(ctx.producer.ping),
                    check(lambda: asyncio.to_thread(ctx.store.ping)),
                    check(ctx.alert_state.redis.ping),
                ),
                strict=True,
            )
        )
        ready = all(v == "ok" for v in results.values())
        return JSONResponse({"ready": ready, "checks": results}, status_code=200 if ready else 503)

    @app.get("/metrics", tags=["operations"])
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.post("/ingest", status_code=202, tags=["ingest"])
    async def ingest(batch: IngestBatch, ctx: Context) -> IngestResult:
        if len(batch.posts) > ctx.settings.api_max_batch_posts:
            raise HTTPException(413, f"at most {ctx.settings.api_max_batch_posts} posts per request")
        received_at = utcnow()
        try:
            envelopes = [
                make_envelope(
                    post.model_dump(mode="json", exclude_none=True),
                    source=batch.source,
                    received_at=received_at,
                )
                for post in batch.posts
            ]
        except (TypeError, ValueError) as exc:  # e.g. extra fields nested deeper than encoders go
            raise HTTPException(422, f"a post cannot be encoded: {exc}") from None
        limit = ctx.settings.max_post_message_bytes
        oversize = [i for i, envelope in enumerate(envelopes) if len(envelope) > limit]
        if oversize:
            raise HTTPException(413, f"posts {oversize[:10]} are over the {limit}-byte limit for one post")
        await ctx.producer.send_many(envelopes)
        metrics.INGESTED.inc(len(envelopes))
        return IngestResult(accepted=len(envelopes))

    @app.get("/alerts", tags=["alerts"])
    async def list_alerts(
        ctx: Context,
        status: AlertStatus | None = None,
        severity: Severity | None = None,
        target: Annotated[str | None, Query(max_length=100)] = None,
        kind: SignalKind | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> AlertPage:
        query = AlertQuery(status=status, severity=severity, target=target, kind=kind, since=since,
                           until=until, limit=limit, offset=offset)  # fmt: skip
        items, total = await asyncio.to_thread(ctx.store.list_alerts, query)
        return AlertPage(items=items, total=total, limit=limit, offset=offset)

    @app.get("/alerts/stream", tags=["alerts"])
    async def alert_stream(
        request: Request,
        ctx: Context,
        last_event_id: Annotated[str | None, Header(max_length=64, pattern=r"^\d+-\d+$")] = None,
    ) -> EventSourceResponse:
        async def events() -> AsyncIterator[ServerSentEvent]:
            async for entry_id, body in ctx.alert_state.feed(last_event_id or "$"):
                if await request.is_disconnected():
                    return
                if entry_id:
                    yield ServerSentEvent(data=orjson.dumps(body).decode(), event=body["event"], id=entry_id)

        return EventSourceResponse(events(), ping=15)

    @app.get("/alerts/{alert_id}", tags=["alerts"])
    async def alert_detail(alert_id: Annotated[str, PathParam(max_length=64)], ctx: Context) -> AlertDetail:
        alert = await _find_alert(ctx, alert_id)
        posts = await asyncio.to_thread(ctx.store.get_posts, list(alert.evidence))
        return AlertDetail(alert=alert, evidence_posts=posts)

    @app.post("/alerts/{alert_id}/ack", tags=["alerts"])
    async def ack_alert(
        alert_id: Annotated[str, PathParam(max_length=64)], ctx: Context, body: AckRequest | None = None
    ) -> Alert:
        by = body.by if body else "anonymous"
        acked_here = False

        def decide(current: Alert | None) -> Alert:
            nonlocal acked_here
            assert current is not None
            # After the version it changes, even if the detector wrote one a moment ago: the
            # history keeps the newest version per alert.
            now = max(utcnow(), current.updated_at + timedelta(microseconds=1))
            acked = acknowledge(current, by=by, now=now)
            acked_here = acked is not current
            return acked

        acked = await ctx.alert_state.update(alert_id, decide, event="acknowledged")
        if acked is None:  # no longer live in Redis: acknowledge the stored history
            stored = await asyncio.to_thread(ctx.store.get_alert, alert_id)
            if stored is None:
                raise HTTPException(404, f"no alert {alert_id!r}")
            acked = decide(stored)
            if acked_here:
                await ctx.alert_state.put(acked, event="acknowledged")
        # Written every time (same version, so idempotent): an earlier request that failed after
        # Redis and before ClickHouse is repaired by the retry.
        event = "acknowledged" if acked_here else None
        await asyncio.to_thread(ctx.store.upsert_alerts, [acked], event=event, actor=by)
        if acked_here:
            metrics.ALERT_EVENTS.labels("acknowledged").inc()
        return acked

    return app


async def _find_alert(ctx: ApiContext, alert_id: str) -> Alert:
    alert = await ctx.alert_state.get(alert_id)
    if alert is None:
        alert = await asyncio.to_thread(ctx.store.get_alert, alert_id)
    if alert is None:
        raise HTTPException(404, f"no alert {alert_id!r}")
    return alert
