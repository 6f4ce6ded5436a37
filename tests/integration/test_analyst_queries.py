"""Every example query in docs/analysts.md runs on the migrated schema and returns rows.

Each query is a ```sql block preceded by a `<!-- query: name -->` marker; the data is the dashboards'
test warehouse (tests/integration/warehouse_data.py), a few hours old, so the examples' "last day" and
"last 7 days" windows see it.

They also run on the demo stream replayed through the real models, detectors and issue tracker
(`replayed_demo`). That stream keeps its own dates, so there the examples run as of its last post:
`now()` becomes that moment, as if the analyst had asked right after the stream.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from storage.client import open_client
from storage.migrate import Migrator
from tests.integration.conftest import ReplayedWarehouse
from tests.integration.warehouse_data import COORDINATED_ACCOUNTS, ISSUE_KPD, RAKA, load_warehouse

pytestmark = pytest.mark.integration

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "analysts.md"
PARAMS = {"issue": ISSUE_KPD, "target": RAKA}
MARKED_QUERY = re.compile(r"<!-- query: ([a-z0-9_]+) -->\n```sql\n(.*?)```", re.DOTALL)


def guide_queries(text: str) -> dict[str, str]:
    queries: dict[str, str] = {}
    for match in MARKED_QUERY.finditer(text):
        assert match.group(1) not in queries, f"query {match.group(1)} appears twice"
        queries[match.group(1)] = match.group(2).strip().rstrip(";")
    return queries


TEXT = GUIDE.read_text(encoding="utf-8")
QUERIES = guide_queries(TEXT)


@pytest.fixture(scope="module")
def loaded(chdb_dsn: str) -> Iterator[Client]:
    """One loaded database for the module (the examples only read it); dropped afterwards."""
    database = f"t_{uuid.uuid4().hex[:12]}"
    client = open_client(chdb_dsn, database=database)
    Migrator(client).up()
    load_warehouse(client)
    yield client
    client.command(f"DROP DATABASE IF EXISTS `{database}` SYNC")


def run(client: Client, name: str) -> list[dict[str, Any]]:
    result = client.query(QUERIES[name], parameters=PARAMS)
    return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]


def test_every_sql_block_is_a_marked_example() -> None:
    assert TEXT.count("```sql") == len(QUERIES)
    assert len(QUERIES) >= 10
    assert {
        "share_of_voice",
        "sentiment_trend",
        "stance_trend",
        "issue_timeline",
        "issues_last_day",
        "top_accounts_by_reach",
        "coordinated_accounts",
        "top_hashtags",
        "dead_letters_by_reason",
        "notification_failures",
    } <= set(QUERIES)


def test_the_guide_describes_every_table_and_view(loaded: Client) -> None:
    tables = {
        row[0]
        for row in loaded.query(
            "SELECT name FROM system.tables WHERE database = currentDatabase()"
        ).result_rows
    }
    tables.discard("schema_migrations")
    assert tables
    undocumented = {name for name in tables if f"`{name}`" not in TEXT}
    assert not undocumented, f"tables and views the guide does not describe: {undocumented}"


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_every_example_returns_rows(loaded: Client, name: str) -> None:
    assert run(loaded, name), name


def test_examples_count_each_row_once(loaded: Client) -> None:
    shares = {r["target"]: r["share"] for r in run(loaded, "share_of_voice")}
    assert shares == {
        "sari-lestari": round(6 / 9, 3),
        "raka-wibisana": round(2 / 9, 3),
        "bima-hartono": 0.111,
    }
    accounts = {r["account"]: r["waves"] for r in run(loaded, "coordinated_accounts")}
    assert accounts == dict.fromkeys(COORDINATED_ACCOUNTS, 2)  # one issue and one alert each
    timeline = run(loaded, "issue_timeline")
    assert sum(r["posts"] for r in timeline) == 4 and timeline[0]["first_account"] == "@u4"
    failures = {r["status"]: r["notifications"] for r in run(loaded, "notification_failures")}
    assert failures == {"failed": 1, "no_channels": 1}
    issues = run(loaded, "issues_last_day")
    assert [r["id"] for r in issues] == ["issue-kpd", "issue-kartu"]


# -- the replayed demo ------------------------------------------------------------------------------

# The tables a backfill cannot fill: it writes no dead letters (a recorded stream is read whole or
# not at all, without the broker's stages that dead-letter a message) and sends no notifications
# (its alerts are history, not pages). The examples that read only these stay empty on a replay.
UNFILLED_TABLES = frozenset({"dead_letters", "notification_log"})
EMPTY_ON_A_REPLAY = frozenset({"dead_letters_by_reason", "notification_failures"})
# FROM or JOIN and a name: a table or view the example reads (ARRAY JOIN unrolls a column instead).
TABLE_READ = re.compile(r"(?<!ARRAY )\b(?:FROM|JOIN)\s+([a-z_]+)\b", re.IGNORECASE)
NOW = re.compile(r"\bnow\(\)")


def tables_read(sql: str) -> set[str]:
    return set(TABLE_READ.findall(sql))


@pytest.fixture(scope="module")
def replay_parameters(replayed_demo: ReplayedWarehouse) -> dict[str, Any]:
    """The busiest target, the largest issue (the one with the most posts stored with it), and the
    stream's last post as `now`."""
    [(last, target, issue)] = replayed_demo.client.query(
        """
        SELECT
            (SELECT max(created_at) FROM posts),
            (SELECT target FROM post_targets GROUP BY target ORDER BY uniqExact(id) DESC, target LIMIT 1),
            (SELECT issue_id FROM issue_posts GROUP BY issue_id
                ORDER BY uniqExact(post_id) DESC, issue_id LIMIT 1)
        """
    ).result_rows
    return {"now": last.replace(tzinfo=UTC), "target": target, "issue": issue}


def as_of_parameter(sql: str) -> str:
    """The example with its `now()` read from the `now` parameter."""
    return NOW.sub("{now:DateTime64(3)}", sql)


def test_the_examples_left_empty_on_a_replay_are_those_reading_what_a_backfill_cannot_fill() -> None:
    reading_unfilled = {name for name, sql in QUERIES.items() if tables_read(sql) & UNFILLED_TABLES}
    assert reading_unfilled == EMPTY_ON_A_REPLAY
    assert all(tables_read(QUERIES[name]) <= UNFILLED_TABLES for name in EMPTY_ON_A_REPLAY)


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_every_example_shows_the_replayed_demo(
    replayed_demo: ReplayedWarehouse, replay_parameters: dict[str, Any], name: str
) -> None:
    result = replayed_demo.client.query(as_of_parameter(QUERIES[name]), parameters=replay_parameters)
    if name in EMPTY_ON_A_REPLAY:
        assert result.result_rows == [], name
    else:
        assert result.result_rows, f"{name} has no rows on the replayed demo ({replay_parameters})"
