"""Live alert state in Redis: the current alerts, dedup of signals, and the live feed.

Keys (all under `pantau:`):
- `alert:<id>` the alert as JSON; `alert:fp:<fingerprint>` the id of its live alert (both expire
  after the retention: ClickHouse keeps the history);
- `alerts:live` a sorted set of live alert ids by last update;
- `signal:<id>` a marker that the signal was handled (dedup across redeliveries);
- `alerts:feed` a capped stream of alert events (the SSE feed resumes from its ids);
- channel `alerts` receives the same events by pub/sub.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import WatchError

from alerts.issues import ISSUE
from alerts.lifecycle import PANTAU
from pantau.domain import Alert, AlertStatus, decode, encode

PREFIX = "pantau:"
FEED = PREFIX + "alerts:feed"
CHANNEL = PREFIX + "alerts"
LIVE = PREFIX + "alerts:live"
# The alert after a change; None (or the alert itself) when there is nothing to store.
Decide = Callable[[Alert | None], Alert | None]


def _alert_key(alert_id: str) -> str:
    return f"{PREFIX}alert:{alert_id}"


def stream_id(entry_id: str) -> tuple[int, int]:
    millis, _, seq = entry_id.partition("-")
    return int(millis), int(seq or 0)


class AlertState:
    def __init__(self, redis: Redis, *, dedup_ttl_seconds: int = 7 * 86400, feed_maxlen: int = 10000) -> None:
        self.redis = redis
        self.dedup_ttl_seconds = dedup_ttl_seconds
        # Live records expire with the signal markers: ClickHouse keeps the history for good.
        self.retention_seconds = dedup_ttl_seconds
        self.feed_maxlen = feed_maxlen

    async def signal_seen(self, signal_id: str) -> bool:
        return bool(await self.redis.exists(f"{PREFIX}signal:{signal_id}"))

    async def mark_signal(self, signal_id: str) -> None:
        """Record a signal as handled, after its effects are stored (a crash before it re-handles it)."""
        await self.redis.set(f"{PREFIX}signal:{signal_id}", 1, ex=self.dedup_ttl_seconds)

    async def get(self, alert_id: str) -> Alert | None:
        data = await self.redis.get(_alert_key(alert_id))
        return decode(Alert, data) if data else None

    async def get_many(self, alert_ids: list[str]) -> list[Alert]:
        """The alerts Redis still has, in the order asked (missing ones left out)."""
        if not alert_ids:
            return []
        found: list[Any] = await self.redis.mget([_alert_key(i) for i in alert_ids])
        return [decode(Alert, data) for data in found if data]

    async def for_fingerprint(self, fingerprint: str) -> Alert | None:
        """The live alert of a fingerprint (an issue's id, for the issue's alert), if any."""
        alert_id = await self.redis.get(f"{PREFIX}alert:fp:{fingerprint}")
        if not alert_id:
            return None
        return await self.get(alert_id.decode() if isinstance(alert_id, bytes) else str(alert_id))

    async def live_alerts(self) -> list[Alert]:
        """Every alert not resolved, oldest update first."""
        members: list[Any] = await self.redis.zrange(LIVE, 0, -1)
        ids = [i.decode() if isinstance(i, bytes) else str(i) for i in members]
        return await self.get_many(ids)

    async def apply(
        self, fingerprint: str, decide: Decide, *, update_event: str = "updated"
    ) -> tuple[Alert | None, str | None]:
        """Read the live alert of a fingerprint, let `decide` open or update one, and store the
        result, atomically: a concurrent change (an acknowledgement from the API, say) makes the
        transaction retry with the fresh state instead of being overwritten.

        Returns the alert as stored and the event ("opened", "updated"), or the live alert and
        None when `decide` changed nothing."""
        fp_key = f"{PREFIX}alert:fp:{fingerprint}"

        async def read_live(pipe: Any) -> Alert | None:
            await pipe.watch(fp_key)
            alert_id = await pipe.get(fp_key)
            if not alert_id:
                return None
            key = _alert_key(alert_id.decode() if isinstance(alert_id, bytes) else alert_id)
            await pipe.watch(key)
            data = await pipe.get(key)
            return decode(Alert, data) if data else None

        def event_for(current: Alert | None, alert: Alert) -> str:
            return "opened" if current is None or current.id != alert.id else update_event

        return await self._transact(read_live, decide, event_for, index=True)

    async def update(self, alert_id: str, decide: Decide, *, event: str) -> Alert | None:
        """Change one stored alert atomically (retrying on a concurrent change); None when Redis
        does not have it. Leaves the fingerprint index alone: this is not the alert's detector."""
        alert, _ = await self.change(alert_id, decide, event=event)
        return alert

    async def change(self, alert_id: str, decide: Decide, *, event: str) -> tuple[Alert | None, bool]:
        """As `update`, and whether this call changed the alert (False: `decide` kept it as it was)."""
        key = _alert_key(alert_id)

        async def read_one(pipe: Any) -> Alert | None:
            await pipe.watch(key)
            data = await pipe.get(key)
            return decode(Alert, data) if data else None

        alert, done = await self._transact(read_one, decide, lambda current, alert: event, index=False)
        return alert, done is not None

    async def _transact(
        self,
        read: Callable[[Any], Awaitable[Alert | None]],
        decide: Decide,
        event_for: Callable[[Alert | None, Alert], str],
        *,
        index: bool,
    ) -> tuple[Alert | None, str | None]:
        """WATCH what `read` reads, decide, write in MULTI/EXEC; start over if a watched key
        changed meanwhile. Without `index` (not the detector) a missing alert is not created."""
        async with self.redis.pipeline(transaction=True) as transaction:
            pipe: Any = transaction  # redis-py leaves multi() and reset() untyped
            while True:
                try:
                    current = await read(pipe)
                    alert = decide(current) if current is not None or index else None
                    if alert is None or alert is current:
                        await pipe.reset()
                        return current, None
                    event = event_for(current, alert)
                    pipe.multi()
                    self._queue_save(pipe, alert, event, index=index)
                    await pipe.execute()
                    return alert, event
                except WatchError:
                    continue

    async def put(self, alert: Alert, *, event: str) -> None:
        """Store an alert Redis no longer had (its live copy expired), without re-indexing it."""
        async with self.redis.pipeline(transaction=True) as pipe:
            self._queue_save(pipe, alert, event, index=False)
            await pipe.execute()

    def _queue_save(self, pipe: Any, alert: Alert, event: str, *, index: bool) -> None:
        payload = encode(alert)
        event_body = orjson.dumps({"event": event, "alert": orjson.loads(payload)})
        pipe.set(_alert_key(alert.id), payload, ex=self.retention_seconds)
        if alert.status == AlertStatus.resolved:
            pipe.zrem(LIVE, alert.id)
            # An issue's alert that Pantau resolved stays its issue's: if the issue is back, the
            # same alert reopens (alerts.issues.apply_issue).
            if index and not (alert.key_kind == ISSUE and alert.resolved_by == PANTAU):
                pipe.delete(f"{PREFIX}alert:fp:{alert.fingerprint}")
        else:
            pipe.zadd(LIVE, {alert.id: alert.updated_at.timestamp()})
            if index:
                pipe.set(f"{PREFIX}alert:fp:{alert.fingerprint}", alert.id, ex=self.retention_seconds)
        # Live alerts not updated within the retention drop out of the index with their record.
        pipe.zremrangebyscore(LIVE, "-inf", alert.updated_at.timestamp() - self.retention_seconds)
        pipe.xadd(FEED, {"data": event_body}, maxlen=self.feed_maxlen, approximate=True)
        pipe.publish(CHANNEL, event_body)

    async def announce(self, alert: Alert, *, event: str, extra: dict[str, Any] | None = None) -> None:
        """An event about an alert that does not change it (a comment): feed and channel only."""
        body = orjson.dumps({"event": event, "alert": orjson.loads(encode(alert)), **(extra or {})})
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(FEED, {"data": body}, maxlen=self.feed_maxlen, approximate=True)
            pipe.publish(CHANNEL, body)
            await pipe.execute()

    async def feed_holds(self, last_id: str) -> bool:
        """Whether the feed still has everything after `last_id` (the capped stream drops its
        oldest entries): if not, a client resuming from it would miss events."""
        if not await self.redis.exists(FEED):
            return True  # an empty feed lost nothing a client could have seen
        info: Any = await self.redis.xinfo_stream(FEED)
        if info["entries-added"] <= info["length"]:
            return True  # nothing was ever trimmed
        # Trimmed entries all precede the oldest one kept. Which one was trimmed last is not
        # recorded, so a client whose last id is older may have missed some: say so (a needless
        # refetch costs little; a silent gap would cost an alert).
        first = info["first-entry"][0] if info.get("first-entry") else info["last-generated-id"]
        first = first.decode() if isinstance(first, bytes) else str(first)
        return stream_id(last_id) >= stream_id(first)
