"""The issue stage's bookkeeping without a broker: records are acked only with the checkpoint that
holds their effect, a restarted stage resumes from it, and the live issues are published."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from detectors.issues import IssueInput, IssueTracker
from pantau.domain import Issue, IssueStatus
from streams.issues import IssueState, dumps, loads
from tests.unit.test_issues import burst, leak_posts, watching


class MemoryIssueStore:
    def __init__(self) -> None:
        self.tracker: bytes | None = None
        self.issues: dict[str, Issue] = {}

    async def load_tracker(self) -> bytes | None:
        return self.tracker

    async def save(self, tracker: bytes | None, issues: Any) -> None:
        if tracker is not None:
            self.tracker = tracker
        self.issues.update({i.id: i for i in issues})


@dataclass(frozen=True)
class Event:
    offset: int


class Stream:
    def __init__(self) -> None:
        self.acked: list[Event] = []

    async def ack(self, event: Event) -> None:
        self.acked.append(event)


def inputs() -> list[IssueInput]:
    posts = leak_posts()
    return [IssueInput(posts=tuple(posts)), IssueInput(signal=burst("hashtag", "kpdbocor", posts))]


async def test_records_are_acked_with_the_checkpoint_and_the_paged_issue_is_published() -> None:
    store = MemoryIssueStore()
    state = IssueState(factory=watching, store=store, interval_seconds=0.0)  # type: ignore[arg-type]
    stream, events = Stream(), [Event(1), Event(2)]
    found = await state.process(stream, events, inputs())
    assert [e.kind for e in found] == ["opened"]
    assert stream.acked == []  # not before their effect is saved
    await state.checkpoint()
    assert stream.acked == events
    assert [i.status for i in store.issues.values()] == [IssueStatus.live]
    assert store.tracker is not None


async def test_a_restarted_stage_resumes_from_the_checkpoint_and_finds_nothing_twice() -> None:
    store = MemoryIssueStore()
    first = IssueState(factory=watching, store=store, interval_seconds=0.0)  # type: ignore[arg-type]
    await first.process(Stream(), [Event(1)], inputs())
    await first.checkpoint()
    again = IssueState(factory=IssueTracker, store=store, interval_seconds=0.0)  # type: ignore[arg-type]
    # The records after the checkpoint are read again: the same posts and signal change nothing.
    assert await again.process(Stream(), [Event(1)], inputs()) == []
    assert again.tracker is not None and again.tracker.live == 1


def test_an_unreadable_or_old_checkpoint_is_ignored() -> None:
    assert loads(b"not zlib") is None
    tracker = loads(dumps(IssueTracker()))
    assert isinstance(tracker, IssueTracker)


class MemoryWarehouse:
    """Stands in for ClickHouseStore's issue writes; `fail` makes the next write raise."""

    def __init__(self) -> None:
        self.issues: dict[str, Issue] = {}
        self.members: set[tuple[str, str]] = set()
        self.writes: list[str] = []
        self.fail = False

    def upsert_issues(self, issues: Any, *, at: Any) -> None:
        if self.fail:
            raise ConnectionError("warehouse down")
        self.issues.update({i.id: i for i in issues})
        self.writes += [i.id for i in issues]

    def insert_issue_posts(self, rows: Any) -> None:
        self.members.update((issue_id, post_id) for issue_id, post_id, _, _ in rows)


async def test_the_checkpoint_stores_the_paged_issue_and_its_posts_in_the_warehouse_once() -> None:
    store, warehouse = MemoryIssueStore(), MemoryWarehouse()
    state = IssueState(factory=watching, store=store, warehouse=warehouse, interval_seconds=0.0)  # type: ignore[arg-type]
    await state.process(Stream(), [Event(1)], inputs())
    await state.checkpoint()
    (issue,) = warehouse.issues.values()
    assert state.tracker is not None
    assert warehouse.members == {(issue.id, p) for p in state.tracker.members(issue.id)}
    assert len(warehouse.members) == issue.posts >= 10
    # Stored memberships are forgotten, in the checkpoint too.
    assert state.tracker.unsaved_members() == []
    restored = loads(store.tracker or b"")
    assert restored is not None and restored.unsaved_members() == []


async def test_a_warehouse_outage_acks_nothing_and_keeps_the_posts_for_the_next_checkpoint() -> None:
    store, warehouse = MemoryIssueStore(), MemoryWarehouse()
    state = IssueState(factory=watching, store=store, warehouse=warehouse, interval_seconds=0.0)  # type: ignore[arg-type]
    stream, events = Stream(), [Event(1)]
    await state.process(stream, events, inputs())
    warehouse.fail = True
    with pytest.raises(ConnectionError):
        await state.checkpoint()
    assert stream.acked == [] and store.tracker is None
    assert state.tracker is not None and state.tracker.unsaved_members()
    warehouse.fail = False
    await state.checkpoint()
    assert stream.acked == events
    assert len(warehouse.members) >= 10


async def test_an_unchanged_live_issue_is_not_written_again() -> None:
    store, warehouse = MemoryIssueStore(), MemoryWarehouse()
    state = IssueState(factory=watching, store=store, warehouse=warehouse, interval_seconds=0.0)  # type: ignore[arg-type]
    await state.process(Stream(), [Event(1)], inputs())
    await state.checkpoint()
    assert len(warehouse.writes) == 1
    await state.process(Stream(), [Event(2)], inputs())  # redelivered: nothing changes
    await state.checkpoint()
    assert len(warehouse.writes) == 1
    more = leak_posts(first=100, count=3, minute=1.0)
    await state.process(Stream(), [Event(3)], [IssueInput(posts=tuple(more))])  # it grows
    await state.checkpoint()
    assert len(warehouse.writes) == 2


async def test_an_issue_published_with_its_event_is_not_written_again_by_the_checkpoint() -> None:
    store, warehouse = MemoryIssueStore(), MemoryWarehouse()
    state = IssueState(factory=watching, store=store, warehouse=warehouse, interval_seconds=0.0)  # type: ignore[arg-type]
    (opened,) = await state.process(Stream(), [Event(1)], inputs())
    await state.publish(opened.issue)
    assert warehouse.writes == [opened.issue.id] and opened.issue.id in store.issues
    await state.checkpoint()
    assert warehouse.writes == [opened.issue.id]  # unchanged since it was published
