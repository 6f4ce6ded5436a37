import asyncio
import logging
import os
import signal
from collections.abc import Iterator

import pytest

from service.runtime import StartupInterrupt, report_slow_stop


@pytest.fixture(autouse=True)
def restore_signal_handlers() -> Iterator[None]:
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def test_nothing_is_requested_before_a_signal() -> None:
    assert StartupInterrupt().install().requested is False


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_interrupts_start_up_and_is_remembered(signum: int) -> None:
    interrupt = StartupInterrupt().install()
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signum)
    assert interrupt.requested is True


def test_a_slow_stop_names_the_tasks_it_waits_on(caplog: pytest.LogCaptureFixture) -> None:
    async def consumer_leaving_the_group() -> None:
        await asyncio.sleep(60)

    async def scenario() -> None:
        waiting = asyncio.create_task(consumer_leaving_the_group())
        await asyncio.sleep(0)  # let it start and suspend
        report_slow_stop(10.0)
        waiting.cancel()

    with caplog.at_level(logging.WARNING, logger="pantau"):
        asyncio.run(scenario())
    [record] = caplog.records
    assert "still stopping after 10 s" in record.getMessage()
    assert "consumer_leaving_the_group" in record.getMessage()
