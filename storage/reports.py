"""The queries behind the daily brief (`pantau report`): a period's issues, per-target trends, share of
voice, coordinated campaigns and notable posts, as plain dataclasses for the renderer.

Like `ClickHouseStore`, everything here is synchronous and takes values only as query parameters.
The ReplacingMergeTree tables (posts, post_targets, issues, issue_posts, alerts) are read with FINAL,
so a row stored twice, or an issue's older versions, count once; minute_stats counts distinct post
ids already. A period's bounds are whole minutes (the caller floors them), so minute_stats and the
post tables cover exactly the same posts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from clickhouse_connect.driver.client import Client

from pantau.domain import as_utc

MAX_SPAN = timedelta(days=92)
MAX_ISSUES = 100
MAX_POSTS_PER_ITEM = 20
COORDINATED = "coordinated_posting"


@dataclass(frozen=True, slots=True)
class ReportPost:
    id: str
    platform: str
    author: str
    text: str
    created_at: datetime
    url: str
    engagement: int = 0
    sentiment: str = "neutral"
    targets: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TargetCounts:
    """Posts naming one target, split by sentiment and by stance toward it."""

    target: str
    posts: int
    negative: int = 0
    neutral: int = 0
    positive: int = 0
    favor: int = 0
    against: int = 0
    no_stance: int = 0


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """One target's counts in one bucket of the period; `start` is the bucket's first instant."""

    start: datetime
    counts: TargetCounts


@dataclass(frozen=True, slots=True)
class ReportIssue:
    id: str
    status: str
    label: tuple[str, ...]
    targets: tuple[str, ...]
    first_post_at: datetime
    last_activity: datetime
    paged_at: datetime | None
    posts: int
    accounts: int
    voices: int
    reposts: int
    growth: float
    signal_kinds: tuple[str, ...]
    coordination: tuple[str, ...]
    first_posts: tuple[str, ...]
    amplifiers: dict[str, int]
    posts_in_period: int = 0
    peak_start: datetime | None = None
    peak_posts: int = 0
    per_target: tuple[TargetCounts, ...] = ()
    top_posts: tuple[ReportPost, ...] = ()


@dataclass(frozen=True, slots=True)
class Campaign:
    """Coordinated posting: a wave of near-identical posts from many accounts, from a
    coordinated-posting alert or from the coordinated accounts of an issue."""

    id: str
    origin: str  # "alert" or "issue"
    title: str
    targets: tuple[str, ...]
    first_seen: datetime
    last_seen: datetime
    accounts: tuple[str, ...]
    posts: int
    text: str
    evidence: tuple[ReportPost, ...] = ()


@dataclass(frozen=True, slots=True)
class ReportData:
    since: datetime
    until: datetime
    bucket: timedelta
    total_posts: int
    totals: tuple[TargetCounts, ...]  # every target with posts in the period, most posts first
    trends: tuple[TrendPoint, ...]
    issues: tuple[ReportIssue, ...] = ()
    campaigns: tuple[Campaign, ...] = ()
    notable_posts: tuple[ReportPost, ...] = field(default=())


_COUNT_COLUMNS = """
    countIf(sentiment = 'negative') AS negative,
    countIf(sentiment = 'neutral') AS neutral,
    countIf(sentiment = 'positive') AS positive,
    countIf(stance = 'favor') AS favor,
    countIf(stance = 'against') AS against,
    countIf(stance = 'none') AS no_stance
"""

# minute_stats keeps one uniqExact state per (target, minute, platform, sentiment, stance); merging
# the states of a bucket counts each post once per (sentiment, stance) it was stored with, which is
# one pair unless a post was enriched twice with different results.
_TRENDS_SQL = """
SELECT
    target,
    intDiv(toUnixTimestamp(minute) - {origin:Int64}, {bucket:UInt32}) AS bucket,
    sentiment,
    stance,
    uniqExactMerge(posts) AS n
FROM minute_stats
WHERE minute >= {since:DateTime('UTC')} AND minute < {until:DateTime('UTC')}
GROUP BY target, bucket, sentiment, stance
"""

_TOTALS_SQL = """
SELECT target, sentiment, stance, uniqExactMerge(posts) AS n
FROM minute_stats
WHERE minute >= {since:DateTime('UTC')} AND minute < {until:DateTime('UTC')}
GROUP BY target, sentiment, stance
"""

_ISSUES_SQL = """
SELECT
    id, status, label, targets, first_post_at, last_activity, paged_at, posts, accounts, voices,
    reposts, growth, signal_kinds, coordination, first_posts, amplifiers
FROM issues FINAL
WHERE merged_into = ''
    AND last_activity >= {since:DateTime64(3, 'UTC')}
    AND first_post_at < {until:DateTime64(3, 'UTC')}
    AND ({include_unpaged:Bool} OR paged_at IS NOT NULL)
ORDER BY posts DESC, id
LIMIT {limit:UInt32}
"""

_ISSUE_PEAKS_SQL = """
SELECT issue_id, argMax(bucket, n) AS peak_start, max(n) AS peak_posts, sum(in_period) AS in_period
FROM
(
    SELECT
        issue_id,
        toStartOfInterval(created_at, INTERVAL {peak:UInt32} SECOND) AS bucket,
        count() AS n,
        countIf(created_at >= {since:DateTime64(3, 'UTC')} AND created_at < {until:DateTime64(3, 'UTC')})
            AS in_period
    FROM issue_posts FINAL
    WHERE issue_id IN {ids:Array(String)}
    GROUP BY issue_id, bucket
)
GROUP BY issue_id
"""

# post_targets is sorted by (target, created_at, id): the issues' own time span bounds the scan.
_ISSUE_TARGETS_SQL = f"""
SELECT member.issue_id AS issue_id, pt.target AS target, count() AS posts, {_COUNT_COLUMNS}
FROM (SELECT issue_id, post_id FROM issue_posts FINAL WHERE issue_id IN {{ids:Array(String)}}) AS member
INNER JOIN
(
    SELECT id, target, sentiment, stance
    FROM post_targets FINAL
    WHERE created_at >= {{lo:DateTime64(3, 'UTC')}} AND created_at <= {{hi:DateTime64(3, 'UTC')}}
        AND id IN (SELECT post_id FROM issue_posts WHERE issue_id IN {{ids:Array(String)}})
) AS pt ON pt.id = member.post_id
GROUP BY issue_id, target
ORDER BY issue_id, posts DESC, target
"""

_POST_COLUMNS = """
    p.id AS id, p.platform AS platform, p.author_handle AS author, p.text AS text,
    p.created_at AS created_at, p.url AS url, p.engagement AS engagement, p.sentiment AS sentiment,
    p.targets AS targets
"""

_POST_SELECT = """
SELECT id, platform, if(author_handle = '', author_id, author_handle) AS author_handle, text, created_at,
    url, toUInt64(likes) + reposts + replies + quotes AS engagement, toString(sentiment) AS sentiment,
    targets, repost_of
FROM posts FINAL
"""

# A repost repeats its original's text: the originals stand for an issue.
_ISSUE_TOP_POSTS_SQL = f"""
SELECT member.issue_id AS issue_id, {_POST_COLUMNS}
FROM (SELECT issue_id, post_id FROM issue_posts FINAL WHERE issue_id IN {{ids:Array(String)}}) AS member
INNER JOIN
(
    {_POST_SELECT}
    WHERE created_at >= {{lo:DateTime64(3, 'UTC')}} AND created_at <= {{hi:DateTime64(3, 'UTC')}}
        AND id IN (SELECT post_id FROM issue_posts WHERE issue_id IN {{ids:Array(String)}})
        AND repost_of = ''
) AS p ON p.id = member.post_id
ORDER BY issue_id, engagement DESC, created_at, id
LIMIT {{per_issue:UInt32}} BY issue_id
"""

_POSTS_BY_ID_SQL = f"""
SELECT {_POST_COLUMNS}
FROM ({_POST_SELECT} WHERE id IN {{ids:Array(String)}}) AS p
ORDER BY created_at, id
"""

_NOTABLE_POSTS_SQL = f"""
SELECT {_POST_COLUMNS}
FROM
(
    {_POST_SELECT}
    WHERE created_at >= {{since:DateTime64(3, 'UTC')}} AND created_at < {{until:DateTime64(3, 'UTC')}}
        AND repost_of = ''
) AS p
ORDER BY engagement DESC, created_at, id
LIMIT {{limit:UInt32}}
"""

_CAMPAIGN_ALERTS_SQL = """
SELECT id, key_kind, key, title, target, first_seen, last_seen, numbers, evidence, details
FROM alerts FINAL
WHERE kind = {kind:String}
    AND last_seen >= {since:DateTime64(3, 'UTC')} AND first_seen < {until:DateTime64(3, 'UTC')}
ORDER BY first_seen, id
LIMIT {limit:UInt32}
"""


def _rows(result: Any) -> list[dict[str, Any]]:
    return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]


def _post(row: dict[str, Any]) -> ReportPost:
    return ReportPost(
        id=row["id"],
        platform=row["platform"],
        author=row["author"],
        text=row["text"],
        created_at=as_utc(row["created_at"]),
        url=row["url"],
        engagement=int(row["engagement"]),
        sentiment=str(row["sentiment"]),
        targets=tuple(row["targets"]),
    )


_SENTIMENT_FIELD = {"negative": "negative", "neutral": "neutral", "positive": "positive"}
_STANCE_FIELD = {"favor": "favor", "against": "against", "none": "no_stance"}


class _Tally:
    """Adds (sentiment, stance, n) rows of one target into `TargetCounts`. The '' target's stance is
    always 'none' (minute_stats gives every post one row for all posts), and counts no stance."""

    def __init__(self) -> None:
        self.values: dict[str, int] = {}

    def add(self, sentiment: str, stance: str, n: int) -> None:
        self.values["posts"] = self.values.get("posts", 0) + n
        for column in (_SENTIMENT_FIELD[sentiment], _STANCE_FIELD[stance]):
            self.values[column] = self.values.get(column, 0) + n

    def counts(self, target: str) -> TargetCounts:
        return TargetCounts(target=target, **self.values)


def _check_period(since: datetime, until: datetime) -> tuple[datetime, datetime]:
    since, until = as_utc(since), as_utc(until)
    if since >= until:
        raise ValueError(f"since ({since.isoformat()}) must be before until ({until.isoformat()})")
    if until - since > MAX_SPAN:
        raise ValueError(f"a report may span at most {MAX_SPAN.days} days, not {until - since}")
    return since, until


class ReportQueries:
    def __init__(self, client: Client) -> None:
        self.client = client

    # -- volume, sentiment and stance per target ------------------------------------------------
    def target_totals(self, since: datetime, until: datetime) -> tuple[int, list[TargetCounts]]:
        """All posts in [since, until), and every target named in them, most posts first."""
        since, until = _check_period(since, until)
        result = self.client.query(_TOTALS_SQL, parameters={"since": since, "until": until})
        tallies: dict[str, _Tally] = {}
        for row in _rows(result):
            tallies.setdefault(row["target"], _Tally()).add(row["sentiment"], row["stance"], int(row["n"]))
        everything = tallies.pop("", _Tally()).values.get("posts", 0)
        totals = [tally.counts(target) for target, tally in tallies.items()]
        totals.sort(key=lambda c: (-c.posts, c.target))
        return everything, totals

    def trends(self, since: datetime, until: datetime, bucket: timedelta) -> list[TrendPoint]:
        """Per target (and '' for all posts), counts per bucket of `bucket` from `since`; buckets
        without posts are left out."""
        since, until = _check_period(since, until)
        seconds = int(bucket.total_seconds())
        if seconds < 60 or seconds % 60:
            raise ValueError(f"bucket must be whole minutes, not {bucket}")
        result = self.client.query(
            _TRENDS_SQL,
            parameters={
                "origin": int(since.timestamp()),
                "bucket": seconds,
                "since": since,
                "until": until,
            },
        )
        tallies: dict[tuple[str, int], _Tally] = {}
        for row in _rows(result):
            key = (row["target"], int(row["bucket"]))
            tallies.setdefault(key, _Tally()).add(row["sentiment"], row["stance"], int(row["n"]))
        points = [
            TrendPoint(start=since + index * bucket, counts=tally.counts(target))
            for (target, index), tally in tallies.items()
        ]
        points.sort(key=lambda p: (p.counts.target, p.start))
        return points

    # -- issues ---------------------------------------------------------------------------------
    def issues(
        self,
        since: datetime,
        until: datetime,
        *,
        limit: int = 20,
        include_unpaged: bool = False,
        peak: timedelta = timedelta(minutes=10),
        top_posts: int = 3,
    ) -> list[ReportIssue]:
        """Issues active in [since, until) (their latest version; merged ones live on in the issue
        they merged into), largest first; unless `include_unpaged`, only those that paged the desk.
        Each with its busiest `peak`-long window, sentiment and stance per target among its posts,
        and its most engaged original posts."""
        since, until = _check_period(since, until)
        if not 1 <= limit <= MAX_ISSUES:
            raise ValueError(f"limit must be between 1 and {MAX_ISSUES}, not {limit}")
        if not 0 <= top_posts <= MAX_POSTS_PER_ITEM:
            raise ValueError(f"top_posts must be between 0 and {MAX_POSTS_PER_ITEM}, not {top_posts}")
        rows = _rows(
            self.client.query(
                _ISSUES_SQL,
                parameters={
                    "since": since,
                    "until": until,
                    "include_unpaged": include_unpaged,
                    "limit": limit,
                },
            )
        )
        if not rows:
            return []
        ids = [row["id"] for row in rows]
        lo = min(as_utc(row["first_post_at"]) for row in rows)
        # A member's own time may trail the issue's last activity by the stage's lateness allowance.
        hi = max(as_utc(row["last_activity"]) for row in rows) + timedelta(days=1)
        peaks = {
            row["issue_id"]: row
            for row in _rows(
                self.client.query(
                    _ISSUE_PEAKS_SQL,
                    parameters={
                        "ids": ids,
                        "peak": int(peak.total_seconds()),
                        "since": since,
                        "until": until,
                    },
                )
            )
        }
        per_target: dict[str, list[TargetCounts]] = {}
        for row in _rows(self.client.query(_ISSUE_TARGETS_SQL, parameters={"ids": ids, "lo": lo, "hi": hi})):
            issue_id = row.pop("issue_id")
            per_target.setdefault(issue_id, []).append(TargetCounts(**row))
        posts: dict[str, list[ReportPost]] = {}
        if top_posts:
            found = self.client.query(
                _ISSUE_TOP_POSTS_SQL, parameters={"ids": ids, "lo": lo, "hi": hi, "per_issue": top_posts}
            )
            for row in _rows(found):
                posts.setdefault(row.pop("issue_id"), []).append(_post(row))
        # Issues keep account ids; the brief names accounts as people read them, by handle.
        handles = self.handles(
            [*(a for r in rows for a in r["coordination"]), *(a for r in rows for a in r["amplifiers"])]
        )
        issues = []
        for row in rows:
            peak_row = peaks.get(row["id"], {})
            issues.append(
                ReportIssue(
                    id=row["id"],
                    status=row["status"],
                    label=tuple(row["label"]),
                    targets=tuple(row["targets"]),
                    first_post_at=as_utc(row["first_post_at"]),
                    last_activity=as_utc(row["last_activity"]),
                    paged_at=as_utc(row["paged_at"]) if row["paged_at"] is not None else None,
                    posts=int(row["posts"]),
                    accounts=int(row["accounts"]),
                    voices=int(row["voices"]),
                    reposts=int(row["reposts"]),
                    growth=float(row["growth"]),
                    signal_kinds=tuple(row["signal_kinds"]),
                    coordination=tuple(handles.get(a, a) for a in row["coordination"]),
                    first_posts=tuple(row["first_posts"]),
                    amplifiers={handles.get(k, k): int(v) for k, v in row["amplifiers"].items()},
                    posts_in_period=int(peak_row.get("in_period", 0)),
                    peak_start=as_utc(peak_row["peak_start"]) if peak_row else None,
                    peak_posts=int(peak_row.get("peak_posts", 0)),
                    per_target=tuple(per_target.get(row["id"], ())),
                    top_posts=tuple(posts.get(row["id"], ())),
                )
            )
        return issues

    # -- posts ----------------------------------------------------------------------------------
    def handles(self, author_ids: Sequence[str]) -> dict[str, str]:
        """Each author id's latest handle, where its posts name one."""
        wanted = list(dict.fromkeys(a for a in author_ids if a))
        if not wanted:
            return {}
        result = self.client.query(
            "SELECT author_id, argMax(author_handle, created_at) FROM posts "
            "WHERE author_id IN {ids:Array(String)} AND author_handle != '' GROUP BY author_id",
            parameters={"ids": wanted},
        )
        return {str(author): str(handle) for author, handle in result.result_rows}

    def posts_by_id(self, ids: Sequence[str]) -> dict[str, ReportPost]:
        if not ids:
            return {}
        result = self.client.query(_POSTS_BY_ID_SQL, parameters={"ids": list(dict.fromkeys(ids))})
        return {post.id: post for post in map(_post, _rows(result))}

    def notable_posts(self, since: datetime, until: datetime, *, limit: int = 10) -> list[ReportPost]:
        """The most engaged original posts (likes, reposts, replies, quotes) of [since, until)."""
        since, until = _check_period(since, until)
        if not 1 <= limit <= MAX_ISSUES:
            raise ValueError(f"limit must be between 1 and {MAX_ISSUES}, not {limit}")
        result = self.client.query(
            _NOTABLE_POSTS_SQL, parameters={"since": since, "until": until, "limit": limit}
        )
        return [_post(row) for row in _rows(result)]

    # -- coordinated campaigns ------------------------------------------------------------------
    def campaigns(
        self,
        since: datetime,
        until: datetime,
        issues: Sequence[ReportIssue] = (),
        *,
        limit: int = 20,
        evidence: int = 5,
    ) -> list[Campaign]:
        """Coordinated-posting alerts of [since, until), and the issues (from `issues`) with
        accounts in coordinated waves, each with up to `evidence` of its posts. An alert about one
        of those issues is the same campaign, listed once (from the issue)."""
        since, until = _check_period(since, until)
        if not 0 <= evidence <= MAX_POSTS_PER_ITEM:
            raise ValueError(f"evidence must be between 0 and {MAX_POSTS_PER_ITEM}, not {evidence}")
        alerts = _rows(
            self.client.query(
                _CAMPAIGN_ALERTS_SQL,
                parameters={"kind": COORDINATED, "since": since, "until": until, "limit": limit},
            )
        )
        from_issues = [issue for issue in issues if issue.coordination]
        covered = {issue.id for issue in from_issues}
        alerts = [a for a in alerts if not (a["key_kind"] == "issue" and a["key"] in covered)]
        wanted = [pid for a in alerts for pid in list(a["evidence"])[:evidence]]
        wanted += [pid for issue in from_issues for pid in issue.first_posts[:evidence]]
        found = self.posts_by_id(wanted)
        campaigns = [
            Campaign(
                id=a["id"],
                origin="alert",
                title=a["title"],
                targets=(a["target"],) if a["target"] else (),
                first_seen=as_utc(a["first_seen"]),
                last_seen=as_utc(a["last_seen"]),
                accounts=tuple(x for x in a["details"].get("accounts", "").split(",") if x),
                posts=int(a["numbers"].get("posts", 0)),
                text=a["details"].get("text", "") or a["details"].get("sample", ""),
                evidence=tuple(found[p] for p in list(a["evidence"])[:evidence] if p in found),
            )
            for a in alerts
        ]
        for issue in from_issues:
            evidence_posts = tuple(found[p] for p in issue.first_posts[:evidence] if p in found)
            campaigns.append(
                Campaign(
                    id=issue.id,
                    origin="issue",
                    title=" · ".join(issue.label),
                    targets=issue.targets,
                    first_seen=issue.first_post_at,
                    last_seen=issue.last_activity,
                    accounts=issue.coordination,
                    posts=issue.posts,
                    text=evidence_posts[0].text if evidence_posts else "",
                    evidence=evidence_posts,
                )
            )
        campaigns.sort(key=lambda c: (c.first_seen, c.id))
        return campaigns[:limit]
