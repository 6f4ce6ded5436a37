import os
import signal
from collections.abc import Iterator

import pytest

from service.runtime import StartupInterrupt


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
