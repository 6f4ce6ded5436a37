"""Mastodon: an instance's streaming API (Server-Sent Events) on hashtag timelines and optionally
the public one, with a REST catch-up (`min_id`) after every gap: each time the stream is open
(at start, and after each reconnect), the timeline is first read from the newest status seen
until it is current, then the stream is read.

A status is one post; a boost is a repost of the status it boosts. Statuses are identified by their
`uri`, which is the same on every instance, so the same status seen through two instances or two
timelines is one post.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from config.sources import MastodonSource
from config.watchlist import Watchlist
from pantau import metrics
from pantau.bus import RawSink
from pantau.normalise import make_envelope
from storage.positions import Positions
from streams.connectors.feeds import plain_text
from streams.connectors.payloads import id_number, mapping
from streams.connectors.retry import Failures, SourceError, retry_after_seconds

log = logging.getLogger(__name__)

PLATFORM = "mastodon"
PAGE = 40  # the most a timeline page gives
MAX_CATCH_UP_PAGES = 250


class MastodonError(SourceError):
    """A request or a stream that failed: network, http, auth."""


def status_id(uri: Any) -> str:
    return hashlib.blake2b(str(uri).encode(), digest_size=16).hexdigest() if uri else ""


def status_post(status: dict[str, Any]) -> dict[str, Any]:
    """The Pantau post object of one status (a boost: a repost of the boosted status)."""
    boosted = status.get("reblog") if isinstance(status.get("reblog"), dict) else None
    shown = boosted or status
    account = mapping(status.get("account"))
    spoiler = plain_text(str(shown.get("spoiler_text") or ""))
    text = plain_text(str(shown.get("content") or ""))
    return {
        "platform": PLATFORM,
        "id": status_id(status.get("uri")),
        "created_at": status.get("created_at"),
        "author": {
            "id": str(account.get("url") or account.get("id") or ""),
            "handle": str(account.get("acct") or ""),
        },
        "text": f"{spoiler}\n\n{text}" if spoiler else text,
        "lang": str(shown.get("language") or "")[:16],
        "url": str(status.get("url") or status.get("uri") or ""),
        "repost_of": status_id(boosted.get("uri")) if boosted else "",
        "hashtags": [str(tag.get("name")) for tag in shown.get("tags") or [] if isinstance(tag, dict)],
        "metrics": {
            "likes": int(shown.get("favourites_count") or 0),
            "reposts": int(shown.get("reblogs_count") or 0),
            "replies": int(shown.get("replies_count") or 0),
        },
    }


def watchlist_hashtags(watchlist: Watchlist) -> tuple[str, ...]:
    """The hashtags a desk would follow: each target's name and aliases written as one tag."""
    tags: dict[str, None] = {}
    for target in watchlist.targets:
        for alias in target.all_aliases:
            tag = "".join(ch for ch in alias if ch.isalnum() or ch == "_")
            if len(tag) >= 4:
                tags[tag.lower()] = None
    return tuple(tags)


@dataclass(frozen=True)
class Timeline:
    key: str  # in the positions store
    stream_path: str
    stream_params: dict[str, str]
    rest_path: str


class MastodonConnector:
    """Follows each timeline in a task of its own; `poll` reads each once over REST (for the test
    command)."""

    def __init__(
        self,
        config: MastodonSource,
        sink: RawSink,
        positions: Positions,
        accept: Callable[[str], bool],
        hashtags: tuple[str, ...],
        *,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.config = config
        self.sink = sink
        self.positions = positions
        self.accept = accept
        headers = {"Authorization": f"Bearer {config.access_token}"} if config.access_token else {}
        self.client = client or httpx.AsyncClient(
            base_url=str(config.instance).rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(30.0, read=90.0),  # the stream sends a heartbeat every 15 s or so
        )
        self.timelines = [
            Timeline(f"tag:{tag}", "/api/v1/streaming/hashtag", {"tag": tag}, f"/api/v1/timelines/tag/{tag}")
            for tag in hashtags
        ]
        if config.public:
            self.timelines.append(
                Timeline("public", "/api/v1/streaming/public", {}, "/api/v1/timelines/public")
            )
        self.failures = {timeline.key: Failures(config.name) for timeline in self.timelines}

    @property
    def name(self) -> str:
        return self.config.name

    async def run(self) -> None:
        metrics.source_configured(self.name, "mastodon")
        # One failing timeline takes the others down with it (cancelled), so the supervisor's
        # restart never leaves a stream running twice.
        async with asyncio.TaskGroup() as group:
            for timeline in self.timelines:
                group.create_task(self.follow(timeline))

    async def poll(self) -> int:
        return sum([await self.catch_up(timeline) for timeline in self.timelines])

    async def follow(self, timeline: Timeline) -> None:
        while True:
            try:
                await self.stream(timeline)
            except MastodonError as exc:
                await asyncio.sleep(self.failures[timeline.key].failed(exc, timeline.key))

    async def catch_up(self, timeline: Timeline) -> int:
        """Read the timeline over REST from the newest status seen until it is current."""
        since = await self.positions.get(self.name, timeline.key)
        if since is None:
            # First start: the current page only, not the timeline's whole history.
            page = await self.get_json(timeline.rest_path, {"limit": str(PAGE)})
            return await self.take(timeline, page)
        sent = 0
        for _ in range(MAX_CATCH_UP_PAGES):
            # min_id pages forward from `since` in ascending order, oldest first.
            page = await self.get_json(timeline.rest_path, {"min_id": str(since), "limit": str(PAGE)})
            if not page:
                break
            sent += await self.take(timeline, page)
            since = await self.positions.get(self.name, timeline.key)
            if len(page) < PAGE:
                break
        else:
            log.warning(
                "source %s: %s: the gap is longer than %d statuses; the rest is not read",
                self.name,
                timeline.key,
                PAGE * MAX_CATCH_UP_PAGES,
            )
        return sent

    async def stream(self, timeline: Timeline) -> None:
        try:
            async with self.client.stream(
                "GET", timeline.stream_path, params=timeline.stream_params
            ) as response:
                self.check(response)
                self.failures[timeline.key].succeeded()
                # Caught up only once the stream is open: a status posted in between is in one or
                # the other (or both: storage keeps one), never in neither.
                await self.catch_up(timeline)
                async for event, data in server_sent_events(response.aiter_lines()):
                    if event == "update":
                        try:
                            status = orjson.loads(data)
                        except orjson.JSONDecodeError:
                            status = None
                        if isinstance(status, dict):
                            await self.take(timeline, [status])
                        else:
                            await self.sink.send_many(
                                [make_envelope({"mastodon_event": data[:10_000]}, source=self.name)]
                            )
        except httpx.HTTPError as exc:
            raise MastodonError("network", f"{type(exc).__name__}: {exc}") from None
        raise MastodonError("network", "the stream ended")

    async def take(self, timeline: Timeline, statuses: list[Any]) -> int:
        """Send the wanted statuses (oldest first), then remember the newest id: only after the
        spool has them."""
        statuses = sorted((s for s in statuses if isinstance(s, dict)), key=lambda s: id_number(s.get("id")))
        if not statuses:
            return 0
        posts = [status_post(s) for s in statuses]
        wanted = [p for p in posts if not p["id"] or not isinstance(p["text"], str) or self.accept(p["text"])]
        sent = await self.sink.send_many(make_envelope(p, source=self.name) for p in wanted) if wanted else 0
        newest = max(id_number(s.get("id")) for s in statuses)
        known = await self.positions.get(self.name, timeline.key)
        if known is None or newest > id_number(known):
            await self.positions.put(self.name, timeline.key, str(newest))
        return sent

    async def get_json(self, path: str, params: dict[str, str]) -> list[Any]:
        try:
            response = await self.client.get(path, params=params)
        except httpx.HTTPError as exc:
            raise MastodonError("network", f"{type(exc).__name__}: {exc}") from None
        self.check(response)
        try:
            page = response.json()
        except ValueError:
            raise MastodonError("http", f"{path}: not JSON") from None
        return page if isinstance(page, list) else []

    @staticmethod
    def check(response: httpx.Response) -> None:
        status = response.status_code
        if status == 429 or status >= 500:
            raise MastodonError(
                "http", f"HTTP {status}", retry_after_seconds(response.headers.get("Retry-After"))
            )
        if status in (401, 403):
            raise MastodonError("auth", f"HTTP {status}: the instance wants a valid access_token")
        if status >= 400:
            raise MastodonError("http", f"HTTP {status}")

    async def aclose(self) -> None:
        await self.client.aclose()


async def server_sent_events(lines: AsyncIterator[str]) -> AsyncIterator[tuple[str, str]]:
    """(event, data) pairs of a Server-Sent Events stream; comments (heartbeats) skipped."""
    event, data = "message", list[str]()
    async for line in lines:
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = "message", []
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
