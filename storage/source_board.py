"""Live sources' health shared through Redis, so that `GET /sources` of an API process shows the
sources a separate worker (or `pantau collect`) runs: each runner publishes what it knows every few
seconds, and a report older than `STALE_SECONDS` is ignored (its runner is gone).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import orjson
from redis.asyncio import Redis

KEY = "pantau:sources:health"
STALE_SECONDS = 120.0


@dataclass(frozen=True)
class SourceReport:
    kind: str
    up: bool | None
    errors: int
    reconnects: int
    last_error: str
    retry_in: float
    posts: float
    last_received: float
    newest_post: float
    at: float


async def publish(redis: Redis, reports: dict[str, SourceReport]) -> None:
    if not reports:
        return
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hset(KEY, mapping={name: orjson.dumps(asdict(r)) for name, r in reports.items()})
        pipe.expire(KEY, int(STALE_SECONDS * 5))
        await pipe.execute()


async def read(redis: Redis, now: float | None = None) -> dict[str, SourceReport]:
    now = time.time() if now is None else now
    found: dict[str, SourceReport] = {}
    for name, raw in (await redis.hgetall(KEY)).items():
        try:
            data: Any = orjson.loads(raw)
            report = SourceReport(**data)
        except (orjson.JSONDecodeError, TypeError):
            continue
        if now - report.at <= STALE_SECONDS:
            found[name.decode() if isinstance(name, bytes) else str(name)] = report
    return found
