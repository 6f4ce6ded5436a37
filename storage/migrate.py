"""Numbered, reversible ClickHouse migrations, with every applied step recorded.

Each file in `storage/migrations/` is `NNNN_name.sql` with a `-- migrate:up` and a `-- migrate:down`
section; statements end with `;`. `schema_migrations` is an append-only log (one row per step and
direction), so the current state is the latest row per version and the history stays readable.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from clickhouse_connect.driver.client import Client

MIGRATIONS_TABLE = "schema_migrations"
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_UP = "-- migrate:up"
_DOWN = "-- migrate:down"


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    up: tuple[str, ...]
    down: tuple[str, ...]
    checksum: str


def split_statements(sql: str) -> tuple[str, ...]:
    """Split on `;` at the end of a line; drop comment-only lines."""
    lines = [ln for ln in sql.splitlines() if not ln.strip().startswith("--")]
    statements = re.split(r";\s*(?:\n|$)", "\n".join(lines))
    return tuple(s.strip() for s in statements if s.strip())


def parse_migration(file_name: str, text: str) -> Migration:
    match = _FILE_NAME.match(file_name)
    if not match:
        raise MigrationError(f"{file_name}: migration files are named NNNN_name.sql")
    if text.count(_UP) != 1 or text.count(_DOWN) != 1 or text.index(_UP) > text.index(_DOWN):
        raise MigrationError(f"{file_name}: needs one '{_UP}' section followed by one '{_DOWN}' section")
    up_sql, down_sql = text.split(_UP, 1)[1].split(_DOWN, 1)
    up, down = split_statements(up_sql), split_statements(down_sql)
    if not up or not down:
        raise MigrationError(f"{file_name}: both sections need at least one statement")
    return Migration(
        version=int(match.group(1)),
        name=match.group(2),
        up=up,
        down=down,
        checksum=hashlib.sha256(text.encode()).hexdigest()[:16],
    )


def load_migrations(directory: Path | None = None) -> list[Migration]:
    """All migrations, in version order; versions must be unique and contiguous from 1."""
    entries = resources.files("storage.migrations").iterdir() if directory is None else directory.iterdir()
    migrations = sorted(
        (
            parse_migration(entry.name, entry.read_text(encoding="utf-8"))
            for entry in entries
            if entry.name.endswith(".sql") and entry.is_file()
        ),
        key=lambda m: m.version,
    )
    for expected, migration in enumerate(migrations, start=1):
        if migration.version != expected:
            raise MigrationError(
                f"migration versions must run 1, 2, 3... without gaps or repeats; "
                f"found {migration.version:04d}_{migration.name} where {expected:04d} was expected"
            )
    return migrations


@dataclass(frozen=True)
class MigrationState:
    version: int
    name: str
    applied: bool
    applied_at: datetime | None
    checksum_matches: bool | None


class Migrator:
    def __init__(self, client: Client, migrations: list[Migration] | None = None) -> None:
        self.client = client
        self.migrations = migrations if migrations is not None else load_migrations()

    def _ensure_log(self) -> None:
        self.client.command(
            f"""CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (
                version UInt32, name String, checksum String,
                direction Enum8('up' = 1, 'down' = -1), at DateTime64(6, 'UTC')
            ) ENGINE = MergeTree ORDER BY (version, at)"""
        )

    def _applied(self) -> dict[int, tuple[str, datetime]]:
        self._ensure_log()
        rows = self.client.query(
            f"SELECT version, argMax(direction, at), argMax(checksum, at), max(at) "
            f"FROM {MIGRATIONS_TABLE} GROUP BY version"
        ).result_rows
        return {int(v): (checksum, at) for v, direction, checksum, at in rows if direction == "up"}

    def _run(self, migration: Migration, direction: str) -> None:
        for statement in migration.up if direction == "up" else migration.down:
            self.client.command(statement)
        self.client.insert(
            MIGRATIONS_TABLE,
            [[migration.version, migration.name, migration.checksum, direction, datetime.now(UTC)]],
            column_names=["version", "name", "checksum", "direction", "at"],
        )

    def status(self) -> list[MigrationState]:
        applied = self._applied()
        return [
            MigrationState(
                version=m.version,
                name=m.name,
                applied=m.version in applied,
                applied_at=applied[m.version][1] if m.version in applied else None,
                checksum_matches=(applied[m.version][0] == m.checksum) if m.version in applied else None,
            )
            for m in self.migrations
        ]

    def current_version(self) -> int:
        applied = self._applied()
        return max(applied, default=0)

    def up(self, target: int | None = None) -> list[Migration]:
        """Apply every pending migration up to `target` (all by default). Idempotent."""
        applied = self._applied()
        done: list[Migration] = []
        for migration in self.migrations:
            if target is not None and migration.version > target:
                break
            if migration.version not in applied:
                self._run(migration, "up")
                done.append(migration)
        return done

    def down(self, steps: int = 1) -> list[Migration]:
        """Reverse the latest `steps` applied migrations, newest first."""
        applied = self._applied()
        undone: list[Migration] = []
        for migration in sorted(self.migrations, key=lambda m: -m.version):
            if len(undone) >= steps:
                break
            if migration.version in applied:
                self._run(migration, "down")
                undone.append(migration)
        return undone


# The tables that hold one row per post (or per post and target) expire together. The per-minute
# aggregates are small and stay: they are the long-term record of volume and sentiment.
TTL_TABLES = ("posts", "post_targets")


def apply_posts_ttl(client: Client, days: int) -> None:
    """Make the TTL of the per-post tables match the setting (0 = keep forever); cheap when it does."""
    for table in TTL_TABLES:
        current = str(
            client.command(
                "SELECT create_table_query FROM system.tables WHERE database = currentDatabase() "
                "AND name = {table:String}",
                parameters={"table": table},
            )
        )
        if not current.strip():
            continue  # not created yet: nothing to set
        wanted = f"toIntervalDay({days})" if days else None
        if (wanted and wanted in current) or (not wanted and " TTL " not in current):
            continue
        # Rewriting old parts for a new TTL is a background job; do not block start-up on it.
        if days:
            client.command(
                f"ALTER TABLE {table} MODIFY TTL toDateTime(created_at) + INTERVAL {int(days)} DAY",
                settings={"materialize_ttl_after_modify": 0},
            )
        else:
            client.command(f"ALTER TABLE {table} REMOVE TTL")
