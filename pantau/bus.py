"""Topic names and the plain Kafka plumbing shared by sources, the API and the worker.

Topics are named `<entity>.<state>`; each carries one record type (JSON):
- posts.raw       source envelopes (any input shape)        -> normalise
- posts           canonical `Post`, keyed by post id         -> enrich
- posts.enriched  `EnrichedPost`, keyed by post id           -> store, fan out by key
- posts.by_key    `ObservationBatch`: one key's observations, keyed by key -> detect
- signals         `IssueInput` (a signal, or a batch of stream observations), all on key "issues" -> alert
- posts.dlq       `DeadLetter`: what a stage could not use, with the reason
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.structs import TopicPartition
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

log = logging.getLogger(__name__)

RAW = "posts.raw"
POSTS = "posts"
ENRICHED = "posts.enriched"
BY_KEY = "posts.by_key"
SIGNALS = "signals"
DLQ = "posts.dlq"
ALL_TOPICS = (RAW, POSTS, ENRICHED, BY_KEY, SIGNALS, DLQ)


def bootstrap_servers(brokers: str) -> list[str]:
    return [b.strip() for b in brokers.split(",") if b.strip()]


async def ensure_topics(brokers: str, partitions: int, replication: int = 1, *, wait_s: float = 30.0) -> None:
    """Create Pantau's topics with the configured partition count (existing ones are kept)."""
    async for attempt in AsyncRetrying(
        stop=stop_after_delay(wait_s),
        wait=wait_exponential(multiplier=0.2, max=2),
        retry=retry_if_exception_type(Exception),
        reraise=True,
    ):
        with attempt:
            admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers(brokers))
            await admin.start()
            try:
                existing = set(await admin.list_topics())
                missing = [t for t in ALL_TOPICS if t not in existing]
                present = [t for t in ALL_TOPICS if t in existing]
                if present:
                    try:
                        descriptions = await admin.describe_topics(present)
                    except Exception as exc:  # only for a warning: never a reason not to start
                        log.debug("could not describe topics: %r", exc)
                        descriptions = []
                    for description in descriptions:
                        count = len(description.get("partitions", []))
                        if count and count != partitions:
                            log.warning(
                                "topic %s has %d partitions, the settings ask for %d: it is left as it is",
                                description.get("topic"), count, partitions,
                            )  # fmt: skip
                for topic in missing:
                    with contextlib.suppress(TopicAlreadyExistsError):
                        await admin.create_topics([NewTopic(topic, partitions, replication)])
                if missing:
                    log.info("created topics %s with %d partitions", missing, partitions)
            finally:
                await admin.close()


async def recreate_topics(
    brokers: str, partitions: int, replication: int = 1, *, wait_s: float = 30.0
) -> None:
    """Delete Pantau's topics and create them again, empty: the embedded broker frees their memory.

    Whoever reads them must have read everything first (see streams.rollover)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers(brokers))
    await admin.start()
    try:
        present = [t for t in ALL_TOPICS if t in set(await admin.list_topics())]
        if present:
            await admin.delete_topics(present)
        async for attempt in AsyncRetrying(
            stop=stop_after_delay(wait_s), wait=wait_exponential(multiplier=0.05, max=1), reraise=True
        ):
            with attempt:
                left = set(await admin.list_topics()) & set(present)
                if left:
                    raise RuntimeError(f"topics still there after their deletion: {sorted(left)}")
    finally:
        await admin.close()
    await ensure_topics(brokers, partitions, replication, wait_s=wait_s)


# Which stage consumes each topic (store and fan-out share posts.enriched and its offsets).
STAGES_BY_TOPIC = {
    RAW: ("normalise",),
    POSTS: ("enrich",),
    ENRICHED: ("store", "fan-out"),
    BY_KEY: ("detect",),
    SIGNALS: ("alert",),
    DLQ: ("dead-letters",),
}


async def topic_positions(brokers: str, group: str) -> dict[str, tuple[int, int]]:
    """Per topic: the messages the broker holds (end offsets, summed over partitions), and the lag
    of the consumer group: what it has not committed yet."""
    # A consumer in the group that never subscribes: it reads the group's commits without joining.
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers(brokers), group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, partition)
            for topic in ALL_TOPICS
            for partition in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        ends = await consumer.end_offsets(partitions) if partitions else {}
        done_at = {tp: await consumer.committed(tp) for tp in partitions}
    finally:
        await consumer.stop()
    positions: dict[str, tuple[int, int]] = {}
    for topic in ALL_TOPICS:
        mine = [tp for tp in ends if tp.topic == topic]
        done = {tp: offset for tp, offset in done_at.items() if tp.topic == topic and offset is not None}
        held = sum(ends[tp] for tp in mine)
        positions[topic] = (held, sum(max(0, ends[tp] - done.get(tp, 0)) for tp in mine))
    return positions


class RawSink(Protocol):
    """Where a source writes envelopes: the broker itself, or the spool in front of it."""

    async def send_many(self, values: Iterable[bytes]) -> int: ...


class RawProducer:
    """Writes source envelopes to `posts.raw`; `send_many` returns once the broker has them all."""

    def __init__(self, brokers: str) -> None:
        self.brokers = brokers
        self._producer: AIOKafkaProducer | None = None

    @property
    def producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise RuntimeError("RawProducer.start() was not awaited")
        return self._producer

    async def start(self) -> None:
        # aiokafka binds to the running loop, so the client is made here, not in __init__.
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers(self.brokers), acks="all", linger_ms=5, max_batch_size=1 << 20
        )
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def send_many(self, values: Iterable[bytes], topic: str = RAW) -> int:
        futures = [await self.producer.send(topic, value) for value in values]
        await asyncio.gather(*futures)
        return len(futures)

    async def ping(self) -> bool:
        """True when the cluster answers a metadata request."""
        await self.producer.client.fetch_all_metadata()
        return True
