"""The issue stage's state: one `IssueTracker` for the whole stream, checkpointed to Redis with the
offsets it covers, and the live issues published for the API.

Every signal and every post's stream observation reach this stage on one partition (the `signals`
topic, one key), so one tracker sees the whole stream in order. Like the detect stage, it acks a
message only when a checkpoint that includes its effect is in Redis: a restarted worker resumes
from the last checkpoint and re-reads what came after (the events found again update the same
alerts). The tracker runs in a single-thread executor, off the event loop.

The tracker's checkpoint and the issues' snapshots live in Redis (`alerts.issue_store`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from alerts.issue_store import IssueStore
from detectors.issues import IssueEvent, IssueInput, IssueTracker
from pantau.checkpoints import dump_state, load_state
from pantau.domain import Issue, utcnow
from storage.repository import ClickHouseStore

log = logging.getLogger(__name__)
STATE_VERSION = 2  # 2: the tracker keeps the memberships the warehouse has not stored


def dumps(tracker: IssueTracker) -> bytes:
    return dump_state(tracker, STATE_VERSION)


def loads(data: bytes) -> IssueTracker | None:
    """The checkpointed tracker, or None when it was written by another state version."""
    return load_state(data, STATE_VERSION, IssueTracker)


@dataclass
class IssueState:
    factory: Callable[[], IssueTracker]
    store: IssueStore
    # Where issues and their posts are kept for analysts and dashboards (None: nowhere).
    warehouse: ClickHouseStore | None = None
    interval_seconds: float = 10.0
    executor: Executor = field(default_factory=lambda: ThreadPoolExecutor(1, "pantau-issues"))
    tracker: IssueTracker | None = None
    unacked: list[Any] = field(default_factory=list)
    stream: Any = None
    dirty: bool = False
    last_checkpoint: float = field(default_factory=time.monotonic)
    failures: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Batches whose events are still being turned into alerts: the idle timer must not checkpoint
    # (and ack) them before their alerts are stored.
    in_flight: int = 0
    stored: dict[str, Issue] = field(default_factory=dict)

    async def _tracker(self) -> IssueTracker:
        if self.tracker is None:
            data = await self.store.load_tracker()
            loop = asyncio.get_running_loop()
            restored = await loop.run_in_executor(self.executor, loads, data) if data else None
            if data and restored is None:
                log.warning("unreadable or old issue checkpoint; the issue tracker starts afresh")
            elif restored is not None:
                log.info("issue tracker restored (%d live issues)", restored.live)
            self.tracker = restored or self.factory()
        return self.tracker

    async def process(
        self, stream: Any, events: Sequence[Any], items: Sequence[IssueInput]
    ) -> list[IssueEvent]:
        """Feed the tracker, off the event loop; the events are held, to be acked with the next
        checkpoint."""
        async with self.lock:
            tracker = await self._tracker()

            def read_all() -> list[IssueEvent]:
                found: list[IssueEvent] = []
                for item in items:
                    try:
                        found.extend(tracker.read(item))
                    except Exception:
                        # One odd record must not stall the stage: skip it, loudly.
                        self.failures += 1
                        log.exception("issue tracker failed on a record")
                return found

            found = await asyncio.get_running_loop().run_in_executor(self.executor, read_all)
            self.stream = stream
            self.unacked.extend(events)
            self.dirty = self.dirty or bool(items)
            return found

    async def idle(self, now: datetime) -> list[IssueEvent]:
        """Let the tracker's clock move on while no post comes (see `IssueTracker.idle`)."""
        async with self.lock:
            tracker = self.tracker
            if tracker is None:
                return []
            found = await asyncio.get_running_loop().run_in_executor(self.executor, tracker.idle, now)
            self.dirty = self.dirty or bool(found)
            return found

    def forget(self) -> None:
        """The partition moved away: its new owner resumes from the last checkpoint."""
        self.tracker = None
        self.unacked = []
        self.dirty = False
        self.stored = {}

    async def publish(self, issue: Issue) -> None:
        """One issue's new version, now: to Redis for the API, then to the warehouse (a closed or
        merged issue leaves the live set, and this is its last word). The next checkpoint does not
        write it again unless it changed."""
        await self.store.save(None, [issue])
        if self.warehouse is not None:
            await asyncio.to_thread(self.warehouse.upsert_issues, [issue], at=utcnow())
            self.stored[issue.id] = issue

    @staticmethod
    def _store_rows(
        warehouse: ClickHouseStore,
        issues: Sequence[Issue],
        joined: Sequence[tuple[str, str, datetime, datetime]],
    ) -> None:
        warehouse.upsert_issues(issues, at=utcnow())
        warehouse.insert_issue_posts(joined)

    def due(self) -> bool:
        return time.monotonic() - self.last_checkpoint >= self.interval_seconds

    async def checkpoint(self) -> None:
        """Store the live issues and their new posts in the warehouse, save the tracker and the
        issues' snapshots, then ack what they include. The warehouse comes first: a crash after it
        re-stores the same rows from the older checkpoint (they collapse), never loses them."""
        async with self.lock:
            tracker = self.tracker
            data = issues = None
            if tracker is not None and self.dirty:
                loop = asyncio.get_running_loop()
                issues = await loop.run_in_executor(self.executor, tracker.paged)
                if self.warehouse is not None:
                    joined = await loop.run_in_executor(self.executor, tracker.unsaved_members)
                    changed = [i for i in issues if self.stored.get(i.id) != i]
                    await asyncio.to_thread(self._store_rows, self.warehouse, changed, joined)
                    await loop.run_in_executor(self.executor, tracker.members_saved, joined)
                    # What the warehouse has of each live issue: an unchanged one is not written again.
                    self.stored = {i.id: i for i in issues}
                data = await loop.run_in_executor(self.executor, dumps, tracker)
            await self.store.save(data, issues or [])
            self.dirty = False
            events, self.unacked = self.unacked, []
            if self.stream is not None:
                for event in events:
                    await self.stream.ack(event)
            self.last_checkpoint = time.monotonic()
