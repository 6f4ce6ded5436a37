"""Live alert state in Redis: the current alerts, dedup of signals, and the live feed.

Keys (all under `pantau:`):
- `alert:<id>` the alert as JSON; `alert:fp:<fingerprint>` the id of its live alert;
- `alerts:live` a sorted set of live alert ids by last update;
- `signal:<id>` a marker that the signal was handled (dedup across redeliveries);
- `alerts:feed` a capped stream of alert events (the SSE feed resumes from its ids);
- channel `alerts` receives the same events by pub/sub.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
from redis.asyncio import Redis

from pantau.domain import Alert, AlertStatus, decode, encode

PREFIX = "pantau:"
FEED = PREFIX + "alerts:feed"
CHANNEL = PREFIX + "alerts"
LIVE = PREFIX + "alerts:live"


class AlertState:
    def __init__(self, redis: Redis, *, dedup_ttl_seconds: int = 7 * 86400, feed_maxlen: int = 10000) -> None:
        self.redis = redis
        self.dedup_ttl_seconds = dedup_ttl_seconds
        self.feed_maxlen = feed_maxlen

    async def signal_seen(self, signal_id: str) -> bool:
        return bool(await self.redis.exists(f"{PREFIX}signal:{signal_id}"))

    async def mark_signal(self, signal_id: str) -> None:
        """Record a signal as handled, after its effects are stored (a crash before it re-handles it)."""
        await self.redis.set(f"{PREFIX}signal:{signal_id}", 1, ex=self.dedup_ttl_seconds)

    async def live_alert(self, fingerprint: str) -> Alert | None:
        alert_id: bytes | str | None = await self.redis.get(f"{PREFIX}alert:fp:{fingerprint}")
        if isinstance(alert_id, bytes):
            alert_id = alert_id.decode()
        return await self.get(alert_id) if alert_id else None

    async def get(self, alert_id: str) -> Alert | None:
        data = await self.redis.get(f"{PREFIX}alert:{alert_id}")
        return decode(Alert, data) if data else None

    async def save(self, alert: Alert, *, event: str) -> str:
        """Store the alert, index it, and publish the change; returns the feed entry id."""
        payload = encode(alert)
        event_body = orjson.dumps({"event": event, "alert": orjson.loads(payload)})
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(f"{PREFIX}alert:{alert.id}", payload)
            if alert.status == AlertStatus.resolved:
                pipe.delete(f"{PREFIX}alert:fp:{alert.fingerprint}")
                pipe.zrem(LIVE, alert.id)
            else:
                pipe.set(f"{PREFIX}alert:fp:{alert.fingerprint}", alert.id)
                pipe.zadd(LIVE, {alert.id: alert.updated_at.timestamp()})
            pipe.xadd(FEED, {"data": event_body}, maxlen=self.feed_maxlen, approximate=True)
            pipe.publish(CHANNEL, event_body)
            results = await pipe.execute()
        entry_id = results[-2]
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    async def feed(
        self, last_id: str = "$", *, block_ms: int = 1000
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """Alert events after `last_id` ('$' = only new ones), forever.

        Blocks at most `block_ms` at a time (kept under the client's socket timeout) and yields an
        empty heartbeat after each quiet wait, so the caller can notice a client that went away."""
        if last_id == "$":
            # Pin "now" to a concrete id once: re-sending '$' after each quiet wait would skip
            # whatever arrived between two reads.
            newest: Any = await self.redis.xrevrange(FEED, count=1)
            last_id = newest[0][0].decode() if newest else "0-0"
        while True:
            batches: Any = await self.redis.xread({FEED: last_id}, block=block_ms, count=100)
            if not batches:
                yield "", {}  # heartbeat: lets the caller notice a gone client
                continue
            for _stream, entries in batches:
                for entry_id, fields in entries:
                    last_id = entry_id.decode()
                    yield last_id, orjson.loads(fields[b"data"])
