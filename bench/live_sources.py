"""Mastodon, Telegram, X and YouTube connectors on loopback: posts/s each takes in, how long each takes
to come back after its server was away, and memory.

Each connector reads `--posts` posts from a loopback server speaking its platform's wire format
(Mastodon: a Server-Sent Events stream; Telegram: getUpdates pages of 100; X: the filtered stream's
newline-delimited JSON; YouTube: comment-thread pages of 100), every post passing the filter, into
a counting sink with its position saved as in production. Prints one JSON object, per connector:

- posts/s, against orjson alone parsing the same payloads in the same run (the floor: the ratio is
  what the connector adds around the parser);
- the peak of memory allocated while it reads the same posts again from a fresh position
  (tracemalloc; the loopback server runs in this process and counts too);
- how long it is away: its own `run()` loop, as in production, takes a first post; then the server
  goes away (an open stream is dropped, every request is answered 503) and stays away until
  `--down-seconds` after the connector's first failure; then it serves one new post. Seconds from
  the server's return to that post reaching the sink, with the failures and the waits the connector
  chose (from its log). Mastodon, Telegram and YouTube wait 5 s doubling, times a random factor in
  [0.5, 1.5); X follows its documented schedule, without randomness: 0.25 s times the failures for
  network errors (a dropped stream), 5 s doubling for HTTP errors. YouTube polls every 6 s (its
  shortest `poll_minutes`), so its first failure comes at its next poll;
- RSS of this process before and after.

    .venv/bin/python bench/live_sources.py --posts 20000 [--down-seconds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson

import streams.connectors.youtube as youtube_module
from config.sources import MastodonSource, TelegramBotSource, XSource, YouTubeSource
from pantau.metrics import process_rss
from storage.positions import Positions
from streams.connectors.mastodon import MastodonConnector
from streams.connectors.telegram import TelegramBotConnector
from streams.connectors.x import XConnector
from streams.connectors.youtube import YouTubeConnector
from tests.integration.sources_harness import (
    CountingSink,
    LoopbackServer,
    Reply,
    Request,
    json_reply,
    sse_event,
    stream_reply,
)

TOKEN = "1:" + "a" * 30
TEXT = "Pak Raka bicara soal harga beras di pasar, warga menanggapi dengan beragam pendapat nomor {n}"


class Connector(Protocol):
    async def run(self) -> None: ...

    async def aclose(self) -> None: ...


def accept(text: str) -> bool:
    return True


def status(n: int) -> dict[str, Any]:
    return {
        "id": str(n + 1),
        "uri": f"https://s.example/u/{n % 500}/statuses/{n}",
        "created_at": "2026-11-20T08:00:00Z",
        "content": f"<p>{TEXT.format(n=n)}</p>",
        "account": {"id": str(n % 500), "acct": f"u{n % 500}"},
    }


def update(n: int) -> dict[str, Any]:
    message = {
        "message_id": n + 1,
        "date": 1_795_000_000 + n,
        "chat": {"id": -100, "type": "supergroup"},
        "from": {"id": n % 500},
        "text": TEXT.format(n=n),
    }
    return {"update_id": n + 1, "message": message}


def tweet_line(n: int) -> dict[str, Any]:
    tweet = {"id": str(10_000 + n), "text": TEXT.format(n=n), "author_id": str(n % 500)}
    tweet["created_at"] = "2026-11-20T08:00:00.000Z"
    return {"data": tweet, "includes": {"users": [{"id": str(n % 500), "username": "u"}]}}


def comment(n: int) -> dict[str, Any]:
    snippet = {
        "textOriginal": TEXT.format(n=n),
        "authorChannelId": {"value": f"UC{n % 500}"},
        "publishedAt": "2026-11-20T08:00:00Z",
    }
    return {
        "id": f"t{n}",
        "snippet": {"videoId": "v1", "topLevelComment": {"id": f"c{n}", "snippet": snippet}},
    }


class Platform(LoopbackServer):
    """One platform's server, serving `posts` while up; down, it drops an open stream and answers
    every request 503. With `hold`, a stream stays open after its posts until the server goes down."""

    name: str
    rate_key: str  # posts/s, under the name the bench has always printed it
    payload: Callable[[int], dict[str, Any]]
    backoff: str

    def __init__(self, posts: list[dict[str, Any]], hold: bool = False) -> None:
        super().__init__()
        self.posts = posts
        self.hold = hold
        self.down = threading.Event()

    def answer(self, request: Request) -> Reply:
        return Reply(503) if self.down.is_set() else self.serve(request)

    def serve(self, request: Request) -> Reply:
        raise NotImplementedError

    def publish(self, post: dict[str, Any]) -> None:
        self.posts.append(post)

    def connector(self, sink: CountingSink, positions: Positions) -> Connector:
        raise NotImplementedError

    async def read_all(self, connector: Any, sink: CountingSink, posts: int) -> None:
        """Read every post once, without the connector's `run()` loop."""
        raise NotImplementedError


class StreamPlatform(Platform):
    """A stream: each connection is sent the posts not sent before, encoded once, as they come."""

    def __init__(self, posts: list[dict[str, Any]], hold: bool = False) -> None:
        super().__init__([], hold)
        self.chunks: list[bytes] = []
        self.sent = 0
        for post in posts:
            self.publish(post)

    def publish(self, post: dict[str, Any]) -> None:
        self.chunks.append(self.encode(orjson.dumps(post)))

    def encode(self, payload: bytes) -> bytes:
        raise NotImplementedError

    def unsent(self) -> Iterator[bytes]:
        start, self.sent = self.sent, len(self.chunks)
        return self.held(self.chunks[start:])

    def held(self, chunks: list[bytes]) -> Iterator[bytes]:
        yield from chunks
        if self.hold:
            self.down.wait()  # then the connection is dropped


class Mastodon(StreamPlatform):
    name, rate_key = "mastodon", "mastodon_stream_posts_per_s"
    payload = staticmethod(status)
    backoff = "5 s doubling, times a random factor in [0.5, 1.5)"

    def encode(self, payload: bytes) -> bytes:
        return sse_event("update", payload)

    def serve(self, request: Request) -> Reply:
        if "streaming" in request.path:
            return stream_reply(self.unsent(), "text/event-stream")
        return json_reply([])  # the catch-up over REST: nothing missed

    def connector(self, sink: CountingSink, positions: Positions) -> MastodonConnector:
        config = MastodonSource.model_validate({"name": "m", "kind": "mastodon", "instance": self.url})
        return MastodonConnector(config, sink, positions, accept, ("pemilu",))

    async def read_all(self, connector: MastodonConnector, sink: CountingSink, posts: int) -> None:
        await connector.stream(connector.timelines[0])


class Telegram(Platform):
    """getUpdates pages of 100 from the offset, held up to `timeout` seconds while there is none."""

    name, rate_key = "telegram", "telegram_posts_per_s"
    payload = staticmethod(update)
    backoff = "5 s doubling, times a random factor in [0.5, 1.5)"

    def serve(self, request: Request) -> Reply:
        start = max(0, int(request.query.get("offset", ["0"])[0]) - 1)
        deadline = time.monotonic() + float(request.query.get("timeout", ["0"])[0])
        while not (fresh := self.posts[start : start + 100]) and time.monotonic() < deadline:
            if self.down.wait(0.01):
                return Reply(503)
        return json_reply({"ok": True, "result": fresh})

    def connector(self, sink: CountingSink, positions: Positions) -> TelegramBotConnector:
        config = TelegramBotSource.model_validate(
            {"name": "t", "kind": "telegram_bot", "token": TOKEN, "api": self.url, "poll_seconds": 1}
        )
        return TelegramBotConnector(config, sink, positions, accept)

    async def read_all(self, connector: TelegramBotConnector, sink: CountingSink, posts: int) -> None:
        while sink.posts < posts:
            await connector.fetch_and_send(0)


class X(StreamPlatform):
    name, rate_key = "x", "x_stream_posts_per_s"
    payload = staticmethod(tweet_line)
    backoff = "0.25 s x failures for network errors, 5 s doubling for HTTP errors (not random)"

    def encode(self, payload: bytes) -> bytes:
        return payload + b"\r\n"

    def serve(self, request: Request) -> Reply:
        if request.path == "/2/tweets/search/stream":
            return stream_reply(self.unsent())
        if request.method == "POST":
            return json_reply({"meta": {}}, 201)  # the rules, added
        return json_reply({"meta": {"result_count": 0}})  # no rules yet; nothing missed

    def connector(self, sink: CountingSink, positions: Positions) -> XConnector:
        config = XSource.model_validate({"name": "x", "kind": "x", "bearer_token": "A" * 30, "api": self.url})
        return XConnector(config, sink, positions, accept, {"pantau:raka": "(Raka)"})

    async def read_all(self, connector: XConnector, sink: CountingSink, posts: int) -> None:
        await connector.stream()


class YouTube(Platform):
    """One video, its comment threads newest first in pages of 100."""

    name, rate_key = "youtube", "youtube_posts_per_s"
    payload = staticmethod(comment)
    backoff = "5 s doubling, times a random factor in [0.5, 1.5)"

    def __init__(self, posts: list[dict[str, Any]], hold: bool = False) -> None:
        super().__init__(list(reversed(posts)), hold)

    def publish(self, post: dict[str, Any]) -> None:
        self.posts.insert(0, post)

    def serve(self, request: Request) -> Reply:
        if request.path.endswith("/search"):
            return json_reply({"items": [{"id": {"kind": "youtube#video", "videoId": "v1"}}]})
        start = int(request.query.get("pageToken", ["0"])[0])
        body: dict[str, Any] = {"items": self.posts[start : start + 100]}
        if start + 100 < len(self.posts):
            body["nextPageToken"] = str(start + 100)
        return json_reply(body)

    def connector(self, sink: CountingSink, positions: Positions) -> YouTubeConnector:
        config = YouTubeSource.model_validate(
            {
                "name": "y",
                "kind": "youtube",
                "api_key": "K" * 30,
                "api": self.url,
                "daily_quota": 1_000_000,
                "poll_minutes": 0.1,
            }
        )
        return YouTubeConnector(config, sink, positions, accept, "q")

    async def read_all(self, connector: YouTubeConnector, sink: CountingSink, posts: int) -> None:
        production = youtube_module.MAX_COMMENT_PAGES
        youtube_module.MAX_COMMENT_PAGES = posts // 100 + 1  # one read of every page, on a video read before
        try:
            await connector.read_video("v1", {"newest": "none-yet"})
        finally:
            youtube_module.MAX_COMMENT_PAGES = production


PLATFORMS: tuple[type[Platform], ...] = (Mastodon, Telegram, X, YouTube)


class Waits(logging.Handler):
    """The failures the connectors log, with the wait each chose (the last argument of its line)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.failures: list[tuple[str, float]] = []

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        if "again in" in str(record.msg) and isinstance(args[-1], int | float):
            self.failures.append((str(args[-2]), float(args[-1])))


async def read_once(
    kind: type[Platform], payloads: list[dict[str, Any]], positions: Positions, traced: bool = False
) -> tuple[float, int]:
    """Seconds to read every post, and the peak of memory allocated meanwhile when `traced`."""
    sink = CountingSink()
    with kind(payloads) as server:
        connector = server.connector(sink, positions)
        if traced:
            tracemalloc.start()
        started = time.perf_counter()
        with contextlib.suppress(Exception):  # a stream that ends raises: what was read counts
            await server.read_all(connector, sink, len(payloads))
        took = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] if traced else 0
        tracemalloc.stop()
        await connector.aclose()
    assert sink.posts == len(payloads), (sink.posts, len(payloads))
    return took, peak


async def until(check: Callable[[], object], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} after {seconds} s")
        await asyncio.sleep(0.01)


async def away(kind: type[Platform], positions: Positions, down: float, waits: Waits) -> dict[str, Any]:
    """The connector's `run()` takes a first post, the server goes away, comes back with a new one."""
    sink = CountingSink()
    with kind([kind.payload(0)], hold=True) as server:
        connector = server.connector(sink, positions)
        task = asyncio.create_task(connector.run())
        try:
            await until(lambda: sink.posts, 30, "first post")
            waits.failures.clear()
            went = time.perf_counter()
            server.down.set()
            await until(lambda: waits.failures, 30, "failure logged")
            await asyncio.sleep(down)
            server.publish(kind.payload(1))
            sink.arrived.clear()
            back = time.perf_counter()
            server.down.clear()
            await asyncio.wait_for(sink.arrived.wait(), 120)
            arrived = time.perf_counter()
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            server.down.set()  # lets a stream still held open end
            await connector.aclose()
    return {
        "server_away_s": round(back - went, 2),
        "reconnect_s_after_server_back": round(arrived - back, 2),
        "failures": [failure for failure, _ in waits.failures],
        "backoff_waits_s": [round(wait, 2) for _, wait in waits.failures],
        "backoff": kind.backoff,
    }


async def measure(posts: int, down_seconds: float) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="pantau-sources-bench-"))
    results: dict[str, Any] = {"posts": posts, "down_seconds_after_first_failure": down_seconds}
    rss_start = process_rss(os.getpid()) or 0
    waits = Waits()
    connectors_log = logging.getLogger("streams.connectors")
    connectors_log.addHandler(waits)

    payloads = {kind.name: [kind.payload(n) for n in range(posts)] for kind in PLATFORMS}
    encoded = {name: [orjson.dumps(p) for p in items] for name, items in payloads.items()}
    orjson_alone: dict[str, float] = {}
    for name, items in encoded.items():
        started = time.perf_counter()
        for item in items:
            orjson.loads(item)
        orjson_alone[name] = time.perf_counter() - started
        results[f"{name}_orjson_alone_per_s"] = round(posts / orjson_alone[name], 1)

    for kind in PLATFORMS:
        name = kind.name
        took, _ = await read_once(kind, payloads[name], Positions(folder / f"{name}.sqlite3"))
        results[kind.rate_key] = round(posts / took, 1)
        results[f"{name}_vs_orjson_alone"] = round(orjson_alone[name] / took, 5)
        _, peak = await read_once(kind, payloads[name], Positions(folder / f"{name}-traced.sqlite3"), True)
        results[f"{name}_tracemalloc_peak_mb"] = round(peak / 2**20, 2)
        reconnect = await away(kind, Positions(folder / f"{name}-away.sqlite3"), down_seconds, waits)
        results.update({f"{name}_{key}": value for key, value in reconnect.items()})

    connectors_log.removeHandler(waits)
    results["rss_mb_before"] = round(rss_start / 2**20, 1)
    results["rss_mb_after"] = round((process_rss(os.getpid()) or 0) / 2**20, 1)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=20_000)
    parser.add_argument(
        "--down-seconds", type=float, default=2.0, help="how long the server stays away after a first failure"
    )
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args.posts, args.down_seconds)), indent=2))


if __name__ == "__main__":
    main()
