"""The one place that turns a DSN into a ClickHouse client.

`chdb:///abs/dir` runs the real ClickHouse engine in this process (one process per directory, and
no fork after it is open); `http(s)://user:password@host:port/database` talks to a server. The rest
of the code does not know which.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import clickhouse_connect
from clickhouse_connect.driver.client import Client


def open_client(dsn: str, *, database: str | None = None, **settings: Any) -> Client:
    """A client for `dsn`; `database` overrides the DSN's (and is created when missing)."""
    if dsn.startswith("chdb://"):
        path = dsn[len("chdb://") :]
        if path not in ("", "memory"):
            Path(path).mkdir(parents=True, exist_ok=True)
        if database:
            bootstrap = clickhouse_connect.get_client(dsn=dsn)
            bootstrap.command(f"CREATE DATABASE IF NOT EXISTS `{database}`")
            return clickhouse_connect.get_client(dsn=dsn, database=database, settings=settings or None)
        return clickhouse_connect.get_client(dsn=dsn, settings=settings or None)
    parsed = urlparse(dsn)
    database = database or parsed.path.lstrip("/") or "default"
    if database != "default":
        # The database is part of the DSN; create it on first use so a fresh server just works.
        bootstrap = clickhouse_connect.get_client(
            dsn=parsed._replace(path="/default").geturl(), autogenerate_session_id=False
        )
        bootstrap.command(f"CREATE DATABASE IF NOT EXISTS `{database}`")
        bootstrap.close()
    # No session id: ClickHouse refuses concurrent queries in one session, and this client is shared
    # by the stages' threads (and the API's requests).
    return clickhouse_connect.get_client(
        dsn=dsn, database=database, autogenerate_session_id=False, settings=settings or None
    )


def describe(dsn: str) -> str:
    """The DSN without its password, for logs."""
    parsed = urlparse(dsn)
    if parsed.password:
        return dsn.replace(f":{parsed.password}@", ":***@", 1)
    return dsn
