"""Every example query in docs/analysts.md runs on the migrated schema and returns rows.

Each query is a ```sql block preceded by a `<!-- query: name -->` marker; the data is the dashboards'
test warehouse (tests/integration/warehouse_data.py), a few hours old, so the examples' "last day" and
"last 7 days" windows see it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from storage.client import open_client
from storage.migrate import Migrator
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
