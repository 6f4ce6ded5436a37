"""The dispatcher: turns the live alerts into notifications, on time, once.

Each step reads the live alerts, silences and group states from Redis, resolves alerts whose
condition cleared, and asks `alerts.routing` what is due; it saves the new group states, then
delivers in the background (a slow channel never delays the next step) and logs every delivery
in ClickHouse. It steps every `tick_seconds` and at once when an alert event is published.

Several workers may run it: a Redis lease makes one of them the dispatcher at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError
from tenacity import AsyncRetrying, stop_after_attempt, wait_exponential

from alerts.config import (
    AlertingConfig,
    AlertingConfigError,
    ResolvedRoute,
    load_alerting,
    routes_for,
)
from alerts.issues import ISSUE
from alerts.lifecycle import PANTAU, mark_escalated, resolve_if_cleared
from alerts.messages import Notification, NotificationReason
from alerts.notifiers import DeliveryRecord, Notifier
from alerts.routing import (
    ESCALATION_PREFIX,
    GroupState,
    Silence,
    SilenceState,
    escalation_due,
    escalation_notification,
    group_key,
    inhibited_by,
    notification_id,
    notified_version,
    plan_group,
    silenced_by,
)
from alerts.state import CHANNEL, PREFIX, AlertState
from pantau import metrics
from pantau.aio import wait_set
from pantau.domain import Alert, AlertStatus, decode, encode, utcnow
from storage.repository import ClickHouseStore

log = logging.getLogger(__name__)

GROUPS = PREFIX + "notify:groups"
SILENCES = PREFIX + "silences"
DRAIN_SECONDS = 15.0
LEADER = PREFIX + "notify:leader"
# Expired silences stay listable this long, then go (the audit trail is in the API's access log).
SILENCE_KEEP = timedelta(days=30)
ISSUE_BACKSTOP = timedelta(hours=24)


class AlertingSource:
    """The alerting file, re-read when it changes. A bad file at start-up raises; a bad edit later
    is logged and counted, and the last good rules stay in force."""

    def __init__(self, path: Path, environ: dict[str, str] | None = None) -> None:
        self.path = path
        self.environ = environ
        self._stamp = self._file_stamp()
        self.config = load_alerting(path, environ)

    def _file_stamp(self) -> tuple[int, int]:
        try:
            stat = self.path.stat()
        except OSError:
            return (0, 0)
        return (stat.st_mtime_ns, stat.st_size)

    def current(self) -> AlertingConfig:
        stamp = self._file_stamp()
        if stamp != self._stamp:
            self._stamp = stamp
            try:
                self.config = load_alerting(self.path, self.environ)
            except AlertingConfigError as exc:
                metrics.ALERTING_RELOADS.labels("error").inc()
                log.error("alerting rules not reloaded, the previous ones stay: %s", exc)
            else:
                metrics.ALERTING_RELOADS.labels("ok").inc()
                log.info("alerting rules reloaded from %s", self.path)
        return self.config


class SilenceStore:
    """Silences in a Redis hash (id -> JSON). Few and small: read whole on each step."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    @staticmethod
    def new_id() -> str:
        return secrets.token_hex(8)

    async def put(self, silence: Silence) -> None:
        await self.redis.hset(SILENCES, silence.id, encode(silence))

    async def get(self, silence_id: str) -> Silence | None:
        data = await self.redis.hget(SILENCES, silence_id)
        return decode(Silence, data) if data else None

    async def all(self, now: datetime) -> list[Silence]:
        """Every silence, dropping those that ended over `SILENCE_KEEP` ago."""
        raw: dict[Any, Any] = await self.redis.hgetall(SILENCES)
        silences, stale = [], []
        for silence_id, data in raw.items():
            silence = decode(Silence, data)
            if now - silence.ends_at > SILENCE_KEEP:
                stale.append(silence_id)
            else:
                silences.append(silence)
        if stale:
            await self.redis.hdel(SILENCES, *stale)
        return sorted(silences, key=lambda s: s.created_at)

    async def expire(self, silence_id: str, *, by: str, now: datetime) -> Silence | None:
        """End it now (kept, as expired, for the record). None when there is no such silence."""
        silence = await self.get(silence_id)
        if silence is None:
            return None
        if silence.state(now) != SilenceState.expired:
            silence = silence.model_copy(update={"ends_at": now, "expired_by": by})
            await self.put(silence)
        return silence


@dataclass
class StepReport:
    """What one step did (for tests and logs)."""

    resolved: list[str] = field(default_factory=list)
    suppressed: dict[str, str] = field(default_factory=dict)  # alert id -> silence or inhibiting alert
    notifications: list[Notification] = field(default_factory=list)
    escalated: list[str] = field(default_factory=list)


class Dispatcher:
    def __init__(
        self,
        *,
        alert_state: AlertState,
        silences: SilenceStore,
        store: ClickHouseStore,
        notifier: Notifier,
        source: AlertingSource,
        clock: Callable[[], datetime] = utcnow,
        tick_seconds: float = 1.0,
    ) -> None:
        self.alert_state = alert_state
        self.redis = alert_state.redis
        self.silences = silences
        self.store = store
        self.notifier = notifier
        self.source = source
        self.clock = clock
        self.tick_seconds = tick_seconds
        self._deliveries: set[asyncio.Task[list[DeliveryRecord]]] = set()
        self._wake = asyncio.Event()
        self._lease: Lock | None = None  # set while `run` leads; `step` confirms it before acting

    # -- the loop -------------------------------------------------------------------------------
    async def run(self) -> None:
        """Step forever while holding the lease; stop by cancelling."""
        listener = asyncio.create_task(self._listen())
        lease = self.redis.lock(LEADER, timeout=max(30.0, 5 * self.tick_seconds), blocking=False)
        self._lease = lease
        leading = False
        try:
            while True:
                # Cleared before the step, not after: an alert published during the step must
                # wake the next one at once, not wait a tick.
                self._wake.clear()
                try:
                    leading = await (lease.reacquire() if leading else lease.acquire(blocking=False))
                except LockError:
                    leading = False  # the lease lapsed (a long pause): take it again next time
                except Exception:
                    log.exception("dispatcher: Redis unreachable for the lease")
                    leading = False
                if leading:
                    try:
                        await self.step()
                    except Exception:
                        log.exception("dispatcher step failed; trying again next tick")
                await wait_set(self._wake, self.tick_seconds)
        finally:
            self._lease = None
            listener.cancel()
            with contextlib.suppress(Exception):
                if leading:
                    await lease.release()
            # Bounded: a channel still retrying after this is cut off (and logged as failed).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.drain(), DRAIN_SECONDS)

    async def _listen(self) -> None:
        """Wake the loop as soon as an alert changes (that is what makes signal-to-message fast)."""
        while True:
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("dispatcher: alert channel lost, resubscribing", exc_info=True)
                await asyncio.sleep(1.0)

    async def drain(self) -> None:
        """Wait for deliveries in flight (each is bounded by its channels' timeouts and retries)."""
        if self._deliveries:
            await asyncio.gather(*self._deliveries, return_exceptions=True)

    # -- one step -------------------------------------------------------------------------------
    async def step(self, now: datetime | None = None) -> StepReport:
        now = now or self.clock()
        config = self.source.current()
        report = StepReport()
        live = await self.alert_state.live_alerts()
        firing = [await self._resolve_if_cleared(a, config, now, report) for a in live]
        firing = [a for a in firing if a.status != AlertStatus.resolved]
        silences = await self.silences.all(now)
        notifiable = []
        for alert in firing:
            hushed = silenced_by(alert.labels, silences, now)
            reason = f"silence:{hushed[0]}" if hushed else None
            source = None if reason else inhibited_by(alert, firing, config.inhibit_rules)
            if reason or source:
                report.suppressed[alert.id] = reason or f"inhibited_by:{source}"
            else:
                notifiable.append(alert)
        metrics.ALERTS_SUPPRESSED.set(len(report.suppressed))

        states = await self._load_groups()
        members: dict[str, list[Alert]] = defaultdict(list)
        routes: dict[str, tuple[ResolvedRoute, dict[str, str]]] = {}
        routes_of: dict[str, list[ResolvedRoute]] = {}
        for alert in notifiable:
            routes_of[alert.id] = routes_for(alert.labels, config.route)
            for route in routes_of[alert.id]:
                key, labels = group_key(route, alert.labels)
                members[key].append(alert)
                routes[key] = (route, labels)
        # Alerts a receiver was told about that are no longer firing: resolved ones are news.
        firing_ids = {a.id for a in firing}
        told = {i for s in states.values() for i in s.notified if i not in firing_ids}
        told_alerts = {a.id: a for a in await self.alert_state.get_many(sorted(told))}
        for alert in told_alerts.values():
            if alert.status != AlertStatus.resolved:
                continue
            for route in routes_for(alert.labels, config.route):
                key, labels = group_key(route, alert.labels)
                if key in states:
                    members[key].append(alert)
                    routes.setdefault(key, (route, labels))

        saves: dict[str, GroupState] = {}
        forget: list[str] = []
        for key, told_state in states.items():
            escalated_id = next(iter(told_state.notified), "")
            if key.startswith(ESCALATION_PREFIX) and escalated_id not in firing_ids:
                self._follow_escalation(key, told_state, told_alerts, config, now, report, forget)
        for key in sorted(set(states) | set(members)):
            if key.startswith(ESCALATION_PREFIX):
                continue
            if key not in routes:
                forget.append(key)  # its route or its alerts are gone (rules reloaded, silenced)
                continue
            route, labels = routes[key]
            receiver = config.receiver(route.receiver)
            decision = plan_group(
                states.get(key),
                key=key,
                route=route,
                labels=labels,
                members=members[key],
                now=now,
                language=route.language or (receiver.language if receiver else "en"),
                link=config.link,
            )
            if decision.state is None:
                if key in states:
                    forget.append(key)
            elif decision.state != states.get(key):
                saves[key] = decision.state
            if decision.notification is not None:
                report.notifications.append(decision.notification)

        for alert in notifiable:
            for receiver_name in escalation_due(alert, routes_of[alert.id], now):
                receiver = config.receiver(receiver_name)
                escalated, changed = await self.alert_state.change(
                    alert.id, _changing(lambda current: mark_escalated(current, now=now)), event="escalated"
                )
                if escalated is None or not changed:
                    continue  # acknowledged, resolved or escalated meanwhile
                report.escalated.append(alert.id)
                notification = escalation_notification(
                    escalated,
                    receiver_name,
                    now=now,
                    language=receiver.language if receiver else "en",
                    link=config.link,
                )
                report.notifications.append(notification)
                # Kept like a group, so the escalation's receiver hears when the alert resolves.
                saves[notification.group_key] = GroupState(
                    key=notification.group_key,
                    receiver=receiver_name,
                    labels=dict(escalated.labels),
                    first_firing_at=now,
                    last_sent_at=now,
                    notified={escalated.id: notified_version(escalated)},
                )
                await self._record(escalated, "escalated", f"unacknowledged; escalated to {receiver_name}")

        # Another dispatcher may have taken over during a long step: then it acts, not this one.
        if not await self._still_leading():
            log.warning("dispatcher lost its lease during a step; leaving the decisions to the new leader")
            report.notifications.clear()
            return report
        # The state first: a crash after it loses at most this step's messages, never repeats them.
        await self._save_groups(saves, forget)
        for notification in report.notifications:
            self._deliver_later(notification, config)
        return report

    async def _resolve_if_cleared(
        self, alert: Alert, config: AlertingConfig, now: datetime, report: StepReport
    ) -> Alert:
        after = config.resolve_after_for(alert.kind)
        if alert.key_kind == ISSUE:
            # The issue layer resolves its alerts when the issue goes quiet or merges; this is
            # only the backstop for an issue whose stream stopped (no post moves its clock).
            after = max(after, ISSUE_BACKSTOP)
        if resolve_if_cleared(alert, now=now, resolve_after=after) is alert:
            return alert
        resolved = await self.alert_state.update(
            alert.id,
            _changing(lambda current: resolve_if_cleared(current, now=now, resolve_after=after)),
            event="resolved",
        )
        if resolved is None or resolved.status != AlertStatus.resolved:
            return resolved or alert
        minutes = int(after.total_seconds() // 60)
        await self._record(resolved, "resolved", f"cleared: no new signal for {minutes} min")
        report.resolved.append(alert.id)
        return resolved

    def _follow_escalation(
        self,
        key: str,
        state: GroupState,
        told: dict[str, Alert],
        config: AlertingConfig,
        now: datetime,
        report: StepReport,
        forget: list[str],
    ) -> None:
        """Tell an escalation's receiver that its alert, no longer firing, resolved; forget it."""
        alert = told.get(next(iter(state.notified), ""))
        forget.append(key)
        if alert is None:
            return  # Redis no longer has it (retention): nothing to say
        receiver = config.receiver(state.receiver)
        report.notifications.append(
            Notification(
                id=notification_id(state.receiver, key, NotificationReason.resolved, [alert], now),
                receiver=state.receiver,
                language=receiver.language if receiver else "en",
                reason=NotificationReason.resolved,
                group_key=key,
                group_labels=state.labels,
                resolved=(alert,),
                created_at=now,
                link=config.link,
            )
        )

    async def _record(self, alert: Alert, event: str, details: str) -> None:
        """Write a change the dispatcher made to the history. Redis already has it: a ClickHouse
        outage is retried a little, then logged, and never stops the step (messages still go)."""
        metrics.ALERT_EVENTS.labels(event).inc()
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(3), wait=wait_exponential(multiplier=0.2, max=2), reraise=True
            ):
                with attempt:
                    await asyncio.to_thread(
                        self.store.upsert_alerts, [alert], event=event, actor=PANTAU, details=details
                    )
        except Exception:
            log.exception("alert %s %s: not written to the history", alert.id, event)

    async def _still_leading(self) -> bool:
        if self._lease is None:
            return True  # driven directly (tests, benchmarks): no lease to hold
        try:
            return bool(await self._lease.reacquire())
        except LockError:
            return False

    async def _load_groups(self) -> dict[str, GroupState]:
        raw: dict[Any, Any] = await self.redis.hgetall(GROUPS)
        return {key.decode(): decode(GroupState, data) for key, data in raw.items()}

    async def _save_groups(self, saves: dict[str, GroupState], forget: Sequence[str]) -> None:
        if not saves and not forget:
            return
        async with self.redis.pipeline(transaction=True) as pipe:
            if saves:
                pipe.hset(GROUPS, mapping={key: encode(state) for key, state in saves.items()})
            if forget:
                pipe.hdel(GROUPS, *forget)
            await pipe.execute()

    # -- delivery -------------------------------------------------------------------------------
    def _deliver_later(self, notification: Notification, config: AlertingConfig) -> None:
        task = asyncio.create_task(self._deliver(notification, config))
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)

    async def _deliver(self, notification: Notification, config: AlertingConfig) -> list[DeliveryRecord]:
        receiver = config.receiver(notification.receiver)
        channels = receiver.channels if receiver else ()
        alert_ids = [a.id for a in (*notification.firing, *notification.resolved)]
        log.info(
            "notify %s: %s %s (%d firing, %d resolved)%s",
            notification.receiver, notification.reason.value, notification.group_key,
            len(notification.firing), len(notification.resolved), "" if channels else " [no channels]",
        )  # fmt: skip
        records = await self.notifier.deliver(notification, channels) if channels else []
        rows: list[list[Any]] = [
            [
                r.notification_id, r.receiver, r.channel, r.channel_type, r.reason, r.status, r.attempts,
                r.error, list(r.alert_ids), r.started_at, r.finished_at,
            ]
            for r in records
        ] or [
            [
                notification.id, notification.receiver, "", "", notification.reason.value, "no_channels", 0,
                "", alert_ids, notification.created_at, notification.created_at,
            ]
        ]  # fmt: skip
        for record in records:
            if record.status != "delivered":
                log.warning(
                    "notification %s to %s via %s failed after %d attempts: %s",
                    record.notification_id, record.receiver, record.channel, record.attempts, record.error,
                )  # fmt: skip
        try:
            await asyncio.to_thread(self.store.log_deliveries, rows)
        except Exception:
            log.exception("delivery log not written: %s", orjson.dumps(rows, default=str).decode()[:2000])
        return records


def _changing(change: Callable[[Alert], Alert]) -> Callable[[Alert | None], Alert]:
    """`AlertState.update` only calls its decision with an alert it found."""

    def decide(current: Alert | None) -> Alert:
        assert current is not None
        return change(current)

    return decide
