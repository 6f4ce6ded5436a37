"""The multi-scale seasonal burst detector (`detectors/timescales.SeasonalBurst`) against the shipped
single-scale one (`detectors/volume.VolumeBurst`), in one run, on one core:

1. updates per second on the same synthetic keyed stream (2,000 Zipf-popular keys), and the ratio;
2. memory per key (tracemalloc), for typical keys and for one key fed ever more posts (it must not
   grow with the posts);
3. the CrisisLex T26 replay (`detectors/evaluation.py`, as `pantau eval detect`), for both detectors,
   for each scale alone, and for River's HoltWinters as the forecaster in place of the calendar
   profile (the candidates the baseline was chosen from);
4. a synthetic seasonal stream (daily and weekly pattern, Poisson counts, three weeks): false
   signals on a steady key, and whether a slow doubling over a day and a sharp spike are seen, for
   the same forecaster candidates and for a baseline without seasons;
5. what one forecaster costs alone (bytes, learn + forecast per second): the calendar profile,
   River's HoltWinters (m=24 and m=168) and SNARIMAX.

    .venv/bin/python bench/timescale_detector.py --data /work/shared/data/crisislex_t26

Without `--data` the CrisisLex section is skipped.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import math
import pickle
import random
import statistics
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from river import time_series

from config.settings import Settings
from detectors.base import Detector, Observation
from detectors.evaluation import run_detection_eval
from detectors.timescales import (
    DAY,
    DEFAULT_SCALES,
    HOURS,
    MINUTES,
    CalendarProfile,
    Scale,
    SeasonalBurst,
    calendar,
)
from detectors.volume import VolumeBurst
from pantau.domain import Signal

T0 = datetime(2026, 11, 16, tzinfo=UTC)  # a Monday, midnight
# River's HoltWinters and SNARIMAX carry no annotations: typed as Any here, once.
_HoltWinters: Any = time_series.HoltWinters
_SNARIMAX: Any = time_series.SNARIMAX


# -- the detectors ------------------------------------------------------------------------------------


def shipped_volume_burst() -> VolumeBurst:
    """VolumeBurst, the one-scale detector SeasonalBurst replaced, with the minute scale's defaults."""
    fields = Settings.model_fields
    return VolumeBurst(
        **{
            name: fields[f"burst_{name}"].default
            for name in (
                "window_seconds",
                "min_count",
                "ratio",
                "z",
                "alpha",
                "warmup_windows",
                "horizon_windows",
            )
        }
    )


class RiverHoltWinters(time_series.base.Forecaster):
    """River's HoltWinters made safe for counts, to compare it as a scale's forecaster.

    Two guards it needs: counts are offset by 1 (its initialisation divides by the first season's
    mean, zero for a quiet key), and until its first season is seen (`max(2, m)` values) it cannot
    forecast at all (IndexError), so the mean of what it has seen stands in. It ignores the
    calendar: its season is the position in the sequence, so it must be fed every window in order.
    """

    def __init__(self, seasonality: int, alpha: float, multiplicative: bool = True) -> None:
        self.seasonality = seasonality
        self.alpha = alpha
        self.multiplicative = multiplicative
        self.model = _HoltWinters(
            alpha,
            beta=0.01 if seasonality else None,
            gamma=0.1 if seasonality else None,
            seasonality=seasonality,
            multiplicative=multiplicative,
        )
        self._seen: list[float] = []

    def learn_one(self, y: float, x: dict[str, Any] | None = None) -> None:
        if len(self._seen) < max(2, self.seasonality):
            self._seen.append(y)
        self.model.learn_one(y + 1.0)

    def forecast(self, horizon: int, xs: list[dict[str, Any]] | None = None) -> list[float]:
        try:
            return [max(0.0, float(v) - 1.0) for v in self.model.forecast(horizon)]
        except IndexError:
            return [statistics.fmean(self._seen) if self._seen else 0.0] * horizon


def holt_winters(multiplicative: bool) -> Callable[[Scale], time_series.base.Forecaster]:
    def make(scale: Scale) -> time_series.base.Forecaster:
        # A day of windows is the season (288 five-minute windows), a week of days for the day.
        width = scale.window_seconds
        season = DAY.window_seconds // width if width < DAY.window_seconds else 7
        return RiverHoltWinters(season, scale.alpha, multiplicative)

    return make


def seasonal_burst(forecaster: str = "profile", scales: tuple[Scale, ...] = DEFAULT_SCALES) -> SeasonalBurst:
    if forecaster == "profile":
        return SeasonalBurst(scales=scales)
    if forecaster == "flat":
        return SeasonalBurst(scales=tuple(dataclasses.replace(s, seasonal=False) for s in scales))
    # HoltWinters knows its season only by position: every empty window must be fed, however many.
    return SeasonalBurst(
        scales=scales, make_forecaster=holt_winters(forecaster == "hw-mult"), max_zero_windows=10**9
    )


CANDIDATES = {
    "calendar profile (chosen)": "profile",
    "River HoltWinters, multiplicative": "hw-mult",
    "River HoltWinters, additive": "hw-add",
    "no seasons (flat profile)": "flat",
}


# -- 1. throughput ------------------------------------------------------------------------------------


def keyed_stream(n: int, seed: int = 1) -> list[Observation]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        key = f"k{int(rng.paretovariate(1.2)) % 2000}"
        at = T0 + timedelta(milliseconds=50 * i)
        out.append(
            Observation(
                key_kind="target" if i % 3 == 0 else "hashtag",
                key=key,
                target=key,
                post_id=f"p{i}",
                author_id=f"a{rng.randrange(50_000)}",
                at=at,
                received_at=at,
            )
        )
    return out


def updates_per_second(make: Callable[[], Detector], observations: list[Observation], repeats: int) -> float:
    best = math.inf
    for _ in range(repeats):
        update = make().update
        started = time.perf_counter()
        for observation in observations:
            update(observation)
        best = min(best, time.perf_counter() - started)
    return len(observations) / best


# -- 2. memory ----------------------------------------------------------------------------------------


def traced_bytes(make: Callable[[], Detector], observations: Iterable[Observation]) -> int:
    """Memory the detector holds after the observations (the observations themselves not counted)."""
    observations = list(observations)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    detector = make()
    for observation in observations:
        detector.update(observation)
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del detector
    return held


def typical_keys(keys: int, posts_per_key: int, seed: int = 3) -> list[Observation]:
    """Each key posts `posts_per_key` times at random over six hours."""
    rng = random.Random(seed)
    out = []
    for k in range(keys):
        for i in range(posts_per_key):
            at = T0 + timedelta(seconds=rng.randrange(6 * 3600))
            out.append(
                Observation(key_kind="hashtag", key=f"h{k}", post_id=f"h{k}-{i}", author_id="a", at=at)
            )
    out.sort(key=lambda o: o.at)
    return out


def busy_key(posts: int, per_second: int = 5) -> list[Observation]:
    return [
        Observation(
            key_kind="target",
            key="busy",
            post_id=f"b{i:07d}",  # of fixed width, so the sizes compare
            author_id="a",
            at=T0 + timedelta(seconds=i / per_second),
        )
        for i in range(posts)
    ]


# -- 4. synthetic seasonal stream ---------------------------------------------------------------------


def hour_shape(hour: int) -> float:
    if hour < 6:
        return 0.3
    if hour in (7, 8, 9):
        return 3.0  # the morning rush
    if hour in (19, 20, 21):
        return 2.0
    return 1.0


def poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method is fine for these means (< 200) and keeps the bench free of numpy.
    if mean > 60:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def seasonal_posts(
    key: str, days: int, rng: random.Random, *, base: float = 40.0, day_factor: Callable[[int, float], float]
) -> list[Observation]:
    """Posts per hour: base x hour shape x weekend dip (0.6) x `day_factor(day, hour fraction)`."""
    out = []
    for day in range(days):
        weekend = 0.6 if day % 7 in (5, 6) else 1.0
        for hour in range(24):
            mean = base * hour_shape(hour) * weekend * day_factor(day, (hour + 0.5) / 24)
            start = T0 + timedelta(days=day, hours=hour)
            for i in range(poisson(rng, mean)):
                at = start + timedelta(microseconds=rng.randrange(3_600_000_000))
                out.append(
                    Observation(
                        key_kind="target",
                        key=key,
                        post_id=f"{key}-{day}-{hour}-{i}",
                        author_id="a",
                        at=at,
                        received_at=at,
                    )
                )
    return out


def spike(key: str, day: int, hour: int, count: int, rng: random.Random) -> list[Observation]:
    start = T0 + timedelta(days=day, hours=hour)
    return [
        Observation(
            key_kind="target",
            key=key,
            post_id=f"{key}-spike-{i}",
            author_id="a",
            at=(at := start + timedelta(seconds=rng.randrange(600))),
            received_at=at,
        )
        for i in range(count)
    ]


def seasonal_scenario(forecaster: str, seeds: int, days: int = 21) -> dict[str, float]:
    """Per seed, three keys on one detector: steady (false signals after its first day), a slow
    doubling on the last day (the day's count twice the usual, rising smoothly), a 10-minute spike
    of 150 posts on the last day at 15:00."""
    last = days - 1
    steady_false: Counter[str] = Counter()
    doubling_seen: Counter[str] = Counter()
    spike_seen: Counter[str] = Counter()
    for seed in range(seeds):
        rng = random.Random(seed)
        posts = seasonal_posts("steady", days, rng, day_factor=lambda d, f: 1.0)
        posts += seasonal_posts(
            "doubling", days, rng, day_factor=lambda d, f: 1.0 + 2.0 * f if d == last else 1.0
        )
        posts += seasonal_posts("spike", days, rng, day_factor=lambda d, f: 1.0)
        posts += spike("spike", last, 15, 150, rng)
        posts.sort(key=lambda o: o.at)
        detector = seasonal_burst(forecaster)
        signals: list[Signal] = []
        for observation in posts:
            signals += detector.update(observation)
        first_day_end = T0 + timedelta(days=1)
        last_day = T0 + timedelta(days=last)
        spike_start = last_day + timedelta(hours=15)
        spike_end = spike_start + timedelta(minutes=10)
        for s in signals:
            scale = s.details["scale"]
            if s.key == "steady" and s.window_start >= first_day_end:
                steady_false[scale] += 1
            if s.key == "doubling" and s.window_end > last_day:
                doubling_seen[scale] += 1
            if s.key == "spike" and s.window_start < spike_end and s.window_end > spike_start:
                spike_seen[scale] += 1
    figures: dict[str, float] = {}
    for scale in (s.label for s in DEFAULT_SCALES):
        figures[f"steady false/key-day {scale}"] = steady_false[scale] / (seeds * (days - 1))
        figures[f"doubling seen {scale}"] = doubling_seen[scale] / seeds
        figures[f"spike seen {scale}"] = spike_seen[scale] / seeds
    return figures


# -- 5. one forecaster alone --------------------------------------------------------------------------


def forecaster_cost(make: Callable[[], Any], windows: int = 600, instances: int = 200) -> tuple[float, float]:
    rng = random.Random(0)
    values = [float(rng.randrange(20)) for _ in range(windows)]
    xs = [calendar(i * 3600) for i in range(windows)]
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept = []
    for _ in range(instances):
        model = make()
        for y, x in zip(values, xs, strict=True):
            model.learn_one(y, x)
        kept.append(model)
    per_instance = (tracemalloc.get_traced_memory()[0] - before) / instances
    tracemalloc.stop()
    model = make()
    started = time.perf_counter()
    for y, x in zip(values, xs, strict=True):
        with contextlib.suppress(IndexError):  # HoltWinters before its first season
            model.forecast(1, [x])
        model.learn_one(y, x)
    return per_instance, windows / (time.perf_counter() - started)


def snarimax() -> Any:
    model = _SNARIMAX(p=1, d=0, q=0, m=24, sp=1)

    class Adapter:
        def learn_one(self, y: float, x: dict[str, int]) -> None:
            model.learn_one(y)

        def forecast(self, horizon: int, xs: list[dict[str, int]]) -> list[float]:
            return list(model.forecast(horizon))

    return Adapter()


# -- main ---------------------------------------------------------------------------------------------


def crisislex(data: Path, seeds: tuple[int, ...]) -> None:
    hourly, events = data / "hourly_volume_entire_period.csv", data / "events.csv"
    rows: list[tuple[str, Callable[[], Detector]]] = [
        ("VolumeBurst (shipped settings)", shipped_volume_burst),
        ("SeasonalBurst (defaults)", SeasonalBurst),
    ]
    rows += [
        (f"  {s.label} scale alone", functools.partial(seasonal_burst, "profile", (s,)))
        for s in DEFAULT_SCALES
    ]
    rows += [
        (f"  forecaster: {name}", functools.partial(seasonal_burst, f))
        for name, f in CANDIDATES.items()
        if f != "profile"
    ]
    rows += [
        (f"  {s.label} alone, {name}", functools.partial(seasonal_burst, f, (s,)))
        for s in (HOURS, DAY)
        for name, f in CANDIDATES.items()
        if f != "profile"
    ]
    print(f"\n3. CrisisLex T26 replay, seeds {list(seeds)} (figures averaged over the seeds)")
    print(
        f"{'detector':<48}{'detected':>9}{'median':>8}{'p90':>7}{'signals':>9}"
        f"{'early':>7}{'false/key-day':>15}"
    )
    for name, make in rows:
        overall = run_detection_eval(hourly, events, make, seeds=seeds)["overall"]
        median = overall["median_delay_minutes"]
        p90 = overall["p90_delay_minutes"]
        print(
            f"{name:<48}{overall['detected_share']:>9.3f}"
            f"{median if median is not None else math.nan:>8.0f}{p90 if p90 is not None else math.nan:>7.0f}"
            f"{overall['signals']:>9.1f}{overall['signals_before_onset']:>7.1f}"
            f"{overall['false_signals_per_key_day']:>15.4f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", type=Path, help="CrisisLex T26 folder (events.csv, hourly_volume_entire_period.csv)"
    )
    parser.add_argument("--events", type=int, default=100_000, help="observations for the throughput run")
    parser.add_argument("--seeds", default="0,1,2", help="CrisisLex seeds")
    parser.add_argument("--scenario-seeds", type=int, default=5)
    args = parser.parse_args()
    seeds = tuple(int(x) for x in args.seeds.split(",") if x.strip())

    observations = keyed_stream(args.events)
    volume = updates_per_second(shipped_volume_burst, observations, repeats=3)
    seasonal = updates_per_second(SeasonalBurst, observations, repeats=3)
    print(f"1. throughput, {len(observations):,} observations on 2,000 keys (best of 3, one core)")
    print(f"VolumeBurst (shipped settings, 1 scale)   {volume:>10,.0f} updates/s")
    print(
        f"SeasonalBurst (defaults, 3 scales)        {seasonal:>10,.0f} updates/s  ({seasonal / volume:.2f}x)"
    )

    keys = 2000
    print(f"\n2. memory per key ({keys:,} keys, their posts at random over 6 h; tracemalloc)")
    for posts in (1, 30):
        typical = typical_keys(keys, posts)
        cells = [
            f"{name} {traced_bytes(make, typical) / keys:>7,.0f} B"
            for name, make in (("VolumeBurst", shipped_volume_burst), ("SeasonalBurst", SeasonalBurst))
        ]
        print(f"{posts:>3} posts/key: " + "   ".join(cells))
    print("one busy key, 5 posts/s: memory held after N posts")
    for name, make in (("VolumeBurst", shipped_volume_burst), ("SeasonalBurst", SeasonalBurst)):
        cells = []
        for n in (20_000, 100_000, 400_000):
            detector = make()
            for observation in busy_key(n):
                detector.update(observation)
            cells.append(f"{n:>8,}: {len(pickle.dumps(detector)):>9,} B pickled")
        print(f"{name:<16}" + "  ".join(cells))

    if args.data is not None:
        crisislex(args.data, seeds)
    else:
        print("\n3. CrisisLex replay skipped (no --data)")

    print(f"\n4. synthetic seasonal stream, {args.scenario_seeds} seeds x 21 days (daily rush, weekend dip)")
    for name, forecaster in CANDIDATES.items():
        figures = seasonal_scenario(forecaster, args.scenario_seeds)
        print(f"{name}:")
        print("    " + "  ".join(f"{k}={v:.2f}" for k, v in figures.items() if k.startswith("steady")))
        print("    " + "  ".join(f"{k}={v:.2f}" for k, v in figures.items() if not k.startswith("steady")))

    print("\n5. one forecaster alone, 600 windows learned (bytes, learn+forecast/s)")
    forecasters: list[tuple[str, Callable[[], Any]]] = [
        ("CalendarProfile (hours + weekdays)", CalendarProfile),
        ("River HoltWinters m=24", functools.partial(RiverHoltWinters, 24, 0.05)),
        ("River HoltWinters m=168", functools.partial(RiverHoltWinters, 168, 0.05)),
        ("River HoltWinters m=288 (5-min windows)", functools.partial(RiverHoltWinters, 288, 0.1)),
        ("River SNARIMAX p=1 m=24 sp=1", snarimax),
    ]
    for name, make in forecasters:
        size, speed = forecaster_cost(make)
        print(f"{name:<38}{size:>9,.0f} B{speed:>12,.0f} /s")
    print(
        f"(scales: {', '.join(f'{s.label} min_count={s.min_count} ratio={s.ratio}' for s in DEFAULT_SCALES)};"
        f" MINUTES={MINUTES.window_seconds}s)"
    )


if __name__ == "__main__":
    main()
