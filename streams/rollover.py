"""Topic generations: the embedded broker's memory stays bounded.

The embedded broker keeps every message of every topic in memory and applies no retention: about
11 KB per post through the pipeline, so a campaign's volume fills the machine within days. It frees
a topic's memory when the topic is deleted, so once it holds too much, the process that owns the
spool rolls Pantau's topics over:

1. the spool's forwarder pauses: posts accepted meanwhile wait in the spool (ingest still answers);
2. the pipeline drains: ClickHouse holds every post the spool sent (at most
   `PANTAU_SPOOL_MAX_IN_FLIGHT` of them, so this takes bounded time even when the pipeline is
   behind; any worker's progress counts), then no stage here has consumed anything for a while and
   no batch is in flight;
3. the topics are deleted and created again, empty, and the topic generation in Redis goes up;
4. every worker that sees the new generation forgets its positions and reads its partitions from
   offset 0: at its old offsets it would wait until the new topics grew that far;
5. the keeper checks the spool against ClickHouse, what ClickHouse lacks is sent again, and the
   forwarder resumes.

Nothing accepted is lost: the spool keeps each post until ClickHouse has it, whatever the broker
held. The price is a pause of the pipeline while it drains, seconds. With a configured Kafka,
retention does this job and the scheme is off.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any

import faust
import mode
from redis.asyncio import Redis

from config.settings import Settings
from pantau import bus, metrics
from storage.spool import Spool, SpoolParts

log = logging.getLogger(__name__)


async def drain_pipeline(quiet_seconds: float = 1.0, max_seconds: float = 8.0) -> bool:
    """Wait until no stage has consumed anything for `quiet_seconds` (at most `max_seconds`);
    return whether it got there."""
    started = time.monotonic()
    last, quiet_since = metrics.messages_consumed(), time.monotonic()
    while time.monotonic() - quiet_since < quiet_seconds:
        if time.monotonic() - started > max_seconds:
            log.warning("the pipeline is still busy after %.0f s of draining", max_seconds)
            return False
        await asyncio.sleep(0.1)
        now = metrics.messages_consumed()
        # A model batch can take seconds without a new message consumed: busy, not drained.
        if now != last or metrics.batches_in_flight():
            last, quiet_since = now, time.monotonic()
    log.info("pipeline drained in %.1f s", time.monotonic() - started)
    return True


async def wait_until_stored(spool: Spool, *, stall_seconds: float = 30.0, poll_seconds: float = 0.5) -> bool:
    """Wait until ClickHouse holds every post the spool has sent; give up (False) only when that
    number has not gone down for `stall_seconds`: a slow pipeline that makes progress is waited for."""
    least, since = await spool.in_flight(), time.monotonic()
    while least > 0:
        if time.monotonic() - since > stall_seconds:
            log.warning("%d sent posts not stored after %.0f s without progress", least, stall_seconds)
            return False
        await asyncio.sleep(poll_seconds)
        now = await spool.in_flight()
        if now < least:
            least, since = now, time.monotonic()
    return True


@dataclass(frozen=True)
class RolloverLimits:
    """When the embedded broker holds too much: by its resident memory or by its messages."""

    max_rss_bytes: int
    max_messages: int

    @classmethod
    def from_settings(cls, settings: Settings) -> RolloverLimits:
        return cls(settings.broker_rollover_mb * 2**20, settings.broker_rollover_messages)

    def reason(self, rss_bytes: int | None, messages: int) -> str | None:
        """Why the topics should roll over now, or None."""
        if rss_bytes is not None and rss_bytes >= self.max_rss_bytes:
            return f"broker memory {rss_bytes / 2**20:,.0f} MiB >= {self.max_rss_bytes / 2**20:,.0f} MiB"
        if messages >= self.max_messages:
            return f"broker holds {messages:,} messages >= {self.max_messages:,}"
        return None


class Generations:
    """The topic generation, in Redis: the rollover raises it, every worker follows it."""

    def __init__(self, redis: Redis, app_id: str) -> None:
        self.redis = redis
        self.key = f"pantau:{app_id}:broker-generation"

    async def current(self) -> int:
        value = await self.redis.get(self.key)
        return int(value) if value is not None else 0

    async def advance(self) -> int:
        return int(await self.redis.incr(self.key))


async def read_from_start(consumer: Any, topics: Collection[str] = bus.ALL_TOPICS) -> int:
    """Make a Faust consumer forget its positions on the partitions of `topics` it holds and read
    them again from offset 0; return how many partitions that was. (Faust's own topics, which do not
    roll over, keep theirs.)

    Faust drops messages at or below the offset it last read and commits only past the offset it
    last committed; for topics created anew both are stale, so they go, as on a revocation."""
    partitions = [tp for tp in consumer.assignment() if tp.topic in topics]
    for tp in partitions:
        for offsets in (
            consumer._gap,
            consumer._acked,
            consumer._acked_index,
            consumer._read_offset,
            consumer._committed_offset,
        ):
            offsets.pop(tp, None)
        await consumer.seek(tp, 0)
    return len(partitions)


class GenerationFollower(mode.Service):
    """In every worker: when the topic generation goes up, its partitions are read from the start."""

    def __init__(self, app: faust.App, generations: Generations, *, poll_seconds: float = 1.0, **kw: Any):
        super().__init__(**kw)
        self.app = app
        self.generations = generations
        self.poll_seconds = poll_seconds
        self.seen = 0

    async def on_start(self) -> None:
        self.seen = await self.generations.current()
        metrics.BROKER_GENERATION.set(self.seen)

    async def follow(self, generation: int) -> None:
        if generation == self.seen:
            return
        partitions = await read_from_start(self.app.consumer)
        log.info("topic generation %d: reading %d partitions from the start", generation, partitions)
        self.seen = generation
        metrics.BROKER_GENERATION.set(generation)

    @mode.Service.task
    async def _watch(self) -> None:
        while not self.should_stop:
            await self.sleep(self.poll_seconds)
            try:
                await self.follow(await self.generations.current())
            except Exception as exc:  # Redis away: the next poll tries again
                log.warning("cannot read the topic generation (%r)", exc)


class BrokerRollover(mode.Service):
    """Where the spool and the embedded broker are: rolls Pantau's topics over when it holds too much."""

    def __init__(
        self,
        settings: Settings,
        spool: SpoolParts,
        follower: GenerationFollower,
        broker_pid: int | None,
        *,
        drain: Callable[[], Awaitable[bool]] = lambda: drain_pipeline(quiet_seconds=2.0, max_seconds=60.0),
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        self.settings = settings
        self.spool = spool
        self.follower = follower
        self.broker_pid = broker_pid
        self.drain = drain
        self.limits = RolloverLimits.from_settings(settings)

    async def held_messages(self) -> int:
        positions = await bus.topic_positions(self.settings.kafka_brokers, self.settings.app_id)
        return sum(held for held, _ in positions.values())

    async def due(self) -> str | None:
        rss, held = metrics.process_rss(self.broker_pid), await self.held_messages()
        # What the rollover decides on is what the operations dashboard charts.
        if rss is not None:
            metrics.BROKER_MEMORY.set(rss)
        metrics.BROKER_HELD_MESSAGES.set(held)
        return self.limits.reason(rss, held)

    @mode.Service.task
    async def _check(self) -> None:
        while not self.should_stop:
            await self.sleep(self.settings.broker_rollover_check_seconds)
            try:
                reason = await self.due()
                if reason is not None:
                    await self.roll_over(reason)
            except Exception:
                metrics.BROKER_ROLLOVERS.labels("failed").inc()
                log.exception("the broker's topics could not roll over; the next check tries again")

    async def roll_over(self, reason: str) -> bool:
        """Drain, empty the topics, follow the new generation, send again what ClickHouse lacks."""
        started = time.monotonic()
        log.info("rolling the broker's topics over: %s", reason)
        forwarder = self.spool.forwarder
        await forwarder.pause()
        try:
            if not (await wait_until_stored(self.spool.spool) and await self.drain()):
                metrics.BROKER_ROLLOVERS.labels("busy").inc()
                log.warning("rollover put off: the pipeline did not drain")
                return False
            s = self.settings
            try:
                await bus.recreate_topics(s.kafka_brokers, s.topic_partitions, s.topic_replication)
            finally:  # whatever happened, the topics must be there for the forwarder
                await bus.ensure_topics(s.kafka_brokers, s.topic_partitions, s.topic_replication)
            generation = await self.follower.generations.advance()
            await self.follower.follow(generation)
            again = await self.spool.keeper.recover()
        finally:
            forwarder.resume()
        metrics.BROKER_ROLLOVERS.labels("done").inc()
        log.info(
            "topics rolled over to generation %d in %.1f s (%d spooled posts sent again)",
            generation,
            time.monotonic() - started,
            again,
        )
        return True
