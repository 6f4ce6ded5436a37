"""Mastodon, Telegram, X and YouTube connectors on loopback: posts/s each takes in, and memory.

Each connector reads `--posts` posts from a loopback server speaking its platform's wire format
(Mastodon: a Server-Sent Events stream; Telegram: getUpdates pages of 100; X: the filtered stream's
newline-delimited JSON; YouTube: comment-thread pages of 100), every post passing the filter, into
a counting sink with its position saved as in production. Baseline in the same run: orjson alone
parsing the same payloads. Prints one JSON object.

    .venv/bin/python bench/live_sources.py --posts 20000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from config.sources import MastodonSource, TelegramBotSource, XSource, YouTubeSource
from pantau.metrics import process_rss
from storage.positions import Positions
from streams.connectors.mastodon import MastodonConnector
from streams.connectors.telegram import TelegramBotConnector
from streams.connectors.x import XConnector
from streams.connectors.youtube import YouTubeConnector

TEXT = "Pak Raka bicara soal harga beras di pasar, warga menanggapi dengan beragam pendapat nomor {n}"


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


class Server:
    def __init__(self, handle: Callable[[BaseHTTPRequestHandler, str, dict[str, list[str]]], None]) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                handle(self, url.path, parse_qs(url.query))

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"


def send_json(handler: BaseHTTPRequestHandler, body: Any) -> None:
    data = orjson.dumps(body)
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def send_lines(handler: BaseHTTPRequestHandler, lines: Iterable[bytes]) -> None:
    handler.send_response(200)
    handler.send_header("Connection", "close")
    handler.end_headers()
    for line in lines:
        handler.wfile.write(line)
    handler.close_connection = True


class CountingSink:
    def __init__(self) -> None:
        self.posts = 0

    async def send_many(self, values: Iterable[bytes]) -> int:
        count = sum(1 for _ in values)
        self.posts += count
        return count


async def timed(read: Callable[[], Any], sink: CountingSink, posts: int) -> float:
    started = time.perf_counter()
    with contextlib.suppress(Exception):  # a stream that ends raises: what was read counts
        await read()
    took = time.perf_counter() - started
    assert sink.posts == posts, (sink.posts, posts)
    return took


async def measure(posts: int) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="pantau-sources-bench-"))
    accept: Callable[[str], bool] = lambda text: True  # noqa: E731
    results: dict[str, Any] = {"posts": posts}
    rss_start = process_rss(os.getpid()) or 0

    payloads = {
        "mastodon": [status(n) for n in range(posts)],
        "telegram": [update(n) for n in range(posts)],
        "x": [tweet_line(n) for n in range(posts)],
        "youtube": [comment(n) for n in range(posts)],
    }
    encoded = {name: [orjson.dumps(p) for p in items] for name, items in payloads.items()}
    for name, items in encoded.items():
        started = time.perf_counter()
        for item in items:
            orjson.loads(item)
        results[f"{name}_orjson_alone_per_s"] = round(posts / (time.perf_counter() - started), 1)

    # Mastodon: the SSE stream.
    sse = [b"event: update\ndata: " + item + b"\n\n" for item in encoded["mastodon"]]
    mastodon = Server(lambda h, path, q: send_lines(h, sse) if "streaming" in path else send_json(h, []))
    sink = CountingSink()
    config = MastodonSource.model_validate({"name": "m", "kind": "mastodon", "instance": mastodon.url})
    connector = MastodonConnector(config, sink, Positions(folder / "m.sqlite3"), accept, ("pemilu",))
    took = await timed(lambda: connector.stream(connector.timelines[0]), sink, posts)
    results["mastodon_stream_posts_per_s"] = round(posts / took, 1)
    await connector.aclose()

    # Telegram: getUpdates pages of 100 from the saved offset.
    updates = payloads["telegram"]

    def telegram(h: BaseHTTPRequestHandler, path: str, q: dict[str, list[str]]) -> None:
        offset = int(q.get("offset", ["0"])[0])
        send_json(
            h, {"ok": True, "result": [u for u in updates[max(0, offset - 1) : max(0, offset - 1) + 100]]}
        )

    bot = Server(telegram)
    sink = CountingSink()
    tg_config = TelegramBotSource.model_validate(
        {"name": "t", "kind": "telegram_bot", "token": "1:" + "a" * 30, "api": bot.url, "poll_seconds": 1}
    )
    tg = TelegramBotConnector(tg_config, sink, Positions(folder / "t.sqlite3"), accept)

    async def all_updates() -> None:
        while sink.posts < posts:
            await tg.fetch_and_send(0)

    took = await timed(all_updates, sink, posts)
    results["telegram_posts_per_s"] = round(posts / took, 1)
    await tg.aclose()

    # X: the filtered stream.
    ndjson = [item + b"\r\n" for item in encoded["x"]]
    x_server = Server(lambda h, path, q: send_lines(h, ndjson))
    sink = CountingSink()
    x_config = XSource.model_validate(
        {"name": "x", "kind": "x", "bearer_token": "A" * 30, "api": x_server.url}
    )
    x = XConnector(x_config, sink, Positions(folder / "x.sqlite3"), accept, {})
    took = await timed(x.stream, sink, posts)
    results["x_stream_posts_per_s"] = round(posts / took, 1)
    await x.aclose()

    # YouTube: comment-thread pages of 100, newest first, on a video read before.
    threads = list(reversed(payloads["youtube"]))

    def youtube(h: BaseHTTPRequestHandler, path: str, q: dict[str, list[str]]) -> None:
        start = int(q.get("pageToken", ["0"])[0])
        body: dict[str, Any] = {"items": threads[start : start + 100]}
        if start + 100 < len(threads):
            body["nextPageToken"] = str(start + 100)
        send_json(h, body)

    yt_server = Server(youtube)
    sink = CountingSink()
    yt_config = YouTubeSource.model_validate(
        {"name": "y", "kind": "youtube", "api_key": "K" * 30, "api": yt_server.url, "daily_quota": 1_000_000}
    )
    yt = YouTubeConnector(yt_config, sink, Positions(folder / "y.sqlite3"), accept, "q")
    import streams.connectors.youtube as youtube_module

    youtube_module.MAX_COMMENT_PAGES = posts // 100 + 1  # one read of every page
    took = await timed(lambda: yt.read_video("v1", {"newest": "none-yet"}), sink, posts)
    results["youtube_posts_per_s"] = round(posts / took, 1)
    await yt.aclose()

    results["rss_mb_before"] = round(rss_start / 2**20, 1)
    results["rss_mb_after"] = round((process_rss(os.getpid()) or 0) / 2**20, 1)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=20_000)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args.posts)), indent=2))


if __name__ == "__main__":
    main()
