"""storage.migrate against the real engine (chdb): apply, record, reverse, TTL; schema matches code."""

from __future__ import annotations

from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from storage.client import open_client
from storage.migrate import MIGRATIONS_TABLE, Migrator, apply_posts_ttl, load_migrations
from storage.repository import ALERT_COLUMNS, POST_COLUMNS

pytestmark = pytest.mark.integration

TABLES_BY_VERSION = {
    1: {"posts"},
    2: {"post_targets", "post_targets_mv"},
    3: {"minute_stats", "minute_stats_mv"},
    4: {"alerts", "alert_events"},
    5: {"dead_letters"},
    6: {"notification_log"},
    7: {"issues", "issue_posts"},
}


@pytest.fixture
def client(chdb_dsn: str, clickhouse_database: str) -> Client:
    return open_client(chdb_dsn, database=clickhouse_database)


def tables(client: Client) -> set[str]:
    rows = client.query("SELECT name FROM system.tables WHERE database = currentDatabase()").result_rows
    return {r[0] for r in rows}


def create_query(client: Client, table: str) -> str:
    return str(
        client.command(
            "SELECT create_table_query FROM system.tables WHERE database = currentDatabase() "
            "AND name = {t:String}",
            parameters={"t": table},
        )
    )


def test_up_applies_all_in_order_and_records_them(client: Client) -> None:
    migrations = load_migrations()
    assert tables(client) == set()
    applied = Migrator(client).up()
    assert [m.version for m in applied] == [m.version for m in migrations]
    expected = {MIGRATIONS_TABLE}.union(*(TABLES_BY_VERSION[m.version] for m in migrations))
    assert tables(client) == expected
    log = client.query(
        f"SELECT version, name, checksum, direction FROM {MIGRATIONS_TABLE} ORDER BY at"
    ).result_rows
    assert [(v, n, c, str(d)) for v, n, c, d in log] == [
        (m.version, m.name, m.checksum, "up") for m in migrations
    ]
    assert Migrator(client).current_version() == len(migrations)


def test_second_up_applies_nothing(client: Client) -> None:
    Migrator(client).up()
    assert Migrator(client).up() == []
    count = client.command(f"SELECT count() FROM {MIGRATIONS_TABLE}")
    assert isinstance(count, int)
    assert count == len(load_migrations())


def test_up_to_a_target(client: Client) -> None:
    assert [m.version for m in Migrator(client).up(2)] == [1, 2]
    assert tables(client) == {MIGRATIONS_TABLE, "posts", "post_targets", "post_targets_mv"}
    assert [m.version for m in Migrator(client).up()] == list(range(3, len(load_migrations()) + 1))


def test_status(client: Client) -> None:
    migrator = Migrator(client)
    before = migrator.status()
    assert all(not s.applied and s.applied_at is None and s.checksum_matches is None for s in before)
    migrator.up()
    after = migrator.status()
    assert [s.version for s in after] == [m.version for m in load_migrations()]
    assert all(s.applied and s.applied_at is not None and s.checksum_matches is True for s in after)


def test_status_notices_a_changed_file(client: Client) -> None:
    Migrator(client).up()
    changed = load_migrations()
    first = changed[0]
    changed[0] = type(first)(first.version, first.name, first.up, first.down, "0" * 16)
    status = Migrator(client, changed).status()
    assert status[0].checksum_matches is False
    assert all(s.checksum_matches for s in status[1:])


def test_down_reverses_the_latest_and_up_reapplies(client: Client) -> None:
    migrator = Migrator(client)
    migrator.up()
    latest = max(TABLES_BY_VERSION)
    undone = migrator.down(2)
    assert [m.version for m in undone] == [latest, latest - 1]
    gone = TABLES_BY_VERSION[latest] | TABLES_BY_VERSION[latest - 1]
    assert not tables(client) & gone
    assert "posts" in tables(client)
    assert migrator.current_version() == latest - 2
    status = {s.version: s.applied for s in migrator.status()}
    assert status[latest] is False and status[latest - 2] is True
    assert [m.version for m in migrator.up()] == [latest - 1, latest]
    assert gone <= tables(client)
    directions = client.query(
        f"SELECT version, direction FROM {MIGRATIONS_TABLE} WHERE version = {latest} ORDER BY at"
    ).result_rows
    assert [str(d) for _, d in directions] == ["up", "down", "up"]


def test_down_everything_leaves_only_the_log(client: Client) -> None:
    migrator = Migrator(client)
    migrator.up()
    assert len(migrator.down(100)) == len(load_migrations())
    assert tables(client) == {MIGRATIONS_TABLE}
    assert migrator.down() == []


def columns(client: Client, table: str) -> dict[str, str]:
    rows = client.query(
        "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = {t:String}",
        parameters={"t": table},
    ).result_rows
    return {str(name): str(kind) for name, kind in rows}


def test_schema_matches_the_code(client: Client) -> None:
    Migrator(client).up()
    posts = columns(client, "posts")
    assert set(POST_COLUMNS) <= set(posts)
    assert set(posts) - set(POST_COLUMNS) == {"stored_at"}  # filled by a DEFAULT
    alerts = columns(client, "alerts")
    assert set(alerts) == set(ALERT_COLUMNS)
    assert posts["created_at"].startswith("DateTime64")
    assert alerts["acked_at"].startswith("Nullable(")


class Recording:
    """Delegates to a client and keeps the SQL of each `command`."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self.commands: list[str] = []

    def command(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        self.commands.append(sql)
        return self._client.command(sql, *args, **kwargs)


def test_posts_ttl_set_changed_removed_and_idempotent(client: Client) -> None:
    Migrator(client).up()
    assert "TTL" not in create_query(client, "posts")
    recording = Recording(client)

    apply_posts_ttl(recording, 400)  # type: ignore[arg-type]
    assert "toIntervalDay(400)" in create_query(client, "posts")
    assert "toIntervalDay(400)" in create_query(client, "post_targets")  # per-post rows expire together
    assert sum("ALTER" in c for c in recording.commands) == 2

    apply_posts_ttl(recording, 400)  # type: ignore[arg-type]
    assert sum("ALTER" in c for c in recording.commands) == 2  # already set: no ALTER

    apply_posts_ttl(recording, 30)  # type: ignore[arg-type]
    query = create_query(client, "posts")
    assert "toIntervalDay(30)" in query
    assert "toIntervalDay(400)" not in query

    apply_posts_ttl(recording, 0)  # type: ignore[arg-type]
    assert "TTL" not in create_query(client, "posts")
    alters = sum("ALTER" in c for c in recording.commands)
    apply_posts_ttl(recording, 0)  # type: ignore[arg-type]
    assert sum("ALTER" in c for c in recording.commands) == alters
