"""Issues in Redis: each issue's latest snapshot for the API, and the issue tracker's checkpoint.

Keys (under `pantau:<app>:`): `issues:tracker` the pickled tracker (zlib); `issue:<id>` each issue's
latest snapshot (JSON, kept `retention_seconds`); `issues:recent` a sorted set of issue ids by last
activity, trimmed to `keep_issues`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis

from pantau.domain import Issue, decode, encode


class IssueStore:
    """Issues as the API reads them, and the tracker's checkpoint."""

    def __init__(
        self, redis: Redis, app_id: str, *, retention_seconds: int = 7 * 86400, keep_issues: int = 2000
    ) -> None:
        self.redis = redis
        self.prefix = f"pantau:{app_id}:"
        self.recent = f"{self.prefix}issues:recent"
        self.retention_seconds = retention_seconds
        self.keep_issues = keep_issues

    async def load_tracker(self) -> bytes | None:
        data = await self.redis.get(f"{self.prefix}issues:tracker")
        return data.encode("latin-1") if isinstance(data, str) else data

    async def save(self, tracker: bytes | None, issues: Sequence[Issue]) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            if tracker is not None:
                pipe.set(f"{self.prefix}issues:tracker", tracker)
            for issue in issues:
                pipe.set(f"{self.prefix}issue:{issue.id}", encode(issue), ex=self.retention_seconds)
                pipe.zadd(self.recent, {issue.id: issue.last_activity.timestamp()})
            pipe.zremrangebyrank(self.recent, 0, -self.keep_issues - 1)
            await pipe.execute()

    async def get(self, issue_id: str) -> Issue | None:
        data = await self.redis.get(f"{self.prefix}issue:{issue_id}")
        return decode(Issue, data) if data else None

    async def recent_issues(self, limit: int) -> list[Issue]:
        """The issues most recently active, newest first."""
        ids: list[Any] = await self.redis.zrevrange(self.recent, 0, max(0, limit - 1))
        keys = [f"{self.prefix}issue:{i.decode() if isinstance(i, bytes) else i}" for i in ids]
        values: list[Any] = await self.redis.mget(keys) if keys else []
        return [decode(Issue, v) for v in values if v]
