"""Where each live source stands (a cursor, a `since_id`, a feed's ETag and the articles it has
sent): one small SQLite file, so a restart neither loses nor repeats.

A source records its position only after the spool has acknowledged what it read: a crash in
between repeats a little, which storage deduplicates, and never loses.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS positions (
    source TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (source, key)
);
"""


class Positions:
    """Per source and key, one JSON value. Used from one thread of its own, like the spool."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="pantau-positions")
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def _open(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._db = self._connect()
            except sqlite3.OperationalError:
                raise  # locked or unreadable, not damaged: say so, keep the file
            except sqlite3.DatabaseError as exc:
                # Positions are an optimisation over storage's deduplication: start afresh, say so.
                aside = self.path.with_name(f"{self.path.name}.damaged-{int(time.time())}")
                for suffix in ("", "-wal", "-shm"):  # a journal left behind would be replayed
                    source = Path(f"{self.path}{suffix}")
                    if source.exists():
                        source.rename(Path(f"{aside}{suffix}"))
                log.error(
                    "source positions %s are damaged (%s): moved to %s; sources start afresh",
                    self.path,
                    exc,
                    aside,
                )
                self._db = self._connect()
        return self._db

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(SCHEMA)
            db.execute("SELECT count(*) FROM positions").fetchone()
        except BaseException:
            db.close()
            raise
        return db

    def get_now(self, source: str, key: str) -> Any:
        with self._lock:
            row = (
                self._open()
                .execute("SELECT value FROM positions WHERE source = ? AND key = ?", (source, key))
                .fetchone()
            )
        return json.loads(row[0]) if row else None

    def put_now(self, source: str, key: str, value: Any) -> None:
        with self._lock:
            self._open().execute(
                "INSERT INTO positions (source, key, value, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (source, key) DO UPDATE "
                "SET value = excluded.value, updated_at = excluded.updated_at",
                (source, key, json.dumps(value), time.time()),
            )

    async def get(self, source: str, key: str) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, self.get_now, source, key)

    async def put(self, source: str, key: str, value: Any) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self.put_now, source, key, value)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
        self._executor.shutdown(wait=False)
