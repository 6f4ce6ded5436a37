from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from config.settings import Settings, load_settings
from service.backfill import BackfillReport, backfill
from service.engines import TansuBroker, ValkeyServer
from storage.client import open_client
from storage.migrate import Migrator
from storage.repository import (
    ALERT_COLUMNS,
    ISSUE_COLUMNS,
    ISSUE_POST_COLUMNS,
    POST_COLUMNS,
    ClickHouseStore,
)
from tests.integration.harness import Harness


@dataclass(frozen=True)
class ReplayedWarehouse:
    client: Client
    report: BackfillReport

    def copy_into(self, client: Client, *, times: int = 1) -> None:
        """The replay's posts, issues, their posts and alerts, written `times` over into another
        (migrated) database: for a test that writes to the warehouse, or checks that a row stored
        twice counts once."""
        for table, columns in (
            ("posts", POST_COLUMNS),
            ("issues", ISSUE_COLUMNS),
            ("issue_posts", ISSUE_POST_COLUMNS),
            ("alerts", ALERT_COLUMNS),
        ):
            rows = self.client.query(f"SELECT {', '.join(columns)} FROM {table}").result_rows
            for _ in range(times):
                client.insert(table, rows, column_names=list(columns))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.integration)


@pytest.fixture
def settings(broker: TansuBroker, valkey: ValkeyServer, chdb_dsn: str, tmp_path: Path) -> Settings:
    return load_settings(
        kafka_brokers=broker.brokers,
        redis_url=valkey.url,
        clickhouse_dsn=chdb_dsn,
        data_dir=tmp_path,
        app_id=f"pantau-test-{uuid.uuid4().hex[:6]}",
        topic_partitions=2,
        store_batch_seconds=0.1,
        enrich_batch_seconds=0.05,
        # The tests' bursts are built for one-minute windows (ten quiet minutes, then a burst).
        burst_window_seconds=60,
        burst_min_count=8,
        burst_warmup_windows=10,
        # A test's burst often ends its stream: its issue pages as time passes (a few seconds here).
        issue_settle_seconds=2,
        # The tests' posts carry fixed dates, which age past any retention: keep them all.
        posts_ttl_days=0,
    )


@pytest.fixture
async def harness(settings: Settings, clickhouse: Client) -> AsyncIterator[Harness]:
    async with Harness(settings=settings, client=clickhouse) as running:
        yield running


DEMO_STREAM = Path(__file__).resolve().parents[2] / "service" / "demo" / "posts.jsonl"


@pytest.fixture(scope="session")
def replayed_demo(chdb_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReplayedWarehouse]:
    """A warehouse holding the demo stream as the service would have stored it: its posts
    classified, its issues, their posts and alerts (`pantau backfill`). Built once per session
    (classifying the posts takes a while); tests only read it."""
    database = f"replayed_{uuid.uuid4().hex[:8]}"
    client = open_client(chdb_dsn, database=database)
    Migrator(client).up()
    settings = load_settings(clickhouse_dsn=chdb_dsn, data_dir=tmp_path_factory.mktemp("replayed"))
    report = backfill(settings, DEMO_STREAM, ClickHouseStore(client))
    yield ReplayedWarehouse(client=client, report=report)
    client.command(f"DROP DATABASE IF EXISTS `{database}` SYNC")
