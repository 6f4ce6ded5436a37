"""Running the real pipeline inside a test's event loop, against the real engines."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import faust
import orjson
from aiokafka import AIOKafkaConsumer
from clickhouse_connect.driver.client import Client
from redis.asyncio import Redis

from config.settings import Settings
from pantau import bus
from pantau.normalise import make_envelope
from service.runtime import make_pipeline
from storage.repository import ClickHouseStore
from streams.app import Pipeline, build_agents, faust_app


def post(
    native_id: str,
    text: str,
    at: datetime,
    *,
    author: str = "a1",
    platform: str = "x",
) -> dict[str, Any]:
    return {
        "platform": platform,
        "id": native_id,
        "created_at": at.isoformat(),
        "author": {"id": author, "handle": f"user_{author}"},
        "text": text,
    }


def burst_posts(
    tag: str, start: datetime, *, quiet_minutes: int = 10, burst: int = 30
) -> list[dict[str, Any]]:
    """One post a minute on #tag for a while, then `burst` posts within one minute."""
    run = uuid.uuid4().hex[:8]
    posts = [
        post(f"{run}q{i}", f"biasa saja #{tag}", start + timedelta(minutes=i, seconds=5), author=f"q{i}")
        for i in range(quiet_minutes)
    ]
    burst_start = start + timedelta(minutes=quiet_minutes)
    posts += [
        post(
            f"{run}b{i}",
            f"ramai #{tag} {i}",  # short: a copy-paste detector ignores it (this is a plain burst)
            burst_start + timedelta(seconds=1 + i),
            author=f"b{i}",
        )
        for i in range(burst)
    ]
    return posts


CHATTER_WORDS = (
    "macet",
    "hujan",
    "pasar",
    "cabai",
    "kereta",
    "sekolah",
    "kopi",
    "sarapan",
    "kantor",
    "motor",
    "banjir",
    "listrik",
    "sinyal",
    "paket",
    "libur",
    "kucing",
    "resep",
    "bola",
    "konser",
    "film",
    "gerimis",
    "ojek",
    "antre",
    "promo",
    "diskon",
    "rapat",
    "tugas",
    "warung",
    "nasi",
    "sepeda",
)


def chatter(i: int) -> str:
    """Ordinary posts, each its own mix of everyday words (no two alike, so no campaign)."""
    return " ".join(random.Random(i).sample(CHATTER_WORDS, 6)) + f" pagi ini {i}"


def issue_posts(tag: str, start: datetime) -> list[dict[str, Any]]:
    """`burst_posts` within a stream of ordinary chatter, so its words stand out as an issue."""
    run = uuid.uuid4().hex[:8]
    background = [
        post(f"{run}c{i}", chatter(i), start + timedelta(seconds=20 * i), author=f"c{i}") for i in range(60)
    ]
    return background + burst_posts(tag, start)


def envelopes(posts: list[dict[str, Any]]) -> list[bytes]:
    return [make_envelope(p, source="test") for p in posts]


async def wait_for(
    predicate: Callable[[], Awaitable[bool]], *, seconds: float = 30.0, interval: float = 0.1, what: str = ""
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {seconds}s waiting for {what or predicate}")


@dataclass
class Harness:
    settings: Settings
    client: Client
    store: ClickHouseStore = field(init=False)
    redis: Redis = field(init=False)
    producer: bus.RawProducer = field(init=False)
    app: faust.App | None = None
    running: Pipeline | None = None

    def __post_init__(self) -> None:
        self.store = ClickHouseStore(self.client)

    async def __aenter__(self) -> Harness:
        await bus.ensure_topics(self.settings.kafka_brokers, self.settings.topic_partitions)
        self.redis = Redis.from_url(self.settings.redis_url)
        self.producer = bus.RawProducer(self.settings.kafka_brokers)
        await self.producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop_worker()
        await self.producer.stop()
        await self.redis.aclose()

    def pipeline(self) -> Pipeline:
        return make_pipeline(self.settings, self.store, self.redis)

    async def start_worker(self) -> None:
        """A fresh worker (new detector state), joining the same consumer group."""
        app = faust_app(self.settings)
        # Loading the models takes seconds the first time: not on the event loop, as in the worker.
        self.running = await asyncio.to_thread(self.pipeline)
        build_agents(app, self.running)
        await app.start()
        self.app = app

    async def stop_worker(self) -> None:
        if self.app is not None:
            await self.app.stop()
            self.app = None

    async def send(self, posts: list[dict[str, Any]]) -> None:
        await self.producer.send_many(envelopes(posts))

    async def send_raw(self, values: list[bytes]) -> None:
        await self.producer.send_many(values)

    async def post_count(self) -> int:
        result = await asyncio.to_thread(self.client.command, "SELECT count() FROM posts")
        assert isinstance(result, int | str), result
        return int(result)

    async def read_topic(self, topic: str, *, expect: int, seconds: float = 20.0) -> list[dict[str, Any]]:
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bus.bootstrap_servers(self.settings.kafka_brokers),
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            group_id=None,
        )
        await consumer.start()
        records: list[dict[str, Any]] = []
        try:
            deadline = time.monotonic() + seconds
            while len(records) < expect and time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=500)
                for messages in batch.values():
                    records += [orjson.loads(m.value) for m in messages]
        finally:
            await consumer.stop()
        return records


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
