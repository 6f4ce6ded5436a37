"""Issues: what the stream is about now, one record per real-world happening, with its alert."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query
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
