"""Topic generations on the real broker, pipeline, spool and ClickHouse: the embedded broker's
topics roll over under a live stream, its memory is freed, and no accepted post is lost."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pantau import bus
from service.runtime import make_pipeline
from storage.spool import SpoolParts, assemble
from streams.app import build_agents, faust_app
from streams.rollover import BrokerRollover, GenerationFollower, Generations
from tests.integration.harness import Harness, envelopes, post, utc, wait_for

pytestmark = pytest.mark.integration


@dataclass
class Rolling:
    harness: Harness
    spool: SpoolParts
    follower: GenerationFollower
    rollover: BrokerRollover

    async def accept(self, posts: list[dict[str, object]]) -> None:
        await self.spool.writer.send_many(envelopes(posts))

    async def stored_ids(self) -> list[str]:
        rows = await asyncio.to_thread(self.harness.client.query, "SELECT id FROM posts")
        return [row[0] for row in rows.result_rows]


@pytest.fixture
async def rolling(harness: Harness) -> AsyncIterator[Rolling]:
    settings = harness.settings.model_copy(update={"broker_rollover_check_seconds": 3600.0})
    spool = assemble(settings, harness.store, harness.producer.send_many)
    spool.keeper.interval_seconds = 0.2
    await harness.start_worker()
    assert harness.app is not None
    follower = GenerationFollower(harness.app, Generations(harness.redis, settings.app_id), poll_seconds=0.2)
    rollover = BrokerRollover(settings, spool, follower, broker_pid=None)
    loops = [asyncio.create_task(spool.forwarder.run()), asyncio.create_task(spool.keeper.run())]
    await follower.start()
    try:
        yield Rolling(harness, spool, follower, rollover)
    finally:
        await follower.stop()
        for task in loops:
            task.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        spool.spool.close()


def batch(run: str, start: int, count: int) -> list[dict[str, object]]:
    return [post(f"{run}-{i}", f"harga beras naik lagi {i}", utc(2024, 2, 1, 9), author=f"a{i}")
            for i in range(start, start + count)]  # fmt: skip


async def test_topics_roll_over_under_a_live_stream_and_every_post_is_stored_once(rolling: Rolling) -> None:
    run = uuid.uuid4().hex[:6]
    await rolling.accept(batch(run, 0, 300))

    async def stored(n: int) -> bool:
        return len(await rolling.stored_ids()) >= n

    await wait_for(lambda: stored(300), seconds=60, what="the first 300 posts stored")
    held_before = await rolling.rollover.held_messages()

    async def keep_accepting() -> None:  # posts go on arriving while the topics roll over
        for start in range(300, 600, 20):
            await rolling.accept(batch(run, start, 20))
            await asyncio.sleep(0.05)

    feeding = asyncio.create_task(keep_accepting())
    rolled = await rolling.rollover.roll_over("test")
    await feeding

    assert rolled
    assert await rolling.follower.generations.current() == 1
    assert rolling.follower.seen == 1
    await wait_for(lambda: stored(600), seconds=60, what="all 600 posts stored after the rollover")
    ids = await rolling.stored_ids()
    assert len(ids) == len(set(ids)) == 600
    # The new topics hold only what came after the rollover; the 300 before it are gone from the broker.
    assert held_before >= 300
    settings = rolling.harness.settings
    positions = await bus.topic_positions(settings.kafka_brokers, settings.app_id)
    assert positions[bus.RAW][0] <= 300
    await wait_for(
        lambda: _spool_empty(rolling), seconds=30, what="the spool to empty once ClickHouse holds everything"
    )


async def _spool_empty(rolling: Rolling) -> bool:
    return (await rolling.spool.spool.depth()).posts == 0


async def test_a_rollover_is_put_off_while_the_pipeline_does_not_drain(rolling: Rolling) -> None:
    async def never() -> bool:
        return False

    rolling.rollover.drain = never
    run = uuid.uuid4().hex[:6]
    await rolling.accept(batch(run, 0, 50))

    assert not await rolling.rollover.roll_over("test")

    assert await rolling.follower.generations.current() == 0
    await wait_for(lambda: _all_stored(rolling, 50), seconds=60, what="the posts stored all the same")


async def _all_stored(rolling: Rolling, n: int) -> bool:
    return len(await rolling.stored_ids()) == n


async def test_two_workers_follow_a_rollover_and_every_post_is_stored(
    rolling: Rolling, tmp_path: Path
) -> None:
    """A second worker in the same consumer group (its own detectors, its own Faust app) holds some
    partitions; it learns of the rollover from Redis alone and reads its new partitions from 0."""
    harness = rolling.harness
    second_settings = harness.settings.model_copy(update={"data_dir": tmp_path / "second"})
    second_settings.data_dir.mkdir()
    second_app = faust_app(second_settings)
    build_agents(
        second_app, await asyncio.to_thread(make_pipeline, second_settings, harness.store, harness.redis)
    )
    await second_app.start()
    second = GenerationFollower(
        second_app, Generations(harness.redis, second_settings.app_id), poll_seconds=0.2
    )
    await second.start()
    try:

        async def both_assigned() -> bool:
            assert harness.app is not None
            ours = {tp for tp in harness.app.consumer.assignment() if tp.topic == bus.RAW}
            theirs = {tp for tp in second_app.consumer.assignment() if tp.topic == bus.RAW}
            return bool(ours) and bool(theirs) and not ours & theirs

        await wait_for(both_assigned, seconds=60, what="the raw topic's partitions split between two workers")
        run = uuid.uuid4().hex[:6]
        await rolling.accept(batch(run, 0, 300))
        await wait_for(lambda: _distinct_stored(rolling, 300), seconds=60, what="the first 300 posts stored")

        async def keep_accepting() -> None:
            for start in range(300, 600, 20):
                await rolling.accept(batch(run, start, 20))
                await asyncio.sleep(0.05)

        feeding = asyncio.create_task(keep_accepting())
        assert await rolling.rollover.roll_over("test")
        await feeding

        await wait_for(
            lambda: _followed(second, 1), seconds=30, what="the second worker to follow generation 1"
        )
        await wait_for(lambda: _distinct_stored(rolling, 600), seconds=90, what="all 600 posts stored")
        rows = await asyncio.to_thread(harness.client.query, "SELECT native_id FROM posts FINAL")
        assert sorted(row[0] for row in rows.result_rows) == sorted(f"{run}-{i}" for i in range(600))
        await wait_for(lambda: _spool_empty(rolling), seconds=30, what="the spool to empty")
    finally:
        await second.stop()
        await second_app.stop()


async def _followed(follower: GenerationFollower, generation: int) -> bool:
    return follower.seen == generation


async def _distinct_stored(rolling: Rolling, n: int) -> bool:
    return len(set(await rolling.stored_ids())) >= n
