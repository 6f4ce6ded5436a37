"""The thin HTTP API: alerts for rapid-response staff, ingestion for collectors, health for operators.

It never imports the streams package: it meets the worker in ClickHouse (history, posts) and Redis
(live alert state and feed), and writes incoming posts to the `posts.raw` topic like any source.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import AfterValidator, BaseModel, Field, model_validator
from redis.asyncio import Redis
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from alerts.config import Matcher
from alerts.dispatcher import SilenceStore
from alerts.feed import FeedHub
from alerts.lifecycle import acknowledge, assign, resolve
from alerts.routing import Silence, SilenceState, silenced_by
from alerts.state import AlertState
from api.auth import Admin, ApiKey, Authenticator, KeyStore, Principal, RateLimiter, Responder, Role, Viewer
from config.settings import Settings
from config.watchlist import Watchlist, load_watchlist
from pantau import metrics
from pantau.bus import RawProducer, ensure_topics
from pantau.domain import Alert, AlertStatus, Severity, SignalKind, as_utc, utcnow
from pantau.normalise import PostIn, make_envelope
from storage.client import open_client
from storage.repository import ALERT_SORTS, AlertQuery, ClickHouseStore
from storage.summaries import EmergingIssue, SummaryQueries, TargetSummaryPage

log = logging.getLogger(__name__)

AlertId = Annotated[str, PathParam(max_length=64, pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
SORT_PATTERN = rf"^-?({'|'.join(ALERT_SORTS)})$"
MAX_SILENCE_MINUTES = 30 * 24 * 60
FEED_KEY_CHECK_SECONDS = 60.0
STATUS_EVENTS = frozenset({"acknowledged", "resolved"})
ACTOR_FIELD = {"acknowledged": "acked_by", "resolved": "resolved_by", "assigned": "assigned_by"}
# ClickHouse's DateTime64 range. A time outside it is bad input (422) where it enters, not a query
# or a date sum that fails later (500): years before 1000 do not even format as ClickHouse reads them.
EARLIEST_TIME = datetime(1900, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(2299, 12, 31, 23, 59, 59, tzinfo=UTC)


def _time_in_range(value: datetime) -> datetime:
    """The time in UTC (naive = UTC), if it lies in [EARLIEST_TIME, LATEST_TIME]."""
    try:
        utc: datetime | None = as_utc(value)
    except OverflowError:  # e.g. 9999-12-31T23:00-05:00 is past datetime.max in UTC
        utc = None
    if utc is None or not EARLIEST_TIME <= utc <= LATEST_TIME:
        raise ValueError(f"must lie between {EARLIEST_TIME:%Y-%m-%d} and {LATEST_TIME:%Y-%m-%d} (UTC)")
    return utc


ApiTime = Annotated[datetime, AfterValidator(_time_in_range)]


@dataclass
class ApiContext:
    settings: Settings
    store: ClickHouseStore
    alert_state: AlertState
    producer: RawProducer
    silences: SilenceStore
    feed: FeedHub
    summaries: SummaryQueries
    watchlist: Watchlist
    authenticator: Authenticator


def make_context(
    settings: Settings, store: ClickHouseStore, redis: Redis, producer: RawProducer
) -> ApiContext:
    """The API's clients and stores, sharing one ClickHouse client and one Redis connection pool."""
    return ApiContext(
        settings=settings,
        store=store,
        alert_state=AlertState(
            redis, dedup_ttl_seconds=settings.alert_dedup_ttl_seconds, feed_maxlen=settings.alert_feed_maxlen
        ),
        producer=producer,
        silences=SilenceStore(redis),
        feed=FeedHub(redis),
        summaries=SummaryQueries(store.client),
        watchlist=load_watchlist(settings.watchlist_path),
        authenticator=Authenticator(
            KeyStore(redis),
            admin_key=settings.admin_key,
            rate_limiter=RateLimiter(redis, per_minute=settings.api_rate_limit_per_minute),
        ),
    )


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


class AlertEventOut(BaseModel):
    at: datetime
    event: str
    actor: str
    status: AlertStatus
    details: str


class AlertDetail(BaseModel):
    alert: Alert
    evidence_posts: list[dict[str, Any]]
    events: list[AlertEventOut] = Field(
        description="Its history: opened, updates, who acted and when, comments."
    )
    suppressed_by: list[str] = Field(description="Silences that hush it now.")


class Note(BaseModel):
    note: str = Field(default="", max_length=2000, description="Why, for the record.")


class AssignRequest(BaseModel):
    assignee: str = Field(max_length=100, pattern=r"^[^\x00-\x1f]*$", description="'' takes it back.")


class CommentRequest(BaseModel):
    text: str = Field(min_length=1, max_length=4000)


class CommentOut(BaseModel):
    alert_id: str
    by: str
    at: datetime
    text: str


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


class KeyRequest(BaseModel):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    role: Role = Role.viewer


class NewKey(BaseModel):
    id: str
    name: str
    role: Role
    key: str = Field(description="Shown once; only its hash is stored.")


class EmergingNow(BaseModel):
    alerts: list[Alert] = Field(description="Live alerts, most severe and most recent first.")
    issues: list[EmergingIssue] = Field(description="Hashtags and terms growing fastest now.")


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
            try:
                yield
            finally:
                await context.feed.aclose()
            return
        # An early POST /ingest must not let the broker auto-create posts.raw with its own defaults.
        await ensure_topics(settings.kafka_brokers, settings.topic_partitions, settings.topic_replication)
        client = await asyncio.to_thread(open_client, settings.resolved_clickhouse_dsn)
        redis = Redis.from_url(settings.redis_url)
        producer = RawProducer(settings.kafka_brokers)
        await producer.start()
        app.state.context = make_context(settings, ClickHouseStore(client), redis, producer)
        app.state.authenticator = app.state.context.authenticator
        try:
            yield
        finally:
            await app.state.context.feed.aclose()
            await producer.stop()
            await redis.aclose()
            await asyncio.to_thread(client.close)

    app = FastAPI(
        title="Pantau",
        version="0.1.0",
        description="Alerts, live feed, summaries and ingestion for a political social-media war room. "
        "Every route but /healthz, /readyz and /metrics needs `Authorization: Bearer <API key>`.",
        lifespan=lifespan,
    )
    app.add_middleware(BodySizeLimit, max_bytes=settings.api_max_body_bytes)
    if settings.api_cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.api_cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
        )
    if context is not None:
        app.state.context = context
        app.state.authenticator = context.authenticator

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

    @app.get("/metrics", tags=["operations"], response_class=PlainTextResponse)
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.post("/ingest", status_code=202, tags=["ingest"])
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
        await ctx.producer.send_many(envelopes)
        metrics.INGESTED.inc(len(envelopes))
        return IngestResult(accepted=len(envelopes))

    # -- alerts -------------------------------------------------------------------------------
    @app.get("/alerts", tags=["alerts"])
    async def list_alerts(
        ctx: Context,
        who: Viewer,
        status: AlertStatus | None = None,
        severity: Severity | None = None,
        target: Annotated[str | None, Query(max_length=100)] = None,
        kind: SignalKind | None = None,
        assignee: Annotated[str | None, Query(max_length=100)] = None,
        since: ApiTime | None = None,
        until: ApiTime | None = None,
        sort: Annotated[str, Query(pattern=SORT_PATTERN, description="A field, '-' first: descending.")] = (
            "-created_at"
        ),
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> AlertPage:
        query = AlertQuery(status=status, severity=severity, target=target, kind=kind, assignee=assignee,
                           since=since, until=until, sort=sort, limit=limit, offset=offset)  # fmt: skip
        items, total = await asyncio.to_thread(ctx.store.list_alerts, query)
        return AlertPage(items=items, total=total, limit=limit, offset=offset)

    @app.get(
        "/alerts/stream",
        tags=["alerts"],
        response_class=EventSourceResponse,
        responses={200: {"description": "Alert events.", "content": {"text/event-stream": {}}}},
    )
    async def alert_stream(
        request: Request,
        ctx: Context,
        who: Viewer,
        status: AlertStatus | None = None,
        severity: Annotated[list[Severity] | None, Query()] = None,
        target: Annotated[str | None, Query(max_length=100)] = None,
        kind: Annotated[list[SignalKind] | None, Query()] = None,
        last_event_id: Annotated[str | None, Header(max_length=64, pattern=r"^\d+-\d+$")] = None,
    ) -> EventSourceResponse:
        """Alert events as Server-Sent Events. Reconnect with `Last-Event-ID` to resume where the
        client left off; an `event: reset` means the feed no longer holds that point (refetch
        `GET /alerts`). Filters apply to the alert each event carries; with `status`, the events
        that change an alert's status (acknowledged, resolved) pass too, so a screen of open
        alerts learns when one leaves. The key is checked again every minute: a revoked key's
        stream ends."""
        presented = request.headers.get("authorization", "").removeprefix("Bearer ").strip()

        def wanted(event: str, alert: dict[str, Any]) -> bool:
            return (
                (status is None or alert.get("status") == status.value or event in STATUS_EVENTS)
                and (not severity or alert.get("severity") in {s.value for s in severity})
                and (target is None or alert.get("target") == target)
                and (not kind or alert.get("kind") in {k.value for k in kind})
            )

        async def events() -> AsyncIterator[ServerSentEvent]:
            if last_event_id and not await ctx.alert_state.feed_holds(last_event_id):
                yield ServerSentEvent(data="{}", event="reset")
            checked = time.monotonic()
            async for entry_id, body in ctx.feed.subscribe(last_event_id):
                if await request.is_disconnected():
                    return
                if time.monotonic() - checked > FEED_KEY_CHECK_SECONDS:
                    checked = time.monotonic()
                    if await ctx.authenticator.authenticate(presented) is None:
                        log.info("live feed of %s closed: its key was revoked", who.name)
                        return
                if entry_id and wanted(body["event"], body.get("alert", {})):
                    yield ServerSentEvent(data=orjson.dumps(body).decode(), event=body["event"], id=entry_id)

        return EventSourceResponse(events(), ping=15)

    @app.get("/alerts/{alert_id}", tags=["alerts"])
    async def alert_detail(alert_id: AlertId, ctx: Context, who: Viewer) -> AlertDetail:
        alert = await _find_alert(ctx, alert_id)
        posts, events, silences = await asyncio.gather(
            asyncio.to_thread(ctx.store.get_posts, list(alert.evidence)),
            asyncio.to_thread(ctx.store.alert_events, alert_id),
            ctx.silences.all(utcnow()),
        )
        return AlertDetail(
            alert=alert,
            evidence_posts=posts,
            events=[AlertEventOut(**vars(e)) for e in events],
            suppressed_by=silenced_by(alert.labels, silences, utcnow()),
        )

    @app.post("/alerts/{alert_id}/ack", tags=["alerts"])
    async def ack_alert(alert_id: AlertId, ctx: Context, who: Responder, body: Note | None = None) -> Alert:
        return await _change_alert(
            ctx, alert_id, lambda a, now: acknowledge(a, by=who.name, now=now), "acknowledged", who, body
        )

    @app.post("/alerts/{alert_id}/resolve", tags=["alerts"])
    async def resolve_alert(
        alert_id: AlertId, ctx: Context, who: Responder, body: Note | None = None
    ) -> Alert:
        return await _change_alert(
            ctx, alert_id, lambda a, now: resolve(a, by=who.name, now=now), "resolved", who, body
        )

    @app.post("/alerts/{alert_id}/assign", tags=["alerts"])
    async def assign_alert(alert_id: AlertId, body: AssignRequest, ctx: Context, who: Responder) -> Alert:
        return await _change_alert(
            ctx,
            alert_id,
            lambda a, now: assign(a, assignee=body.assignee, by=who.name, now=now),
            "assigned",
            who,
            Note(note=f"assigned to {body.assignee}" if body.assignee else "unassigned"),
        )

    @app.post("/alerts/{alert_id}/comments", status_code=201, tags=["alerts"])
    async def comment_alert(
        alert_id: AlertId, body: CommentRequest, ctx: Context, who: Responder
    ) -> CommentOut:
        alert = await _find_alert(ctx, alert_id)
        at = utcnow()
        await asyncio.to_thread(
            ctx.store.log_alert_event, alert, event="commented", actor=who.name, at=at, details=body.text
        )
        await ctx.alert_state.announce(alert, event="commented", extra={"by": who.name, "text": body.text})
        metrics.ALERT_EVENTS.labels("commented").inc()
        return CommentOut(alert_id=alert.id, by=who.name, at=at, text=body.text)

    # -- silences -----------------------------------------------------------------------------
    @app.get("/silences", tags=["silences"])
    async def list_silences(ctx: Context, who: Viewer, state: SilenceState | None = None) -> list[SilenceOut]:
        now = utcnow()
        return [
            SilenceOut(**s.model_dump(), status=s.state(now))
            for s in await ctx.silences.all(now)
            if state is None or s.state(now) == state
        ]

    @app.post("/silences", status_code=201, tags=["silences"])
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

    @app.delete("/silences/{silence_id}", tags=["silences"])
    async def expire_silence(
        silence_id: Annotated[str, PathParam(max_length=64)], ctx: Context, who: Responder
    ) -> SilenceOut:
        now = utcnow()
        silence = await ctx.silences.expire(silence_id, by=who.name, now=now)
        if silence is None:
            raise HTTPException(404, f"no silence {silence_id!r}")
        return SilenceOut(**silence.model_dump(), status=silence.state(now))

    # -- war-room summaries -------------------------------------------------------------------
    @app.get("/summary/targets", tags=["summary"])
    async def target_summary(
        ctx: Context,
        who: Viewer,
        since: Annotated[ApiTime | None, Query(description="Default: 24 hours before until.")] = None,
        until: Annotated[ApiTime | None, Query(description="Default: now.")] = None,
    ) -> TargetSummaryPage:
        end = as_utc(until) if until else utcnow()
        start = as_utc(since) if since else end - timedelta(hours=24)
        try:
            return await asyncio.to_thread(ctx.summaries.target_summary, start, end, ctx.watchlist)
        except ValueError as exc:
            raise RequestValidationError(
                [{"type": "value_error", "loc": ("query", "since"), "msg": str(exc), "input": str(start)}]
            ) from None

    @app.get("/summary/emerging", tags=["summary"])
    async def emerging_now(
        ctx: Context,
        who: Viewer,
        window_minutes: Annotated[int, Query(ge=5, le=360)] = 30,
        limit: Annotated[int, Query(ge=1, le=100)] = 10,
    ) -> EmergingNow:
        now = utcnow()
        live, issues = await asyncio.gather(
            ctx.alert_state.live_alerts(),
            asyncio.to_thread(
                ctx.summaries.emerging_issues, now, window=timedelta(minutes=window_minutes), limit=limit
            ),
        )
        ranks = {s: i for i, s in enumerate(Severity)}
        live.sort(key=lambda a: (ranks[a.severity], a.last_seen), reverse=True)
        return EmergingNow(alerts=live[:limit], issues=issues)

    # -- API keys -----------------------------------------------------------------------------
    @app.get("/keys", tags=["admin"])
    async def list_keys(ctx: Context, who: Admin) -> list[ApiKeyOut]:
        return [ApiKeyOut.of(k) for k in await ctx.authenticator.store.list()]

    @app.post("/keys", status_code=201, tags=["admin"])
    async def add_key(body: KeyRequest, ctx: Context, who: Admin) -> NewKey:
        try:
            record, key = await ctx.authenticator.store.add(body.name, body.role)
        except ValueError as exc:
            raise HTTPException(409, str(exc)) from None
        log.info("API key %s (%s, %s) added by %s", record.id, record.name, record.role, who.name)
        return NewKey(id=record.id, name=record.name, role=record.role, key=key)

    @app.delete("/keys/{key}", tags=["admin"])
    async def revoke_key(
        key: Annotated[str, PathParam(max_length=64)], ctx: Context, who: Admin
    ) -> ApiKeyOut:
        try:
            record = await ctx.authenticator.store.revoke(key)
        except KeyError:
            raise HTTPException(404, f"no API key {key!r}") from None
        log.info("API key %s (%s) revoked by %s", record.id, record.name, who.name)
        return ApiKeyOut.of(record)

    return app


async def _find_alert(ctx: ApiContext, alert_id: str) -> Alert:
    alert = await ctx.alert_state.get(alert_id)
    if alert is None:
        alert = await asyncio.to_thread(ctx.store.get_alert, alert_id)
    if alert is None:
        raise HTTPException(404, f"no alert {alert_id!r}")
    return alert


async def _change_alert(
    ctx: ApiContext,
    alert_id: str,
    change: Callable[[Alert, datetime], Alert],
    event: str,
    who: Principal,
    note: Note | None,
) -> Alert:
    """Apply a person's change to the live alert (atomically with the detector's updates), or to
    the stored history when Redis no longer has it; record who and when in the history."""
    changed_here = False

    def decide(current: Alert | None) -> Alert:
        nonlocal changed_here
        assert current is not None
        changed = change(current, utcnow())
        changed_here = changed is not current
        return changed

    alert = await ctx.alert_state.update(alert_id, decide, event=event)
    if alert is None:  # no longer live in Redis: change the stored history
        stored = await asyncio.to_thread(ctx.store.get_alert, alert_id)
        if stored is None:
            raise HTTPException(404, f"no alert {alert_id!r}")
        alert = decide(stored)
        if changed_here:
            await ctx.alert_state.put(alert, event=event)
    # Written every time (same version, so idempotent): an earlier request that failed after
    # Redis and before ClickHouse is repaired by the retry.
    details = note.note if note and note.note else None
    await asyncio.to_thread(
        ctx.store.upsert_alerts,
        [alert],
        event=event if changed_here else None,
        actor=who.name,
        details=details,
    )
    if changed_here:
        metrics.ALERT_EVENTS.labels(event).inc()
    return alert
