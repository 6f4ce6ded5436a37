"""The reads and writes Pantau makes against ClickHouse, behind one class.

All methods are synchronous (clickhouse-connect has no async client for chdb, and one client is
safe to share across threads); async callers go through `asyncio.to_thread`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError, DataError, OperationalError

from pantau.domain import Alert, AlertStatus, DeadLetter, EnrichedPost, Issue, Severity, SignalKind, as_utc

POST_COLUMNS = (
    "id", "platform", "native_id", "author_id", "author_handle", "text", "lang", "created_at", "url",
    "reply_to", "repost_of", "quote_of", "hashtags", "mentions", "links", "likes", "reposts", "replies",
    "quotes", "views", "source", "received_at", "raw", "detected_lang", "sentiment", "sentiment_score",
    "targets", "stances", "stance_scores", "terms", "fingerprint", "model", "enriched_at",
)  # fmt: skip

ALERT_COLUMNS = (
    "id", "fingerprint", "kind", "key_kind", "key", "target", "severity", "status", "title", "summary",
    "numbers", "evidence", "signal_ids", "first_seen", "last_seen", "created_at", "updated_at",
    "acked_by", "acked_at", "labels", "details", "assignee", "assigned_by", "assigned_at", "renewed_at",
    "resolved_by", "resolved_at", "escalated_at",
)  # fmt: skip

# The orders `GET /alerts` offers: a name, optionally '-' for descending. Severity sorts by rank.
ALERT_SORTS = {
    "created_at": "created_at",
    "updated_at": "updated_at",
    "last_seen": "last_seen",
    "first_seen": "first_seen",
    "severity": "severity",
}


# Server error codes that mean "this data cannot go in", not "try again later": parse and type
# errors, values out of range, bad arguments.
_DATA_ERROR_CODES = frozenset({6, 26, 27, 32, 36, 38, 41, 53, 69, 70, 72, 117, 131, 321})
_ERROR_CODE = re.compile(r"\bCode: (\d+)")


def _refused_for_its_data(exc: Exception) -> bool:
    if isinstance(exc, OperationalError):
        return False
    if isinstance(exc, DataError | ValueError | TypeError):
        return True  # refused by the client while encoding the rows
    match = _ERROR_CODE.search(str(exc))
    return match is not None and int(match.group(1)) in _DATA_ERROR_CODES


def _as_int(value: Any) -> int:
    """`Client.command` returns a scalar for one-value results; its type says much more."""
    return int(value)


def post_row(item: EnrichedPost) -> list[Any]:
    p, e = item.post, item.enrichment
    m = p.metrics
    return [
        p.id, p.platform, p.native_id, p.author_id, p.author_handle, p.text, p.lang, p.created_at, p.url,
        p.reply_to, p.repost_of, p.quote_of, list(p.hashtags), list(p.mentions), list(p.links),
        m.likes, m.reposts, m.replies, m.quotes, m.views, p.source, p.received_at, p.raw,
        e.lang, e.sentiment.value, e.sentiment_score,
        [t.target for t in e.targets], [t.stance.value for t in e.targets], [t.score for t in e.targets],
        list(e.terms), e.fingerprint, e.model, item.enriched_at,
    ]  # fmt: skip


def alert_row(alert: Alert) -> list[Any]:
    return [
        alert.id, alert.fingerprint, alert.kind.value, alert.key_kind, alert.key, alert.target,
        alert.severity.value, alert.status.value, alert.title, alert.summary, dict(alert.numbers),
        list(alert.evidence), list(alert.signal_ids), alert.first_seen, alert.last_seen, alert.created_at,
        alert.updated_at, alert.acked_by, alert.acked_at, dict(alert.labels), dict(alert.details),
        alert.assignee,
        alert.assigned_by, alert.assigned_at, alert.renewed_at, alert.resolved_by, alert.resolved_at,
        alert.escalated_at,
    ]  # fmt: skip


ISSUE_COLUMNS = (
    "id", "status", "label", "targets", "first_post_at", "opened_at", "paged_at", "last_activity", "posts",
    "accounts", "voices", "reposts", "rate_per_hour", "baseline_per_hour", "growth", "scale_seconds",
    "signal_kinds", "amplifiers", "coordination", "representatives", "first_posts", "merged_from",
    "merged_into", "record", "updated_at",
)  # fmt: skip

ISSUE_POST_COLUMNS = ("issue_id", "post_id", "created_at", "joined_at")


def issue_row(issue: Issue, updated_at: datetime) -> list[Any]:
    """The issue's version at `updated_at` (the newest version of an id is the one kept)."""
    kinds = sorted({facet.kind.value for facet in issue.facets})
    return [
        issue.id, issue.status.value, list(issue.label), list(issue.targets), issue.first_post_at,
        issue.opened_at, issue.paged_at, issue.last_activity, issue.posts, issue.accounts, issue.voices,
        issue.reposts, issue.rate_per_hour, issue.baseline_per_hour, issue.growth, issue.scale_seconds,
        kinds, dict(issue.amplifiers), list(issue.coordination), list(issue.representatives),
        list(issue.first_posts), list(issue.merged_from), issue.merged_into, issue.model_dump_json(),
        updated_at,
    ]  # fmt: skip


NOTIFICATION_LOG_COLUMNS = (
    "notification_id", "receiver", "channel", "channel_type", "reason", "status", "attempts", "error",
    "alert_ids", "started_at", "finished_at",
)  # fmt: skip


@dataclass(frozen=True)
class AlertQuery:
    status: AlertStatus | None = None
    severity: Severity | None = None
    target: str | None = None
    kind: SignalKind | None = None
    assignee: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    sort: str = "-created_at"
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True)
class AlertEvent:
    at: datetime
    event: str
    actor: str
    status: AlertStatus
    details: str


class ClickHouseStore:
    def __init__(self, client: Client) -> None:
        self.client = client
        # Serialises the read-then-write of `insert_new_posts` within this process.
        self._post_write_lock = threading.Lock()

    # -- posts ----------------------------------------------------------------------------------
    def existing_post_ids(self, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        rows = self.client.query(
            "SELECT DISTINCT id FROM posts WHERE id IN {ids:Array(String)}", parameters={"ids": list(ids)}
        ).result_rows
        return {r[0] for r in rows}

    def existing_dead_letters(self, raws: Sequence[str]) -> set[str]:
        """Which of these raw payloads ClickHouse holds as dead letters."""
        if not raws:
            return set()
        rows = self.client.query(
            "SELECT DISTINCT raw FROM dead_letters WHERE raw IN {raws:Array(String)}",
            parameters={"raws": list(raws)},
        ).result_rows
        return {r[0] for r in rows}

    def insert_new_posts(self, items: Sequence[EnrichedPost]) -> list[EnrichedPost]:
        """Insert the posts not stored yet, as one batch; return those that were new.

        Delivery is at least once, so the same post can arrive again (a repeated send, a batch
        re-read after a restart). Posts are keyed by id on the topic, so one writer owns each id at
        a time and this read-then-write keeps one row per post.
        """
        unique = list({item.post.id: item for item in items}.values())
        with self._post_write_lock:
            existing = self.existing_post_ids([i.post.id for i in unique])
            new = [i for i in unique if i.post.id not in existing]
            if new:
                self.client.insert(
                    "posts",
                    [post_row(i) for i in new],
                    column_names=list(POST_COLUMNS),
                    # A replay of an archive can span months in one batch: one part per day is fine.
                    settings={"max_partitions_per_insert_block": 0},
                )
        return new

    def insert_new_posts_isolating(
        self, items: Sequence[EnrichedPost]
    ) -> tuple[list[EnrichedPost], list[tuple[EnrichedPost, str]]]:
        """Like `insert_new_posts`, but a batch the server refuses for its data is split until the
        refused posts stand alone: those come back with the reason (for the DLQ), the rest are
        stored. Connection and availability errors are raised, for the caller to retry."""
        try:
            return self.insert_new_posts(items), []
        except (DataError, DatabaseError, ValueError, TypeError) as exc:
            if not _refused_for_its_data(exc):
                raise  # overload, timeout, read-only, a proxy's 502: retried by the caller
            if len(items) == 1:
                return [], [(items[0], f"ClickHouse refused the post: {type(exc).__name__}: {exc}"[:2000])]
        middle = len(items) // 2
        first_new, first_failed = self.insert_new_posts_isolating(items[:middle])
        second_new, second_failed = self.insert_new_posts_isolating(items[middle:])
        return first_new + second_new, first_failed + second_failed

    def count_posts(self) -> int:
        return _as_int(self.client.command("SELECT count() FROM posts FINAL"))

    def get_posts(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        if not ids:
            return []
        result = self.client.query(
            "SELECT id, platform, author_id, author_handle, text, created_at, url, hashtags, detected_lang, "
            "sentiment, sentiment_score, targets, stances FROM posts FINAL WHERE id IN {ids:Array(String)} "
            "ORDER BY created_at",
            parameters={"ids": list(ids)},
        )
        # clickhouse-connect hands back naive datetimes for these UTC columns: say they are UTC.
        return [
            {
                name: as_utc(value) if isinstance(value, datetime) else value
                for name, value in zip(result.column_names, row, strict=True)
            }
            for row in result.result_rows
        ]

    # -- alerts ---------------------------------------------------------------------------------
    def upsert_alerts(
        self, alerts: Sequence[Alert], *, event: str | None, actor: str = "pantau", details: str | None = None
    ) -> None:
        """Write the alerts' current versions; with an event, log it in `alert_events` too (its
        details: the given text, else the alert's numbers as JSON)."""
        if not alerts:
            return
        self.client.insert("alerts", [alert_row(a) for a in alerts], column_names=list(ALERT_COLUMNS))
        if event is None:
            return
        self.client.insert(
            "alert_events",
            [
                [
                    a.id,
                    a.updated_at,
                    event,
                    actor,
                    a.status.value,
                    details if details is not None else orjson.dumps(a.numbers).decode(),
                ]
                for a in alerts
            ],
            column_names=["alert_id", "at", "event", "actor", "status", "details"],
        )

    def log_alert_event(self, alert: Alert, *, event: str, actor: str, at: datetime, details: str) -> None:
        """An event that does not change the alert itself (a comment)."""
        self.client.insert(
            "alert_events",
            [[alert.id, at, event, actor, alert.status.value, details]],
            column_names=["alert_id", "at", "event", "actor", "status", "details"],
        )

    def alert_events(self, alert_id: str, *, limit: int = 500) -> list[AlertEvent]:
        result = self.client.query(
            "SELECT at, event, actor, status, details FROM alert_events FINAL "
            "WHERE alert_id = {id:String} ORDER BY at, event LIMIT {limit:UInt32}",
            parameters={"id": alert_id, "limit": limit},
        )
        return [
            AlertEvent(at=as_utc(at), event=event, actor=actor, status=AlertStatus(status), details=details)
            for at, event, actor, status, details in result.result_rows
        ]

    def log_deliveries(self, rows: Sequence[Sequence[Any]]) -> None:
        """Rows in `NOTIFICATION_LOG_COLUMNS` order."""
        if rows:
            self.client.insert("notification_log", list(rows), column_names=list(NOTIFICATION_LOG_COLUMNS))

    # -- issues ---------------------------------------------------------------------------------
    def upsert_issues(self, issues: Sequence[Issue], *, at: datetime) -> None:
        """Write the issues' versions as of `at`: a later write of the same id replaces them."""
        if issues:
            self.client.insert("issues", [issue_row(i, at) for i in issues], column_names=list(ISSUE_COLUMNS))

    def insert_issue_posts(self, rows: Sequence[tuple[str, str, datetime, datetime]]) -> None:
        """(issue id, post id, post time, joined at); a membership written twice is one row."""
        if rows:
            self.client.insert("issue_posts", [list(r) for r in rows], column_names=list(ISSUE_POST_COLUMNS))

    def stored_issue(self, issue_id: str) -> Issue | None:
        """The newest stored version of an issue (the warehouse's copy; Redis has the live one)."""
        result = self.client.query(
            "SELECT argMax(record, updated_at) FROM issues WHERE id = {id:String} GROUP BY id",
            parameters={"id": issue_id},
        )
        rows = result.result_rows
        return Issue.model_validate_json(rows[0][0]) if rows else None

    def issue_timeline(self, issue_id: str, bucket_seconds: int) -> list[tuple[datetime, int]]:
        """The issue's posts per bucket of `bucket_seconds` (by the posts' own time, buckets
        aligned to the epoch), oldest first; only buckets holding posts. A membership stored twice
        counts once (FINAL)."""
        result = self.client.query(
            "SELECT toStartOfInterval(created_at, INTERVAL {bucket:UInt32} SECOND) AS bucket, count() "
            "FROM issue_posts FINAL WHERE issue_id = {id:String} GROUP BY bucket ORDER BY bucket",
            parameters={"id": issue_id, "bucket": bucket_seconds},
        )
        return [(as_utc(bucket), _as_int(posts)) for bucket, posts in result.result_rows]

    def get_alert(self, alert_id: str) -> Alert | None:
        found = self._query_alerts("id = {id:String}", {"id": alert_id}, limit=1, offset=0)
        return found[0] if found else None

    def list_alerts(self, query: AlertQuery) -> tuple[list[Alert], int]:
        clauses: list[str] = ["1"]
        params: dict[str, Any] = {}
        if query.status is not None:
            clauses.append("status = {status:String}")
            params["status"] = query.status.value
        if query.severity is not None:
            clauses.append("severity = {severity:String}")
            params["severity"] = query.severity.value
        if query.target:
            clauses.append("target = {target:String}")
            params["target"] = query.target
        if query.kind is not None:
            clauses.append("kind = {kind:String}")
            params["kind"] = query.kind.value
        if query.assignee is not None:
            clauses.append("assignee = {assignee:String}")
            params["assignee"] = query.assignee
        if query.since is not None:
            clauses.append("last_seen >= {since:DateTime64(3, 'UTC')}")
            params["since"] = as_utc(query.since)
        if query.until is not None:
            clauses.append("first_seen < {until:DateTime64(3, 'UTC')}")
            params["until"] = as_utc(query.until)
        where = " AND ".join(clauses)
        total = _as_int(
            self.client.command(f"SELECT count() FROM alerts FINAL WHERE {where}", parameters=params)
        )
        return self._query_alerts(
            where, params, limit=query.limit, offset=query.offset, sort=query.sort
        ), total

    def _query_alerts(
        self, where: str, params: dict[str, Any], *, limit: int, offset: int, sort: str = "-created_at"
    ) -> list[Alert]:
        column = ALERT_SORTS[sort.removeprefix("-")]  # a KeyError here is a caller's bug: API validates
        direction = "DESC" if sort.startswith("-") else "ASC"
        result = self.client.query(
            f"SELECT {', '.join(ALERT_COLUMNS)} FROM alerts FINAL WHERE {where} "
            f"ORDER BY {column} {direction}, created_at DESC, id LIMIT {int(limit)} OFFSET {int(offset)}",
            parameters=params,
        )
        alerts = []
        for row in result.result_rows:
            data = dict(zip(ALERT_COLUMNS, row, strict=True))
            data["evidence"] = tuple(data["evidence"])
            data["signal_ids"] = tuple(data["signal_ids"])
            alerts.append(Alert.model_validate(data))
        return alerts

    # -- dead letters ---------------------------------------------------------------------------
    def insert_dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        if letters:
            self.client.insert(
                "dead_letters",
                [[d.failed_at, d.stage, d.reason, d.topic, d.partition, d.offset, d.raw] for d in letters],
                column_names=["failed_at", "stage", "reason", "topic", "partition", "offset", "raw"],
            )

    # -- health ---------------------------------------------------------------------------------
    def ping(self) -> bool:
        return _as_int(self.client.command("SELECT 1")) == 1
