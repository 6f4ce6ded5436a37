"""The live alert feed, read once per process and fanned out to every connected screen.

A war room keeps tens of screens on `GET /alerts/stream`. If each held a Redis connection blocked
in XREAD, a hundred of them would take the whole connection pool the worker also writes alerts
through. Here one reader follows the feed stream; each client gets a bounded queue. A client
that resumes from `Last-Event-ID` first reads what it missed straight from the stream, then the
queue, skipping what it has already had: no gap, no repeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from redis.asyncio import Redis

from alerts.state import FEED, stream_id
from pantau import metrics

log = logging.getLogger(__name__)
Event = tuple[str, dict[str, Any]]


class FeedOverflow(Exception):
    """A client fell too far behind (its queue filled up): it must reconnect with Last-Event-ID."""


@dataclass(eq=False)
class _Subscriber:
    queue: asyncio.Queue[Event]
    overflowed: bool = field(default=False)


class FeedHub:
    def __init__(
        self, redis: Redis, *, queue_size: int = 1000, block_ms: int = 1000, heartbeat_seconds: float = 1.0
    ) -> None:
        self.redis = redis
        self.queue_size = queue_size
        self.block_ms = block_ms
        self.heartbeat_seconds = heartbeat_seconds
        self._subscribers: set[_Subscriber] = set()
        self._last_id: str | None = None  # the newest entry the reader has passed on
        self._reader: asyncio.Task[None] | None = None
        self._started = asyncio.Lock()

    async def _start(self) -> None:
        async with self._started:
            if self._reader is not None:
                return
            newest: Any = await self.redis.xrevrange(FEED, count=1)
            self._last_id = newest[0][0].decode() if newest else "0-0"
            self._reader = asyncio.create_task(self._read(), name="alert-feed-reader")

    async def aclose(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None

    async def _read(self) -> None:
        while True:
            assert self._last_id is not None
            try:
                batches: Any = await self.redis.xread({FEED: self._last_id}, block=self.block_ms, count=500)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("alert feed: read failed, retrying", exc_info=True)
                await asyncio.sleep(1.0)
                continue
            for _stream, entries in batches or ():
                for entry_id, fields in entries:
                    event = (entry_id.decode(), orjson.loads(fields[b"data"]))
                    self._last_id = event[0]
                    for subscriber in list(self._subscribers):
                        try:
                            subscriber.queue.put_nowait(event)
                        except asyncio.QueueFull:
                            subscriber.overflowed = True
                            self._subscribers.discard(subscriber)

    async def subscribe(self, last_id: str | None = None) -> AsyncIterator[Event]:
        """Events after `last_id` (None: from now on), forever. Yields ("", {}) as a heartbeat
        after each quiet second, so the caller can notice a client that went away."""
        await self._start()
        subscriber = _Subscriber(asyncio.Queue(self.queue_size))
        # Registered before the history is read: whatever arrives meanwhile lands in the queue.
        self._subscribers.add(subscriber)
        metrics.FEED_CLIENTS.inc()
        try:
            delivered = last_id or self._last_id or "0-0"
            if last_id:
                while True:
                    missed: Any = await self.redis.xrange(FEED, min=f"({delivered}", count=500)
                    if not missed:
                        break
                    for raw_id, fields in missed:
                        delivered = raw_id.decode()
                        yield delivered, orjson.loads(fields[b"data"])
            while True:
                try:
                    entry_id, body = await asyncio.wait_for(subscriber.queue.get(), self.heartbeat_seconds)
                except TimeoutError:
                    if subscriber.overflowed:
                        raise FeedOverflow(f"client fell over {self.queue_size} events behind") from None
                    yield "", {}
                    continue
                if stream_id(entry_id) <= stream_id(delivered):
                    continue  # already read from the history
                delivered = entry_id
                yield entry_id, body
        finally:
            self._subscribers.discard(subscriber)
            metrics.FEED_CLIENTS.dec()
