"""The queries behind the war-room summary page: how each watched target fares over a time range,
and which hashtags and terms are emerging now.

Like `ClickHouseStore`, everything here is synchronous and takes values only as query parameters.
A post that was stored twice (a copy that slipped past the writer's duplicate check, waiting for a
merge) is counted once: the tables are read with FINAL, as `ClickHouseStore` reads them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from clickhouse_connect.driver.client import Client
from pydantic import BaseModel, ConfigDict, Field

from config.watchlist import Watchlist
from pantau.domain import UtcDatetime, as_utc

# The longest range one summary may cover. The query reads twice this (the range and the one
# before it), so the bound keeps a request from scanning the whole table.
MAX_SPAN = timedelta(days=31)
MAX_ISSUES = 500

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


class _Response(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Shares(_Response):
    """Sentiment of a target's posts, as fractions of them (0 each when there are none)."""

    negative: Fraction
    neutral: Fraction
    positive: Fraction


class StanceShares(_Response):
    """Stance toward the target, as fractions of its posts (0 each when there are none)."""

    favor: Fraction
    against: Fraction
    none: Fraction


class TargetSummary(_Response):
    target: str = Field(description="The watchlist id.")
    name: str
    priority: Literal["low", "normal", "high", "critical"]
    posts: int = Field(ge=0, description="Distinct posts naming the target in the range.")
    authors: int = Field(ge=0, description="Distinct authors of those posts.")
    sentiment: Shares
    stance: StanceShares
    negative_share_change: float | None = Field(
        description="Negative share in the range minus that in the previous range of equal length; "
        "null when either range has no posts (a share of nothing is not 0)."
    )
    posts_previous: int = Field(ge=0, description="Distinct posts naming the target in the previous range.")


class TargetSummaryPage(_Response):
    since: UtcDatetime = Field(description="Start of the range, inclusive.")
    until: UtcDatetime = Field(description="End of the range, exclusive.")
    targets: list[TargetSummary] = Field(
        description="Every watchlist target, by priority (critical first), then posts, most first."
    )


class EmergingIssue(_Response):
    kind: Literal["hashtag", "term"]
    key: str = Field(description="The hashtag (without '#') or the term.")
    posts: int = Field(ge=0, description="Distinct posts carrying it in the recent window.")
    posts_previous: int = Field(ge=0, description="Distinct posts carrying it in the baseline span.")
    growth: float = Field(
        ge=0.0,
        description="(posts + 1) / (baseline posts per window + 1): how many times its usual rate "
        "it runs at now, smoothed so a first post or two does not look like infinite growth.",
    )
    authors: int = Field(ge=0, description="Distinct authors in the recent window.")
    negative_share: Fraction
    sample_post_ids: list[str] = Field(
        max_length=3, description="Up to three recent posts carrying it, the most engaged first."
    )


def _ceil_to_millisecond(value: datetime) -> datetime:
    """`created_at` holds milliseconds and a DateTime64(3) parameter drops finer digits, so a bound
    is rounded up: then `created_at >= bound` (and `<`) say exactly what they say for `value`."""
    value = as_utc(value)
    extra = value.microsecond % 1000
    return value if extra == 0 else value + timedelta(microseconds=1000 - extra)


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


# One pass over post_targets, covering this range and the previous one. Its sort key
# (target, created_at, id) makes each target's time range contiguous, and is also what FINAL
# collapses on: the two copies of a post stored twice share it, so the post counts once (as
# `ClickHouseStore` reads posts). FINAL merges only the parts a range touches, and measured about
# ten times faster than grouping by (target, id) to the same effect.
_TARGET_SUMMARY_SQL = """
SELECT
    target,
    countIf(current) AS posts,
    uniqExactIf(author_id, current) AS authors,
    countIf(current AND sentiment = 'negative') AS negative,
    countIf(current AND sentiment = 'neutral') AS neutral,
    countIf(current AND sentiment = 'positive') AS positive,
    countIf(current AND stance = 'favor') AS favor,
    countIf(current AND stance = 'against') AS against,
    countIf(current AND stance = 'none') AS no_stance,
    countIf(NOT current) AS posts_previous,
    countIf(NOT current AND sentiment = 'negative') AS negative_previous
FROM
(
    SELECT target, author_id, sentiment, stance, created_at >= {since:DateTime64(3, 'UTC')} AS current
    FROM post_targets FINAL
    WHERE target IN {targets:Array(String)}
        AND created_at >= {previous_since:DateTime64(3, 'UTC')}
        AND created_at < {until:DateTime64(3, 'UTC')}
)
GROUP BY target
"""

# A post's issues: its hashtags, and its content terms other than the hashtags again (the
# classifier writes a hashtag as the term '#tag'; the detectors skip those the same way).
_ISSUES = """
arrayFilter(
    issue -> notEmpty(issue.2),
    arrayConcat(
        arrayMap(tag -> tuple('hashtag', tag), hashtags),
        arrayMap(term -> tuple('term', term),
                 arrayFilter(term -> NOT startsWith(term, '#') AND NOT has(hashtags, term), terms))
    )
)
"""

# `recent` aggregates the short window only and keeps the issues that pass the thresholds; the
# baseline span (the long part of the scan) is then counted for those issues alone, so its
# aggregation state stays small however many terms the span holds. `recent` is referenced twice,
# and ClickHouse evaluates it twice: that costs a second read of the short window only. Both scans
# filter on created_at, which the partition (day) and the sort key (hour first) both prune on;
# FINAL keeps one row per post (the latest enrichment), so count() counts posts.
_EMERGING_ISSUES_SQL = f"""
WITH
    recent AS
    (
        SELECT
            issue.1 AS kind,
            issue.2 AS key,
            count() AS posts,
            uniqExact(author_id) AS authors,
            countIf(sentiment = 'negative') AS negative_posts,
            -- The most engaged posts, the latest first among equals.
            arrayMap(
                sample -> sample.3,
                groupArraySorted(3)(
                    tuple(
                        -(toUInt64(likes) + reposts + replies + quotes),
                        -toUnixTimestamp64Milli(created_at),
                        id
                    )
                )
            ) AS sample_post_ids
        FROM posts FINAL
        ARRAY JOIN {_ISSUES} AS issue
        WHERE created_at >= {{recent_since:DateTime64(3, 'UTC')}}
            AND created_at < {{now:DateTime64(3, 'UTC')}}
        GROUP BY kind, key
        HAVING posts >= {{min_posts:UInt64}} AND authors >= {{min_authors:UInt64}}
    ),
    baseline AS
    (
        SELECT issue.1 AS kind, issue.2 AS key, count() AS posts_previous
        FROM posts FINAL
        ARRAY JOIN {_ISSUES} AS issue
        WHERE created_at >= {{baseline_since:DateTime64(3, 'UTC')}}
            AND created_at < {{recent_since:DateTime64(3, 'UTC')}}
            AND (issue.1, issue.2) IN (SELECT kind, key FROM recent)
        GROUP BY kind, key
    )
SELECT
    recent.kind AS kind,
    recent.key AS key,
    recent.posts AS posts,
    baseline.posts_previous AS posts_previous,
    (recent.posts + 1) / (baseline.posts_previous * {{windows_per_baseline:Float64}} + 1) AS growth,
    recent.authors AS authors,
    recent.negative_posts / recent.posts AS negative_share,
    recent.sample_post_ids AS sample_post_ids
FROM recent
LEFT JOIN baseline ON recent.kind = baseline.kind AND recent.key = baseline.key
ORDER BY growth DESC, posts DESC, kind, key
LIMIT {{limit:UInt32}}
"""


class SummaryQueries:
    def __init__(self, client: Client) -> None:
        self.client = client

    def target_summary(self, since: datetime, until: datetime, watchlist: Watchlist) -> TargetSummaryPage:
        """Per watchlist target: volume, sentiment and stance shares in [since, until), and how the
        negative share moved against the range of equal length just before."""
        since, until = as_utc(since), as_utc(until)
        if since >= until:
            raise ValueError(f"since ({since.isoformat()}) must be before until ({until.isoformat()})")
        if until - since > MAX_SPAN:
            raise ValueError(f"until: the range may span at most {MAX_SPAN.days} days, not {until - since}")
        counts: dict[str, dict[str, Any]] = {}
        if watchlist.targets:
            result = self.client.query(
                _TARGET_SUMMARY_SQL,
                parameters={
                    "targets": [t.id for t in watchlist.targets],
                    "previous_since": _ceil_to_millisecond(since - (until - since)),
                    "since": _ceil_to_millisecond(since),
                    "until": _ceil_to_millisecond(until),
                },
            )
            counts = {row[0]: dict(zip(result.column_names, row, strict=True)) for row in result.result_rows}
        summaries = [self._summary(t.id, t.name, t.priority, counts.get(t.id)) for t in watchlist.targets]
        rank = {t.id: t.priority_rank for t in watchlist.targets}
        summaries.sort(key=lambda s: (-rank[s.target], -s.posts, s.target))
        return TargetSummaryPage(since=since, until=until, targets=summaries)

    @staticmethod
    def _summary(
        target: str,
        name: str,
        priority: Literal["low", "normal", "high", "critical"],
        row: dict[str, Any] | None,
    ) -> TargetSummary:
        row = row or {}
        posts, previous = int(row.get("posts", 0)), int(row.get("posts_previous", 0))

        def share(column: str) -> float:
            return _share(int(row.get(column, 0)), posts)

        change = (
            share("negative") - _share(int(row.get("negative_previous", 0)), previous)
            if posts and previous
            else None
        )
        return TargetSummary(
            target=target,
            name=name,
            priority=priority,
            posts=posts,
            authors=int(row.get("authors", 0)),
            sentiment=Shares(
                negative=share("negative"), neutral=share("neutral"), positive=share("positive")
            ),
            stance=StanceShares(favor=share("favor"), against=share("against"), none=share("no_stance")),
            negative_share_change=change,
            posts_previous=previous,
        )

    def emerging_issues(
        self,
        now: datetime,
        *,
        window: timedelta = timedelta(minutes=30),
        baseline: timedelta = timedelta(hours=6),
        min_posts: int = 5,
        min_authors: int = 3,
        limit: int = 20,
    ) -> list[EmergingIssue]:
        """Hashtags and terms whose volume in [now - window, now) grew most against the `baseline`
        span before it (scaled to a rate per window), among those with at least `min_posts` posts
        and `min_authors` authors in the window, so that one account cannot make an issue."""
        if window <= timedelta(0):
            raise ValueError(f"window must be positive, not {window}")
        if baseline <= timedelta(0):
            raise ValueError(f"baseline must be positive, not {baseline}")
        if window + baseline > MAX_SPAN:
            raise ValueError(f"baseline: window and baseline may span at most {MAX_SPAN.days} days together")
        if min_posts < 1:
            raise ValueError(f"min_posts must be at least 1, not {min_posts}")
        if min_authors < 1:
            raise ValueError(f"min_authors must be at least 1, not {min_authors}")
        if not 1 <= limit <= MAX_ISSUES:
            raise ValueError(f"limit must be between 1 and {MAX_ISSUES}, not {limit}")
        now = as_utc(now)
        recent_since = now - window
        result = self.client.query(
            _EMERGING_ISSUES_SQL,
            parameters={
                "now": _ceil_to_millisecond(now),
                "recent_since": _ceil_to_millisecond(recent_since),
                "baseline_since": _ceil_to_millisecond(recent_since - baseline),
                "windows_per_baseline": window / baseline,
                "min_posts": min_posts,
                "min_authors": min_authors,
                "limit": limit,
            },
        )
        return [
            EmergingIssue.model_validate(dict(zip(result.column_names, row, strict=True)))
            for row in result.result_rows
        ]
