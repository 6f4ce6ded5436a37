"""Volume bursts per key at three time scales, each against its own seasonal baseline.

A key (a watchlist target, a hashtag, a term) is counted in tumbling windows of event time at
every scale at once: five minutes, an hour and a day by default (`Scale`, `DEFAULT_SCALES`). Each
scale has its own forecaster per key, learned from that scale's past windows, and its own
thresholds. The forecast knows the hour of day and the day of week (`CalendarProfile`), so the
morning rush a key has every day is expected at 07:00 and a quiet Sunday is not a Monday; a slow
doubling over a day shows at the day scale, a sharp spike at the five-minute one.

When a window is judged: as soon as its running count crosses its threshold, at every scale (a
burst is seen while it happens, an hour or a day window does not wait for its end). The threshold
is fixed when the window opens, from the forecast for it: the count must reach the scale's
`min_count` (sparse keys stay quiet), `ratio` times the forecast, and the forecast plus `z` spreads.
A window signals at most once per scale. Its id is `Signal.make_id(volume_burst, key_kind,
f"{key}@{window_seconds}", window_start)`: the day window and the first hour window share a start,
not an id. Numbers: `count`, `expected`, `ratio`, `score` ((count - expected) / spread), `spread`,
`threshold`, `window_seconds`, `history_windows`; `details["scale"]` says "5m", "1h" or "24h";
`evidence` is the window's latest `max_evidence` post ids, those that carried it over.

Minimum history. A detector that has just started knows nothing of the keys already busy. At the
minute scale the rule of volume.py holds: a key first seen within the warm-up (`min_history_windows`
windows of the watch start) must have that much history first; a key first seen later is new to the
stream (a hashtag born in a burst) and may signal from its first window. The hour scale follows the
same rule with a day of warm-up: a new key with 10 posts in an hour signals there (a thin event's
hashtag rarely has 5 posts in one five-minute window). The day scale needs the key's own history,
whatever its age: 3 days, so a new detector does not page on its first days.

Sensitive on purpose: these are signals, not pages. The issue layer (`detectors/issues.py`) pages
only a happening with enough posts, voices and a readable label, so a lower hour threshold brings
thin events in earlier without more alerts: on the CrisisLex issue stream, 20 -> 10 posts an hour
and new keys exempt took the issues' median delay from 163 to 85 minutes, alerts per found event
from 1.44 to 1.35, with no unmatched alert; 6 posts an hour gave 68 minutes but 1.48 alerts.

Counting, as volume.py: event time from the post, clamped to its arrival plus `max_future_seconds`;
a post older than the key's newest by more than `horizon_seconds` is counted as `late` and dropped;
within the horizon it counts in its own window. A window is learned once the key's newest post is
`settle_seconds` past its end, so a little disorder still reaches the baseline; a later post counts
towards its window's signal only. Redelivered post ids count once (the last `dedup_ids_per_key`);
reposts count (amplification is volume). Keys are capped at `max_keys`, least recently active
evicted first; recently signalled ids outlive an eviction, so a window never signals twice.

Cost: O(1) per post (three dict look-ups and a comparison; learning runs once per window and
scale, and a key back from a long silence learns at most `max_zero_windows` empty windows per
scale). State per key is bounded: the windows within the horizon (plus the unlearned day window),
the last `dedup_ids_per_key` post ids, and per scale one forecaster of fixed size.

Why this baseline, measured with `bench/timescale_detector.py` (one core; CrisisLex T26 replay of
`detectors/evaluation.py`, seeds 0-2; a synthetic 21-day stream with a daily rush and a weekend
dip, Poisson counts, 5 seeds). Candidates, as each scale's forecaster in this same detector:

                              CrisisLex false/key-day   synthetic   doubling   bytes per
  forecaster                  all       1h scale alone  false 5m    seen 24h   forecaster
  CalendarProfile (chosen)    0.101     0.0024          0.84        5 of 5      1,140
  River HoltWinters, mult.    0.095     0.0114          0.54        3 of 5      6,953 (m=24), 26,289 (m=288)
  River HoltWinters, add.     0.100     0.0049          1.21        0 of 5      as above
  no seasons (flat level)     0.129     0.0098          4.27        0 of 5      -

All detect the same 94.7% of CrisisLex onsets. River's HoltWinters (season m=288 five-minute
windows, 24 hours, 7 days) was the close second and is better at the minute scale on clean
synthetic data, where it learns a day's shape at once; it was not chosen because: it cannot start
on a quiet key (its first season's mean is a divisor: ZeroDivisionError on zero counts, in both
forms; the bench adds 1 to every count) nor forecast before a full season (IndexError); its season
is the position in the sequence, so every empty window of a silence must be fed (a key back after
a week costs 2,016 updates on one post) and a late window cannot be placed; it keeps a deque of m+1
values plus its first m values, 26 KB per key at five minutes (2.6 GB for 100,000 keys); a weekday
effect needs m=168 hours (17 KB). It also had 4.7 times the hour-scale false signals on CrisisLex
and missed 2 of 5 slow doublings on a weekend day. SNARIMAX (p=1, m=24, sp=1) costs 11 KB and a
fifth of the speed (88,000 learn+forecast/s against 460,000) and needs its regressor to converge.
`anomaly.PredictiveAnomalyDetection` was not used: its `score_one` updates its error statistics (a
running count judged at every post would teach it each partial count), its threshold is an
all-time mean and variance of squared errors (one past burst raises it for good), and it raises
IndexError on the first window with HoltWinters inside. What is kept of River: the forecaster is a
`river.time_series.base.Forecaster` (`learn_one(y, x)`, `forecast(horizon, xs)`, the window's
calendar as exogenous features, `clone()`), and any River forecaster can be put in its place
(`make_forecaster`), as the bench does with HoltWinters.

Figures of the chosen defaults against `VolumeBurst` with the shipped settings (same bench run,
with today's hour scale of 10 posts and day scale of 15): CrisisLex detected 96.0% against 90.7%
of the onsets, median delay 18 against 12 minutes, p90 120 against 405, false signals 0.136
against 0.129 per key-day of quiet time, signals 447 against 268 (a burst is seen at several
scales: the issue layer groups them). The five-minute scale alone: 89.3%, median 12 minutes, 0.099
false per key-day; the hour scale alone 0.032, the day scale alone 0.005. The table above was
measured with the earlier bars (20 posts an hour, 50 a day). Throughput 237,000 updates/s against
355,000 (0.67x, three scales against one). Memory per key: 2.4 KB against 1.0 KB for a key seen
once (its forecasters are made when its first window is learned), 12.2 KB against 9.1 KB for 30
posts; one key fed 5 posts a second holds 74.5 KB after 100,000 posts and after 400,000.
"""

from __future__ import annotations

import math
from array import array
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from river import time_series

from detectors.base import Observation
from pantau.domain import Signal, SignalKind, utcnow

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday (Monday is 0, as in `datetime.weekday`)
HOUR_SECONDS = 3600
DAY_SECONDS = 86400
HOURS_PER_DAY = 24
DAYS_PER_WEEK = 7

# River's convention for what a forecaster knows of a step besides its value: a dict of exogenous
# features. Here, where the window lies in the day and the week (local to `utc_offset_seconds`).
Calendar = dict[str, int]


def calendar(window_start_seconds: int) -> Calendar:
    """The hour of day and day of week (Monday 0) a window starting at these seconds lies in."""
    return {
        "hour": (window_start_seconds // HOUR_SECONDS) % HOURS_PER_DAY,
        "weekday": (window_start_seconds // DAY_SECONDS + _EPOCH_WEEKDAY) % DAYS_PER_WEEK,
    }


class _Season:
    """One seasonal component of a `CalendarProfile`: a factor per slot (hour of day, or day of
    week), learned once per visit of the slot (the windows of one hour, or of one day)."""

    __slots__ = ("factors", "flat", "observed", "slot", "total", "visits")

    def __init__(self, slots: int) -> None:
        self.factors = array("d", [1.0] * slots)
        self.visits = bytearray(slots)  # visits learned, counted while the prior still weighs
        self.total = float(slots)  # sum of the factors, kept as they move, so normalising is O(1)
        self.slot = -1  # the slot being visited
        self.observed = 0.0  # its count so far
        self.flat = 0.0  # what the reference level (and the other component) expected of it so far

    def factor(self, slot: int) -> float:
        return self.factors[slot] * len(self.factors) / self.total

    def observe(self, slot: int, y: float, flat: float, season_rate: float, smoothing: float) -> None:
        if slot != self.slot:
            if self.slot >= 0:
                self._learn_visit(season_rate, smoothing)
            self.slot, self.observed, self.flat = slot, 0.0, 0.0
        self.observed += y
        self.flat += flat

    def _learn_visit(self, season_rate: float, smoothing: float) -> None:
        slot = self.slot
        ratio = (self.observed + smoothing) / (self.flat + smoothing)
        # One pseudo-visit at 1.0 to start with: the first visit moves a factor halfway.
        rate = max(season_rate, 1 / (self.visits[slot] + 2))
        if rate > season_rate and self.visits[slot] < 255:
            self.visits[slot] += 1  # past the prior, the count no longer matters: it stops growing
        change = rate * (ratio - self.factors[slot])
        self.factors[slot] += change
        self.total += change


class CalendarProfile(time_series.base.Forecaster):
    """A key's count per window as level x hour-of-day factor x day-of-week factor.

    A River forecaster (`learn_one(y, x)`, `forecast(horizon, xs)`, `x` the window's `calendar`):
    double-seasonal multiplicative exponential smoothing without trend (Taylor's double-seasonal
    Holt-Winters, minus the trend), with each factor shrunk towards a flat profile while it has
    little history.

    - The level is the mean deseasonalised count per window; its learning rate is
      `max(alpha, 1/n)`, so the first windows average (the first window sets the level, not a decay
      from zero).
    - A factor learns, once per visit of its slot (the windows of one hour, or of one day), the
      ratio of the visit's count to what the level and the other factor expected of it, with
      `smoothing` added to both: a sparse key (a few posts an hour) says little about its daily
      shape, so its ratios stay near 1, and five-minute windows learn the hour's shape from the
      whole hour, not from twelve noisy windows. Each slot starts with one pseudo-visit at 1.0, so
      the first day moves the hour factors halfway, the first week the weekday factors; then a
      factor learns at `season_rate` per visit.
    - Factors are used normalised (mean 1 over the slots), so the level keeps its meaning.
    - No trend: a trend extrapolates the run-up of a burst into the next forecast, which is the
      opposite of what a burst detector wants.
    """

    # River's estimators keep their state in a __dict__; slots keep one per key and scale smaller.
    __slots__ = (
        "_hours",
        "_reference_rate",
        "_weekdays",
        "alpha",
        "hours",
        "level",
        "n",
        "reference",
        "season_rate",
        "smoothing",
        "weekdays",
        "window_seconds",
    )

    def __init__(
        self,
        window_seconds: int = HOUR_SECONDS,
        alpha: float = 0.05,
        season_rate: float = 0.1,
        hours: bool = True,
        weekdays: bool = True,
        smoothing: float = 1.0,
    ) -> None:
        self.window_seconds = window_seconds
        self.alpha = alpha
        self.season_rate = season_rate
        self.hours = hours
        self.weekdays = weekdays
        self.smoothing = smoothing
        self.level = 0.0
        # The slow level the factors are learned against: the mean deseasonalised count over about
        # a week. Against the fast level a factor learns only how much an hour differs from the
        # hour before it (the level has caught up with the morning rush by its second hour).
        self.reference = 0.0
        self._reference_rate = window_seconds / (DAYS_PER_WEEK * DAY_SECONDS)
        self.n = 0
        self._hours = _Season(HOURS_PER_DAY) if hours else None
        self._weekdays = _Season(DAYS_PER_WEEK) if weekdays else None

    def _factors(self, x: dict[str, Any] | None) -> tuple[float, float]:
        if x is None:
            return 1.0, 1.0
        hour = self._hours.factor(x["hour"]) if self._hours is not None else 1.0
        weekday = self._weekdays.factor(x["weekday"]) if self._weekdays is not None else 1.0
        return hour, weekday

    def learn_one(self, y: float, x: dict[str, Any] | None = None) -> None:
        hour_factor, weekday_factor = self._factors(x)
        reference = self.reference
        deseasonalised = y / (hour_factor * weekday_factor)
        self.n += 1
        self.level += max(self.alpha, 1 / self.n) * (deseasonalised - self.level)
        self.reference += max(self._reference_rate, 1 / self.n) * (deseasonalised - reference)
        if self.n == 1 or x is None:
            return  # no level yet to compare the first window with
        if self._hours is not None:
            self._hours.observe(x["hour"], y, reference * weekday_factor, self.season_rate, self.smoothing)
        if self._weekdays is not None:
            self._weekdays.observe(x["weekday"], y, reference * hour_factor, self.season_rate, self.smoothing)

    def forecast(self, horizon: int, xs: list[dict[str, Any]] | None = None) -> list[float]:
        if xs is None:
            return [self.level] * horizon
        forecasts = []
        for x in xs[:horizon]:
            hour_factor, weekday_factor = self._factors(x)
            forecasts.append(self.level * hour_factor * weekday_factor)
        return forecasts


@dataclass(frozen=True)
class Scale:
    """One time scale: its window, what counts as a burst there, and how much history it needs.

    A window signals when its running count reaches `min_count`, `ratio` times the forecast (at
    least 1), and the forecast plus `z` spreads (the spread: the larger of the Poisson one and the
    key's own residual spread at this scale). A key needs `min_history_windows` windows of its own
    history at this scale before the scale may judge it; with `new_keys_exempt`, a key first seen
    after the detector's warm-up (a hashtag born in a burst) is exempt. `alpha` is the learning rate
    of the forecaster's level (and of the residual spread), per window; `seasonal` False gives a
    flat forecaster (no hour or weekday factors).
    """

    window_seconds: int
    min_count: int
    ratio: float
    z: float = 3.0
    alpha: float = 0.1
    min_history_windows: int = 0
    new_keys_exempt: bool = False
    seasonal: bool = True

    @property
    def label(self) -> str:
        seconds = self.window_seconds
        if seconds % HOUR_SECONDS == 0:
            return f"{seconds // HOUR_SECONDS}h"
        if seconds % 60 == 0:
            return f"{seconds // 60}m"
        return f"{seconds}s"


# Minutes: the thresholds of the shipped single-scale detector (config/settings.py: five-minute
# windows, 5 posts, x3, 3 windows of warm-up), and a key new to the stream may signal from its first
# window. The level remembers about 100 minutes (alpha 0.1 remembered 50: more false signals on
# CrisisLex, 0.109 against 0.099 a key-day; 0.03 let a slow day-long rise through as minute bursts).
MINUTES = Scale(
    window_seconds=300, min_count=5, ratio=3.0, alpha=0.05, min_history_windows=3, new_keys_exempt=True
)
# Hours: a day of the key's own history first, unless the key is new to the stream; the level
# remembers about a day.
HOURS = Scale(
    window_seconds=HOUR_SECONDS,
    min_count=10,
    ratio=2.5,
    alpha=0.05,
    min_history_windows=24,
    new_keys_exempt=True,
)
# A day: three days of history first; the level remembers about four days. 15 posts, not 50: a
# thin story (a typhoon in a sampled stream, 4 posts an hour for a week) never fills an hour, and a
# quiet key's day at fifteen times its usual is news; a busy key still needs 1.5x its forecast plus
# three spreads. On the CrisisLex issue stream (two seeds) 50 -> 15 found 25 of 26 events instead
# of 23 and 22, with fewer alerts per event and no unmatched alert; false bursts per key-day in
# `pantau eval detect` 0.136 -> 0.140.
DAY = Scale(window_seconds=DAY_SECONDS, min_count=15, ratio=1.5, alpha=0.25, min_history_windows=3)
DEFAULT_SCALES = (MINUTES, HOURS, DAY)

ForecasterFactory = Callable[[Scale], time_series.base.Forecaster]


def calendar_profile(scale: Scale) -> time_series.base.Forecaster:
    """The default forecaster of a scale (a module-level function, so a detector pickles)."""
    return CalendarProfile(
        window_seconds=scale.window_seconds,
        alpha=scale.alpha,
        # An hour-of-day factor means nothing to a day window; nor a weekday one to a longer window.
        hours=scale.seasonal and scale.window_seconds < DAY_SECONDS,
        weekdays=scale.seasonal and scale.window_seconds <= DAY_SECONDS,
    )


class _Window:
    __slots__ = ("count", "evidence", "expected", "informed", "signalled", "spread", "threshold")

    def __init__(self, expected: float, spread: float, threshold: float, informed: bool) -> None:
        self.count = 0
        # The latest posts (a list, not a deque: an empty deque costs 600 bytes, most windows are small).
        self.evidence: list[str] = []
        self.expected = expected
        self.spread = spread
        self.threshold = threshold  # the count at which the window signals, fixed when it opens
        self.informed = informed  # the forecast had history behind it (else its miss means nothing)
        self.signalled = False


class _ScaleState:
    __slots__ = ("forecaster", "learned", "learned_to", "residual_var", "windows")

    def __init__(self, first: int) -> None:
        # Made when the first window is learned: most keys of a busy stream are seen once or twice
        # and never need one (a key with one post holds half the memory without it).
        self.forecaster: time_series.base.Forecaster | None = None
        self.learned_to = first  # every window before this one has been learned (or is no history)
        self.learned = 0
        self.residual_var = 0.0
        self.windows: dict[int, _Window] = {}


class _KeyState:
    __slots__ = ("first", "latest", "recent_ids", "scales", "target")

    def __init__(self, target: str, seconds: int, scales: list[_ScaleState]) -> None:
        self.target = target
        self.first = seconds  # the key's first post: earlier emptiness is not history
        self.latest = seconds
        self.scales = scales
        self.recent_ids: OrderedDict[str, None] = OrderedDict()


def _seconds(at: datetime) -> int:
    """Whole seconds since the epoch, in integers: a float timestamp can round a post into the next
    window."""
    delta = at - _EPOCH
    return delta.days * DAY_SECONDS + delta.seconds


class SeasonalBurst:
    """The detector (see the module): `update(observation)` returns the signals it completes.

    `scales` and their thresholds (`MINUTES`, `HOURS`, `DAY`); `make_forecaster(scale)` the
    forecaster of a key at a scale (a module-level function or a class, so the detector pickles);
    `horizon_seconds` how late a post may be; `settle_seconds` how long after its end a window is
    learned; `max_zero_windows` the most empty windows a silence teaches; `utc_offset_seconds` where
    the local day begins (windows, hour of day and weekday follow it: 25200 for Jakarta).
    """

    def __init__(
        self,
        scales: Sequence[Scale] = DEFAULT_SCALES,
        make_forecaster: ForecasterFactory = calendar_profile,
        horizon_seconds: int = 3 * HOUR_SECONDS,
        settle_seconds: int = 300,
        max_zero_windows: int = 24,
        utc_offset_seconds: int = 0,
        max_future_seconds: int = 300,
        max_keys: int = 100_000,
        max_evidence: int = 20,
        dedup_ids_per_key: int = 5000,
    ) -> None:
        if not scales:
            raise ValueError("a detector needs at least one scale")
        if len({s.window_seconds for s in scales}) != len(scales):
            raise ValueError("two scales share a window length: their signals would share ids")
        self.scales = tuple(scales)
        self.make_forecaster = make_forecaster
        self.horizon_seconds = horizon_seconds
        self.settle_seconds = settle_seconds
        self.max_zero_windows = max_zero_windows
        self.utc_offset_seconds = utc_offset_seconds
        self.max_future_seconds = max_future_seconds
        self.max_keys = max_keys
        self.max_evidence = max_evidence
        self.dedup_ids_per_key = dedup_ids_per_key
        # Least recently active key first, so the coldest key is evicted when state is full.
        self._keys: OrderedDict[tuple[str, str], _KeyState] = OrderedDict()
        # Windows that signalled recently, kept past an eviction so a window never signals twice.
        self._signalled: OrderedDict[str, None] = OrderedDict()
        # Where the watch began (local seconds), as in volume.py: a backfilled post does not count.
        self._watch_start: int | None = None
        self._unanchored = 0
        self.late = 0

    @property
    def keys(self) -> int:
        return len(self._keys)

    def update(self, observation: Observation) -> list[Signal]:
        at = observation.at
        if observation.received_at is not None:
            at = min(at, observation.received_at + timedelta(seconds=self.max_future_seconds))
        seconds = _seconds(at) + self.utc_offset_seconds
        if self._watch_start is None:
            self._anchor(seconds, at, observation.received_at)
        key = (observation.key_kind, observation.key)
        state = self._keys.get(key)
        if state is None:
            if len(self._keys) >= self.max_keys:
                self._keys.popitem(last=False)
            state = _KeyState(
                observation.target,
                seconds,
                [_ScaleState(seconds // s.window_seconds) for s in self.scales],
            )
            self._keys[key] = state
        else:
            self._keys.move_to_end(key)
        if seconds < state.latest - self.horizon_seconds:
            self.late += 1
            return []
        if observation.post_id in state.recent_ids:
            return []  # a redelivered post counts once
        state.recent_ids[observation.post_id] = None
        if len(state.recent_ids) > self.dedup_ids_per_key:
            state.recent_ids.popitem(last=False)
        state.latest = max(state.latest, seconds)
        state.first = min(state.first, seconds)

        signals: list[Signal] = []
        for scale, scale_state in zip(self.scales, state.scales, strict=True):
            window, index = self._count(scale, scale_state, state, seconds)
            window.count += 1
            window.evidence.append(observation.post_id)
            if len(window.evidence) > self.max_evidence:
                del window.evidence[0]
            if not window.signalled and window.count >= window.threshold:
                signal = self._judge(key, state, scale, index, window)
                if signal is not None:
                    signals.append(signal)
        return signals

    def _anchor(self, seconds: int, at: datetime, received_at: datetime | None) -> None:
        current = received_at is None or at >= received_at - timedelta(seconds=self.horizon_seconds)
        self._unanchored += 1
        # A replay of an old archive has nothing but "old" posts: then the first ones anchor anyway.
        if current or self._unanchored >= 100:
            self._watch_start = seconds

    def _count(
        self, scale: Scale, scale_state: _ScaleState, state: _KeyState, seconds: int
    ) -> tuple[_Window, int]:
        """The window a post at `seconds` counts in, after learning the windows that have settled."""
        width = scale.window_seconds
        settled = (state.latest - self.settle_seconds) // width  # windows before it are complete
        if settled > scale_state.learned_to:
            self._learn_settled(scale, scale_state, settled)
            oldest = min((state.latest - self.horizon_seconds) // width, scale_state.learned_to)
            for old in [i for i in scale_state.windows if i < oldest]:
                del scale_state.windows[old]
        index = seconds // width
        window = scale_state.windows.get(index)
        if window is None:
            window = self._open(scale, scale_state, index)
            scale_state.windows[index] = window
        return window, index

    def _open(self, scale: Scale, scale_state: _ScaleState, index: int) -> _Window:
        """A window's forecast and threshold, fixed when it opens: a window is judged against the
        baseline of the windows before it, whatever arrives later."""
        width = scale.window_seconds
        expected = 0.0  # nothing learned yet
        if scale_state.forecaster is not None:
            # River's forecasters forecast the steps after the last one learned, each with its features.
            steps = max(1, index - scale_state.learned_to + 1)
            first = index - steps + 1
            xs = [calendar((first + step) * width) for step in range(steps)]
            expected = max(0.0, float(scale_state.forecaster.forecast(steps, xs)[-1]))
        spread = math.sqrt(max(expected, scale_state.residual_var, 1.0))
        threshold = max(float(scale.min_count), scale.ratio * max(expected, 1.0), expected + scale.z * spread)
        return _Window(expected, spread, threshold, informed=scale_state.learned > 0)

    def _learn_settled(self, scale: Scale, scale_state: _ScaleState, settled: int) -> None:
        """Learn the windows before `settled`, in order, the empty ones as zeros.

        A window is learned once the key's newest post is `settle_seconds` past its end, so posts
        that arrive a little out of order are in its count. A post that arrives later still counts
        towards its window's signal, not the baseline. A long silence teaches its last
        `max_zero_windows` empty windows only: enough to bring the level down, and the cost of a
        post stays bounded however long the key was away.
        """
        windows = scale_state.windows
        position = scale_state.learned_to
        # Windows with posts: within the horizon, so a few dozen at most.
        for stop in [*sorted(i for i in windows if position <= i < settled), settled]:
            for empty in range(max(position, stop - self.max_zero_windows), stop):
                scale_state.learned_to = empty  # so the empty window's forecast is one step ahead
                self._learn(scale, scale_state, empty, 0, self._open(scale, scale_state, empty))
            if stop < settled:
                window = windows[stop]
                self._learn(scale, scale_state, stop, window.count, window)
            position = stop + 1
        scale_state.learned_to = settled

    def _learn(self, scale: Scale, scale_state: _ScaleState, index: int, count: int, window: _Window) -> None:
        # The whole count is learned, a burst included: capping it at the threshold kept the level
        # low through a long crisis, so every later window signalled again (CrisisLex: 667 signals
        # and 0.138 false signals per key-day capped, 373 and 0.101 learned whole; same detections).
        value = float(count)
        if window.informed:
            residual = value - window.expected
            rate = max(scale.alpha, 1 / scale_state.learned)
            scale_state.residual_var += rate * (residual * residual - scale_state.residual_var)
        scale_state.learned += 1
        if scale_state.forecaster is None:
            scale_state.forecaster = self.make_forecaster(scale)
        scale_state.forecaster.learn_one(value, calendar(index * scale.window_seconds))

    def _is_new(self, state: _KeyState, scale: Scale) -> bool:
        """First seen after the warm-up: not a key that was busy before the detector started."""
        warmup = scale.min_history_windows * scale.window_seconds
        return self._watch_start is not None and state.first >= self._watch_start + warmup

    def _judge(
        self, key: tuple[str, str], state: _KeyState, scale: Scale, index: int, window: _Window
    ) -> Signal | None:
        width = scale.window_seconds
        history = index - state.first // width
        if history < scale.min_history_windows and not (scale.new_keys_exempt and self._is_new(state, scale)):
            return None
        window.signalled = True
        key_kind, key_value = key
        start = _EPOCH + timedelta(seconds=index * width - self.utc_offset_seconds)
        signal_id = Signal.make_id(SignalKind.volume_burst, key_kind, f"{key_value}@{width}", start)
        if signal_id in self._signalled:
            return None
        self._signalled[signal_id] = None
        if len(self._signalled) > self.max_keys:
            self._signalled.popitem(last=False)
        expected = window.expected
        return Signal(
            id=signal_id,
            kind=SignalKind.volume_burst,
            key_kind=key_kind,
            key=key_value,
            target=state.target,
            window_start=start,
            window_end=start + timedelta(seconds=width),
            numbers={
                "count": float(window.count),
                "expected": round(expected, 4),
                "ratio": round(window.count / max(expected, 1.0), 4),
                "score": round((window.count - expected) / window.spread, 4),
                "spread": round(window.spread, 4),
                "threshold": round(window.threshold, 4),
                "window_seconds": float(width),
                "history_windows": float(history),
            },
            evidence=tuple(window.evidence),
            details={"scale": scale.label},
            detected_at=utcnow(),
        )
