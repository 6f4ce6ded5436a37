"""Posts per second through the whole skeleton, against baselines measured in the same run.

Everything runs on the real engines (Tansu broker, Valkey, chdb), in one process, as `pantau up`
runs it. N posts are written to `posts.raw` first; then the worker starts and the clock runs from
the first stored row to the last (steady state; the consumer-group join is reported apart).

Baselines, same posts, same machine, same run:
- faust pass-through: one Faust agent copying `posts.raw` to another topic with the same
  ack-after-send batching, i.e. the cost of one hop on this broker;
- clickhouse insert: the same posts, already enriched, written straight through the repository
  in 1,000-row batches (duplicate check included), i.e. the storage floor;
- without the issue layer: the pipeline again, to the end of its last stage (every post through
  detection and the issue stage), with an issue stage that only counts what it reads: the ratio is
  what the issue layer costs the whole pipeline.

    .venv/bin/python bench/pipeline_throughput.py [--posts 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import faust
from redis.asyncio import Redis

from config.settings import load_settings
from config.watchlist import load_watchlist
from detectors.issues import IssueEvent, IssueInput, IssueTracker
from nlp.models import build_classifier
from pantau import bus
from pantau.domain import EnrichedPost, utcnow
from pantau.normalise import make_envelope, normalise
from service.engines import TansuBroker, ValkeyServer
from service.runtime import make_pipeline
from storage.client import open_client
from storage.migrate import Migrator
from storage.repository import ClickHouseStore
from streams.app import build_agents, faust_app

TEXTS = [
    "Pak Raka hebat, program Kartu Pangan Digital bagus sekali #KPD",
    "Data penerima KPD bocor?! kecewa banget sama pemerintah #KPDBocor",
    "Bu Sari tegas di debat tadi malam, mantap #DebatCapres",
    "Macet parah di Sudirman pagi ini, hati-hati ya",
    "The electricity subsidy reform is a mess, PRB should reject it",
]


def make_posts(n: int, tag: str) -> list[dict[str, Any]]:
    start = datetime(2026, 11, 20, 8, tzinfo=UTC)
    return [
        {
            "platform": "x",
            "id": f"{tag}{i}",
            "created_at": (start + timedelta(milliseconds=200 * i)).isoformat(),
            "author": {"id": f"u{i % 5000}", "handle": f"warga_{i % 5000}"},
            "text": f"{TEXTS[i % len(TEXTS)]} ({i})",
        }
        for i in range(n)
    ]


async def produce(brokers: str, posts: list[dict[str, Any]]) -> None:
    producer = bus.RawProducer(brokers)
    await producer.start()
    try:
        for i in range(0, len(posts), 5000):
            await producer.send_many(make_envelope(p, source="bench") for p in posts[i : i + 5000])
    finally:
        await producer.stop()


class CountingOnly(IssueTracker):
    """The issue stage without the issue layer: it reads its records and counts the posts."""

    def read(self, item: IssueInput) -> list[IssueEvent]:
        self.seen += len(item.posts)
        return []


async def pipeline_run(
    settings: Any, store: ClickHouseStore, n: int, *, issues: bool = True
) -> tuple[float, float, float]:
    """Group join and start; the steady state until every post is stored; and until every post
    has also been through detection and the issue stage (the last stage)."""
    redis = Redis.from_url(settings.redis_url)
    app = faust_app(settings)
    pipe = make_pipeline(settings, store, redis)
    if not issues:
        pipe.issues.factory = CountingOnly
    build_agents(app, pipe)
    started = time.perf_counter()
    await app.start()
    first = stored = None
    while True:
        count = int(store.client.command("SELECT count() FROM posts"))
        if count and first is None:
            first = time.perf_counter()
        if count >= n and stored is None:
            stored = time.perf_counter()
        tracker = pipe.issues.tracker
        if stored is not None and tracker is not None and tracker.seen >= n:
            break
        await asyncio.sleep(0.05)
    done = time.perf_counter()
    await app.stop()
    await redis.aclose()
    assert first is not None and stored is not None
    return first - started, stored - first, done - first


async def passthrough_run(settings: Any, n: int) -> float:
    app = faust.App(
        "bench-passthrough",
        broker=f"kafka://{settings.kafka_brokers}",
        store="memory://",
        web_enabled=False,
        processing_guarantee="at_least_once",
        topic_replication_factor=1,
        broker_session_timeout=6,
        broker_heartbeat_interval=1,
        broker_rebalance_timeout=6,
        consumer_auto_offset_reset="earliest",
        autodiscover=False,
    )
    source = app.topic(bus.RAW, value_serializer="raw", key_serializer="raw")
    sink = app.topic("bench.sink", value_serializer="raw", key_serializer="raw")
    copied = 0
    first: float | None = None
    finished = asyncio.Event()

    @app.agent(source)
    async def copy(stream: Any) -> None:
        nonlocal copied, first
        async for events in stream.noack_take(
            settings.enrich_batch_size * 4, within=settings.enrich_batch_seconds
        ):
            if first is None:
                first = time.perf_counter()
            pending = [await sink.send(key=e.message.key, value=e.value) for e in events]
            await asyncio.gather(*pending)
            for event in events:
                await stream.ack(event)
            copied += len(events)
            if copied >= n:
                finished.set()

    await app.start()
    await finished.wait()
    done = time.perf_counter()
    await app.stop()
    assert first is not None
    return done - first


def direct_insert(store: ClickHouseStore, posts: list[dict[str, Any]]) -> float:
    import orjson

    settings = load_settings()
    classifier = build_classifier(settings, load_watchlist(settings.watchlist_path))
    normalised = [normalise(orjson.dumps(p)) for p in posts]
    now = utcnow()
    items = [
        EnrichedPost(post=p, enrichment=e, enriched_at=now)
        for p, e in zip(normalised, classifier.classify(normalised), strict=True)
    ]
    started = time.perf_counter()
    for i in range(0, len(items), 1000):
        store.insert_new_posts(items[i : i + 1000])
    return time.perf_counter() - started


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=5000)
    args = parser.parse_args()
    n = args.posts
    data = Path(tempfile.mkdtemp(prefix="pantau-bench-"))
    with TansuBroker() as broker, ValkeyServer() as valkey:
        assert isinstance(broker, TansuBroker) and isinstance(valkey, ValkeyServer)
        dsn = f"chdb://{data / 'clickhouse'}"
        settings = load_settings(
            kafka_brokers=broker.brokers, redis_url=valkey.url, clickhouse_dsn=dsn, data_dir=data
        )
        await bus.ensure_topics(settings.kafka_brokers, settings.topic_partitions)
        client = open_client(dsn, database="pipeline")
        Migrator(client).up()
        store = ClickHouseStore(client)

        await produce(settings.kafka_brokers, make_posts(n, "p"))
        join, steady, through = await pipeline_run(settings, store, n)
        # The same posts again, in fresh topics, database and consumer groups, without the issue
        # layer (the issue stage reads its records and only counts them).
        await bus.recreate_topics(settings.kafka_brokers, settings.topic_partitions)
        bare_client = open_client(dsn, database="bare")
        Migrator(bare_client).up()
        bare = settings.model_copy(update={"app_id": f"{settings.app_id}-bare"})
        await produce(settings.kafka_brokers, make_posts(n, "p"))
        _, _, bare_through = await pipeline_run(bare, ClickHouseStore(bare_client), n, issues=False)
        passthrough = await passthrough_run(settings, n)

        direct_client = open_client(dsn, database="direct")
        Migrator(direct_client).up()
        direct = direct_insert(ClickHouseStore(direct_client), make_posts(n, "d"))

    pipeline_rate = n / steady
    print(f"posts: {n}; machine: 2 cores shared; engines: Tansu (memory), Valkey, chdb")
    print(f"pipeline (posts.raw -> 5 stages -> ClickHouse): {pipeline_rate:,.0f} posts/s "
          f"({steady:.2f} s steady state; group join and start {join:.2f} s)")  # fmt: skip
    print(f"through detection and the issue stage:          {n / through:,.0f} posts/s ({through:.2f} s)")
    bare_rate = n / bare_through
    print(f"  the same without the issue layer:             {bare_rate:,.0f} posts/s ({bare_through:.2f} s)")
    print(f"ratio with / without the issue layer: {bare_through / through:.3f}")
    print(f"baseline faust pass-through (1 hop):            {n / passthrough:,.0f} posts/s")
    print(f"baseline direct ClickHouse insert:              {n / direct:,.0f} posts/s")
    print(f"ratio pipeline / pass-through: {pipeline_rate / (n / passthrough):.2f}")
    print(f"ratio pipeline / direct insert: {pipeline_rate / (n / direct):.3f}")


if __name__ == "__main__":
    asyncio.run(main())
