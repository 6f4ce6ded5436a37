"""News from RSS and Atom feeds: one post per article (its title and summary), deduplicated by
GUID or link, fetched with ETag and Last-Modified so an unchanged feed costs one 304.

Each URL keeps its own schedule: a failing feed backs off (exponentially, with jitter, or as long
as a 429's `Retry-After` says) without holding the others back.
"""

from __future__ import annotations

import asyncio
import calendar
import hashlib
import html
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import feedparser
import httpx

from config.sources import FeedSource, without_secrets
from pantau import metrics
from pantau.bus import RawSink
from pantau.normalise import make_envelope
from storage.positions import Positions
from streams.connectors.retry import Failures, SourceError, retry_after_seconds

log = logging.getLogger(__name__)

PLATFORM = "news"
USER_AGENT = "Pantau/1 (+https://github.com/pantau; news feed reader)"
# How many article ids a feed remembers: well past what one feed document lists.
SEEN_PER_FEED = 2000
MAX_FEED_BYTES = 10 * 2**20


class FeedError(SourceError):
    """One feed fetch that failed."""


@dataclass
class FeedState:
    """What one feed URL remembers across restarts."""

    etag: str = ""
    modified: str = ""
    seen: list[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, value: Any) -> FeedState:
        if not isinstance(value, dict):
            return cls()
        seen = value.get("seen")
        return cls(
            etag=str(value.get("etag") or ""),
            modified=str(value.get("modified") or ""),
            seen=[str(s) for s in seen] if isinstance(seen, list) else [],
        )

    def to_json(self) -> dict[str, Any]:
        return {"etag": self.etag, "modified": self.modified, "seen": self.seen[-SEEN_PER_FEED:]}


class _TextOnly(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BREAKS:  # "a<br>b" is two words
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _BREAKS:
            self.parts.append(" ")


_BREAKS = frozenset({"br", "p", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "blockquote", "tr", "td"})


def plain_text(fragment: str) -> str:
    """The text of an HTML fragment (feed summaries carry markup), whitespace folded."""
    parser = _TextOnly()
    parser.feed(fragment)
    parser.close()
    return " ".join(html.unescape("".join(parser.parts)).split())


def article_id(entry: dict[str, Any]) -> str:
    """Stable per article: its GUID, else its link (hashed: both may be long URLs)."""
    key = str(entry.get("id") or entry.get("link") or "")
    return hashlib.blake2b(key.encode(), digest_size=16).hexdigest() if key else ""


def seen_key(entry: dict[str, Any]) -> str:
    """What marks an article as sent: its id, or for one without GUID or link its title and
    summary, so that it is not sent (and dead-lettered) again at every poll."""
    text = f"{entry.get('title') or ''}\n{entry.get('summary') or ''}"
    return article_id(entry) or "text:" + hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def entry_time(entry: dict[str, Any]) -> datetime | None:
    for name in ("published_parsed", "updated_parsed"):
        parsed = dict.get(entry, name)  # not FeedParserDict.get: it maps one field onto the other, warning
        if parsed:
            return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    return None


def article_post(entry: dict[str, Any], feed: dict[str, Any], url: str, received: datetime) -> dict[str, Any]:
    """The Pantau post object of one article. Whatever is missing stays missing: the normaliser
    then dead-letters the article with the reason instead of it being dropped here."""
    title = plain_text(str(entry.get("title") or ""))
    summary = plain_text(str(entry.get("summary") or ""))
    text = title if not summary or summary == title else f"{title}\n\n{summary}"
    post: dict[str, Any] = {
        "platform": PLATFORM,
        "id": article_id(entry),
        "created_at": (entry_time(entry) or received).isoformat(),
        "author": {"id": urlsplit(url).hostname or url, "handle": str(feed.get("title") or "")[:100]},
        "text": text,
        "url": str(entry.get("link") or ""),
        "lang": str(feed.get("language") or "")[:16],
    }
    return post


@dataclass
class FeedSchedule:
    """When one URL is read next, and its failures in a row (each URL backs off alone)."""

    retries: Failures
    due: float = 0.0

    @property
    def failures(self) -> int:
        return self.retries.count


class FeedConnector:
    """Polls every URL of one feed source; `run` forever, `poll` once (for `pantau sources test`)."""

    def __init__(
        self,
        config: FeedSource,
        sink: RawSink,
        positions: Positions,
        accept: Callable[[str], bool],
        *,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.sink = sink
        self.positions = positions
        self.accept = accept
        self.client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(30.0), follow_redirects=True, headers={"User-Agent": USER_AGENT}
        )
        self.clock = clock
        self.schedules = {str(url): FeedSchedule(Failures(config.name)) for url in config.urls}

    @property
    def name(self) -> str:
        return self.config.name

    async def run(self) -> None:
        """Poll each URL when it is due, forever (stop by cancelling, then `aclose`)."""
        metrics.source_configured(self.name, "feed")
        while True:
            now = self.clock()
            for url, schedule in self.schedules.items():
                if schedule.due <= now:
                    await self.poll_url(url)
            await asyncio.sleep(max(0.05, min(s.due for s in self.schedules.values()) - self.clock()))

    async def aclose(self) -> None:
        await self.client.aclose()

    async def poll(self) -> int:
        """Every URL once; the posts sent. A failure raises (the test command reports it)."""
        return sum([await self.fetch_and_send(url) for url in self.schedules])

    async def poll_url(self, url: str) -> int:
        schedule = self.schedules[url]
        try:
            sent = await self.fetch_and_send(url)
        except Exception as caught:
            # Whatever one feed does (a bad date, a full spool), the others keep their schedule.
            exc = caught if isinstance(caught, FeedError) else FeedError("error", type(caught).__name__)
            if not isinstance(caught, FeedError):
                log.exception("source %s: %s failed", self.name, without_secrets(url))
            schedule.due = self.clock() + schedule.retries.failed(exc, without_secrets(url))
            return 0
        schedule.retries.succeeded()
        schedule.due = self.clock() + self.config.poll_seconds
        return sent

    async def fetch_and_send(self, url: str) -> int:
        state = FeedState.from_json(await self.positions.get(self.name, url))
        document = await self.fetch(url, state)
        if document is None:  # 304: nothing new
            return 0
        content, etag, modified = document
        parsed = await asyncio.to_thread(feedparser.parse, content)
        if not parsed.get("entries") and (parsed.get("bozo") or not parsed.get("version")):
            # An empty feed is fine; an error page or broken XML in its place is not.
            reason = parsed.get("bozo_exception") or "no RSS or Atom document"
            raise FeedError("not_a_feed", f"not a feed: {reason}")
        received = datetime.now(UTC)
        seen = set(state.seen)
        fresh: list[tuple[str, dict[str, Any]]] = []
        for entry in parsed.get("entries", []):
            key = seen_key(entry)
            if key in seen:
                continue
            post = article_post(entry, parsed.get("feed", {}), url, received)
            if not post["id"] or self.accept(post["text"]):
                fresh.append((key, post))
            seen.add(key)
            state.seen.append(key)
        # Oldest first: detectors count in event time.
        fresh.sort(key=lambda pair: str(pair[1]["created_at"]))
        sent = 0
        if fresh:
            sent = await self.sink.send_many(make_envelope(post, source=self.name) for _, post in fresh)
        # Only after the spool has them: a crash before this line repeats (deduplicated), never loses.
        state.etag, state.modified = etag, modified
        await self.positions.put(self.name, url, state.to_json())
        return sent

    async def fetch(self, url: str, state: FeedState) -> tuple[bytes, str, str] | None:
        headers = {}
        if state.etag:
            headers["If-None-Match"] = state.etag
        if state.modified:
            headers["If-Modified-Since"] = state.modified
        try:
            async with self.client.stream("GET", url, headers=headers) as response:
                if response.status_code == 304:
                    return None
                if response.status_code in (429, 503):
                    raise FeedError(
                        "http",
                        f"HTTP {response.status_code}",
                        retry_after_seconds(response.headers.get("Retry-After")),
                    )
                if response.status_code in (401, 403):
                    raise FeedError("auth", f"HTTP {response.status_code}")
                if response.status_code >= 400:
                    raise FeedError("http", f"HTTP {response.status_code}")
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > MAX_FEED_BYTES:
                        raise FeedError("not_a_feed", f"larger than {MAX_FEED_BYTES // 2**20} MiB")
                    chunks.append(chunk)
                return (
                    b"".join(chunks),
                    response.headers.get("ETag", ""),
                    response.headers.get("Last-Modified", ""),
                )
        except httpx.HTTPError as exc:
            raise FeedError("network", f"{type(exc).__name__}: {exc}") from None


def keyword_filter(
    keywords: Sequence[str], also: Callable[[str], bool] | None = None
) -> Callable[[str], bool]:
    """True for a text naming one of `keywords` (case-insensitive, whole words) or passing `also`."""
    import regex

    pattern = (
        regex.compile(
            r"(?<!\w)(?:" + "|".join(regex.escape(k) for k in keywords) + r")(?!\w)", regex.IGNORECASE
        )
        if keywords
        else None
    )

    def accept(text: str) -> bool:
        return bool((pattern is not None and pattern.search(text)) or (also is not None and also(text)))

    return accept
