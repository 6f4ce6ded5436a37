"""The detect stage's state: one detector set per partition, checkpointed to Redis together with
the offsets it covers.

Detector state is the product of every observation a partition has delivered, so it is kept the way
a stream processor keeps operator state: the stage acks the messages it has processed only when a
checkpoint that includes their effect is in Redis. A worker that crashes restarts from the last
checkpoint and re-reads exactly the messages after it (signals found again have the same ids and
are deduplicated downstream). A partition moving to another worker takes its state with it.

The detectors are pure Python and numpy: a batch runs in a single-thread executor, so the event
loop stays free and no two batches touch the state at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from detectors.base import Observation
from detectors.ensemble import DetectorSet
from pantau.domain import Signal

log = logging.getLogger(__name__)


class CheckpointStore:
    """Redis keys `pantau:<app>:detectors:<partition>` holding a pickled `DetectorSet`."""

    def __init__(self, redis: Redis, app_id: str) -> None:
        self.redis = redis
        self.prefix = f"pantau:{app_id}:detectors:"

    async def load(self, partition: int) -> bytes | None:
        data = await self.redis.get(f"{self.prefix}{partition}")
        return data.encode("latin-1") if isinstance(data, str) else data

    async def save(self, states: dict[int, bytes]) -> None:
        if states:
            await self.redis.mset({f"{self.prefix}{p}": data for p, data in states.items()})


@dataclass
class DetectionState:
    factory: Callable[[], DetectorSet]
    checkpoints: CheckpointStore
    interval_seconds: float = 10.0
    executor: Executor = field(default_factory=lambda: ThreadPoolExecutor(1, "pantau-detect"))
    sets: dict[int, DetectorSet] = field(default_factory=dict)
    dirty: set[int] = field(default_factory=set)
    unacked: list[Any] = field(default_factory=list)
    stream: Any = None
    last_checkpoint: float = field(default_factory=time.monotonic)
    restored: int = 0
    failures: int = 0
    # A batch (its run, then holding its events) and a checkpoint never interleave: a checkpoint
    # must not ack messages whose effect it did not save.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Batches whose results (signals, the issue stage's records) are still being sent: the idle
    # timer must not checkpoint (and ack) them before the broker has what they produced.
    in_flight: int = 0

    async def detectors_for(self, partition: int) -> DetectorSet:
        found = self.sets.get(partition)
        if found is None:
            data = await self.checkpoints.load(partition)
            loop = asyncio.get_running_loop()
            # Unpickling a busy partition's state takes seconds: off the event loop.
            restored = await loop.run_in_executor(self.executor, DetectorSet.loads, data) if data else None
            if restored is not None:
                self.restored += 1
                log.info(
                    "partition %d: detectors restored (%d observations seen)",
                    partition,
                    restored.observations,
                )
            elif data:
                log.warning("partition %d: unreadable or old checkpoint; detectors start afresh", partition)
            found = restored or self.factory()
            self.sets[partition] = found
        return found

    async def process(
        self, stream: Any, events: Sequence[Any], work: Sequence[tuple[int, Sequence[Observation]]]
    ) -> list[Signal]:
        """Feed each partition's observations to its detectors, off the event loop; the events are
        then held, to be acked with the next checkpoint."""
        async with self.lock:
            targets = [(p, await self.detectors_for(p), observations) for p, observations in work]
            self.dirty.update(p for p, _ in work)

            def update_all() -> list[Signal]:
                found: list[Signal] = []
                for partition, detectors, observations in targets:
                    for observation in observations:
                        try:
                            found.extend(detectors.update(observation))
                        except Exception:
                            # One odd observation must not stall the partition: skip it, loudly.
                            self.failures += 1
                            log.exception(
                                "partition %d: detectors failed on %s", partition, observation.post_id
                            )
                return found

            signals = await asyncio.get_running_loop().run_in_executor(self.executor, update_all)
            self.stream = stream
            self.unacked.extend(events)
            return signals

    def forget(self, partitions: set[int]) -> None:
        """Drop revoked partitions' state and their unacked messages: the new owner re-reads them
        from the last checkpoint, which then matches the committed offsets."""
        for partition in partitions:
            self.sets.pop(partition, None)
            self.dirty.discard(partition)
        self.unacked = [e for e in self.unacked if e.message.partition not in partitions]

    def due(self) -> bool:
        return time.monotonic() - self.last_checkpoint >= self.interval_seconds

    async def checkpoint(self) -> None:
        """Save the changed detector sets, then ack what they include."""
        async with self.lock:
            dirty = sorted(p for p in self.dirty if p in self.sets)
            loop = asyncio.get_running_loop()
            snapshots = {p: await loop.run_in_executor(self.executor, self.sets[p].dumps) for p in dirty}
            await self.checkpoints.save(snapshots)
            self.dirty.clear()
            events, self.unacked = self.unacked, []
            if self.stream is not None:
                for event in events:
                    await self.stream.ack(event)
            self.last_checkpoint = time.monotonic()
            if snapshots:
                log.debug("detector checkpoint: %s", {p: len(d) for p, d in snapshots.items()})
