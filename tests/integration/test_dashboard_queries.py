"""Every war-room panel query runs on the migrated schema and returns what the data says.

dashboards/queries.sql holds each panel's SQL with Grafana's macros written as query parameters;
dashboards/json/war-room.json holds the same SQL with the macros. Both are checked here.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from pantau.domain import (
    Alert,
    AlertStatus,
    DeadLetter,
    EnrichedPost,
    Enrichment,
    Post,
    Sentiment,
    Severity,
    SignalKind,
    Stance,
    TargetStance,
)
from storage.repository import POST_COLUMNS, ClickHouseStore, post_row

pytestmark = pytest.mark.integration

DASHBOARDS = Path(__file__).resolve().parents[2] / "dashboards"
# Recent: dead_letters has a 90-day TTL, so older rows may vanish at any merge.
T0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=1)
FROM, TO = T0 - timedelta(hours=1), T0 + timedelta(minutes=10)
PARAMS: dict[str, Any] = {"from": FROM, "to": TO, "target": "raka-wibisana"}
MACROS = {
    r"\$__timeFilter\((\w+)\)": r"\1 >= {from:DateTime64(3)} AND \1 <= {to:DateTime64(3)}",
    r"\$__fromTime\b": "{from:DateTime64(3)}",
    r"\$__toTime\b": "{to:DateTime64(3)}",
    r"\$\{target:sqlstring\}": "{target:String}",
}


def parse_queries(text: str) -> dict[str, str]:
    blocks: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        match = re.fullmatch(r"--\s*name:\s*([a-z0-9_]+)\s*", line)
        if match:
            assert match.group(1) not in blocks, f"duplicate block {match.group(1)}"
            current = blocks[match.group(1)] = []
        elif current is not None and not line.lstrip().startswith("--"):
            current.append(line)
    return {name: "\n".join(lines).strip().rstrip(";").strip() for name, lines in blocks.items()}


QUERIES = parse_queries((DASHBOARDS / "queries.sql").read_text(encoding="utf-8"))


def squash(sql: str) -> str:
    return " ".join(sql.replace(";", " ").split())


def with_parameters(sql: str) -> str:
    for pattern, replacement in MACROS.items():
        sql = re.sub(pattern, replacement, sql)
    return sql


def dashboard_sql() -> dict[str, str]:
    board = json.loads((DASHBOARDS / "json" / "war-room.json").read_text(encoding="utf-8"))
    found: dict[str, str] = {}
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            if "rawSql" in target:
                found[f"panel {panel.get('title')!r} {target.get('refId')}"] = target["rawSql"]
    for variable in board.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            query = variable["query"]
            found[f"variable {variable['name']}"] = (
                query if isinstance(query, str) else query.get("rawSql", "")
            )
    return found


def test_queries_file_has_the_panels() -> None:
    assert {"posts_per_minute", "open_alerts", "dead_letters", "target_variable"} <= set(QUERIES)
    assert all(QUERIES.values())


def test_every_dashboard_query_is_in_queries_sql_and_back() -> None:
    in_file = {squash(sql): name for name, sql in QUERIES.items()}
    panels = dashboard_sql()
    assert panels
    missing = {where: sql for where, sql in panels.items() if squash(with_parameters(sql)) not in in_file}
    assert not missing, f"dashboard SQL not in queries.sql: {missing}"
    used = {in_file[squash(with_parameters(sql))] for sql in panels.values()}
    assert used == set(QUERIES), f"blocks no panel uses: {set(QUERIES) - used}"
    for sql in panels.values():
        assert "$" not in with_parameters(sql), "a macro the mapping does not know"


# -- data -----------------------------------------------------------------------------------------


def enriched(
    n: int,
    at: datetime,
    *,
    sentiment: Sentiment = Sentiment.neutral,
    targets: tuple[tuple[str, Stance], ...] = (),
    hashtags: tuple[str, ...] = (),
) -> EnrichedPost:
    post = Post(
        id=f"x:{n}",
        platform="x",
        native_id=str(n),
        author_id=f"u{n % 2}",
        author_handle=f"user{n % 2}",
        text=f"post {n}",
        created_at=at,
        hashtags=hashtags,
        received_at=at + timedelta(seconds=1),
        raw="{}",
    )
    enrichment = Enrichment(
        lang="id",
        sentiment=sentiment,
        sentiment_score=0.8,
        targets=tuple(TargetStance(target=t, stance=s, score=0.8) for t, s in targets),
        fingerprint=f"fp{n}",
        model="test",
    )
    return EnrichedPost(post=post, enrichment=enrichment, enriched_at=at + timedelta(seconds=2))


RAKA, SARI = "raka-wibisana", "sari-lestari"
POSTS = [
    enriched(1, T0 + timedelta(seconds=10), sentiment=Sentiment.positive, targets=((RAKA, Stance.favor),),
             hashtags=("pemilu",)),
    enriched(2, T0 + timedelta(seconds=40), sentiment=Sentiment.negative,
             targets=((RAKA, Stance.against), (SARI, Stance.against)), hashtags=("pemilu", "debat")),
    enriched(3, T0 + timedelta(minutes=1, seconds=5)),
    enriched(4, T0 + timedelta(minutes=2), sentiment=Sentiment.positive, targets=((SARI, Stance.favor),),
             hashtags=("debat",)),
    # Before the dashboard's range: only the target list sees it.
    enriched(5, T0 - timedelta(hours=2), targets=(("bima-hartono", Stance.none),), hashtags=("lama",)),
]  # fmt: skip
IN_RANGE = [p for p in POSTS if FROM <= p.post.created_at <= TO]


def alert(n: int, status: AlertStatus, updated: datetime, target: str = RAKA) -> Alert:
    return Alert(
        id=f"alert-{n}",
        fingerprint=f"fp-{n}",
        kind=SignalKind.volume_burst,
        key_kind="target",
        key=target,
        target=target,
        severity=Severity.warning,
        status=status,
        title=f"Alert {n}",
        numbers={"count": 9.0},
        evidence=("x:1",),
        signal_ids=(f"s{n}",),
        first_seen=T0,
        last_seen=T0 + timedelta(minutes=1),
        created_at=T0 + timedelta(minutes=n),
        updated_at=updated,
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


@pytest.fixture
def loaded(clickhouse: Client) -> Client:
    store = ClickHouseStore(clickhouse)
    assert len(store.insert_new_posts(POSTS)) == len(POSTS)
    assert store.insert_new_posts(POSTS) == []
    # A copy that slips past the duplicate check (a crash window) must not be counted twice.
    clickhouse.insert("posts", [post_row(p) for p in POSTS], column_names=list(POST_COLUMNS))
    later = T0 + timedelta(minutes=30)
    store.upsert_alerts(
        [alert(1, AlertStatus.open, T0), alert(2, AlertStatus.acknowledged, T0)], event="opened"
    )
    store.upsert_alerts([alert(3, AlertStatus.open, T0, target=SARI)], event="opened")
    store.upsert_alerts([alert(3, AlertStatus.resolved, later, target=SARI)], event="resolved")
    letters = [
        letter(1, "normalise", "not JSON", T0 + timedelta(minutes=1)),
        letter(2, "normalise", "not JSON", T0 + timedelta(minutes=2)),
        letter(3, "enrich", "classifier failed", T0 + timedelta(minutes=3)),
        letter(4, "normalise", "not JSON", T0 - timedelta(days=1)),  # outside the range
    ]
    store.insert_dead_letters(letters)
    store.insert_dead_letters(letters[:1])  # a redelivered dead letter is one message
    return clickhouse


def run(client: Client, name: str) -> list[dict[str, Any]]:
    result = client.query(QUERIES[name], parameters=PARAMS)
    return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]


def test_every_query_runs_on_an_empty_schema(clickhouse: Client) -> None:
    for name in QUERIES:
        assert run(clickhouse, name) == [], name


def test_every_query_returns_rows_where_data_exists(loaded: Client) -> None:
    for name in QUERIES:
        assert run(loaded, name), name


def test_target_variable(loaded: Client) -> None:
    assert [r["target"] for r in run(loaded, "target_variable")] == sorted([RAKA, SARI, "bima-hartono"])


def test_posts_per_minute_counts_distinct_posts(loaded: Client) -> None:
    rows = run(loaded, "posts_per_minute")
    assert sum(r["posts"] for r in rows) == len(IN_RANGE) == 4
    by_minute = {
        r["time"].replace(tzinfo=UTC) if r["time"].tzinfo is None else r["time"]: r["posts"] for r in rows
    }
    assert by_minute == {T0: 2, T0 + timedelta(minutes=1): 1, T0 + timedelta(minutes=2): 1}


def test_posts_per_minute_by_target(loaded: Client) -> None:
    totals: dict[str, int] = defaultdict(int)
    for r in run(loaded, "posts_per_minute_by_target"):
        totals[r["target"]] += r["posts"]
    assert dict(totals) == {RAKA: 2, SARI: 2}


@pytest.mark.parametrize(("name", "column"), [("sentiment_share", "sentiment"), ("stance_share", "stance")])
def test_shares_sum_to_one_per_minute(loaded: Client, name: str, column: str) -> None:
    rows = run(loaded, name)
    per_minute: dict[Any, float] = defaultdict(float)
    for r in rows:
        per_minute[r["time"]] += r["share"]
    assert per_minute
    assert all(abs(total - 1.0) < 1e-9 for total in per_minute.values())
    # Raka: one favourable positive post and one hostile negative post in the first minute.
    expected = {"sentiment": {"negative": 0.5, "positive": 0.5}, "stance": {"against": 0.5, "favor": 0.5}}
    assert {r[column]: r["share"] for r in rows} == expected[column]


def test_open_alerts_shows_the_latest_version(loaded: Client) -> None:
    rows = run(loaded, "open_alerts")
    assert [r["title"] for r in rows] == ["Alert 2", "Alert 1"]  # newest first; alert 3 was resolved
    assert {str(r["status"]) for r in rows} == {"open", "acknowledged"}


def test_top_hashtags_last_hour(loaded: Client) -> None:
    rows = run(loaded, "top_hashtags")
    assert [(r["hashtag"], r["posts"]) for r in rows] == [("debat", 2), ("pemilu", 2)]


def test_dead_letters(loaded: Client) -> None:
    rows = run(loaded, "dead_letters")
    assert [(str(r["stage"]), r["reason"], r["messages"]) for r in rows] == [
        ("normalise", "not JSON", 2),
        ("enrich", "classifier failed", 1),
    ]
