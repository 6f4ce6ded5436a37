"""streams.rollover without engines: when the topics roll over, and how a consumer forgets its place."""

from __future__ import annotations

import asyncio
import os
from collections import defaultdict
from typing import Any, NamedTuple

from hypothesis import given
from hypothesis import strategies as st

from config.settings import load_settings
from streams.rollover import BrokerRollover, RolloverLimits, read_from_start

MiB = 2**20
LIMITS = RolloverLimits(max_rss_bytes=768 * MiB, max_messages=400_000)


def test_the_limits_come_from_the_settings() -> None:
    settings = load_settings(broker_rollover_mb=100, broker_rollover_messages=5_000)
    assert RolloverLimits.from_settings(settings) == RolloverLimits(100 * MiB, 5_000)


def test_a_broker_under_both_limits_is_left_alone() -> None:
    assert LIMITS.reason(rss_bytes=767 * MiB, messages=399_999) is None
    assert LIMITS.reason(rss_bytes=None, messages=0) is None


def test_memory_or_messages_past_their_limit_say_why_the_topics_roll_over() -> None:
    assert LIMITS.reason(rss_bytes=800 * MiB, messages=10) == "broker memory 800 MiB >= 768 MiB"
    assert LIMITS.reason(rss_bytes=None, messages=400_000) == "broker holds 400,000 messages >= 400,000"


@given(rss=st.one_of(st.none(), st.integers(0, 4096 * MiB)), messages=st.integers(0, 10**7))
def test_a_reason_is_given_exactly_when_a_limit_is_reached(rss: int | None, messages: int) -> None:
    over = (rss is not None and rss >= LIMITS.max_rss_bytes) or messages >= LIMITS.max_messages
    assert (LIMITS.reason(rss, messages) is not None) == over


class TP(NamedTuple):
    topic: str
    partition: int


class FakeConsumer:
    """The parts of a Faust consumer that read_from_start touches."""

    def __init__(self, held: set[TP], other: TP) -> None:
        self.held = held
        self._gap: dict[TP, Any] = defaultdict(list)
        self._acked: dict[TP, list[int]] = defaultdict(list)
        self._acked_index: dict[TP, set[int]] = defaultdict(set)
        self._read_offset: dict[TP, int | None] = {}
        self._committed_offset: dict[TP, int | None] = {}
        self.seeks: list[tuple[TP, int]] = []
        for tp in [*held, other]:
            self._acked[tp] = [41, 42]
            self._acked_index[tp] = {41, 42}
            self._gap[tp] = [(10, 12)]
            self._read_offset[tp] = 42
            self._committed_offset[tp] = 40

    def assignment(self) -> set[TP]:
        return self.held

    async def seek(self, tp: TP, offset: int) -> None:
        self.seeks.append((tp, offset))


def test_a_consumer_forgets_its_positions_on_the_partitions_it_holds_and_reads_them_from_zero() -> None:
    raw, posts, faust_own = TP("posts.raw", 0), TP("posts", 1), TP("pantau-__assignor-__leader", 0)
    consumer = FakeConsumer({raw, posts, faust_own}, other=TP("posts", 0))

    assert asyncio.run(read_from_start(consumer)) == 2

    assert sorted(consumer.seeks) == [(posts, 0), (raw, 0)]
    for tp in (raw, posts):
        assert tp not in consumer._read_offset and tp not in consumer._committed_offset
        assert tp not in consumer._acked and tp not in consumer._acked_index and tp not in consumer._gap
    # Faust's own topic does not roll over, and a partition it does not hold is someone else's.
    for kept in (faust_own, TP("posts", 0)):
        assert consumer._read_offset[kept] == 42 and consumer._committed_offset[kept] == 40


async def test_the_check_publishes_the_broker_memory_and_messages_it_decides_on() -> None:
    from prometheus_client import REGISTRY

    check = BrokerRollover.__new__(BrokerRollover)  # only what due() reads: no engines here
    check.limits = RolloverLimits(max_rss_bytes=2**50, max_messages=12)
    check.broker_pid = os.getpid()  # a process whose memory is known: this one

    async def held_messages() -> int:
        return 12

    check.held_messages = held_messages  # type: ignore[method-assign]
    assert await check.due() == "broker holds 12 messages >= 12"
    assert REGISTRY.get_sample_value("pantau_broker_held_messages") == 12
    memory = REGISTRY.get_sample_value("pantau_broker_memory_bytes")
    assert memory is not None and memory > MiB
