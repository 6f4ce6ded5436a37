"""Prometheus metrics, shared by every stage and the API (`GET /metrics`)."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import Counter, Gauge, Histogram

MESSAGES_IN = Counter("pantau_stage_messages_total", "Messages a stage consumed.", ["stage"])
DEAD_LETTERS = Counter("pantau_dead_letters_total", "Messages sent to the dead-letter topic.", ["stage"])
POSTS_STORED = Counter("pantau_posts_stored_total", "Posts written to ClickHouse (first copies).")
POSTS_DUPLICATE = Counter(
    "pantau_posts_duplicate_total", "Redelivered posts recognised and not stored again."
)
SIGNALS = Counter("pantau_signals_total", "Signals raised by detectors.", ["kind"])
ALERT_EVENTS = Counter(
    "pantau_alert_events_total",
    "Alert changes (opened, updated, acknowledged, resolved, assigned, escalated, commented).",
    ["event"],
)
ALERTING_RELOADS = Counter(
    "pantau_alerting_reloads_total", "Re-reads of the alerting rules after the file changed.", ["result"]
)
ALERTS_SUPPRESSED = Gauge(
    "pantau_alerts_suppressed", "Firing alerts hushed by a silence or an inhibition rule."
)
FEED_CLIENTS = Gauge("pantau_feed_clients", "Clients connected to the live alert feed (SSE).")
API_RATE_LIMITED = Counter("pantau_api_rate_limited_total", "Requests refused with 429 (per-key limit).")
STORE_RETRIES = Counter("pantau_store_retries_total", "ClickHouse writes retried after an error.")
INGESTED = Counter("pantau_api_ingested_posts_total", "Posts accepted by POST /ingest.")
POST_LATENCY = Histogram(
    "pantau_post_latency_seconds",
    "From a post's arrival at Pantau (received_at) to its row in ClickHouse.",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
)
BATCH_SECONDS = Histogram(
    "pantau_stage_batch_seconds",
    "Time a stage spends on one batch.",
    ["stage"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


BATCHES_IN_FLIGHT = Gauge(
    "pantau_stage_batches_in_flight",
    "Batches a stage has taken and not finished (model, storage).",
    ["stage"],
)


# -- the spool of accepted posts (storage.spool) ---------------------------------------------------
SPOOL_APPENDED = Counter("pantau_spool_appended_total", "Accepted posts written to the spool.")
SPOOL_FORWARDED = Counter("pantau_spool_forwarded_total", "Spooled posts sent to posts.raw.")
SPOOL_TRIMMED = Counter("pantau_spool_trimmed_total", "Spooled posts removed once ClickHouse held them.")
SPOOL_REFUSED = Counter("pantau_spool_refused_total", "Posts refused because the spool was full (HTTP 503).")
SPOOL_POSTS = Gauge("pantau_spool_posts", "Posts in the spool: accepted, not yet held by ClickHouse.")
SPOOL_UNSENT = Gauge("pantau_spool_unsent_posts", "Spooled posts no broker has been given yet.")
SPOOL_IN_FLIGHT = Gauge(
    "pantau_spool_in_flight_posts", "Spooled posts sent to the broker that ClickHouse does not hold yet."
)
SPOOL_HELD_BACK = Counter(
    "pantau_spool_held_back_total",
    "Times the forwarder waited because PANTAU_SPOOL_MAX_IN_FLIGHT posts were already in the pipeline.",
)
SPOOL_OLDEST_SECONDS = Gauge("pantau_spool_oldest_seconds", "Age of the oldest spooled post.")
SOURCE_POSTS = Counter(
    "pantau_source_posts_total", "Posts normalised, by the source that brought them.", ["source"]
)
SOURCE_LAST_RECEIVED = Gauge(
    "pantau_source_last_received_timestamp_seconds",
    "When the newest post of a source reached Pantau.",
    ["source"],
)
SOURCE_NEWEST_POST = Gauge(
    "pantau_source_newest_post_timestamp_seconds", "Creation time of the newest post of a source.", ["source"]
)
BROKER_GENERATION = Gauge(
    "pantau_broker_generation",
    "Topic generation of the embedded broker: how many times its topics rolled over.",
)
BROKER_MEMORY = Gauge(
    "pantau_broker_memory_bytes",
    "Resident memory of the embedded broker, as its rollover last measured it (embedded broker only).",
)
BROKER_HELD_MESSAGES = Gauge(
    "pantau_broker_held_messages",
    "Messages the embedded broker holds across Pantau's topics, as its rollover last counted them.",
)
BROKER_ROLLOVERS = Counter(
    "pantau_broker_rollovers_total", "Rollovers of the embedded broker's topics, by outcome.", ["outcome"]
)


def batches_in_flight() -> float:
    return sum(sample.value for metric in BATCHES_IN_FLIGHT.collect() for sample in metric.samples)


def by_stage(counter: Counter) -> dict[str, float]:
    """A counter labelled by stage: its total per stage so far."""
    return {
        sample.labels["stage"]: sample.value
        for metric in counter.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    }


def stage_counts() -> dict[str, float]:
    """Messages consumed so far, per stage."""
    return by_stage(MESSAGES_IN)


def messages_consumed() -> float:
    """Messages consumed by all stages so far: it stops moving when the pipeline is idle."""
    return sum(stage_counts().values())


def dead_letter_count() -> float:
    return sum(by_stage(DEAD_LETTERS).values())


def broker_generation() -> int:
    """The topic generation this process follows (0: its topics never rolled over)."""
    return int(sum(sample.value for metric in BROKER_GENERATION.collect() for sample in metric.samples))


class StageRates:
    """Messages per second per stage over about the last `window_seconds`, from periodic samples of
    the stage counters (`sample` is called by a timer; rates need two samples)."""

    def __init__(self, window_seconds: float = 60.0) -> None:
        self.window_seconds = window_seconds
        self._samples: deque[tuple[float, dict[str, float]]] = deque()

    def sample(self, now: float, counts: dict[str, float] | None = None) -> None:
        self._samples.append((now, stage_counts() if counts is None else counts))
        while len(self._samples) > 2 and now - self._samples[1][0] >= self.window_seconds:
            self._samples.popleft()

    def per_second(self) -> dict[str, float]:
        if len(self._samples) < 2:
            return {}
        (start, first), (end, last) = self._samples[0], self._samples[-1]
        seconds = end - start
        if seconds <= 0:
            return {}
        return {stage: max(0.0, value - first.get(stage, 0.0)) / seconds for stage, value in last.items()}


def process_rss(pid: int | None) -> int | None:
    """Resident memory of a process on this machine, in bytes (None: unknown or gone)."""
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


# Sources name themselves (POST /ingest takes any `source`): past this many, the rest share a label,
# so a client cannot grow the metrics without bound.
MAX_SOURCE_LABELS = 64


@dataclass
class SourceSeen:
    """What one source brought: posts normalised, when its newest post arrived, how new that was."""

    posts: float = 0.0
    last_received: float = 0.0
    newest_post: float = 0.0


_sources: dict[str, SourceSeen] = {}


def source_label(name: str) -> str:
    label = name[:64] or "unknown"
    if label in _sources:
        return label
    if len(_sources) >= MAX_SOURCE_LABELS:
        return "other"
    _sources[label] = SourceSeen()
    return label


def observe_source(name: str, *, received_at: float, created_at: float) -> None:
    """One post normalised from source `name`."""
    label = source_label(name)
    seen = _sources.setdefault(label, SourceSeen())  # "other" has no place until first seen
    seen.posts += 1
    seen.last_received = max(seen.last_received, received_at)
    seen.newest_post = max(seen.newest_post, created_at)
    SOURCE_POSTS.labels(label).inc()
    SOURCE_LAST_RECEIVED.labels(label).set(seen.last_received)
    SOURCE_NEWEST_POST.labels(label).set(seen.newest_post)


def sources() -> dict[str, SourceSeen]:
    """Per source seen so far in this process, what it brought."""
    return {label: SourceSeen(**vars(seen)) for label, seen in _sources.items() if seen.posts}


# -- live sources' health (the collectors Pantau runs itself; configured, so bounded in number) --
SOURCE_ERRORS = Counter(
    "pantau_source_errors_total",
    "Failed fetches or connections of a live source, by kind (network, http, auth, not_a_feed, ...).",
    ["source", "kind"],
)
SOURCE_RECONNECTS = Counter(
    "pantau_source_reconnects_total", "Times a live source worked again after failing.", ["source"]
)
SOURCE_UP = Gauge("pantau_source_up", "1 while a live source's last attempt worked, else 0.", ["source"])
SOURCE_QUOTA_USED = Gauge(
    "pantau_source_quota_used",
    "Units of its platform's daily quota a live source has spent today.",
    ["source"],
)


@dataclass
class SourceHealth:
    """Where one live source stands, for `GET /sources` and `pantau status`."""

    kind: str
    up: bool | None = None  # None: not tried yet
    errors: int = 0
    reconnects: int = 0
    last_ok: float = 0.0
    last_error: str = ""
    last_error_at: float = 0.0
    retry_in: float = 0.0
    sent: int = 0  # posts handed on (to the spool or the broker)


_health: dict[str, SourceHealth] = {}


def source_configured(name: str, kind: str) -> None:
    _health.setdefault(name, SourceHealth(kind=kind))


def source_ok(name: str) -> None:
    health = _health.setdefault(name, SourceHealth(kind=""))
    health.up, health.last_ok, health.retry_in = True, time.time(), 0.0
    SOURCE_UP.labels(name).set(1)


def source_failed(name: str, kind: str, message: str, *, retry_in: float) -> None:
    health = _health.setdefault(name, SourceHealth(kind=""))
    health.up, health.errors = False, health.errors + 1
    health.last_error, health.last_error_at, health.retry_in = message[:500], time.time(), retry_in
    SOURCE_ERRORS.labels(name, kind).inc()
    SOURCE_UP.labels(name).set(0)


def source_reconnected(name: str) -> None:
    _health.setdefault(name, SourceHealth(kind="")).reconnects += 1
    SOURCE_RECONNECTS.labels(name).inc()


def source_sent(name: str, posts: int) -> None:
    _health.setdefault(name, SourceHealth(kind="")).sent += posts


def source_health() -> dict[str, SourceHealth]:
    return {name: SourceHealth(**vars(h)) for name, h in _health.items()}
