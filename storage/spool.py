"""The spool: accepted posts on local disk until ClickHouse holds them.

The embedded broker keeps messages in memory only, so a post it had taken is gone when Pantau is
killed. What a source is told is accepted must survive that, so every accepted post is written
here first, in SQLite (WAL mode, fsynced per commit), and only then acknowledged:

- A **forwarder** in the process that owns the spool sends what no broker has been given yet to
  `posts.raw` and marks it sent. `pantau replay` only writes to the spool of the running
  `pantau up`; that process's forwarder picks its rows up.
  It keeps at most `PANTAU_SPOOL_MAX_IN_FLIGHT` posts sent and not yet stored: a pipeline that
  falls behind leaves its backlog here, on disk, not in the embedded broker's memory.
- A **keeper** in the same process removes what ClickHouse holds: the post by its id, or, for a post
  the normaliser refuses, its dead letter. At start-up, with the memory broker, it marks everything
  still waiting as unsent, so the forwarder sends it again; storage is idempotent, so a post sent
  twice is stored once.
- Commits are grouped: appends that arrive while one commit is being written go into the next one
  together, so many concurrent requests share one fsync.

With a real Kafka (acks=all) the broker is durable and the spool is off (`PANTAU_SPOOL`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from config.settings import Settings
from pantau import metrics
from pantau.aio import wait_set
from pantau.bus import RawSink
from pantau.normalise import InvalidPost, normalise
from storage.repository import ClickHouseStore

log = logging.getLogger(__name__)
T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS spooled (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    post_id     TEXT,              -- NULL: the normaliser will refuse it (its dead letter clears it)
    envelope    BLOB NOT NULL,     -- exactly what is sent to posts.raw
    accepted_at REAL NOT NULL,
    sent        INTEGER NOT NULL DEFAULT 0,
    attempts    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS spooled_by_state ON spooled (sent, seq);
"""


class SpoolFull(RuntimeError):
    """The spool holds its configured maximum: ingestion must wait (HTTP 503 with Retry-After)."""


class SpoolError(RuntimeError):
    """The spool file cannot be used; the message names it."""


@dataclass(frozen=True, slots=True)
class Accepted:
    envelope: bytes
    post_id: str | None  # None: the normaliser will dead-letter it


@dataclass(frozen=True, slots=True)
class Spooled:
    seq: int
    envelope: bytes
    post_id: str | None
    attempts: int


@dataclass(frozen=True, slots=True)
class SpoolDepth:
    posts: int
    unsent: int
    oldest_accepted_at: float | None


def accept(envelope: bytes, *, max_text_chars: int, max_message_bytes: int) -> Accepted:
    """The spool record of an envelope: with the id its post will be stored under, if it is valid."""
    try:
        post = normalise(envelope, max_text_chars=max_text_chars, max_message_bytes=max_message_bytes)
    except InvalidPost:
        return Accepted(envelope, None)
    return Accepted(envelope, post.id)


class Spool:
    """The SQLite file, used from one thread of its own: the event loop never waits on the disk.

    The `*_now` methods are the synchronous work (for that thread, and for `pantau replay`, which has
    no event loop to spare); the async methods run them on the spool's thread."""

    def __init__(self, path: Path, *, max_posts: int, durable: bool = True) -> None:
        self.path = path
        self.max_posts = max_posts
        self.durable = durable
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="pantau-spool")
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._waiting: list[tuple[list[Accepted], bool, asyncio.Future[None]]] = []
        self._committing = False
        self._count = 0

    # -- opening -------------------------------------------------------------------------------
    def open_now(self) -> Spool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            db = self._connect()
        except sqlite3.DatabaseError as exc:
            self._set_aside(exc)
            db = self._connect()
        self._db = db
        self._count = self._scalar("SELECT count(*) FROM spooled")
        return self

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            # FULL: every commit is fsynced, so an acknowledged post survives a power cut too.
            db.execute(f"PRAGMA synchronous={'FULL' if self.durable else 'NORMAL'}")
            db.execute("PRAGMA busy_timeout=10000")
            db.executescript(SCHEMA)
            problems = [row[0] for row in db.execute("PRAGMA quick_check").fetchall()]
            if problems != ["ok"]:
                raise sqlite3.DatabaseError("; ".join(str(p) for p in problems[:3]))
        except BaseException:
            db.close()
            raise
        return db

    def _set_aside(self, exc: sqlite3.DatabaseError) -> None:
        """A damaged spool is moved aside, named in one log line, and what can be read of it kept."""
        aside = self.path.with_name(f"{self.path.name}.damaged-{int(time.time())}")
        for suffix in ("", "-wal", "-shm"):
            source = Path(f"{self.path}{suffix}")
            if source.exists():
                source.rename(Path(f"{aside}{suffix}"))
        rescued = self._rescue(aside)
        log.error(
            "spool %s is damaged (%s): moved to %s; %d posts read back from it",
            self.path,
            exc,
            aside,
            rescued,
        )

    def _rescue(self, damaged: Path) -> int:
        """Copy every row of a damaged spool that still reads into a new one."""
        try:
            old = sqlite3.connect(f"{damaged.resolve().as_uri()}?mode=ro", uri=True)
        except sqlite3.Error:
            return 0
        rescued = 0
        try:
            new = self._connect()
            with contextlib.closing(new):
                last = 0
                while True:
                    try:
                        rows = old.execute(
                            "SELECT seq, post_id, envelope, accepted_at FROM spooled WHERE seq > ? "
                            "ORDER BY seq LIMIT 500",
                            (last,),
                        ).fetchall()
                    except sqlite3.Error:
                        break
                    if not rows:
                        break
                    new.executemany(
                        "INSERT INTO spooled (post_id, envelope, accepted_at) VALUES (?, ?, ?)",
                        [(post_id, envelope, at) for _, post_id, envelope, at in rows],
                    )
                    rescued += len(rows)
                    last = rows[-1][0]
        except sqlite3.Error:
            pass
        finally:
            old.close()
        return rescued

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
        self._executor.shutdown(wait=True)

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise SpoolError(f"spool {self.path} is not open")
        return self._db

    def _scalar(self, sql: str, *args: Any) -> int:
        with self._lock:
            row = self.db.execute(sql, args).fetchone()
        return int(row[0] or 0)

    # -- the synchronous work ------------------------------------------------------------------
    def append_now(self, items: Sequence[Accepted], *, sent: bool = False) -> None:
        """Write `items` in one transaction; when this returns they are on disk. `sent`: the writer
        sends them to the broker itself (so the forwarder leaves them alone)."""
        if not items:
            return
        if self._count + len(items) > self.max_posts:
            self._count = self._scalar("SELECT count(*) FROM spooled")  # others may have trimmed
            if self._count + len(items) > self.max_posts:
                raise SpoolFull(
                    f"the spool holds {self._count} posts (PANTAU_SPOOL_MAX_POSTS={self.max_posts})"
                )
        now = time.time()
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.db.executemany(
                    "INSERT INTO spooled (post_id, envelope, accepted_at, sent) VALUES (?, ?, ?, ?)",
                    [(item.post_id, item.envelope, now, int(sent)) for item in items],
                )
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        self._count += len(items)
        metrics.SPOOL_APPENDED.inc(len(items))

    def unsent_now(self, limit: int) -> list[Spooled]:
        return self._rows("WHERE sent = 0 ORDER BY seq LIMIT ?", (limit,))

    def waiting_now(self, after_seq: int, limit: int) -> list[Spooled]:
        """Sent posts that ClickHouse may not hold yet, in order from `after_seq`."""
        return self._rows("WHERE sent = 1 AND seq > ? ORDER BY seq LIMIT ?", (after_seq, limit))

    def _rows(self, where: str, args: tuple[Any, ...]) -> list[Spooled]:
        with self._lock:
            rows = self.db.execute(
                f"SELECT seq, envelope, post_id, attempts FROM spooled {where}", args
            ).fetchall()
        return [Spooled(seq, bytes(envelope), post_id, attempts) for seq, envelope, post_id, attempts in rows]

    def mark_sent_now(self, seqs: Sequence[int]) -> None:
        self._each("UPDATE spooled SET sent = 1 WHERE seq = ?", seqs)

    def remove_now(self, seqs: Sequence[int]) -> None:
        self._each("DELETE FROM spooled WHERE seq = ?", seqs)
        self._count = max(0, self._count - len(seqs))

    def _each(self, sql: str, seqs: Sequence[int]) -> None:
        if not seqs:
            return
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.db.executemany(sql, [(seq,) for seq in seqs])
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    def resend_now(self) -> int:
        """Mark every sent post unsent again (the broker that had them is gone); return how many."""
        with self._lock:
            cursor = self.db.execute("UPDATE spooled SET sent = 0, attempts = attempts + 1 WHERE sent = 1")
        return cursor.rowcount

    def in_flight_now(self) -> int:
        """Posts sent to the broker that ClickHouse is not known to hold yet."""
        return self._scalar("SELECT count(*) FROM spooled WHERE sent = 1")

    def last_seq_now(self) -> int:
        """The newest post's place in the spool (0 when empty)."""
        return self._scalar("SELECT coalesce(max(seq), 0) FROM spooled")

    def depth_now(self) -> SpoolDepth:
        with self._lock:
            posts, unsent, oldest = self.db.execute(
                "SELECT count(*), count(*) FILTER (WHERE sent = 0), min(accepted_at) FROM spooled"
            ).fetchone()
        self._count = int(posts)
        return SpoolDepth(int(posts), int(unsent), oldest)

    # -- the same, off the event loop ----------------------------------------------------------
    async def _run(self, work: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, work, *args)

    async def append(self, items: Sequence[Accepted], *, sent: bool = False) -> None:
        """Write `items`, committed together with whatever else arrives meanwhile; returns once on disk."""
        if not items:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((list(items), sent, future))
        if not self._committing:
            self._committing = True
            asyncio.get_running_loop().create_task(self._commit_waiting())
        await future

    async def _commit_waiting(self) -> None:
        try:
            while self._waiting:
                waiting, self._waiting = self._waiting, []
                for sent in (False, True):
                    group = [(batch, future) for batch, flag, future in waiting if flag is sent]
                    if group:
                        await self._commit(group, sent)
        finally:
            self._committing = False

    async def _commit(self, group: list[tuple[list[Accepted], asyncio.Future[None]]], sent: bool) -> None:
        items = [item for batch, _ in group for item in batch]
        try:
            await self._run(functools.partial(self.append_now, items, sent=sent))
        except SpoolFull:
            # All or nothing per request: commit those that fit, refuse the others.
            for batch, future in group:
                await self._settle(future, functools.partial(self.append_now, batch, sent=sent))
            return
        except Exception as exc:
            for _, future in group:
                if not future.done():
                    future.set_exception(exc)
            return
        for _, future in group:
            if not future.done():
                future.set_result(None)

    async def _settle(self, future: asyncio.Future[None], work: Callable[[], None]) -> None:
        try:
            await self._run(work)
        except Exception as exc:
            if not future.done():
                future.set_exception(exc)
        else:
            if not future.done():
                future.set_result(None)

    async def unsent(self, limit: int) -> list[Spooled]:
        return await self._run(self.unsent_now, limit)

    async def waiting(self, after_seq: int, limit: int) -> list[Spooled]:
        return await self._run(self.waiting_now, after_seq, limit)

    async def mark_sent(self, seqs: Sequence[int]) -> None:
        await self._run(self.mark_sent_now, seqs)

    async def remove(self, seqs: Sequence[int]) -> None:
        await self._run(self.remove_now, seqs)

    async def resend(self) -> int:
        return await self._run(self.resend_now)

    async def depth(self) -> SpoolDepth:
        return await self._run(self.depth_now)

    async def in_flight(self) -> int:
        return await self._run(self.in_flight_now)

    async def last_seq(self) -> int:
        return await self._run(self.last_seq_now)


class SpoolWriter:
    """A source's way in: `send_many` spools envelopes before it returns, so `replay`, the demo and
    `POST /ingest` are acknowledged only once their posts are on disk. Without `forward_to`, the
    spool's forwarder sends them on (woken by `wake`); with it (`pantau replay` into the spool of a
    running `pantau up`), the writer sends them itself once they are spooled."""

    def __init__(
        self,
        spool: Spool,
        *,
        max_text_chars: int,
        max_message_bytes: int,
        wake: Callable[[], None] | None = None,
        forward_to: RawSink | None = None,
    ) -> None:
        self.spool = spool
        self.max_text_chars = max_text_chars
        self.max_message_bytes = max_message_bytes
        self.wake = wake
        self.forward_to = forward_to

    def accepted(self, values: Iterable[bytes]) -> list[Accepted]:
        return [
            accept(v, max_text_chars=self.max_text_chars, max_message_bytes=self.max_message_bytes)
            for v in values
        ]

    async def send_many(self, values: Iterable[bytes]) -> int:
        envelopes = list(values)
        await self.spool.append(self.accepted(envelopes), sent=self.forward_to is not None)
        if self.forward_to is not None:
            await self.forward_to.send_many(envelopes)
        elif self.wake is not None:
            self.wake()
        return len(envelopes)


class SpoolForwarder:
    """Sends what the spool holds and no broker has yet, oldest first, and marks it sent."""

    def __init__(
        self,
        spool: Spool,
        send: Callable[[list[bytes]], Awaitable[int]],
        *,
        batch: int = 500,
        idle_seconds: float = 0.5,
        max_in_flight: int = 5_000,
    ) -> None:
        self.spool = spool
        self.send = send
        self.batch = batch
        self.max_in_flight = max_in_flight
        self.idle_seconds = idle_seconds
        self._wake = asyncio.Event()
        self._sending = asyncio.Lock()
        self._paused = False

    def wake(self) -> None:
        self._wake.set()

    async def pause(self) -> None:
        """Stop sending (new posts stay in the spool); returns once no batch is on its way."""
        async with self._sending:
            self._paused = True

    def resume(self) -> None:
        self._paused = False
        self.wake()

    async def forward_once(self) -> int:
        """Send one batch, as far as `max_in_flight` leaves room; return how many posts it held (0
        while paused or while the pipeline has enough to do)."""
        async with self._sending:
            if self._paused:
                return 0
            in_flight = await self.spool.in_flight()
            metrics.SPOOL_IN_FLIGHT.set(in_flight)
            room = min(self.batch, self.max_in_flight - in_flight)
            if room <= 0:
                metrics.SPOOL_HELD_BACK.inc()
                return 0
            rows = await self.spool.unsent(room)
            if rows:
                await self.send([row.envelope for row in rows])
                await self.spool.mark_sent([row.seq for row in rows])
                metrics.SPOOL_FORWARDED.inc(len(rows))
            return len(rows)

    async def run(self) -> None:
        failures = 0
        while True:
            self._wake.clear()
            try:
                sent = await self.forward_once()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                delay = min(10.0, 0.2 * 2**failures)
                log.warning("spool: cannot send to the broker (%r); again in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                continue
            if sent < self.batch:  # idle, or held back until the keeper has trimmed what is stored
                # Other processes (pantau replay) write too: look again even when nobody wakes us.
                await wait_set(self._wake, self.idle_seconds)


class SpoolKeeper:
    """Removes from the spool what ClickHouse holds, and sends again what a lost broker had."""

    def __init__(
        self,
        spool: Spool,
        store: ClickHouseStore,
        *,
        dlq_max_raw_bytes: int,
        batch: int = 1000,
        interval_seconds: float = 2.0,
    ) -> None:
        self.spool = spool
        self.store = store
        self.dlq_max_raw_bytes = dlq_max_raw_bytes
        self.batch = batch
        self.interval_seconds = interval_seconds
        self._cursor = 0
        self._pass_end = 0
        self._passes = asyncio.Lock()  # one pass at a time: recover() runs beside run()

    def dead_letter_raw(self, envelope: bytes) -> str:
        """The envelope as the normaliser's dead letter keeps it (see streams.app.dead_letter)."""
        return envelope[: self.dlq_max_raw_bytes].decode("utf-8", "replace")

    async def trim_once(self) -> int:
        """Check the next batch of sent posts against ClickHouse and remove those it holds.

        Passes go from the oldest post to the newest one there was when the pass began, then start
        again: under a steady stream the tail never runs dry, and a pass that only ended at an empty
        tail would never come back to the posts it checked while they were still on their way."""
        if self._cursor == 0:
            self._pass_end = await self.spool.last_seq()
        rows = await self.spool.waiting(self._cursor, self.batch)
        self._cursor = 0 if not rows or rows[-1].seq >= self._pass_end else rows[-1].seq
        ids = [row.post_id for row in rows if row.post_id is not None]
        stored = await asyncio.to_thread(self.store.existing_post_ids, ids) if ids else set()
        unstored = [row for row in rows if row.post_id not in stored]
        raws = {self.dead_letter_raw(row.envelope): row for row in unstored}
        refused = await asyncio.to_thread(self.store.existing_dead_letters, list(raws)) if raws else set()
        done = [row.seq for row in rows if row.post_id in stored] + [raws[r].seq for r in refused]
        await self.spool.remove(done)
        metrics.SPOOL_TRIMMED.inc(len(done))
        return len(done)

    async def trim_all(self) -> int:
        """One full pass over the spool."""
        self._cursor = 0
        removed = await self.trim_once()
        while self._cursor:
            removed += await self.trim_once()
        return removed

    async def recover(self) -> int:
        """What a lost broker held and ClickHouse does not hold is sent again (at start-up with the
        memory broker, and after its topics rolled over)."""
        async with self._passes:
            removed = await self.trim_all()
            again = await self.spool.resend()
        if removed or again:
            log.info("spool: %d posts were stored already, %d are sent again", removed, again)
        return again

    async def run(self) -> None:
        while True:
            # Mid-pass, go on at once: a backlog is trimmed as fast as ClickHouse answers.
            await asyncio.sleep(self.interval_seconds if self._cursor == 0 else 0.05)
            try:
                async with self._passes:
                    await self.trim_once()
                depth = await self.spool.depth()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # ClickHouse away: the posts stay spooled, nothing is lost
                log.warning("spool: cannot check what ClickHouse holds (%r)", exc)
                continue
            metrics.SPOOL_POSTS.set(depth.posts)
            metrics.SPOOL_UNSENT.set(depth.unsent)
            metrics.SPOOL_OLDEST_SECONDS.set(
                max(0.0, time.time() - depth.oldest_accepted_at) if depth.oldest_accepted_at else 0.0
            )


@dataclass(frozen=True)
class SpoolParts:
    """A spool with the forwarder and keeper that serve it, and the writer sources use."""

    spool: Spool
    forwarder: SpoolForwarder
    keeper: SpoolKeeper
    writer: SpoolWriter


def assemble(
    settings: Settings, store: ClickHouseStore, send: Callable[[list[bytes]], Awaitable[int]]
) -> SpoolParts:
    """The spool at `settings.spool_path`, opened, with its forwarder sending through `send`."""
    spool = Spool(settings.spool_path, max_posts=settings.spool_max_posts).open_now()
    forwarder = SpoolForwarder(spool, send, max_in_flight=settings.spool_max_in_flight)
    return SpoolParts(
        spool=spool,
        forwarder=forwarder,
        keeper=SpoolKeeper(spool, store, dlq_max_raw_bytes=settings.dlq_max_raw_bytes),
        writer=SpoolWriter(
            spool,
            max_text_chars=settings.max_post_text_chars,
            max_message_bytes=settings.max_post_message_bytes,
            wake=forwarder.wake,
        ),
    )
