"""Issues: what the stream is about now, one record per real-world happening, with its alert."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from api.auth import Viewer
from api.deps import AlertId, ApiTime, Context
from pantau.domain import Alert, Issue, IssueStatus

router = APIRouter(tags=["issues"])

SORTS = {
    "recent": lambda i: i.last_activity.timestamp(),
    "growth": lambda i: i.growth,
    "size": lambda i: float(i.posts),
    "accounts": lambda i: float(i.voices),
}


class IssuePage(BaseModel):
    items: list[Issue]
    total: int
    limit: int


class TimelinePoint(BaseModel):
    at: datetime = Field(description="Start of the bucket (UTC).")
    posts: int = Field(description="The issue's posts whose own time falls in the bucket.")


class IssueTimeline(BaseModel):
    issue_id: str
    bucket_seconds: int
    points: list[TimelinePoint] = Field(
        description="Oldest first, every bucket from the first post's to the last's, empty ones included."
    )


# Bucket widths a default is picked from: round to read on an axis, each at most twice the one before,
# so the smallest that fits the span in TIMELINE_BUCKETS_AIMED (60) buckets gives 30 to 60 of them.
MINUTE, HOUR, DAY = 60, 3600, 86400
NICE_BUCKETS = (
    MINUTE, 2 * MINUTE, 3 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE,
    HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 4 * DAY, 7 * DAY,
)  # fmt: skip
TIMELINE_BUCKETS_AIMED = 60
MIN_BUCKET_SECONDS = NICE_BUCKETS[0]
MAX_BUCKET_SECONDS = NICE_BUCKETS[-1]
# A chart has no use for more points than this, and the empty buckets are filled in here.
MAX_TIMELINE_POINTS = 5000


class IssueDetail(BaseModel):
    issue: Issue
    alert: Alert | None = Field(description="Its live alert: ack, assign and resolve act on this.")


@router.get("/issues")
async def list_issues(
    ctx: Context,
    who: Viewer,
    status: Annotated[IssueStatus | None, Query(description="live or closed")] = None,
    target: Annotated[str | None, Query(max_length=100)] = None,
    since: Annotated[ApiTime | None, Query(description="Active at or after (last post).")] = None,
    until: Annotated[ApiTime | None, Query(description="Begun at or before (first post).")] = None,
    sort: Literal["recent", "growth", "size", "accounts"] = "recent",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> IssuePage:
    """Live and recent issues, the most recently active first unless sorted by growth, size or
    accounts (largest first)."""
    found = [
        issue
        for issue in await ctx.issues.recent_issues(ctx.issues.keep_issues)
        if (status is None or issue.status == status)
        and (target is None or target in issue.targets)
        and (since is None or issue.last_activity >= since)
        and (until is None or issue.first_post_at <= until)
    ]
    found.sort(key=SORTS[sort], reverse=True)
    return IssuePage(items=found[:limit], total=len(found), limit=limit)


@router.get("/issues/{issue_id}")
async def issue_detail(issue_id: AlertId, ctx: Context, who: Viewer) -> IssueDetail:
    """One issue: label, origin, size, growth, shares per target against their baseline, amplifying
    accounts, representative posts, coordinated accounts, its signals (facets), merges; and its
    alert."""
    issue = await ctx.issues.get(issue_id)
    if issue is None:
        raise HTTPException(404, f"no issue {issue_id}")
    return IssueDetail(issue=issue, alert=await ctx.alert_state.for_fingerprint(issue_id))


def default_bucket_seconds(span: timedelta) -> int:
    """The smallest round width that cuts `span` into at most TIMELINE_BUCKETS_AIMED buckets."""
    for width in NICE_BUCKETS:
        if span.total_seconds() <= width * TIMELINE_BUCKETS_AIMED:
            return width
    return MAX_BUCKET_SECONDS


def with_empty_buckets(counts: list[tuple[datetime, int]], bucket_seconds: int) -> list[TimelinePoint]:
    """Every bucket from the first to the last, those without posts at 0."""
    if not counts:
        return []
    found = dict(counts)
    first, last = counts[0][0], counts[-1][0]
    step = timedelta(seconds=bucket_seconds)
    return [
        TimelinePoint(at=first + step * n, posts=found.get(first + step * n, 0))
        for n in range((last - first) // step + 1)
    ]


def buckets_between(counts: list[tuple[datetime, int]], bucket_seconds: int) -> int:
    return 0 if not counts else (counts[-1][0] - counts[0][0]) // timedelta(seconds=bucket_seconds) + 1


@router.get("/issues/{issue_id}/timeline")
async def issue_timeline(
    issue_id: AlertId,
    ctx: Context,
    who: Viewer,
    bucket_seconds: Annotated[
        int | None,
        Query(
            ge=MIN_BUCKET_SECONDS,
            le=MAX_BUCKET_SECONDS,
            description="Bucket width. Default: a round width giving 30 to 60 buckets over the issue's span.",
        ),
    ] = None,
) -> IssueTimeline:
    """The issue's posts per time bucket (by each post's own time), from the warehouse: for a chart
    of how it grew. Empty buckets between the first post and the last are included; an issue with no
    stored posts yet has no points."""
    issue = await ctx.issues.get(issue_id) or await asyncio.to_thread(ctx.store.stored_issue, issue_id)
    if issue is None:
        raise HTTPException(404, f"no issue {issue_id}")
    width = bucket_seconds or default_bucket_seconds(issue.last_activity - issue.first_post_at)
    counts = await asyncio.to_thread(ctx.store.issue_timeline, issue_id, width)
    if bucket_seconds is None and buckets_between(counts, width) > 2 * TIMELINE_BUCKETS_AIMED:
        # Its stored posts reach well past the span the issue's record gives: fit them instead.
        width = default_bucket_seconds(counts[-1][0] - counts[0][0])
        counts = await asyncio.to_thread(ctx.store.issue_timeline, issue_id, width)
    if buckets_between(counts, width) > MAX_TIMELINE_POINTS:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("query", "bucket_seconds"), "input": bucket_seconds,
              "msg": f"more than {MAX_TIMELINE_POINTS} buckets over this issue's posts: choose a wider one"}]
        )  # fmt: skip
    return IssueTimeline(issue_id=issue_id, bucket_seconds=width, points=with_empty_buckets(counts, width))
