"""The dispatcher against real Valkey and ClickHouse, delivering to webhooks on loopback.

Each test drives `Dispatcher.step(now)` with its own clock, so timelines of minutes run at once;
one test runs the real loop to show an alert event wakes it before its tick."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client
from redis.asyncio import Redis

from alerts.channels import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature
from alerts.config import Matcher
from alerts.dispatcher import GROUPS, AlertingSource, Dispatcher, SilenceStore
from alerts.lifecycle import acknowledge, apply_signal, fingerprint, resolve
from alerts.notifiers import Notifier
from alerts.routing import Silence
from alerts.state import AlertState
from config.settings import DEFAULT_WATCHLIST
from config.watchlist import load_watchlist
from pantau import metrics
from pantau.domain import Alert, AlertStatus, Signal, SignalKind
from service.engines import ValkeyServer
from storage.repository import ClickHouseStore
from tests.integration.harness import wait_for
from tests.loopback import LoopbackHttp, Reply, Seen

T0 = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)
SECRET = "dispatcher-test-secret"
WATCHLIST = load_watchlist(DEFAULT_WATCHLIST)


def alerting_yaml(url: str, *, desk_wait: str = "30s") -> str:
    return f"""\
route:
  receiver: desk
  group_by: [kind, target]
  group_wait: {desk_wait}
  group_interval: 5m
  repeat_interval: 1h
  routes:
    - matchers: ['severity="critical"']
      group_wait: 0s
      escalate: {{after: 10m, receiver: leads}}
inhibit_rules:
  - source_matchers: ['kind="coordinated_posting"']
    target_matchers: ['kind="volume_burst"']
    equal: [target]
resolve_after:
  volume_burst: 20m
receivers:
  - name: desk
    language: id
    channels:
      - type: webhook
        url: {url}/desk
        secret: {SECRET}
  - name: leads
    language: en
    channels:
      - type: webhook
        url: {url}/leads
"""


@dataclass
class Desk:
    dispatcher: Dispatcher
    state: AlertState
    store: ClickHouseStore
    silences: SilenceStore
    server: LoopbackHttp
    config_path: Path

    def posts(self, path: str) -> list[Seen]:
        return [r for r in self.server.requests if r.path == path]

    async def step(self, at: datetime) -> None:
        await self.dispatcher.step(at)
        await self.dispatcher.drain()


@pytest.fixture
async def desk(valkey: ValkeyServer, clickhouse: Client, tmp_path: Path) -> AsyncIterator[Desk]:
    redis = Redis.from_url(valkey.url)
    async with LoopbackHttp() as server:
        path = tmp_path / "alerting.yaml"
        path.write_text(alerting_yaml(server.url))
        state = AlertState(redis)
        store = ClickHouseStore(clickhouse)
        silences = SilenceStore(redis)
        notifier = Notifier(max_attempts=2, backoff_initial=0.01, backoff_max=0.02)
        dispatcher = Dispatcher(
            alert_state=state,
            silences=silences,
            store=store,
            notifier=notifier,
            source=AlertingSource(path, environ={}),
        )
        yield Desk(dispatcher, state, store, silences, server, path)
        await notifier.aclose()
    await redis.aclose()


def signal(
    key: str = "raka-wibisana",
    *,
    kind: SignalKind = SignalKind.volume_burst,
    at: datetime = T0,
    ratio: float = 3.0,
    key_kind: str = "target",
    target: str | None = None,
) -> Signal:
    numbers = {"count": 30.0, "ratio": ratio, "window_seconds": 300.0}
    if kind == SignalKind.coordinated_posting:
        numbers = {"accounts": 9.0, "posts": 12.0, "window_seconds": 300.0, "threshold_accounts": 8.0}
    return Signal(
        id=Signal.make_id(kind, key_kind, key, at),
        kind=kind,
        key_kind=key_kind,
        key=key,
        target=key if target is None and key_kind == "target" else (target or ""),
        window_start=at,
        window_end=at + timedelta(minutes=5),
        numbers=numbers,
        evidence=("x:1",),
        detected_at=at,
    )


async def open_alert(desk: Desk, s: Signal, *, now: datetime = T0) -> Alert:
    alert, _ = await desk.state.apply(
        fingerprint(s.kind, s.key_kind, s.key),
        lambda current: apply_signal(current, s, now=now, watchlist=WATCHLIST),
    )
    assert alert is not None
    return alert


def delivery_log(clickhouse: Client) -> list[tuple[str, str, str, int]]:
    rows = clickhouse.query(
        "SELECT receiver, reason, status, attempts FROM notification_log FINAL ORDER BY started_at"
    ).result_rows
    return [tuple(row) for row in rows]  # type: ignore[misc]


async def test_a_critical_alert_is_sent_at_once_signed_in_the_receivers_language(
    desk: Desk, clickhouse: Client
) -> None:
    alert = await open_alert(desk, signal(ratio=12.0))  # a critical target, a large burst
    assert alert.severity == "critical"
    await desk.step(T0)
    [seen] = desk.posts("/desk")
    body = seen.json()
    assert [a["id"] for a in body["firing"]] == [alert.id] and body["reason"] == "firing"
    assert body["language"] == "id" and "Lonjakan" in body["text"]
    assert verify_signature(
        SECRET.encode(),
        seen.headers[TIMESTAMP_HEADER.lower()],
        seen.body,
        seen.headers[SIGNATURE_HEADER.lower()],
    )
    assert delivery_log(clickhouse) == [("desk", "firing", "delivered", 1)]
    # Nothing new: the next step tells nobody anything.
    await desk.step(T0 + timedelta(minutes=1))
    assert len(desk.posts("/desk")) == 1


async def test_group_wait_collects_a_storm_into_one_message(desk: Desk) -> None:
    first = await open_alert(desk, signal("pemilu", key_kind="hashtag"))
    await desk.step(T0)
    second = await open_alert(desk, signal("debat", key_kind="hashtag", at=T0 + timedelta(seconds=5)))
    await desk.step(T0 + timedelta(seconds=10))
    assert desk.posts("/desk") == []
    await desk.step(T0 + timedelta(seconds=30))
    [seen] = desk.posts("/desk")
    assert sorted(a["id"] for a in seen.json()["firing"]) == sorted([first.id, second.id])


async def test_a_silence_hushes_matching_alerts_until_it_expires(desk: Desk) -> None:
    alert = await open_alert(desk, signal(ratio=12.0))
    silence = Silence(
        id="s1", matchers=(Matcher.model_validate('target="raka-wibisana"'),), starts_at=T0,
        ends_at=T0 + timedelta(minutes=15), created_by="ana", created_at=T0, comment="scheduled rally",
    )  # fmt: skip
    await desk.silences.put(silence)
    report = await desk.dispatcher.step(T0)
    assert report.suppressed == {alert.id: "silence:s1"} and report.notifications == []
    expired = await desk.silences.expire("s1", by="ana", now=T0 + timedelta(minutes=2))
    assert expired is not None and expired.expired_by == "ana"
    await desk.step(T0 + timedelta(minutes=3))
    assert [a["id"] for a in desk.posts("/desk")[0].json()["firing"]] == [alert.id]


async def test_a_campaign_inhibits_the_burst_on_its_target(desk: Desk) -> None:
    burst = await open_alert(desk, signal(ratio=12.0))
    campaign = await open_alert(
        desk,
        signal("cluster-1", kind=SignalKind.coordinated_posting, key_kind="text", target="raka-wibisana"),
    )
    report = await desk.dispatcher.step(T0)
    assert report.suppressed == {burst.id: f"inhibited_by:{campaign.id}"}
    await desk.dispatcher.drain()
    sent = [a["id"] for r in desk.posts("/desk") for a in r.json()["firing"]]
    assert burst.id not in sent


async def test_an_alert_resolves_when_its_condition_clears_and_says_so(
    desk: Desk, clickhouse: Client
) -> None:
    alert = await open_alert(desk, signal(ratio=12.0))
    await desk.step(T0)
    cleared_at = alert.last_seen + timedelta(minutes=20)
    report = await desk.dispatcher.step(cleared_at - timedelta(seconds=1))
    assert report.resolved == []
    report = await desk.dispatcher.step(cleared_at)
    await desk.dispatcher.drain()
    assert report.resolved == [alert.id]
    stored = await desk.state.get(alert.id)
    assert stored is not None and stored.status == AlertStatus.resolved and stored.resolved_by == "pantau"
    events = desk.store.alert_events(alert.id)
    assert events[-1].event == "resolved" and "no new signal for 20 min" in events[-1].details
    # The receiver that was told it fired is told it resolved.
    last = desk.posts("/desk")[-1].json()
    assert last["reason"] == "resolved" and [a["id"] for a in last["resolved"]] == [alert.id]


async def test_unacknowledged_alerts_escalate_once_acknowledged_ones_do_not(desk: Desk) -> None:
    loud = await open_alert(desk, signal(ratio=12.0))
    quiet = await open_alert(desk, signal("sari-lestari", ratio=12.0))
    await desk.step(T0)
    await desk.state.update(quiet.id, lambda a: acknowledge(a, by="ana", now=T0), event="acknowledged")  # type: ignore[arg-type,return-value]
    await desk.step(T0 + timedelta(minutes=10))
    [escalation] = desk.posts("/leads")
    body = escalation.json()
    assert body["reason"] == "escalation" and [a["id"] for a in body["firing"]] == [loud.id]
    assert body["language"] == "en"
    escalated = await desk.state.get(loud.id)
    assert escalated is not None and escalated.escalated_at is not None
    await desk.step(T0 + timedelta(minutes=20))
    assert len(desk.posts("/leads")) == 1
    # The leads, told it escalated, are told when it resolves.
    await desk.state.update(
        loud.id, lambda a: resolve(a, by="ana", now=T0 + timedelta(minutes=21)), event="resolved"
    )  # type: ignore[arg-type,return-value]
    await desk.step(T0 + timedelta(minutes=22))
    last = desk.posts("/leads")[-1].json()
    assert last["reason"] == "resolved" and [a["id"] for a in last["resolved"]] == [loud.id]
    assert not [k for k in await desk.state.redis.hkeys(GROUPS) if k.startswith(b"escalation|")]


async def test_an_alert_acknowledged_during_a_step_is_not_escalated(desk: Desk) -> None:
    alert = await open_alert(desk, signal(ratio=12.0))
    await desk.step(T0)
    real_change = desk.state.change

    async def ack_first(alert_id: str, decide: Any, *, event: str) -> Any:
        # Someone acknowledges between the step's read and its write.
        await real_change(alert_id, lambda a: acknowledge(a, by="ana", now=T0), event="acknowledged")  # type: ignore[arg-type,return-value]
        return await real_change(alert_id, decide, event=event)

    desk.state.change = ack_first  # type: ignore[method-assign]
    report = await desk.dispatcher.step(T0 + timedelta(minutes=10))
    await desk.dispatcher.drain()
    assert report.escalated == [] and desk.posts("/leads") == []
    stored = await desk.state.get(alert.id)
    assert stored is not None and stored.escalated_at is None


async def test_rules_reload_when_the_file_changes_and_a_bad_edit_keeps_the_last_good_ones(desk: Desk) -> None:
    errors = metrics.ALERTING_RELOADS.labels("error")._value.get()
    desk.config_path.write_text("route: [broken\n")
    assert desk.dispatcher.source.current().receivers[0].name == "desk"
    assert metrics.ALERTING_RELOADS.labels("error")._value.get() == errors + 1
    desk.config_path.write_text(
        alerting_yaml(desk.server.url, desk_wait="0s").replace("language: id", "language: en")
    )
    await open_alert(desk, signal("pemilu", key_kind="hashtag"))
    await desk.step(T0)
    [seen] = desk.posts("/desk")
    assert seen.json()["language"] == "en"  # group_wait 0 and English: the new file is in force


async def test_a_failing_channel_is_logged_and_retried_without_holding_the_others(
    desk: Desk, clickhouse: Client
) -> None:
    desk.server.then(Reply(500), Reply(500))  # the desk webhook fails both attempts
    await open_alert(desk, signal(ratio=12.0))
    await desk.step(T0)
    assert delivery_log(clickhouse) == [("desk", "firing", "failed", 2)]


async def test_the_running_loop_wakes_on_an_alert_event_before_its_tick(desk: Desk) -> None:
    desk.dispatcher.tick_seconds = 60.0  # far longer than the wait below
    running = asyncio.create_task(desk.dispatcher.run())
    try:
        await asyncio.sleep(0.5)  # subscribed, first step done
        alert = await open_alert(desk, signal(ratio=12.0), now=datetime.now(UTC))

        async def delivered() -> bool:
            return any(a["id"] == alert.id for r in desk.posts("/desk") for a in r.json()["firing"])

        await wait_for(delivered, seconds=10, what="the webhook for the new alert")
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    assert await desk.state.redis.exists(GROUPS)
