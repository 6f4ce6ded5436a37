"""How well volume-burst detection finds real emerging issues: a replay of CrisisLex T26 volumes.

The data (CrisisLex T26: `events.csv` and `hourly_volume_entire_period.csv`) gives, for 26 real
crises of 2012-2013, the number of keyword-matching tweets in every hour of each event's collection
period. Each event becomes one detection key (`key_kind="topic"`, `key=<event>`); its hourly
counts are turned into single posts (`synthesise_posts`) and replayed in event time through a
fresh detector per event.

What is measured, and how it is defined, is fixed here before any detector is looked at:

- **Onset** (`onset`): the first hour whose count reaches `onset_fraction` (10%) of the event's
  peak hour. The event table's `start_day` is not used: it is the day the collection began (days
  before the crisis for most events, and wrong for one, see `read_events`).
- **Delay**: the first signal on the key whose window ends after the onset, minus the onset (the
  start of the onset hour), in minutes. An event counts as detected when that delay is at most
  `max_delay_hours` (24 h): a signal a week later did not detect this onset.
- **Early signals**: signals whose window ends at or before the onset. They are reported apart, as
  false alarms before the onset (some are a genuine early rise, which the per-event figures show).
- **Quiet periods** (`quiet_hours`): hours more than `quiet_margin_hours` (6 h) away from every
  hour whose count reaches `quiet_fraction` (10%) of the peak, within the event's own collection
  period. A signal whose window lies in a quiet hour is a false signal; the rate is false signals
  per key-day of quiet time, pooled over the events.

Known limits, which bound what the figures can say:

- The hourly file has no minute structure, so posts are spread uniformly at random inside each hour
  (seeded). Delays are therefore only meaningful to about an hour: a real crisis that starts at
  14:42 has its posts after 14:42, here they start at 14:00. Detection at the first minutes of the
  onset hour is partly an artefact, and so is the absence of a sharp within-hour jump (a real
  burst is steeper than a uniform spread, so this replay is if anything pessimistic about minute
  windows).
- Authors are unknown: every synthetic post has its own synthetic author.
- The labelled tweets (`crisislex_t26_labeled.csv.gz`) are not used for bursts: they are a sample
  of about 1,000 tweets per event spread over weeks, far below the true volume, so minute windows
  over them are nearly empty and any burst seen in them would be a sampling artefact.
- `2013_Boston_bombings` is in the event table but has no hourly volumes; it is reported as
  skipped, not as a miss.
- The volumes are those of one keyword collection per event (42 to 2,456 tweets in the peak hour).
  Detector thresholds are absolute counts, so the same detector on a busier key behaves
  differently: the figures are for this volume scale.

Everything here is pure: no printing, no hard-coded paths; `run_detection_eval` is the entry point.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from detectors.base import Detector, Observation
from pantau.domain import Signal, as_utc
from pantau.tables import parse_cells, read_table

HOUR = timedelta(hours=1)
KEY_KIND = "topic"
EVENT_COLUMNS = ("event", "name", "start_day", "duration_days", "development", "category", "keywords")
HOURLY_COLUMNS = ("event", "hour_utc", "tweet_count")
# A key that has no post of its own yet, seen once to start the detector's watch (see `replay`).
WATCH_START_KEY = ("watch", "watch-start")

HourlyCounts = list[tuple[datetime, int]]
SyntheticPost = tuple[datetime, str, str]  # (created_at, post_id, author_id)
DetectorFactory = Callable[[], Detector]

# What the figures mean, in words, shipped with them (the numbers are in each result's `settings`).
DEFINITIONS = {
    "onset": "start of the first hour whose count reaches onset_fraction x the event's peak hour",
    "delay_minutes": "window end of the first signal ending after the onset, minus the onset",
    "detected": "delay_minutes <= max_delay_hours x 60",
    "signals_before_onset": "signals whose window ends at or before the onset (false alarms before it)",
    "quiet hour": "more than quiet_margin_hours from every hour with count >= quiet_fraction x peak",
    "false_signals_per_key_day": "signals whose window lies in quiet hours / (quiet hours / 24), pooled",
    "averages": "overall figures are means over the seeds of the seeds that have the figure",
}


@dataclass(frozen=True)
class Event:
    event: str
    name: str
    start_day: date
    duration_days: int
    development: str  # "Instantaneous" or "Progressive"
    category: str
    keywords: tuple[str, ...]


# -- reading ----------------------------------------------------------------------------------------


def parse_day(text: str) -> date:
    """ISO `YYYY-MM-DD`, or `DD/MM/YYYY` (the event table writes one day that way: `17/06/2013`)."""
    text = text.strip()
    if "/" in text:
        return datetime.strptime(text, "%d/%m/%Y").date()
    return date.fromisoformat(text)


def read_events(path: Path) -> list[Event]:
    """The event table, in file order.

    `start_day` is the first day of the collection as the table states it. It is not trusted for
    timing: `2013_Brazil_nightclub_fire` says 2013-10-14 (the Bohol earthquake's day) while its
    volumes, and the fire itself, are on 2013-01-27.
    """
    rows = read_table(path, EVENT_COLUMNS, what="an event table")
    return parse_cells(
        path,
        rows,
        lambda row: Event(
            event=row["event"],
            name=row["name"],
            start_day=parse_day(row["start_day"]),
            duration_days=int(row["duration_days"]),
            development=row["development"],
            category=row["category"],
            keywords=tuple(k.strip() for k in row["keywords"].split("|") if k.strip()),
        ),
    )


def parse_hour(text: str) -> datetime:
    """`2012-06-08T06:00Z` (or any ISO-8601 time) as an aware UTC datetime."""
    return as_utc(datetime.fromisoformat(text.strip().replace("Z", "+00:00")))


def dense_hours(hours: Iterable[tuple[datetime, int]]) -> HourlyCounts:
    """Every hour from the first to the last, in order, with 0 for the hours that are missing.

    The hourly file has no row with a zero count and has gaps: an hour it leaves out had no tweet.
    Counts given twice for one hour are added.
    """
    counts: dict[datetime, int] = {}
    for hour, count in hours:
        start = as_utc(hour).replace(minute=0, second=0, microsecond=0)
        counts[start] = counts.get(start, 0) + count
    if not counts:
        return []
    first, last = min(counts), max(counts)
    span = int((last - first) / HOUR)
    return [(first + i * HOUR, counts.get(first + i * HOUR, 0)) for i in range(span + 1)]


def read_hourly(path: Path) -> dict[str, HourlyCounts]:
    """Tweets per hour for each event, every hour of its collection period (zeros filled in)."""
    table = read_table(path, HOURLY_COLUMNS, what="an hourly volume table")
    counted = parse_cells(
        path, table, lambda row: (row["event"], parse_hour(row["hour_utc"]), int(row["tweet_count"]))
    )
    rows: dict[str, list[tuple[datetime, int]]] = {}
    for event, hour, count in counted:
        rows.setdefault(event, []).append((hour, count))
    return {event: dense_hours(hours) for event, hours in rows.items()}


# -- ground truth from the volumes alone -------------------------------------------------------------


def peak_count(hours: Sequence[tuple[datetime, int]]) -> int:
    peak = max((count for _, count in hours), default=0)
    if peak <= 0:
        raise ValueError("an event without any tweet has no onset")
    return peak


def onset(hours: Sequence[tuple[datetime, int]], *, fraction: float = 0.1) -> datetime:
    """The start of the first hour whose count reaches `fraction` of the event's peak hour.

    Why this rule: it uses nothing but the volumes (no detector, no event table), it is scale-free
    (events differ fifty-fold in peak volume), and for sudden events (earthquakes, explosions,
    shootings) it lands on the hour the crisis broke, usually one or two hours before the peak. For
    progressive events (floods, wildfires, haze) there is no single right onset: 10% of the peak is
    the point where the topic has clearly left its background chatter, which can be days before the
    peak. The choice matters, so `evaluate_bursts` reports the figures for other fractions too.
    """
    threshold = fraction * peak_count(hours)
    for hour, count in hours:
        if count >= threshold:
            return as_utc(hour)
    raise AssertionError("unreachable: the peak hour reaches any fraction <= 1")


def quiet_hours(
    hours: Sequence[tuple[datetime, int]], *, quiet_fraction: float = 0.1, margin_hours: int = 6
) -> list[datetime]:
    """The hours of the event's collection period more than `margin_hours` from any busy hour.

    A busy hour has at least `quiet_fraction` of the peak count. The margin keeps the run-up and the
    tail of every busy stretch out of the quiet time, so a signal there is one a desk would call a
    false alarm: the topic is at its background level for half a day around it. Only hours inside
    the collection period count (the file's first to last hour): no data, no quiet time.
    """
    dense = dense_hours(hours)
    threshold = quiet_fraction * peak_count(dense)
    busy = [i for i, (_, count) in enumerate(dense) if count >= threshold]
    near_busy = [False] * len(dense)
    for i in busy:
        for j in range(max(0, i - margin_hours), min(len(dense), i + margin_hours + 1)):
            near_busy[j] = True
    return [hour for (hour, _), near in zip(dense, near_busy, strict=True) if not near]


# -- the replay ---------------------------------------------------------------------------------------


def synthesise_posts(hours: Sequence[tuple[datetime, int]], *, seed: int | str) -> list[SyntheticPost]:
    """One post per counted tweet, at a uniformly random instant of its hour, in time order.

    The minute structure inside an hour is unknown, so uniform is the assumption that adds none;
    it bounds the delay resolution to about an hour (see the module docstring). Times are drawn in
    whole microseconds so that no post can round into the next hour. The same hours and seed give
    the same posts. Post ids are unique within the event; each post has its own author.
    """
    rng = random.Random(seed)
    posts: list[SyntheticPost] = []
    for hour, count in hours:
        start = as_utc(hour)
        stamp = start.strftime("%Y%m%dT%H")
        for i in range(count):
            at = start + timedelta(microseconds=rng.randrange(3_600_000_000))
            post_id = f"{stamp}-{i}"
            posts.append((at, post_id, f"author-{post_id}"))
    posts.sort()
    return posts


def observation(key_kind: str, key: str, at: datetime, post_id: str, author_id: str) -> Observation:
    """What a detector sees for one replayed post: received the instant it was written."""
    return Observation(
        key_kind=key_kind, key=key, post_id=post_id, author_id=author_id, at=at, received_at=at
    )


def replay(
    key: str,
    posts: Sequence[SyntheticPost],
    make_detector: DetectorFactory,
    *,
    watch_lead: timedelta | None = timedelta(hours=24),
) -> list[Signal]:
    """The signals a fresh detector gives on `key` for `posts`, fed in event-time order.

    A detector that has just started cannot tell a key that was already busy from a burst, and
    `VolumeBurst` holds back any key first seen in its first `warmup_windows` windows until it has
    that much history. Replaying an event alone would put every event in that warm-up, which is
    not the live situation (the war room watches all day; the crisis key appears while it does).
    So, with `watch_lead`, the detector first sees one post on another key that long before the
    event's first post, which starts its watch; `None` replays without it (the detector starts
    with the event), to measure what the warm-up costs.
    """
    detector = make_detector()
    signals: list[Signal] = []
    if posts and watch_lead is not None:
        kind, name = WATCH_START_KEY
        signals += detector.update(observation(kind, name, posts[0][0] - watch_lead, "watch-start", "watch"))
    for at, post_id, author_id in posts:
        signals += detector.update(observation(KEY_KIND, key, at, post_id, author_id))
    return sorted(
        (s for s in signals if (s.key_kind, s.key) == (KEY_KIND, key)), key=lambda s: s.window_start
    )


# -- scoring ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventScore:
    event: str
    onset: datetime
    peak: int
    first_signal: datetime | None  # window end of the first signal after the onset
    delay_minutes: float | None
    detected: bool
    signals: int
    signals_before_onset: int
    lead_of_last_early_signal_minutes: float | None  # how long before the onset it came
    quiet_key_days: float
    false_signals_quiet: int

    def as_json(self) -> dict[str, Any]:
        return {
            "onset": self.onset.isoformat(),
            "peak_per_hour": self.peak,
            "first_signal": self.first_signal.isoformat() if self.first_signal else None,
            "delay_minutes": self.delay_minutes,
            "detected": self.detected,
            "signals": self.signals,
            "signals_before_onset": self.signals_before_onset,
            "lead_of_last_early_signal_minutes": self.lead_of_last_early_signal_minutes,
            "quiet_key_days": round(self.quiet_key_days, 4),
            "false_signals_quiet": self.false_signals_quiet,
        }


def _minutes(delta: timedelta) -> float:
    return delta.total_seconds() / 60


def score_event(
    event: str,
    hours: Sequence[tuple[datetime, int]],
    signals: Sequence[Signal],
    *,
    onset_fraction: float = 0.1,
    quiet_fraction: float = 0.1,
    quiet_margin_hours: int = 6,
    max_delay_hours: float = 24,
) -> EventScore:
    """Delay, early signals and quiet-period false signals of one event's signals (see the module)."""
    start = onset(hours, fraction=onset_fraction)
    early = [s for s in signals if s.window_end <= start]
    after = [s for s in signals if s.window_end > start]
    first = min((s.window_end for s in after), default=None)
    delay = _minutes(first - start) if first is not None else None
    quiet = set(quiet_hours(hours, quiet_fraction=quiet_fraction, margin_hours=quiet_margin_hours))

    def in_quiet(signal: Signal) -> bool:
        # Every hour the window touches must be quiet (a window ends where the next one begins).
        hour = signal.window_start.replace(minute=0, second=0, microsecond=0)
        while hour < signal.window_end:
            if hour not in quiet:
                return False
            hour += HOUR
        return True

    last_early = max((s.window_end for s in early), default=None)

    return EventScore(
        event=event,
        onset=start,
        peak=peak_count(hours),
        first_signal=first,
        delay_minutes=delay,
        detected=delay is not None and delay <= max_delay_hours * 60,
        signals=len(signals),
        signals_before_onset=len(early),
        lead_of_last_early_signal_minutes=_minutes(start - last_early) if last_early is not None else None,
        quiet_key_days=len(quiet) / 24,
        false_signals_quiet=sum(1 for s in signals if in_quiet(s)),
    )


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) by linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarise(scores: Sequence[EventScore]) -> dict[str, Any]:
    """Overall figures: detection share, delays of the detected events, false signals per key-day.

    Delays are over the detected events only; `median_delay_all_minutes` also counts every missed
    event as an infinite delay (None when half or more are missed), which is the figure that says
    whether a typical crisis is caught within the hour.
    """
    delays = [s.delay_minutes for s in scores if s.detected and s.delay_minutes is not None]
    with_misses = sorted(delays) + [math.inf] * (len(scores) - len(delays))
    median_all = statistics.median(with_misses) if with_misses else None
    quiet_days = sum(s.quiet_key_days for s in scores)
    false_quiet = sum(s.false_signals_quiet for s in scores)
    return {
        "events": len(scores),
        "events_detected": len(delays),
        "detected_share": len(delays) / len(scores) if scores else None,
        "median_delay_minutes": statistics.median(delays) if delays else None,
        "p90_delay_minutes": percentile(delays, 90),
        "median_delay_all_minutes": median_all
        if median_all is not None and math.isfinite(median_all)
        else None,
        "signals": sum(s.signals for s in scores),
        "signals_before_onset": sum(s.signals_before_onset for s in scores),
        "events_with_signals_before_onset": sum(1 for s in scores if s.signals_before_onset),
        "quiet_key_days": round(quiet_days, 4),
        "false_signals_quiet": false_quiet,
        "false_signals_per_key_day": false_quiet / quiet_days if quiet_days else None,
    }


def evaluate_bursts(
    events: Sequence[Event],
    hourly: Mapping[str, Sequence[tuple[datetime, int]]],
    make_detector: DetectorFactory,
    *,
    seed: int = 0,
    quiet_fraction: float = 0.1,
    onset_fraction: float = 0.1,
    quiet_margin_hours: int = 6,
    max_delay_hours: float = 24,
    watch_lead: timedelta | None = timedelta(hours=24),
    sensitivity_onset_fractions: Sequence[float] = (0.05, 0.2, 0.5),
) -> dict[str, Any]:
    """Replay every event with hourly volumes through a fresh detector; score and summarise.

    Returns JSON-able figures: `events` (per event), `overall`, `onset_sensitivity` (the overall
    figures with the onset at other fractions of the peak, same signals) and `skipped` (events of
    the table without volumes). Each event's posts are drawn with the seed `"<seed>:<event>"`, so an
    event's stream does not depend on which other events are evaluated.
    """
    signals_by_event: dict[str, list[Signal]] = {}
    skipped: list[str] = []
    for event in events:
        hours = hourly.get(event.event)
        if not hours or not any(count for _, count in hours):
            skipped.append(event.event)
            continue
        posts = synthesise_posts(hours, seed=f"{seed}:{event.event}")
        signals_by_event[event.event] = replay(event.event, posts, make_detector, watch_lead=watch_lead)

    def scores(fraction: float) -> list[EventScore]:
        return [
            score_event(
                event,
                hourly[event],
                signals,
                onset_fraction=fraction,
                quiet_fraction=quiet_fraction,
                quiet_margin_hours=quiet_margin_hours,
                max_delay_hours=max_delay_hours,
            )
            for event, signals in signals_by_event.items()
        ]

    main = scores(onset_fraction)
    return {
        "seed": seed,
        "settings": {
            "onset_fraction": onset_fraction,
            "quiet_fraction": quiet_fraction,
            "quiet_margin_hours": quiet_margin_hours,
            "max_delay_hours": max_delay_hours,
            "watch_lead_hours": watch_lead / HOUR if watch_lead is not None else None,
        },
        "events": {s.event: s.as_json() for s in main},
        "overall": summarise(main),
        "onset_sensitivity": {str(f): summarise(scores(f)) for f in sensitivity_onset_fractions},
        "skipped": skipped,
    }


def _mean_of(values: Iterable[Any]) -> float | None:
    """The mean of the numbers among `values` (a seed with no figure, e.g. no detection, is left out)."""
    numbers = [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    return statistics.fmean(numbers) if numbers else None


def mean_overall(per_seed: Sequence[Mapping[str, Any]]) -> dict[str, float | None]:
    """Each overall figure averaged over the seeds."""
    return {name: _mean_of(figures[name] for figures in per_seed) for name in per_seed[0]} if per_seed else {}


def run_detection_eval(
    hourly_path: Path,
    events_path: Path,
    make_detector: DetectorFactory,
    seeds: Sequence[int] = (0, 1, 2),
    **options: Any,
) -> dict[str, Any]:
    """Read the events table and the hourly volumes (CrisisLex T26's `events.csv` and
    `hourly_volume_entire_period.csv`, or files of the same columns) and evaluate per seed.

    `options` go to `evaluate_bursts`. Returns `overall` (each figure averaged over the seeds),
    `onset_sensitivity` (likewise), `per_seed` (the full figures of every seed) and `definitions`.
    """
    events = read_events(events_path)
    hourly = read_hourly(hourly_path)
    per_seed = [evaluate_bursts(events, hourly, make_detector, seed=seed, **options) for seed in seeds]
    fractions = list(per_seed[0]["onset_sensitivity"]) if per_seed else []
    return {
        "seeds": list(seeds),
        "overall": mean_overall([r["overall"] for r in per_seed]),
        "onset_sensitivity": {
            f: mean_overall([r["onset_sensitivity"][f] for r in per_seed]) for f in fractions
        },
        "skipped": per_seed[0]["skipped"] if per_seed else [],
        "per_seed": per_seed,
        "settings": per_seed[0]["settings"] if per_seed else {},
        "definitions": DEFINITIONS,
    }
