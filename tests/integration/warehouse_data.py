"""A small, realistic warehouse for the dashboard and analyst query tests.

Posts on three targets with sentiments, stances, hashtags and reach; a coordinated wave on one
target; two issues and a merged one with their posts; alerts of several kinds and states; dead
letters; notification deliveries. Every table is loaded the way Pantau writes it, including the
duplicates a crash window or a retry leaves (a post stored twice, a dead letter redelivered, an
issue's older version, a membership and a delivery written twice), so a query that forgets FINAL
or distinct counting shows it in the numbers.

All times are a few hours before now: recent enough for the tables' TTLs and for the analysts'
queries that look at "the last day", old enough to be whole minutes in the past.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from clickhouse_connect.driver.client import Client

from pantau.domain import (
    Alert,
    AlertStatus,
    DeadLetter,
    EnrichedPost,
    Enrichment,
    Issue,
    IssueStatus,
    Metrics,
    Post,
    Sentiment,
    Severity,
    SignalKind,
    Stance,
    TargetStance,
)
from storage.repository import (
    ISSUE_COLUMNS,
    ISSUE_POST_COLUMNS,
    NOTIFICATION_LOG_COLUMNS,
    POST_COLUMNS,
    ClickHouseStore,
    post_row,
)
from storage.repository import issue_row as stored_issue_row

T0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
# The dashboards' time range in the tests: an hour either side of T0.
FROM, TO = T0 - timedelta(hours=1), T0 + timedelta(hours=1)

RAKA, SARI, BIMA = "raka-wibisana", "sari-lestari", "bima-hartono"
ISSUE_KARTU, ISSUE_KPD, ISSUE_MERGED = "issue-kartu", "issue-kpd", "issue-old"
COORDINATED_ACCOUNTS = ("u4", "u5", "u6")

# What Grafana would fill in for the dashboards' macros and variables.
PARAMS: dict[str, Any] = {"from": FROM, "to": TO, "interval_s": 60, "target": RAKA, "issue": ISSUE_KPD}

ENRICH_DELAY = timedelta(seconds=1)
STORE_DELAY = timedelta(seconds=2)


def enriched(
    n: int,
    at: datetime,
    *,
    author: str,
    text: str,
    sentiment: Sentiment = Sentiment.neutral,
    targets: tuple[tuple[str, Stance], ...] = (),
    hashtags: tuple[str, ...] = (),
    metrics: Metrics | None = None,
    platform: str = "x",
    repost_of: str = "",
) -> EnrichedPost:
    post = Post(
        id=f"{platform}:{n}",
        platform=platform,
        native_id=str(n),
        author_id=author,
        author_handle=f"@{author}",
        text=text,
        created_at=at,
        url=f"https://example.org/{platform}/{n}",
        repost_of=repost_of,
        hashtags=hashtags,
        metrics=metrics or Metrics(),
        received_at=at + timedelta(seconds=1),
        raw="{}",
    )
    enrichment = Enrichment(
        lang="id",
        sentiment=sentiment,
        sentiment_score=0.8,
        targets=tuple(TargetStance(target=t, stance=s, score=0.8) for t, s in targets),
        terms=tuple(word for word in text.lower().split() if word.isalpha()),
        fingerprint=f"fp{n}",
        model="test",
    )
    return EnrichedPost(post=post, enrichment=enrichment, enriched_at=post.received_at + ENRICH_DELAY)


WAVE_TEXT = "Sari pembohong, jangan pilih lagi #kpdbocor"
POSTS = [
    enriched(1, T0 + timedelta(seconds=10), author="u1", text="Kartu pangan untuk semua #pemilu",
             sentiment=Sentiment.positive, targets=((RAKA, Stance.favor),), hashtags=("pemilu",),
             metrics=Metrics(likes=10, reposts=3, views=500)),
    enriched(2, T0 + timedelta(seconds=40), author="u2", text="Kartu pangan cuma janji #debat #pemilu",
             sentiment=Sentiment.negative, targets=((RAKA, Stance.against), (SARI, Stance.against)),
             hashtags=("pemilu", "debat"), metrics=Metrics(likes=4, reposts=8, views=900)),
    enriched(3, T0 + timedelta(minutes=1, seconds=5), author="u3", text="Hujan deras di Jakarta"),
    enriched(4, T0 + timedelta(minutes=2), author="u1", text="Sari menang debat #debat", platform="bluesky",
             sentiment=Sentiment.positive, targets=((SARI, Stance.favor),), hashtags=("debat",),
             metrics=Metrics(likes=2)),
    # Before the dashboards' range: only the target list and the analysts' last-day queries see it.
    enriched(5, T0 - timedelta(hours=2), author="u2", text="Bima di pasar #lama", hashtags=("lama",),
             targets=((BIMA, Stance.none),)),
    # A coordinated wave: three accounts post the same text within a minute, a fourth reposts it.
    *(
        enriched(n, T0 + timedelta(minutes=5, seconds=10 * i), author=author, text=WAVE_TEXT,
                 sentiment=Sentiment.negative, targets=((SARI, Stance.against),), hashtags=("kpdbocor",),
                 metrics=Metrics(likes=1, reposts=5, views=300))
        for i, (n, author) in enumerate(zip((6, 7, 8), COORDINATED_ACCOUNTS, strict=True))
    ),
    enriched(9, T0 + timedelta(minutes=6), author="u7", text=WAVE_TEXT, repost_of="x:6",
             sentiment=Sentiment.negative, targets=((SARI, Stance.against),), hashtags=("kpdbocor",)),
]  # fmt: skip
IN_RANGE = [p for p in POSTS if FROM <= p.post.created_at <= TO]


def stored_at(item: EnrichedPost) -> datetime:
    return item.enriched_at + STORE_DELAY


def alert(
    n: int,
    status: AlertStatus,
    *,
    target: str = RAKA,
    kind: SignalKind = SignalKind.volume_burst,
    updated: datetime = T0,
    numbers: dict[str, float] | None = None,
    details: dict[str, str] | None = None,
) -> Alert:
    return Alert(
        id=f"alert-{n}",
        fingerprint=f"fp-{n}",
        kind=kind,
        key_kind="target",
        key=target,
        target=target,
        severity=Severity.warning,
        status=status,
        title=f"Alert {n}",
        numbers=numbers or {"count": 9.0},
        details=details or {},
        evidence=("x:1",),
        signal_ids=(f"s{n}",),
        first_seen=T0,
        last_seen=T0 + timedelta(minutes=1),
        created_at=T0 + timedelta(minutes=n),
        updated_at=updated,
    )


COORDINATED_ALERT = alert(
    6,
    AlertStatus.open,
    target=SARI,
    kind=SignalKind.coordinated_posting,
    numbers={"accounts": 3.0, "posts": 3.0, "window_seconds": 20.0},
    details={"text": WAVE_TEXT, "accounts": ",".join(COORDINATED_ACCOUNTS)},
)


def letter(offset: int, stage: str, reason: str, at: datetime) -> DeadLetter:
    return DeadLetter(
        stage=stage,
        reason=reason,
        topic="posts.raw",
        partition=0,
        offset=offset,
        raw=f"bad {offset}",
        failed_at=at,
    )


DEAD_LETTERS = [
    letter(1, "normalise", "not JSON", T0 + timedelta(minutes=1)),
    letter(2, "normalise", "not JSON", T0 + timedelta(minutes=2)),
    letter(3, "enrich", "classifier failed", T0 + timedelta(minutes=3)),
    letter(4, "normalise", "not JSON", T0 - timedelta(days=1)),  # outside the range
]


def delivery(
    n: int, status: str, at: datetime, *, channel: str, error: str = "", attempts: int = 1
) -> list[Any]:
    """A notification_log row, in `NOTIFICATION_LOG_COLUMNS` order."""
    return [
        f"notification-{n}", "desk", channel, channel.split("-")[0], "firing", status, attempts, error,
        [f"alert-{n}"], at, at + timedelta(seconds=2),
    ]  # fmt: skip


DELIVERIES = [
    delivery(1, "delivered", T0 + timedelta(minutes=1), channel="webhook-desk"),
    delivery(2, "failed", T0 + timedelta(minutes=6), channel="telegram-desk", error="timed out", attempts=3),
    delivery(3, "no_channels", T0 + timedelta(minutes=7), channel="", attempts=0),
]


def issue(
    issue_id: str,
    *,
    status: IssueStatus,
    label: tuple[str, ...],
    targets: tuple[str, ...],
    members: list[EnrichedPost],
    growth: float,
    coordination: tuple[str, ...] = (),
    merged_into: str = "",
) -> Issue:
    first = min(m.post.created_at for m in members)
    last = max(m.post.created_at for m in members)
    return Issue(
        id=issue_id,
        status=status,
        label=label,
        targets=targets,
        first_post_at=first,
        first_posts=tuple(m.post.id for m in members[:2]),
        opened_at=first + timedelta(seconds=30),
        paged_at=first + timedelta(minutes=1) if status == IssueStatus.live else None,
        last_activity=last,
        posts=len(members),
        accounts=len({m.post.author_id for m in members}),
        voices=len({m.post.author_id for m in members if not m.post.repost_of}),
        reposts=sum(1 for m in members if m.post.repost_of),
        rate_per_hour=60.0 * len(members),
        baseline_per_hour=2.0,
        growth=growth,
        scale_seconds=600,
        amplifiers={m.post.author_handle: 1 for m in members},
        representatives=(members[0].post.id,),
        coordination=coordination,
        merged_into=merged_into,
    )


def by_id(*numbers: int) -> list[EnrichedPost]:
    return [p for p in POSTS if int(p.post.native_id) in numbers]


ISSUES = {
    ISSUE_KARTU: issue(ISSUE_KARTU, status=IssueStatus.live, label=("kartu pangan", "#pemilu"),
                       targets=(RAKA,), members=by_id(1, 2), growth=4.5),
    ISSUE_KPD: issue(ISSUE_KPD, status=IssueStatus.candidate, label=("#kpdbocor", "pembohong"),
                     targets=(SARI,), members=by_id(6, 7, 8, 9), growth=9.0,
                     coordination=COORDINATED_ACCOUNTS),
    ISSUE_MERGED: issue(ISSUE_MERGED, status=IssueStatus.closed, label=("#debat",), targets=(SARI,),
                        members=by_id(4), growth=1.5, merged_into=ISSUE_KPD),
}  # fmt: skip
ISSUE_MEMBERS = {ISSUE_KARTU: by_id(1, 2), ISSUE_KPD: by_id(6, 7, 8, 9), ISSUE_MERGED: by_id(4)}


def issue_row(
    item: Issue, updated_at: datetime, signal_kinds: tuple[str, ...] = ("volume_burst",)
) -> list[Any]:
    """The writer's row, with the signal kinds given (these issues carry no facets to derive them)."""
    row = stored_issue_row(item, updated_at)
    row[ISSUE_COLUMNS.index("signal_kinds")] = list(signal_kinds)
    return row


def load_warehouse(client: Client) -> None:
    """Loads the whole data set into a migrated, empty database."""
    store = ClickHouseStore(client)
    post_rows = [[*post_row(p), stored_at(p)] for p in POSTS]
    columns = [*POST_COLUMNS, "stored_at"]
    client.insert("posts", post_rows, column_names=columns)
    # A copy that slipped past the writer's duplicate check (a crash window) must not be counted twice.
    client.insert("posts", post_rows[:2], column_names=columns)

    store.upsert_alerts([alert(1, AlertStatus.open), alert(2, AlertStatus.acknowledged)], event="opened")
    store.upsert_alerts([alert(3, AlertStatus.open, target=SARI)], event="opened")
    store.upsert_alerts(
        [alert(3, AlertStatus.resolved, target=SARI, updated=T0 + timedelta(minutes=30))], event="resolved"
    )
    store.upsert_alerts([COORDINATED_ALERT], event="opened")

    store.insert_dead_letters(DEAD_LETTERS)
    store.insert_dead_letters(DEAD_LETTERS[:1])  # a redelivered dead letter is one message

    store.log_deliveries(DELIVERIES)
    store.log_deliveries(DELIVERIES[1:2])  # a retried write of the log is one delivery
    assert len(DELIVERIES[0]) == len(NOTIFICATION_LOG_COLUMNS)

    updated = T0 + timedelta(minutes=10)
    kartu_before_paging = ISSUES[ISSUE_KARTU].model_copy(
        update={"status": IssueStatus.candidate, "growth": 2.0}
    )
    # An older version, written before the latest (one insert would already collapse the two).
    older = [issue_row(kartu_before_paging, updated - timedelta(minutes=5))]
    client.insert("issues", older, column_names=list(ISSUE_COLUMNS))
    issue_rows = [
        issue_row(ISSUES[ISSUE_KARTU], updated),
        issue_row(ISSUES[ISSUE_KPD], updated, ("volume_burst", "coordinated_posting")),
        issue_row(ISSUES[ISSUE_MERGED], updated),
    ]
    client.insert("issues", issue_rows, column_names=list(ISSUE_COLUMNS))
    memberships = [
        [issue_id, p.post.id, p.post.created_at, p.post.created_at + timedelta(seconds=5)]
        for issue_id, members in ISSUE_MEMBERS.items()
        for p in members
    ]
    client.insert("issue_posts", memberships, column_names=list(ISSUE_POST_COLUMNS))
    client.insert("issue_posts", memberships[:1], column_names=list(ISSUE_POST_COLUMNS))
