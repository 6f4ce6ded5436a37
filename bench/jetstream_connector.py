"""The Bluesky (Jetstream) connector on loopback: how fast it takes a firehose in, how long it is
away after the server drops it, and its memory.

A loopback WebSocket server sends `--frames` Jetstream events as fast as the socket takes them, a
`--match` share of them naming a watchlist target. Prints one JSON object:

- events/s and posts/s through the connector (parse, filter, envelope, sink, cursor saved),
  against orjson alone parsing the same frames in the same run (the floor);
- seconds from the server dropping the connection to the connector reading again (its backoff:
  5 s doubling, jittered), resuming from the saved cursor;
- RSS of this process before and after.

    .venv/bin/python bench/jetstream_connector.py --frames 50000
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

import orjson
from websockets.asyncio.server import ServerConnection, serve

from config.sources import BlueskySource
from pantau.metrics import process_rss
from storage.positions import Positions
from streams.connectors.bluesky import JetstreamConnector
from streams.connectors.feeds import keyword_filter
from tests.integration.sources_harness import CountingSink


def frame(i: int, match: float) -> str:
    named = (i % 100) < match * 100
    text = f"Pak Raka bicara soal isu {i}" if named else f"makan siang enak banget hari ini {i}"
    return json.dumps(
        {
            "did": f"did:plc:{i % 5000:024d}",
            "time_us": 1_700_000_000_000_000 + i,
            "kind": "commit",
            "commit": {
                "operation": "create",
                "collection": "app.bsky.feed.post",
                "rkey": f"r{i}",
                "record": {"text": text, "createdAt": "2026-11-20T08:00:00Z", "langs": ["id"]},
            },
        }
    )


async def measure(frames: int, match: float) -> dict[str, Any]:
    script = [frame(i, match) for i in range(frames)]
    started = time.perf_counter()
    for text in script:
        orjson.loads(text)
    parse_only = time.perf_counter() - started
    expected = sum(1 for i in range(frames) if (i % 100) < match * 100)
    connections: list[str] = []
    rounds = [script, [frame(frames, 1.0)]]

    async def handler(connection: ServerConnection) -> None:
        connections.append(connection.request.path if connection.request else "")
        for text in rounds.pop(0) if rounds else []:
            await connection.send(text)
        await connection.close()

    rss_start = process_rss(os.getpid()) or 0
    async with serve(handler, "127.0.0.1", 0, max_size=2**20) as server:
        port = server.sockets[0].getsockname()[1]
        sink = CountingSink()
        config = BlueskySource.model_validate(
            {"name": "bench", "kind": "bluesky", "endpoint": f"ws://127.0.0.1:{port}/subscribe"}
        )
        folder = Path(tempfile.mkdtemp(prefix="pantau-jetstream-bench-"))
        connector = JetstreamConnector(
            config, sink, Positions(folder / "p.sqlite3"), keyword_filter(["Raka"])
        )
        task = asyncio.create_task(connector.run())
        started = time.perf_counter()
        while sink.posts < expected:
            sink.arrived.clear()
            await sink.arrived.wait()
        took = time.perf_counter() - started
        rss_end = process_rss(os.getpid()) or 0
        # The server has closed: time until the next connection has read the one new event.
        dropped = time.perf_counter()
        sink.arrived.clear()
        await sink.arrived.wait()
        away = time.perf_counter() - dropped
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return {
        "frames": frames,
        "posts_passing_filter": expected,
        "events_per_s": round(frames / took, 1),
        "posts_per_s": round(expected / took, 1),
        "orjson_alone_events_per_s": round(frames / parse_only, 1),
        "connector_vs_orjson_alone": round(parse_only / took, 3),
        "seconds_away_after_a_drop": round(away, 2),
        "resumed_with_cursor": connections[-1].rsplit("cursor=", 1)[-1]
        if "cursor=" in connections[-1]
        else None,
        "rss_mb_before": round(rss_start / 2**20, 1),
        "rss_mb_after": round(rss_end / 2**20, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=50_000)
    parser.add_argument("--match", type=float, default=0.1, help="share of posts naming a target")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args.frames, args.match)), indent=2))


if __name__ == "__main__":
    main()
