"""Waiting in asyncio without losing a cancel."""

from __future__ import annotations

import asyncio


async def wait_set(event: asyncio.Event, seconds: float) -> bool:
    """Wait until `event` is set or `seconds` have passed; whether it was set.

    A loop that sleeps on an event between rounds and is stopped by cancelling it must see the
    cancel. `asyncio.wait_for` in Python 3.11 loses a cancel that arrives as the event is set (it
    returns instead of raising), and the loop then runs on: `pantau up` once hung on stopping
    that way, its alert dispatcher woken by an alert as it was cancelled. `asyncio.timeout` does not.
    """
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True
