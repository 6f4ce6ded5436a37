"""What every live source does when a read fails: the error it raises, the back-off it waits, a
platform's `Retry-After`, and `Failures`, which counts, reports and times a source's failures in a
row."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from pantau import metrics

log = logging.getLogger(__name__)

BACKOFF_INITIAL_SECONDS = 5.0
BACKOFF_MAX_SECONDS = 1800.0


class SourceError(Exception):
    """A live source's read that failed: what kind of failure (network, http, auth, not_a_feed, ...)
    and, when the other side said, how long to wait."""

    def __init__(self, kind: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.retry_after = retry_after


def backoff_seconds(failures: int, rng: random.Random | None = None) -> float:
    """Exponential from 5 s, capped at 30 min, with full jitter in [0.5, 1.5): feeds that failed
    together do not all come back at the same moment."""
    base = min(BACKOFF_MAX_SECONDS, BACKOFF_INITIAL_SECONDS * 2.0 ** max(0, failures - 1))
    jitter: float = (rng or random).uniform(0.5, 1.5)
    return base * jitter


class Failures:
    """A source's failures in a row: each counted, reported (metrics and a log line) and given its
    wait, the other side's `Retry-After` when it said one, else the backoff; the first success after
    them is reported as a reconnect."""

    def __init__(self, name: str, backoff: Callable[[str, int], float] | None = None) -> None:
        self.name = name
        self.count = 0
        self.backoff = backoff or (lambda kind, failures: backoff_seconds(failures))

    def failed(self, exc: SourceError, where: str = "") -> float:
        """The seconds to wait before trying again. `where`: the part of the source that failed (a
        feed URL, a timeline) when each part keeps its own `Failures`."""
        self.count += 1
        wait = exc.retry_after if exc.retry_after is not None else self.backoff(exc.kind, self.count)
        said = f"{where}: {exc}" if where else str(exc)
        metrics.source_failed(self.name, exc.kind, said, retry_in=wait)
        log.warning("source %s: %s (%s); again in %.1f s", self.name, said, exc.kind, wait)
        return wait

    def succeeded(self) -> None:
        if self.count:
            metrics.source_reconnected(self.name)
        self.count = 0
        metrics.source_ok(self.name)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds (it may be a number of seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
