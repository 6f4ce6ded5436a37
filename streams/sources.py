"""Sources that feed `posts.raw`: file replay (JSONL or CSV) on the posts' own clock.

External collectors need none of this: they write the envelope (`pantau.normalise.make_envelope`)
to `posts.raw` themselves.
"""

from __future__ import annotations

import asyncio
import csv
import logging
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from pantau.bus import RawProducer
from pantau.domain import utcnow
from pantau.normalise import make_envelope, parse_timestamp

log = logging.getLogger(__name__)
TIME_FIELDS = ("created_at", "timestamp", "time")


def read_rows(path: Path) -> Iterator[dict[str, Any] | str]:
    """Rows of a JSONL or CSV file. A JSONL line that is not an object is passed on as text, so
    the normaliser can dead-letter it with its reason instead of the replay dying."""
    if path.suffix.lower() == ".csv" or path.name.lower().endswith(".csv.gz"):
        opener: Any = open
        if path.name.lower().endswith(".gz"):
            import gzip

            opener = gzip.open
        with opener(path, "rt", encoding="utf-8", newline="") as handle:
            yield from csv.DictReader(handle)
        return
    with path.open("rb") as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                row = orjson.loads(line)
            except orjson.JSONDecodeError:
                yield line.decode("utf-8", "replace")
                continue
            yield row if isinstance(row, dict) else line.decode("utf-8", "replace")


def row_time(row: dict[str, Any] | str) -> datetime | None:
    if not isinstance(row, dict):
        return None
    payload = row.get("data", row) if "platform" not in row else row
    for name in TIME_FIELDS:
        if isinstance(payload, dict) and payload.get(name) not in (None, ""):
            try:
                return parse_timestamp(payload[name])
            except ValueError:
                return None
    return None


def rebase(rows: list[dict[str, Any] | str], now: datetime) -> list[dict[str, Any] | str]:
    """Shift every post's time so the last post is `now` (the stream's shape is kept)."""
    times = [t for t in map(row_time, rows) if t is not None]
    if not times:
        return rows
    shift = now - max(times)
    out: list[dict[str, Any] | str] = []
    for row in rows:
        at = row_time(row)
        if isinstance(row, dict) and at is not None and "created_at" in row:
            row = {**row, "created_at": (at + shift).isoformat().replace("+00:00", "Z")}
        out.append(row)
    return out


def encode_row(row: dict[str, Any] | str, source: str) -> bytes:
    if isinstance(row, str):
        return row.encode()
    return make_envelope(row, source=source)


async def replay(
    producer: RawProducer,
    rows: list[dict[str, Any] | str],
    *,
    speed: float | None,
    source: str = "replay",
    max_batch: int = 500,
) -> int:
    """Send rows to `posts.raw`. With `speed`, post i goes out when (t_i - t_0) / speed seconds have
    passed since the start; `speed=None` sends as fast as the broker takes them."""
    sent = 0
    if speed is None:
        for i in range(0, len(rows), max_batch):
            sent += await producer.send_many(encode_row(r, source) for r in rows[i : i + max_batch])
        return sent
    first = next((t for t in map(row_time, rows) if t is not None), None)
    started = time.monotonic()
    batch: list[bytes] = []
    for row in rows:
        at = row_time(row)
        if at is not None and first is not None:
            due = (at - first).total_seconds() / speed
            wait = due - (time.monotonic() - started)
            if wait > 0.05:
                if batch:
                    sent += await producer.send_many(batch)
                    batch = []
                await asyncio.sleep(wait)
        batch.append(encode_row(row, source))
        if len(batch) >= max_batch:
            sent += await producer.send_many(batch)
            batch = []
    if batch:
        sent += await producer.send_many(batch)
    return sent


def demo_rows(rebase_to_now: bool = True) -> list[dict[str, Any] | str]:
    path = Path(__file__).resolve().parent.parent / "pantau" / "demo" / "posts.jsonl"
    rows = list(read_rows(path))
    return rebase(rows, utcnow() - timedelta(seconds=1)) if rebase_to_now else rows
