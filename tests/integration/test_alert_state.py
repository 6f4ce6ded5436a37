"""Live alert state in a real Valkey: atomic changes, fingerprint index, concurrent acknowledgements."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import orjson
import pytest
import redis
from redis.asyncio import Redis

from alerts.issues import apply_issue
from alerts.lifecycle import acknowledge, apply_signal, fingerprint
from alerts.state import AlertState
from config.settings import DEFAULT_WATCHLIST
from config.watchlist import load_watchlist
from pantau.domain import Alert, AlertStatus, Signal, SignalKind, encode, utcnow
from service.engines import ValkeyServer
from tests.factories import make_issue
from tests.integration.harness import utc

WATCHLIST = load_watchlist(DEFAULT_WATCHLIST)
T0 = utc(2026, 11, 20, 12, 30)
FP = fingerprint(SignalKind.volume_burst, "hashtag", "kpdbocor")


def signal(minute: int, count: int = 20) -> Signal:
    start = T0 + timedelta(minutes=minute)
    return Signal(
        id=Signal.make_id(SignalKind.volume_burst, "hashtag", "kpdbocor", start),
        kind=SignalKind.volume_burst,
        key_kind="hashtag",
        key="kpdbocor",
        window_start=start,
        window_end=start + timedelta(minutes=1),
        numbers={"count": float(count), "ratio": 10.0},
        evidence=(f"x:{minute}",),
        detected_at=start,
    )


def decide_for(s: Signal) -> Callable[[Alert | None], Alert]:
    return lambda current: apply_signal(current, s, now=s.window_end, watchlist=WATCHLIST)


@pytest.fixture
async def state(valkey: ValkeyServer) -> AsyncIterator[AlertState]:
    redis = Redis.from_url(valkey.url)
    yield AlertState(redis)
    await redis.aclose()


async def test_apply_opens_then_updates_and_a_repeat_changes_nothing(state: AlertState) -> None:
    opened, event = await state.apply(FP, decide_for(signal(0)))
    assert event == "opened" and opened is not None
    updated, event = await state.apply(FP, decide_for(signal(1)))
    assert event == "updated" and updated is not None and updated.id == opened.id
    assert len(updated.signal_ids) == 2
    again, event = await state.apply(FP, decide_for(signal(1)))
    assert event is None and again == updated
    assert await state.get(opened.id) == updated


async def test_acknowledging_an_older_alert_leaves_the_live_one_in_charge(state: AlertState) -> None:
    first, _ = await state.apply(FP, decide_for(signal(0)))
    # Two hours later the same key bursts again: a new alert becomes the live one.
    second, event = await state.apply(FP, decide_for(signal(120)))
    assert first is not None and second is not None and event == "opened" and second.id != first.id
    acked = await state.update(first.id, lambda a: acknowledge(a, by="desk", now=T0), event="acknowledged")
    assert acked is not None and acked.status == AlertStatus.acknowledged
    # The burst goes on: it updates the live alert, it does not open a third.
    third, event = await state.apply(FP, decide_for(signal(121)))
    assert event == "updated" and third is not None and third.id == second.id


async def test_an_acknowledgement_during_an_update_is_kept(state: AlertState, valkey: ValkeyServer) -> None:
    opened, _ = await state.apply(FP, decide_for(signal(0)))
    assert opened is not None
    api = redis.Redis.from_url(valkey.url)  # another connection: the API acknowledging
    calls = 0

    def decide(current: Alert | None) -> Alert:
        nonlocal calls
        calls += 1
        if calls == 1:
            # Between the worker's read and its write, the desk acknowledges the alert.
            assert current is not None
            acked = acknowledge(current, by="desk", now=T0 + timedelta(seconds=30))
            api.set(f"pantau:alert:{current.id}", encode(acked))
        return apply_signal(current, signal(1), now=T0 + timedelta(minutes=2), watchlist=WATCHLIST)

    final, event = await state.apply(FP, decide)
    api.close()
    assert calls == 2, "the write must have been retried on the fresh state"
    assert final is not None and event == "updated"
    assert final.status == AlertStatus.acknowledged and final.acked_by == "desk"
    assert len(final.signal_ids) == 2
    assert await state.get(opened.id) == final


async def test_every_change_is_published_and_appended_to_the_feed(state: AlertState) -> None:
    pubsub = state.redis.pubsub()
    await pubsub.subscribe("pantau:alerts")
    await pubsub.get_message(timeout=1)  # the subscription confirmation
    opened, _ = await state.apply(FP, decide_for(signal(0)))
    assert opened is not None
    await state.update(opened.id, lambda a: acknowledge(a, by="desk", now=T0), event="acknowledged")  # type: ignore[arg-type]
    published = []
    for _ in range(2):
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=2)
        assert message is not None
        published.append(orjson.loads(message["data"]))
    await pubsub.aclose()
    assert [(m["event"], m["alert"]["id"]) for m in published] == [
        ("opened", opened.id),
        ("acknowledged", opened.id),
    ]
    feed = await state.redis.xrange("pantau:alerts:feed")
    assert [orjson.loads(fields[b"data"])["event"] for _, fields in feed] == ["opened", "acknowledged"]


async def test_the_embedded_valkey_is_bounded_and_never_evicts_live_alerts(valkey: ValkeyServer) -> None:
    from redis.asyncio import Redis

    redis = Redis.from_url(valkey.url)
    try:
        config = await redis.config_get("maxmemory*")
    finally:
        await redis.aclose()
    # Live alerts carry TTLs: any volatile-* or allkeys-* policy could drop one at the bound.
    assert config["maxmemory-policy"] == "noeviction"
    assert int(config["maxmemory"]) == 512 * 2**20


async def test_an_issue_back_after_pantau_closed_it_reopens_the_same_alert(state: AlertState) -> None:
    issue = make_issue("leak", posts=40, growth=3.0)

    def event(kind: str, posts: int = 40) -> Callable[[Alert | None], Alert | None]:
        changed = issue.model_copy(update={"posts": posts})
        return lambda current: apply_issue(current, kind, changed, now=utcnow(), watchlist=WATCHLIST)

    opened, change = await state.apply(issue.id, event("opened"))
    assert opened is not None and change == "opened"
    closed, change = await state.apply(issue.id, event("closed"), update_event="resolved")
    assert closed is not None and closed.status == AlertStatus.resolved and change == "resolved"
    assert opened.id not in await state.redis.zrange("pantau:alerts:live", 0, -1)
    back, change = await state.apply(issue.id, event("updated", posts=90))
    assert back is not None and change == "updated"
    assert back.id == opened.id and back.status == AlertStatus.open and back.numbers["posts"] == 90
    assert back.created_at == opened.created_at  # the same alert, its history kept, not a new one
