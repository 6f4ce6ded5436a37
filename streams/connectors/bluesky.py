"""Bluesky through Jetstream: the public firehose as JSON over a WebSocket, no key, filtered on our
side by the watchlist; resumes from its cursor (the event time in microseconds) after a reconnect
or a restart.

The cursor is saved only after the spool has taken every post up to it, so a restart repeats at
most the event at the cursor (storage deduplicates) and loses nothing. Posts are handed on in
small batches, so one slow disk write does not stall the socket for long.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Callable
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import orjson
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from config.sources import BlueskySource, without_secrets
from pantau import metrics
from pantau.bus import RawSink
from pantau.normalise import make_envelope
from storage.positions import Positions
from streams.connectors.payloads import mapping
from streams.connectors.retry import Failures, SourceError

log = logging.getLogger(__name__)

PLATFORM = "bluesky"
POST_COLLECTION = "app.bsky.feed.post"
CURSOR_KEY = "cursor"
BATCH_POSTS = 200
BATCH_SECONDS = 0.5
MAX_FRAME_BYTES = 1 * 2**20


class JetstreamError(SourceError):
    """A connection that failed or ended: network, http."""


def post_ref(uri: Any) -> str:
    """`at://did/app.bsky.feed.post/rkey` as Pantau's native id `did/rkey` ('' when not a post)."""
    if not isinstance(uri, str) or not uri.startswith("at://"):
        return ""
    parts = uri[5:].split("/")
    return f"{parts[0]}/{parts[2]}" if len(parts) == 3 and parts[1] == POST_COLLECTION else ""


def jetstream_post(event: dict[str, Any]) -> dict[str, Any] | None:
    """The Pantau post object of one Jetstream event; None for what is not a new post (deletes,
    edits, other collections, identity and account events). A new post with fields missing or
    malformed is still returned, as it is: the normaliser dead-letters it with the reason."""
    commit = event.get("commit")
    if event.get("kind") != "commit" or not isinstance(commit, dict):
        return None
    if commit.get("operation") != "create" or commit.get("collection") != POST_COLLECTION:
        return None
    record = mapping(commit.get("record"))
    did, rkey = str(event.get("did") or ""), str(commit.get("rkey") or "")
    langs = record.get("langs")
    parent = mapping(mapping(record.get("reply")).get("parent"))
    quoted = mapping(mapping(record.get("embed")).get("record"))
    return {
        "platform": PLATFORM,
        "id": f"{did}/{rkey}" if did and rkey else "",
        "created_at": record.get("createdAt"),
        "author": {"id": did},
        "text": record.get("text"),
        "lang": str(langs[0])[:16] if isinstance(langs, list) and langs else "",
        "url": f"https://bsky.app/profile/{did}/post/{rkey}" if did and rkey else "",
        "reply_to": post_ref(parent.get("uri")),
        "quote_of": post_ref(quoted.get("uri")),
    }


def subscribe_url(endpoint: str, cursor: int | None) -> str:
    parts = urlsplit(endpoint)
    query = [("wantedCollections", POST_COLLECTION)]
    if cursor is not None:
        query.append(("cursor", str(cursor)))
    extra = f"&{parts.query}" if parts.query else ""
    return urlunsplit(parts._replace(query=urlencode(query) + extra))


class JetstreamConnector:
    """Reads Jetstream until cancelled, reconnecting with backoff; `poll` reads until it has sent
    `limit` posts (for `pantau sources test`)."""

    def __init__(
        self,
        config: BlueskySource,
        sink: RawSink,
        positions: Positions,
        accept: Callable[[str], bool],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.sink = sink
        self.positions = positions
        self.accept = accept
        self.clock = clock
        self.languages = {lang.lower() for lang in config.languages}
        self.failures = Failures(config.name)
        self.cursor: int | None = None
        self._batch: list[bytes] = []
        self._batch_cursor: int | None = None
        self._batch_started = 0.0
        self.sent_total = 0

    @property
    def name(self) -> str:
        return self.config.name

    async def run(self) -> None:
        metrics.source_configured(self.name, "bluesky")
        while True:
            try:
                await self.read()
            except JetstreamError as exc:
                await asyncio.sleep(self.failures.failed(exc))

    async def poll(self, limit: int = 5, seconds: float = 30.0) -> int:
        """Read until `limit` posts have passed the filter or `seconds` have gone by; the posts sent."""
        self.sent_total = 0

        async def until_enough() -> None:
            async with contextlib.aclosing(self.events(flush_every=1)) as events:
                async for _ in events:
                    if self.sent_total >= limit:
                        return

        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(until_enough(), seconds)
        return self.sent_total

    async def read(self) -> None:
        """One connection: read it until it ends (an error) or the task is cancelled."""
        async with contextlib.aclosing(self.events()) as events:
            async for _ in events:
                pass

    async def events(self, flush_every: int = BATCH_POSTS) -> AsyncGenerator[None]:
        if self.cursor is None:
            saved = await self.positions.get(self.name, CURSOR_KEY)
            self.cursor = int(saved) if isinstance(saved, int) else None
        url = subscribe_url(str(self.config.endpoint), self.cursor)
        try:
            async with connect(url, max_size=MAX_FRAME_BYTES, open_timeout=30, ping_interval=20) as socket:
                self.failures.succeeded()
                while True:
                    try:
                        frame = await asyncio.wait_for(socket.recv(), BATCH_SECONDS)
                    except TimeoutError:
                        await self.flush()
                        continue
                    await self.take(frame)
                    if len(self._batch) >= flush_every or (
                        self._batch and self.clock() - self._batch_started >= BATCH_SECONDS
                    ):
                        await self.flush()
                    yield
        except InvalidStatus as exc:
            raise JetstreamError("http", f"{without_secrets(url)}: HTTP {exc.response.status_code}") from None
        except (OSError, ConnectionClosed, InvalidHandshake, TimeoutError) as exc:
            raise JetstreamError("network", f"{without_secrets(url)}: {type(exc).__name__}: {exc}") from None
        finally:
            await self.flush()

    async def take(self, frame: str | bytes) -> None:
        try:
            event = orjson.loads(frame)
        except orjson.JSONDecodeError:
            event = None
        if not isinstance(event, dict):
            # Kept, with the reason, in the dead letters: the frame as it came.
            text = frame.decode(errors="replace") if isinstance(frame, bytes) else frame
            self._add(make_envelope({"jetstream_frame": text[:10_000]}, source=self.name), None)
            return
        at = event.get("time_us")
        at = at if isinstance(at, int) else None
        post = jetstream_post(event)
        if post is not None and self.wanted(post):
            self._add(make_envelope(post, source=self.name), at)
        elif at is not None:
            self._batch_cursor = at if self._batch_cursor is None else max(self._batch_cursor, at)
            if not self._batch:
                self._batch_started = self.clock()

    def wanted(self, post: dict[str, Any]) -> bool:
        text = post.get("text")
        if not isinstance(text, str) or not post["id"]:
            return True  # malformed: to the dead letters, not silently dropped
        if self.languages and str(post.get("lang") or "").lower().split("-")[0] not in self.languages:
            return False
        return self.accept(text)

    def _add(self, envelope: bytes, at: int | None) -> None:
        if not self._batch:
            self._batch_started = self.clock()
        self._batch.append(envelope)
        if at is not None:
            self._batch_cursor = at if self._batch_cursor is None else max(self._batch_cursor, at)

    async def flush(self) -> None:
        batch, cursor = self._batch, self._batch_cursor
        self._batch, self._batch_cursor = [], None
        if batch:
            self.sent_total += await self.sink.send_many(batch)
        # Only after the spool has the batch: the cursor never runs ahead of what is safe.
        if cursor is not None and cursor != self.cursor:
            self.cursor = cursor
            await self.positions.put(self.name, CURSOR_KEY, cursor)

    async def aclose(self) -> None:
        await self.flush()
