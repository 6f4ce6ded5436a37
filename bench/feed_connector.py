"""The news feed connector on loopback: how fast it takes articles in, what an unchanged feed costs,
how long it takes to come back after the feed server was down, and its memory.

A loopback HTTP server serves `--feeds` RSS documents of `--items` articles each (every one naming a
watchlist target). Prints one JSON object:

- posts/s through a first poll of every feed (fetch, parse, filter, envelope, sink), against
  feedparser alone parsing the same documents in the same run (the floor: the ratio is what the
  connector adds around the parser);
- seconds for a poll of every feed when each answers 304 (ETag), and when a server ignores
  conditional requests and every article is recognised as seen;
- seconds from the feed server coming back (after `--down-seconds` of 503s) to the first posts sent
  again, with the connector's own backoff (5 s, doubling, jittered);
- RSS of this process before and after, and its growth per remembered article.

    .venv/bin/python bench/feed_connector.py --feeds 20 --items 200
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import feedparser

from config.sources import FeedSource
from pantau.metrics import process_rss
from storage.positions import Positions
from streams.connectors.feeds import FeedConnector, keyword_filter
from tests.integration.sources_harness import CountingSink, LoopbackServer, Reply, Request

NAMES = ["Raka Wibisana", "Sari Lestari", "Bima Hartono"]


def document(feed: int, items: int) -> bytes:
    body = "".join(
        f"<item><guid>f{feed}-{i}</guid><title>{NAMES[i % 3]} dan isu {i} di daerah {feed}</title>"
        f"<link>https://news.example/{feed}/{i}</link><description><![CDATA[<p>Ringkasan berita "
        f"nomor {i}: <b>warga</b> menanggapi kebijakan baru dengan beragam pendapat.</p>]]></description>"
        f"<pubDate>Fri, 20 Nov 2026 {i % 24:02d}:{i % 60:02d}:00 +0700</pubDate></item>"
        for i in range(items)
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Feed {feed}</title>'
        f"<language>id</language>{body}</channel></rss>"
    ).encode()


class Server(LoopbackServer):
    def __init__(self, documents: dict[str, bytes]) -> None:
        super().__init__()
        self.documents = documents
        self.honour_etag = True
        self.down = False

    def answer(self, request: Request) -> Reply:
        if self.down:
            return Reply(503)
        etag = f'"{request.path}"'
        if self.honour_etag and request.headers.get("if-none-match") == etag:
            return Reply(304)
        return Reply(200, self.documents[request.path], {"ETag": etag})


async def measure(feeds: int, items: int, down_seconds: float) -> dict[str, Any]:
    documents = {f"/feed{f}.xml": document(f, items) for f in range(feeds)}
    server = Server(documents).start()
    rss_start = process_rss(os.getpid()) or 0

    started = time.perf_counter()
    for body in documents.values():
        feedparser.parse(body)
    parse_only = time.perf_counter() - started

    folder = Path(tempfile.mkdtemp(prefix="pantau-feed-bench-"))
    sink = CountingSink()
    config = FeedSource.model_validate(
        {"name": "bench", "kind": "feed", "urls": [f"{server.url}{p}" for p in documents]}
    )
    accept = keyword_filter(NAMES)
    connector = FeedConnector(config, sink, Positions(folder / "positions.sqlite3"), accept)
    started = time.perf_counter()
    await connector.poll()
    first = time.perf_counter() - started
    assert sink.posts == feeds * items, sink.posts

    started = time.perf_counter()
    assert await connector.poll() == 0
    unchanged_304 = time.perf_counter() - started
    server.honour_etag = False
    started = time.perf_counter()
    assert await connector.poll() == 0
    unchanged_seen = time.perf_counter() - started
    rss_end = process_rss(os.getpid()) or 0

    # Down, then back: the time from the server's return to the first article sent again.
    path = next(iter(documents))
    documents[path] = document(10_000, 1)  # one article it has not seen
    server.down = True
    loop_task = asyncio.create_task(connector.run())
    await asyncio.sleep(down_seconds)
    sink.arrived.clear()
    back = time.perf_counter()
    server.down = False
    await sink.arrived.wait()
    reconnect = time.perf_counter() - back
    loop_task.cancel()
    await asyncio.gather(loop_task, return_exceptions=True)
    await connector.aclose()
    server.close()

    posts = feeds * items
    return {
        "feeds": feeds,
        "articles_per_feed": items,
        "first_poll_posts_per_s": round(posts / first, 1),
        "feedparser_alone_posts_per_s": round(posts / parse_only, 1),
        "connector_vs_feedparser_alone": round(parse_only / first, 3),
        "poll_all_unchanged_304_s": round(unchanged_304, 4),
        "poll_all_unchanged_no_etag_s": round(unchanged_seen, 3),
        "server_down_s": down_seconds,
        "reconnect_s_after_server_back": round(reconnect, 2),
        "rss_mb_before": round(rss_start / 2**20, 1),
        "rss_mb_after": round(rss_end / 2**20, 1),
        "rss_kb_per_remembered_article": round((rss_end - rss_start) / 1024 / posts, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=20)
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--down-seconds", type=float, default=3.0)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args.feeds, args.items, args.down_seconds)), indent=2))


if __name__ == "__main__":
    main()
