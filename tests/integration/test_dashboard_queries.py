"""Every dashboard query runs on the migrated schema and returns what the data says.

dashboards/queries.sql holds each query with Grafana's macros written as query parameters; the
parameters here are what Grafana would fill in (tests/integration/warehouse_data.py). That the
generated dashboards use exactly these blocks is checked in tests/unit/test_dashboards.py.

Two warehouses: the hand-made one (warehouse_data.py), whose exact numbers and edge cases the
per-panel tests check, and the demo stream replayed through the real models, detectors and issue
tracker (`replayed_demo`), on which every panel must show something.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from service.dashboards import parse_queries
from tests.integration.conftest import ReplayedWarehouse
from tests.integration.warehouse_data import (
    COORDINATED_ACCOUNTS,
    IN_RANGE,
    ISSUE_KARTU,
    ISSUE_KPD,
    PARAMS,
    RAKA,
    SARI,
    T0,
    WAVE_TEXT,
    load_warehouse,
)

pytestmark = pytest.mark.integration

QUERIES = parse_queries(
    (Path(__file__).resolve().parents[2] / "dashboards" / "queries.sql").read_text(encoding="utf-8")
)


@pytest.fixture
def loaded(clickhouse: Client) -> Client:
    load_warehouse(clickhouse)
    return clickhouse


def run(client: Client, name: str, **overrides: Any) -> list[dict[str, Any]]:
    result = client.query(QUERIES[name], parameters={**PARAMS, **overrides})
    return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]


def utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def test_every_query_runs_on_an_empty_schema(clickhouse: Client) -> None:
    for name in QUERIES:
        assert run(clickhouse, name) == [], name


def test_every_query_returns_rows_where_data_exists(loaded: Client) -> None:
    empty = [name for name in QUERIES if not run(loaded, name)]
    assert not empty, f"queries with no rows on the loaded warehouse: {empty}"


# -- the replayed demo ------------------------------------------------------------------------------

# The tables a backfill cannot fill: it writes no dead letters (a recorded stream is read whole or
# not at all, without the broker's stages that dead-letter a message) and sends no notifications
# (its alerts are history, not pages). The panels that read only these stay empty on a replay.
UNFILLED_TABLES = frozenset({"dead_letters", "notification_log"})
EMPTY_ON_A_REPLAY = frozenset(
    {"dead_letters_per_minute", "dead_letters", "notification_deliveries", "notification_failures"}
)
# A backfill stores its rows when it runs, weeks after the stream it replays: the panels whose time
# axis is when a post was stored are looked at over the backfill's own minutes.
STORE_TIME_BLOCKS = frozenset({"stage_lag"})
# What is live now (open issues, unresolved alerts): a backfilled archive is over, its issues closed
# and their alerts resolved, so these show nothing there (the hand-made data above has live ones).
LIVE_NOW_BLOCKS = frozenset({"issues_now", "open_alerts"})
LIVE_NOW_FILTER = re.compile(r"\bstatus != '(?:closed|resolved)'")
# FROM or JOIN and a name: a table or view the block reads (ARRAY JOIN unrolls a column instead).
TABLE_READ = re.compile(r"(?<!ARRAY )\b(?:FROM|JOIN)\s+([a-z_]+)\b", re.IGNORECASE)
STORE_TIME_FILTER = re.compile(r"\bstored_at >= \{from:")


def tables_read(sql: str) -> set[str]:
    return set(TABLE_READ.findall(sql))


@pytest.fixture(scope="module")
def replay_parameters(replayed_demo: ReplayedWarehouse) -> dict[str, dict[str, Any]]:
    """What Grafana would fill in on the replayed demo, per time axis: the stream's time range
    (first to last post), or the minutes the backfill stored it in; the busiest target and the
    largest issue (the one with the most posts stored with it)."""
    [(first, last, first_stored, last_stored, target, issue)] = replayed_demo.client.query(
        """
        SELECT
            (SELECT min(created_at) FROM posts),
            (SELECT max(created_at) FROM posts),
            (SELECT min(stored_at) FROM posts),
            (SELECT max(stored_at) FROM posts),
            (SELECT target FROM post_targets GROUP BY target ORDER BY uniqExact(id) DESC, target LIMIT 1),
            (SELECT issue_id FROM issue_posts GROUP BY issue_id
                ORDER BY uniqExact(post_id) DESC, issue_id LIMIT 1)
        """
    ).result_rows
    chosen = {"interval_s": 60, "target": target, "issue": issue}
    return {
        "stream": {**chosen, "from": utc(first).replace(second=0, microsecond=0), "to": utc(last)},
        "stored": {
            **chosen,
            "from": utc(first_stored).replace(second=0, microsecond=0),
            "to": utc(last_stored) + timedelta(minutes=1),
        },
    }


def test_the_blocks_left_empty_on_a_replay_are_those_reading_what_a_backfill_cannot_fill() -> None:
    reading_unfilled = {name for name, sql in QUERIES.items() if tables_read(sql) & UNFILLED_TABLES}
    assert reading_unfilled == EMPTY_ON_A_REPLAY
    assert all(tables_read(QUERIES[name]) <= UNFILLED_TABLES for name in EMPTY_ON_A_REPLAY)
    assert {name for name, sql in QUERIES.items() if STORE_TIME_FILTER.search(sql)} == STORE_TIME_BLOCKS
    assert {name for name, sql in QUERIES.items() if LIVE_NOW_FILTER.search(sql)} == LIVE_NOW_BLOCKS


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_every_block_shows_the_replayed_demo(
    replayed_demo: ReplayedWarehouse, replay_parameters: dict[str, dict[str, Any]], name: str
) -> None:
    axis = "stored" if name in STORE_TIME_BLOCKS else "stream"
    rows = run(replayed_demo.client, name, **replay_parameters[axis])
    if name in EMPTY_ON_A_REPLAY | LIVE_NOW_BLOCKS:
        assert rows == [], name
    else:
        assert rows, f"{name} has no rows on the replayed demo ({replay_parameters[axis]})"


# -- war room ---------------------------------------------------------------------------------------


def test_target_variable(loaded: Client) -> None:
    assert [r["target"] for r in run(loaded, "target_variable")] == sorted([RAKA, SARI, "bima-hartono"])


def test_issues_now_shows_open_issues_in_their_latest_version(loaded: Client) -> None:
    rows = run(loaded, "issues_now")
    # The merged issue is gone; the live one comes first, with its latest (paged) version's numbers.
    assert [(r["id"], r["status"]) for r in rows] == [(ISSUE_KARTU, "live"), (ISSUE_KPD, "candidate")]
    assert rows[0]["growth_ratio"] == 4.5 and rows[0]["issue"] == "kartu pangan #pemilu"
    assert run(loaded, "issues_now", **{"from": T0 + timedelta(hours=1)}) == []


def test_issue_onsets_are_annotations(loaded: Client) -> None:
    rows = run(loaded, "issue_onsets")
    assert [r["title"] for r in rows] == ["kartu pangan #pemilu", "#kpdbocor pembohong"]
    assert rows[1]["tags"] == ["issue", SARI]
    assert "4 posts from 4 accounts" in rows[1]["text"]


def test_posts_per_minute_counts_distinct_posts(loaded: Client) -> None:
    rows = run(loaded, "posts_per_minute")
    assert sum(r["posts"] for r in rows) == len(IN_RANGE) == 8
    by_minute = {utc(r["time"]): r["posts"] for r in rows}
    assert by_minute[T0] == 2  # posts 1 and 2, each stored twice


def test_posts_per_minute_by_target(loaded: Client) -> None:
    totals: dict[str, int] = defaultdict(int)
    for r in run(loaded, "posts_per_minute_by_target"):
        totals[r["target"]] += r["posts"]
    assert dict(totals) == {RAKA: 2, SARI: 6}


def test_share_of_voice(loaded: Client) -> None:
    rows = run(loaded, "share_of_voice")
    assert [(r["target"], r["share"]) for r in rows] == [(SARI, 0.75), (RAKA, 0.25)]


def test_sentiment_and_stance_by_target(loaded: Client) -> None:
    rows = {r["target"]: r for r in run(loaded, "sentiment_stance_by_target")}
    assert rows[RAKA]["posts"] == 2
    assert (rows[RAKA]["positive"], rows[RAKA]["negative"], rows[RAKA]["neutral"]) == (0.5, 0.5, 0.0)
    assert (rows[SARI]["favor"], rows[SARI]["against"]) == pytest.approx((1 / 6, 5 / 6))


@pytest.mark.parametrize(("name", "column"), [("sentiment_share", "sentiment"), ("stance_share", "stance")])
def test_shares_sum_to_one_per_bucket(loaded: Client, name: str, column: str) -> None:
    per_bucket: dict[Any, float] = defaultdict(float)
    for r in run(loaded, name, target=SARI, interval_s=600):
        per_bucket[r["time"]] += r["share"]
    assert per_bucket
    assert all(abs(total - 1.0) < 1e-9 for total in per_bucket.values())
    # Raka: one favourable positive post and one hostile negative post in the first minute.
    expected = {"sentiment": {"negative": 0.5, "positive": 0.5}, "stance": {"against": 0.5, "favor": 0.5}}
    assert {r[column]: r["share"] for r in run(loaded, name)} == expected[column]


def test_shares_group_into_buckets_no_finer_than_a_minute(loaded: Client) -> None:
    fine = {utc(r["time"]) for r in run(loaded, "sentiment_share", target=SARI, interval_s=1)}
    coarse = {utc(r["time"]) for r in run(loaded, "sentiment_share", target=SARI, interval_s=3600)}
    assert fine == {T0, T0 + timedelta(minutes=2), T0 + timedelta(minutes=5), T0 + timedelta(minutes=6)}
    assert coarse == {T0}


def test_coordinated_campaigns(loaded: Client) -> None:
    [row] = run(loaded, "coordinated_campaigns")
    assert (row["target"], row["accounts"], row["text"]) == (SARI, 3, WAVE_TEXT)
    assert row["account_ids"] == ",".join(COORDINATED_ACCOUNTS)


def test_top_hashtags_last_hour(loaded: Client) -> None:
    rows = run(loaded, "top_hashtags")
    assert [(r["hashtag"], r["posts"]) for r in rows] == [("kpdbocor", 4), ("debat", 2), ("pemilu", 2)]


def test_open_alerts_shows_the_latest_version(loaded: Client) -> None:
    rows = run(loaded, "open_alerts")
    assert [r["title"] for r in rows] == ["Alert 6", "Alert 2", "Alert 1"]  # alert 3 was resolved
    assert {str(r["status"]) for r in rows} == {"open", "acknowledged"}


# -- target -----------------------------------------------------------------------------------------


def test_target_drilldown(loaded: Client) -> None:
    assert [(r["posts"], r["accounts"]) for r in run(loaded, "target_posts_over_time")] == [(2, 2)]
    accounts = run(loaded, "target_top_accounts")
    assert [(r["account"], r["reposts_received"], r["favor"], r["against"]) for r in accounts] == [
        ("@u1", 3, 1, 0),
        ("@u2", 8, 0, 1),
    ]
    assert [r["id"] for r in run(loaded, "target_issues")] == [ISSUE_KARTU]
    assert [r["title"] for r in run(loaded, "target_alerts")] == ["Alert 2", "Alert 1"]
    assert {(r["account"], r["stance"]) for r in run(loaded, "target_latest_posts")} == {
        ("@u1", "favor"),
        ("@u2", "against"),
    }
    assert [r["hashtag"] for r in run(loaded, "target_hashtags", target=SARI)] == [
        "kpdbocor",
        "debat",
        "pemilu",
    ]


# -- issue ------------------------------------------------------------------------------------------


def test_issue_variable_lists_unmerged_issues(loaded: Client) -> None:
    rows = run(loaded, "issue_variable")
    assert [r["id"] for r in rows] == [ISSUE_KPD, ISSUE_KARTU]  # newest activity first
    assert rows[0]["issue"] == "#kpdbocor pembohong [candidate, issue-kpd]"


def test_issue_drilldown(loaded: Client) -> None:
    [summary] = run(loaded, "issue_summary")
    assert summary["signals"] == "volume_burst, coordinated_posting"
    [numbers] = run(loaded, "issue_numbers")
    assert (numbers["posts"], numbers["voices"], numbers["reposts"], numbers["coordinated_accounts"]) == (
        4,
        3,
        1,
        3,
    )
    assert sum(r["posts"] for r in run(loaded, "issue_posts_over_time")) == 4  # a membership written twice
    accounts = {r["account"]: r for r in run(loaded, "issue_accounts")}
    assert {a for a, r in accounts.items() if r["coordinated"]} == {f"@{a}" for a in COORDINATED_ACCOUNTS}
    assert accounts["@u7"]["reposts_made"] == 1
    assert {(r["term"], r["posts"]) for r in run(loaded, "issue_label_terms")} == {
        ("#kpdbocor", 4),
        ("pembohong", 4),
    }
    assert [(r["sentiment"], r["posts"]) for r in run(loaded, "issue_sentiment")] == [("negative", 4)]
    assert [(r["target"], r["against"]) for r in run(loaded, "issue_stance")] == [(SARI, 4)]
    assert [r["kind"] for r in run(loaded, "issue_post_list")] == ["post", "post", "post", "repost"]


def test_issue_drilldown_of_the_other_issue(loaded: Client) -> None:
    assert [(r["sentiment"], r["posts"]) for r in run(loaded, "issue_sentiment", issue=ISSUE_KARTU)] == [
        ("negative", 1),
        ("positive", 1),
    ]
    [summary] = run(loaded, "issue_summary", issue=ISSUE_KARTU)
    assert summary["status"] == "live"


# -- operations -------------------------------------------------------------------------------------


def test_posts_per_stage_per_minute(loaded: Client) -> None:
    totals: dict[str, int] = defaultdict(int)
    for r in run(loaded, "posts_per_stage_per_minute"):
        totals[r["stage"]] += r["posts"]
    assert dict(totals) == {"received": 8, "enriched": 8, "stored": 8}


def test_stage_lag(loaded: Client) -> None:
    rows = run(loaded, "stage_lag")
    assert rows
    for r in rows:
        assert (r["source_to_received_p95"], r["received_to_enriched_p95"]) == (1.0, 1.0)
        assert (r["enriched_to_stored_p95"], r["received_to_stored_p95"]) == (2.0, 3.0)


def test_dead_letters(loaded: Client) -> None:
    rows = run(loaded, "dead_letters")
    assert [(str(r["stage"]), r["reason"], r["messages"]) for r in rows] == [
        ("normalise", "not JSON", 2),
        ("enrich", "classifier failed", 1),
    ]
    assert sum(r["messages"] for r in run(loaded, "dead_letters_per_minute")) == 3


def test_notifications(loaded: Client) -> None:
    by_status = {r["status"]: r["deliveries"] for r in run(loaded, "notification_deliveries")}
    assert by_status == {"delivered": 1, "failed": 1, "no_channels": 1}  # a retried log write is one
    failures = run(loaded, "notification_failures")
    assert [(r["status"], r["error"], r["attempts"]) for r in failures] == [
        ("no_channels", "", 0),
        ("failed", "timed out", 3),
    ]
