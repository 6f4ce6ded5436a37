"""pantau.aio.wait_set: a wait that returns on its event or its timeout and never loses a cancel."""

from __future__ import annotations

import asyncio

import pytest

from pantau.aio import wait_set


async def rounds(wake: asyncio.Event) -> None:
    """A service loop: one round of work, then sleep until woken or a tick passes."""
    while True:
        wake.clear()
        await wait_set(wake, 5.0)


def test_a_loop_cancelled_as_its_event_is_set_stops() -> None:
    """The race that hung `pantau up`'s stop: the wake-up and the cancel in one loop iteration.
    With `asyncio.wait_for` in Python 3.11 in place of `wait_set`, the loop runs on."""

    async def scenario() -> bool:
        wake = asyncio.Event()
        loop = asyncio.create_task(rounds(wake))
        await asyncio.sleep(0.01)
        wake.set()
        loop.cancel()
        done, _ = await asyncio.wait({loop}, timeout=1.0)
        return loop in done and loop.cancelled()

    assert asyncio.run(scenario())


@pytest.mark.parametrize("set_first", [True, False])
def test_it_says_whether_the_event_was_set(set_first: bool) -> None:
    async def scenario() -> bool:
        event = asyncio.Event()
        if set_first:
            event.set()
        return await wait_set(event, 0.01)

    assert asyncio.run(scenario()) is set_first
