"""War-room summaries: each watchlist target over a range, and what is emerging now."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from api.auth import Viewer
from api.deps import ApiTime, Context
from pantau.domain import Alert, Issue, IssueStatus, Severity, as_utc, utcnow
from storage.summaries import EmergingIssue, TargetSummaryPage

router = APIRouter(tags=["summary"])


class EmergingNow(BaseModel):
    live_issues: list[Issue] = Field(
        default_factory=list,
        description="Live issues (one per happening, each with one alert), growing fastest first.",
    )
    alerts: list[Alert] = Field(description="Live alerts, most severe and most recent first.")
    issues: list[EmergingIssue] = Field(description="Hashtags and terms growing fastest now (raw counts).")


@router.get("/summary/targets")
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


@router.get("/summary/emerging")
async def emerging_now(
    ctx: Context,
    who: Viewer,
    window_minutes: Annotated[int, Query(ge=5, le=360)] = 30,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> EmergingNow:
    now = utcnow()
    live, issues, recent = await asyncio.gather(
        ctx.alert_state.live_alerts(),
        asyncio.to_thread(
            ctx.summaries.emerging_issues, now, window=timedelta(minutes=window_minutes), limit=limit
        ),
        ctx.issues.recent_issues(ctx.issues.keep_issues),
    )
    growing = sorted(
        (i for i in recent if i.status == IssueStatus.live), key=lambda i: (i.growth, i.posts), reverse=True
    )
    ranks = {s: i for i, s in enumerate(Severity)}
    live.sort(key=lambda a: (ranks[a.severity], a.last_seen), reverse=True)
    return EmergingNow(live_issues=growing[:limit], alerts=live[:limit], issues=issues)
