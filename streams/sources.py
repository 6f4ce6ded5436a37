"""Sources that feed `posts.raw`: file replay (JSONL or CSV) on the posts' own clock.

External collectors need none of this: they write the envelope (`pantau.normalise.make_envelope`)
to `posts.raw` themselves.
"""

from __future__ import annotations

import asyncio
import csv
import gzip
import io
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from pantau.bus import RawSink
from pantau.normalise import make_envelope, parse_timestamp
from pantau.tables import GZIP_MAGIC, TableError

log = logging.getLogger(__name__)
TIME_FIELDS = ("created_at", "timestamp", "time")
_EXTRA_CELLS = "_extra_cells"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# How much of a file is checked for being text before its rows are read.
TEXT_PROBE_BYTES = 64 * 1024


def read_rows(path: Path) -> Iterator[dict[str, Any] | str]:
    """Rows of a JSONL or CSV file (either may be gzipped, whatever its name says). A JSONL line that
    is not an object is passed on as text, so the normaliser can dead-letter it with its reason
    instead of the replay dying; so is a CSV row with more cells than the header has names. A file
    that is not text at all is a `TableError` naming it, before any row is read."""
    name = path.name.lower().removesuffix(".gz")
    expected = "posts as JSONL, or CSV with a header (optionally gzipped)"
    try:
        with _open_binary(path) as binary:
            _check_text(path, binary.peek(TEXT_PROBE_BYTES)[:TEXT_PROBE_BYTES], expected)
            if name.endswith(".csv"):
                # utf-8-sig: spreadsheet exports start with a byte-order mark that would hide the
                # first column.
                text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
                for row in csv.DictReader(text, restkey=_EXTRA_CELLS):
                    yield orjson.dumps(row, default=str).decode() if _EXTRA_CELLS in row else row
                return
            for line in binary:
                if not line.strip():
                    continue
                try:
                    row = orjson.loads(line)
                except orjson.JSONDecodeError:
                    yield line.decode("utf-8", "replace").rstrip("\r\n")
                    continue
                yield row if isinstance(row, dict) else line.decode("utf-8", "replace").rstrip("\r\n")
    except OSError as exc:  # missing, unreadable, or a damaged gzip stream
        raise TableError(f"{path}: cannot read it ({exc.strerror or exc}); expected {expected}") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise TableError(f"{path}: not readable as text ({exc}); expected {expected}") from None


def _open_binary(path: Path) -> io.BufferedReader:
    """The file's bytes, gunzipped when it starts with gzip's magic number."""
    with path.open("rb") as probe:
        gzipped = probe.read(2) == GZIP_MAGIC
    # Opened by name, the gzip reader owns its file: closing the buffer closes both.
    stream: io.RawIOBase | gzip.GzipFile = gzip.open(path, "rb") if gzipped else io.FileIO(path, "r")  # noqa: SIM115
    return io.BufferedReader(stream, buffer_size=TEXT_PROBE_BYTES)


def _check_text(path: Path, head: bytes, expected: str) -> None:
    """Refuse a binary file (an image, an archive, UTF-16): all its lines would be dead letters. A
    NUL byte tells, as it does for git and grep; a stray invalid byte in text is the line's problem."""
    if b"\x00" in head:
        raise TableError(f"{path}: binary data (byte {head.index(0)} is NUL); expected {expected}")


def _time_field(row: dict[str, Any] | str) -> tuple[dict[str, Any], str] | None:
    """Where a row keeps its time: (the object holding it, the field name)."""
    if not isinstance(row, dict):
        return None
    holder = row if "platform" in row or not isinstance(row.get("data"), dict) else row["data"]
    for name in TIME_FIELDS:
        if holder.get(name) not in (None, ""):
            return holder, name
    return None


def row_time(row: dict[str, Any] | str) -> datetime | None:
    found = _time_field(row)
    if found is None:
        return None
    holder, name = found
    try:
        return parse_timestamp(holder[name])
    except ValueError:
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
        found = _time_field(row)
        if isinstance(row, dict) and at is not None and found is not None:
            holder, name = found
            shifted = {**holder, name: (at + shift).isoformat().replace("+00:00", "Z")}
            row = shifted if holder is row else {**row, "data": shifted}
        out.append(row)
    return out


def encode_row(row: dict[str, Any] | str, source: str) -> bytes:
    if isinstance(row, str):
        return row.encode()
    return make_envelope(row, source=source)


async def replay(
    producer: RawSink,
    rows: list[dict[str, Any] | str],
    *,
    speed: float | None,
    source: str = "replay",
    max_batch: int = 500,
) -> int:
    """Send rows to `posts.raw`. With `speed`, post i goes out when (t_i - t_0) / speed seconds have
    passed since the start; `speed=None` sends as fast as the broker takes them."""
    sent = 0
    # Send in event-time order (exports are often newest first), at any speed: detectors count in
    # event time and forget what is older than their horizon. A row without a time keeps its place
    # after the timed row before it, so a file already in order is sent exactly as written.
    keyed: list[tuple[datetime | None, int]] = []
    previous: datetime | None = None
    for i, row in enumerate(rows):
        previous = row_time(row) or previous
        keyed.append((previous, i))
    keyed.sort(key=lambda pair: (pair[0] is not None, pair[0] or _EPOCH, pair[1]))
    rows = [rows[i] for _, i in keyed]
    if speed is None:
        for i in range(0, len(rows), max_batch):
            sent += await producer.send_many(encode_row(r, source) for r in rows[i : i + max_batch])
        return sent
    first = next((t for t, _ in keyed if t is not None), None)
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
