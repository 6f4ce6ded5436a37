"""Alerts for rapid-response staff: list, live feed, detail, and the desk's actions on them."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, HTTPException, Query, Request
from pydantic import BaseModel, Field
from sse_starlette import EventSourceResponse, ServerSentEvent

from alerts.lifecycle import acknowledge, assign, resolve
from alerts.routing import silenced_by
from api.auth import Principal, Responder, Viewer
from api.deps import AlertId, ApiContext, ApiTime, Context
from pantau import metrics
from pantau.domain import Alert, AlertStatus, Severity, SignalKind, utcnow
from storage.repository import ALERT_SORTS, AlertQuery

log = logging.getLogger(__name__)

router = APIRouter(tags=["alerts"])

SORT_PATTERN = rf"^-?({'|'.join(ALERT_SORTS)})$"
FEED_KEY_CHECK_SECONDS = 60.0
STATUS_EVENTS = frozenset({"acknowledged", "resolved"})


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


@router.get("/alerts")
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


@router.get(
    "/alerts/stream",
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


@router.get("/alerts/{alert_id}")
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


@router.post("/alerts/{alert_id}/ack")
async def ack_alert(alert_id: AlertId, ctx: Context, who: Responder, body: Note | None = None) -> Alert:
    return await _change_alert(
        ctx, alert_id, lambda a, now: acknowledge(a, by=who.name, now=now), "acknowledged", who, body
    )


@router.post("/alerts/{alert_id}/resolve")
async def resolve_alert(alert_id: AlertId, ctx: Context, who: Responder, body: Note | None = None) -> Alert:
    return await _change_alert(
        ctx, alert_id, lambda a, now: resolve(a, by=who.name, now=now), "resolved", who, body
    )


@router.post("/alerts/{alert_id}/assign")
async def assign_alert(alert_id: AlertId, body: AssignRequest, ctx: Context, who: Responder) -> Alert:
    return await _change_alert(
        ctx,
        alert_id,
        lambda a, now: assign(a, assignee=body.assignee, by=who.name, now=now),
        "assigned",
        who,
        Note(note=f"assigned to {body.assignee}" if body.assignee else "unassigned"),
    )


@router.post("/alerts/{alert_id}/comments", status_code=201)
async def comment_alert(alert_id: AlertId, body: CommentRequest, ctx: Context, who: Responder) -> CommentOut:
    alert = await _find_alert(ctx, alert_id)
    at = utcnow()
    await asyncio.to_thread(
        ctx.store.log_alert_event, alert, event="commented", actor=who.name, at=at, details=body.text
    )
    await ctx.alert_state.announce(alert, event="commented", extra={"by": who.name, "text": body.text})
    metrics.ALERT_EVENTS.labels("commented").inc()
    return CommentOut(alert_id=alert.id, by=who.name, at=at, text=body.text)


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
