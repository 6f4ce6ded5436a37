"""The detect stage's bookkeeping without a broker: batches are held until a checkpoint saves their
effect, revoked partitions are forgotten, and big key groups are split before they are sent."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.base import Observation
from detectors.ensemble import DetectorSet
from detectors.volume import VolumeBurst
from pantau.domain import Signal
from streams.app import chunked_by_size
from streams.detection import DetectionState

T0 = datetime(2026, 11, 20, tzinfo=UTC)


class MemoryCheckpoints:
    def __init__(self) -> None:
        self.saved: dict[int, bytes] = {}

    async def load(self, partition: int) -> bytes | None:
        return self.saved.get(partition)

    async def save(self, states: dict[int, bytes]) -> None:
        await asyncio.sleep(0.01)  # a real save yields to the loop: batches may arrive meanwhile
        self.saved.update(states)


@dataclass(frozen=True)
class Message:
    partition: int


@dataclass(frozen=True)
class Event:
    message: Message
    offset: int


class Stream:
    def __init__(self) -> None:
        self.acked: list[Event] = []

    async def ack(self, event: Event) -> None:
        self.acked.append(event)


def obs(i: int, key: str = "raka") -> Observation:
    return Observation(
        key_kind="target", key=key, target=key, post_id=f"p{i}", author_id="a", at=T0 + timedelta(seconds=i)
    )


def state() -> tuple[DetectionState, MemoryCheckpoints]:
    store = MemoryCheckpoints()
    return DetectionState(factory=DetectorSet, checkpoints=store, interval_seconds=0.0), store  # type: ignore[arg-type]


async def test_events_are_acked_only_by_the_checkpoint_that_saves_their_effect() -> None:
    detection, store = state()
    stream = Stream()
    events = [Event(Message(0), i) for i in range(3)]
    await detection.process(stream, events, [(0, [obs(i) for i in range(3)])])
    assert stream.acked == [] and store.saved == {}
    await detection.checkpoint()
    assert stream.acked == events
    restored = DetectorSet.loads(store.saved[0])
    assert restored is not None and restored.observations == 3


async def test_a_batch_arriving_during_a_checkpoint_waits_for_the_next_one() -> None:
    detection, store = state()
    stream = Stream()
    first, second = Event(Message(0), 0), Event(Message(1), 1)
    await detection.process(stream, [first], [(0, [obs(0)])])
    checkpoint = asyncio.create_task(detection.checkpoint())
    await asyncio.sleep(0)  # the checkpoint holds the lock and is saving
    await detection.process(stream, [second], [(1, [obs(1, "sari")])])
    await checkpoint
    assert stream.acked[0] == first
    if second in stream.acked:  # only if partition 1's state was saved with it
        assert 1 in store.saved
    await detection.checkpoint()
    assert stream.acked == [first, second] and 1 in store.saved


async def test_a_revoked_partition_is_forgotten_with_its_unacked_events() -> None:
    detection, store = state()
    stream = Stream()
    await detection.process(
        stream, [Event(Message(0), 0), Event(Message(1), 0)], [(0, [obs(0)]), (1, [obs(1)])]
    )
    detection.forget({1})
    await detection.checkpoint()
    assert [e.message.partition for e in stream.acked] == [0]
    assert set(store.saved) == {0} and 1 not in detection.sets


async def test_a_restarted_stage_resumes_from_the_checkpoint() -> None:
    detection, store = state()
    await detection.process(Stream(), [Event(Message(0), 0)], [(0, [obs(i) for i in range(5)])])
    await detection.checkpoint()
    again = DetectionState(factory=DetectorSet, checkpoints=store, interval_seconds=0.0)  # type: ignore[arg-type]
    detectors = await again.detectors_for(0)
    assert again.restored == 1 and detectors.observations == 5


class Exploding(VolumeBurst):
    def update(self, observation: Observation) -> list[Signal]:
        if observation.post_id == "boom":
            raise RuntimeError("a detector bug")
        return super().update(observation)


async def test_an_observation_a_detector_fails_on_is_skipped_not_fatal() -> None:
    detection = DetectionState(
        factory=lambda: DetectorSet(volume=Exploding()), checkpoints=MemoryCheckpoints(), interval_seconds=0.0
    )  # type: ignore[arg-type]
    boom = obs(0).model_copy(update={"post_id": "boom"})
    stream = Stream()
    await detection.process(stream, [Event(Message(0), 0)], [(0, [boom, obs(1)])])
    assert detection.failures == 1 and detection.sets[0].observations == 2
    await detection.checkpoint()
    assert len(stream.acked) == 1, "the partition goes on"


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(max_size=3000), max_size=60), st.integers(500, 20_000))
def test_key_groups_are_split_in_order_under_the_size_limit(texts: list[str], limit: int) -> None:
    group: list[tuple[Any, Observation]] = [
        (i, Observation(key_kind="stream", key="all", post_id=f"p{i}", author_id="a", at=T0, text=t))
        for i, t in enumerate(texts)
    ]
    chunks = chunked_by_size(group, limit)
    assert [item for chunk in chunks for item in chunk] == group
    for chunk in chunks:
        size = sum(400 + len(o.text.encode()) for _, o in chunk)
        assert len(chunk) == 1 or size <= limit


def test_a_checkpoint_is_compressed_and_one_written_uncompressed_still_loads() -> None:
    import pickle

    from detectors.ensemble import STATE_VERSION

    detectors = DetectorSet()
    for i in range(200):
        detectors.update(obs(i, f"term{i % 17}"))
    raw = pickle.dumps((STATE_VERSION, detectors), protocol=pickle.HIGHEST_PROTOCOL)
    packed = detectors.dumps()

    assert len(packed) < len(raw) / 2
    for data in (packed, raw):
        restored = DetectorSet.loads(data)
        assert restored is not None and restored.observations == detectors.observations
    assert DetectorSet.loads(b"x not zlib") is None
