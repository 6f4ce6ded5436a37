"""The live feed hub on real Valkey: one reader for every screen, resuming without gaps or repeats."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from alerts.feed import FeedHub, FeedOverflow
from alerts.state import AlertState
from pantau.domain import Alert, Severity, SignalKind
from service.engines import ValkeyServer

T0 = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)


def alert(i: int) -> Alert:
    return Alert(
        id=f"a{i}", fingerprint=f"fp{i}", kind=SignalKind.volume_burst, key_kind="hashtag", key=f"k{i}",
        severity=Severity.info, title=f"alert {i}", first_seen=T0, last_seen=T0, created_at=T0, updated_at=T0,
    )  # fmt: skip


@pytest.fixture
async def redis(valkey: ValkeyServer) -> AsyncIterator[Redis]:
    client = Redis.from_url(valkey.url)
    yield client
    await client.aclose()


async def collect(hub: FeedHub, count: int, last_id: str | None = None) -> list[tuple[str, str]]:
    got: list[tuple[str, str]] = []
    async for entry_id, body in hub.subscribe(last_id):
        if entry_id:
            got.append((entry_id, body["alert"]["id"]))
            if len(got) == count:
                break
    return got


async def test_a_hundred_screens_share_one_reader_and_each_gets_every_event_in_order(redis: Redis) -> None:
    hub, state = FeedHub(redis), AlertState(redis)
    screens = [asyncio.create_task(collect(hub, 20)) for _ in range(100)]
    await asyncio.sleep(0.3)  # subscribed
    connections = len(await redis.client_list())
    for i in range(20):
        await state.put(alert(i), event="opened")
    results = await asyncio.wait_for(asyncio.gather(*screens), timeout=20)
    await hub.aclose()
    expected = [f"a{i}" for i in range(20)]
    assert all([alert_id for _, alert_id in got] == expected for got in results)
    # One blocked reader for the hundred, not a connection each.
    assert connections < 10


async def test_a_client_resuming_gets_what_it_missed_then_live_events_once_each(redis: Redis) -> None:
    hub, state = FeedHub(redis), AlertState(redis)
    for i in range(5):
        await state.put(alert(i), event="opened")
    history = await collect(hub, 5, "0-0")
    seen_second = history[1][0]
    resumed = asyncio.create_task(collect(hub, 6, seen_second))  # 3 missed + 3 new
    await asyncio.sleep(0.2)
    for i in range(5, 8):
        await state.put(alert(i), event="opened")
    got = await asyncio.wait_for(resumed, timeout=10)
    await hub.aclose()
    assert [alert_id for _, alert_id in got] == ["a2", "a3", "a4", "a5", "a6", "a7"]


async def test_a_client_that_falls_behind_is_told_to_reconnect(redis: Redis) -> None:
    hub, state = FeedHub(redis, queue_size=3, heartbeat_seconds=0.2), AlertState(redis)
    stream = hub.subscribe(None)
    first = asyncio.ensure_future(anext(stream))  # subscribed, waiting
    await asyncio.sleep(0.2)
    assert await first == ("", {})  # a heartbeat: nothing yet
    for i in range(10):
        await state.put(alert(i), event="opened")
    await asyncio.sleep(0.5)  # the reader fills the queue and drops the slow client
    with pytest.raises(FeedOverflow):
        async for _ in stream:
            pass
    await hub.aclose()
