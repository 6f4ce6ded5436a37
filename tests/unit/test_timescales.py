"""detectors.timescales.SeasonalBurst on synthetic event-time observations; pure, no I/O."""

from __future__ import annotations

import dataclasses
import math
import pickle
import random
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from detectors.base import Observation
from detectors.timescales import (
    DAY,
    HOURS,
    MINUTES,
    CalendarProfile,
    Scale,
    SeasonalBurst,
    calendar,
)
from pantau.domain import Signal, SignalKind

T0 = datetime(2024, 5, 6, tzinfo=UTC)  # a Monday, midnight UTC
HOUR = 3600
DAY_S = 86400


def obs(key: str, seconds: float, post_id: str, *, received: float | None = None) -> Observation:
    """A post on `key` at T0 + seconds, received the moment it was written unless told otherwise."""
    at = T0 + timedelta(seconds=seconds)
    return Observation(
        key_kind="target",
        key=key,
        target=key,
        post_id=post_id,
        author_id="a",
        at=at,
        received_at=at if received is None else T0 + timedelta(seconds=received),
    )


def feed(detector: SeasonalBurst, observations: Iterable[Observation]) -> list[Signal]:
    signals: list[Signal] = []
    for observation in observations:
        signals.extend(detector.update(observation))
    return signals


def hour_of_posts(key: str, day: int, hour: int, count: int) -> list[Observation]:
    """`count` posts spread evenly over one hour."""
    start = day * DAY_S + hour * HOUR
    return [obs(key, start + (i + 0.5) * HOUR / count, f"{key}-{day}-{hour}-{i}") for i in range(count)]


def days_of_posts(key: str, days: Iterable[int], per_hour: dict[int, int], usual: int) -> list[Observation]:
    return [
        o
        for day in days
        for hour in range(24)
        for o in hour_of_posts(key, day, hour, per_hour.get(hour, usual))
    ]


def at_scale(signals: list[Signal], scale: Scale) -> list[Signal]:
    return [s for s in signals if s.numbers["window_seconds"] == scale.window_seconds]


def comparable(signals: list[Signal]) -> list[dict[str, Any]]:
    return [s.model_dump(exclude={"detected_at"}) for s in signals]


MORNING_RUSH = {7: 150, 8: 150}  # five times the usual 30 posts an hour, every morning


# -- the time scales ----------------------------------------------------------------------------------


def test_a_daily_morning_rush_seen_for_a_week_is_not_a_burst_on_the_eighth_day() -> None:
    detector = SeasonalBurst()
    feed(detector, days_of_posts("raka", range(7), MORNING_RUSH, usual=30))
    day_eight = feed(detector, days_of_posts("raka", [7], MORNING_RUSH, usual=30))
    assert at_scale(day_eight, HOURS) == []
    assert day_eight == []  # nor at the minute scale: the five-minute baseline knows the hour too


def test_without_the_hour_of_day_the_same_rush_would_be_an_hour_scale_burst() -> None:
    """The control for the test above: it is the seasonal baseline that keeps the rush quiet."""
    flat_hours = dataclasses.replace(HOURS, seasonal=False)
    detector = SeasonalBurst(scales=(MINUTES, flat_hours, DAY))
    feed(detector, days_of_posts("raka", range(7), MORNING_RUSH, usual=30))
    day_eight = feed(detector, days_of_posts("raka", [7], MORNING_RUSH, usual=30))
    assert [s.window_start.hour for s in at_scale(day_eight, flat_hours)][:1] == [7]


def slow_doubling(key: str, day: int, usual_per_hour: int) -> list[Observation]:
    """A day whose rate rises smoothly from the usual to three times it: twice the usual day's count,
    and no five-minute window far above the one before it."""
    total = 2 * 24 * usual_per_hour
    posts = []
    for i in range(total):
        # The rate is usual x (1 + 2t) over the day (t in [0, 1]): invert its cumulative t + t^2.
        share = (i + 0.5) / (total / 2)
        fraction = (-1 + math.sqrt(1 + 4 * share)) / 2
        posts.append(obs(key, day * DAY_S + fraction * DAY_S, f"{key}-ramp-{i}"))
    return posts


def test_a_slow_doubling_over_a_day_is_a_day_scale_burst_and_not_a_minute_one() -> None:
    detector = SeasonalBurst()
    assert feed(detector, days_of_posts("raka", range(7), {}, usual=60)) == []
    day_eight = feed(detector, slow_doubling("raka", 7, usual_per_hour=60))
    [burst] = at_scale(day_eight, DAY)
    assert burst.window_start == T0 + timedelta(days=7)
    assert burst.numbers["expected"] == pytest.approx(24 * 60, rel=0.05)
    assert at_scale(day_eight, MINUTES) == []


def test_a_thin_story_of_twenty_posts_in_a_day_on_a_quiet_key_is_a_day_scale_burst() -> None:
    """A typhoon's hashtag in a thin sample: never ten posts in an hour, but twenty in a day on a key
    that had about one a day. Only the day scale hears it; a key with twenty posts every day is
    not news on the day it has twenty again."""
    detector = SeasonalBurst()
    quiet = [obs("haiyan", day * DAY_S + 12 * HOUR, f"q-{day}") for day in range(5)]
    usual = [obs("daily", d * DAY_S + i * DAY_S / 20, f"d-{d}-{i}") for d in range(5) for i in range(20)]
    assert feed(detector, sorted(quiet + usual, key=lambda o: o.at)) == []
    story = [obs("haiyan", 5 * DAY_S + i * DAY_S / 20, f"s-{i}") for i in range(20)]
    again = [obs("daily", 5 * DAY_S + i * DAY_S / 20 + 1, f"d-5-{i}") for i in range(20)]
    signals = feed(detector, sorted(story + again, key=lambda o: o.at))
    assert [(s.key, s.details["scale"]) for s in signals] == [("haiyan", "24h")]
    assert signals[0].numbers["count"] == DAY.min_count


def test_a_sharp_ten_minute_spike_is_a_minute_scale_burst() -> None:
    detector = SeasonalBurst()
    assert feed(detector, days_of_posts("raka", range(2), {}, usual=60)) == []
    start = 2 * DAY_S + 14 * HOUR
    spike = [obs("raka", start + i * 6, f"spike-{i}") for i in range(100)]  # 100 posts in 10 minutes
    signals = feed(detector, spike)
    minutes = at_scale(signals, MINUTES)
    assert [s.window_start for s in minutes] == [
        T0 + timedelta(seconds=start),
        T0 + timedelta(seconds=start + 300),
    ]
    assert all(s.numbers["count"] >= 3 * max(s.numbers["expected"], 1) for s in minutes)


def test_a_key_born_in_a_burst_signals_at_the_minute_scale_only() -> None:
    detector = SeasonalBurst()
    feed(detector, days_of_posts("raka", [0], {}, usual=10))  # the detector has been watching all day
    born = [obs("#banjir", 20 * HOUR + i * 5, f"b{i}") for i in range(60)]
    signals = feed(detector, born)
    assert [(s.key, s.numbers["window_seconds"]) for s in signals] == [("#banjir", 300.0)]
    assert signals[0].numbers["count"] == MINUTES.min_count


def test_a_key_busy_since_start_up_needs_history_before_it_signals() -> None:
    detector = SeasonalBurst()
    busy_from_the_start = [obs("raka", i * 10, f"p{i}") for i in range(60)]  # 30 posts per 5 minutes
    assert feed(detector, busy_from_the_start) == []
    later = feed(detector, [obs("raka", 3600 + i * 3, f"q{i}") for i in range(100)])
    assert at_scale(later, MINUTES)


def test_the_hour_and_day_scales_do_not_page_on_the_first_day() -> None:
    detector = SeasonalBurst()
    first_day = feed(detector, days_of_posts("raka", [0], {15: 3000}, usual=30))
    assert at_scale(first_day, HOURS) == [] and at_scale(first_day, DAY) == []


def test_sparse_keys_stay_quiet() -> None:
    rng = random.Random(7)
    posts = [
        obs(f"k{k}", rng.uniform(0, 3 * DAY_S), f"k{k}-{i}")
        for k in range(300)
        for i in range(rng.randrange(10, 100))  # at most about 1.4 posts an hour
    ]
    posts.sort(key=lambda o: o.at)
    assert feed(SeasonalBurst(), posts) == []


def test_a_quiet_key_that_wakes_up_after_a_long_silence_costs_a_bounded_number_of_steps() -> None:
    detector = SeasonalBurst()
    feed(detector, [obs("raka", i * 60, f"p{i}") for i in range(10)])
    feed(detector, [obs("raka", 400 * DAY_S, "back")])  # 115,000 five-minute windows later
    state = detector._keys[("target", "raka")]
    assert all(s.learned <= 10 + detector.max_zero_windows for s in state.scales)


# -- counting -----------------------------------------------------------------------------------------


def test_redelivered_posts_count_once() -> None:
    detector = SeasonalBurst()
    feed(detector, [obs("other", 0, "watch")])
    start = 2 * HOUR
    four = [obs("#new", start + i, f"n{i}") for i in range(4)]
    assert feed(detector, four * 3) == []  # 12 deliveries, 4 posts: below the minimum of 5
    [signal] = feed(detector, [obs("#new", start + 10, "n4")])
    assert signal.numbers["count"] == 5


def test_out_of_order_posts_within_the_horizon_count_in_their_own_window() -> None:
    detector = SeasonalBurst()
    feed(detector, [obs("other", 0, "watch")])
    feed(detector, [obs("#new", 3 * HOUR + i * 60, f"late-key-{i}") for i in range(3)])
    # An hour later, the posts of 03:10 arrive; they are still within the three-hour horizon.
    feed(detector, [obs("#new", 4 * HOUR + i * 60, f"now-{i}") for i in range(3)])
    signals = feed(detector, [obs("#new", 3 * HOUR + 600 + i, f"then-{i}") for i in range(6)])
    [signal] = signals
    assert signal.window_start == T0 + timedelta(hours=3, minutes=10)
    assert signal.numbers["count"] == 5
    assert detector.late == 0
    feed(detector, [obs("#new", 30 * 60, "too-old")])  # 3.5 hours before the key's newest post
    assert detector.late == 1


def test_disorder_shorter_than_the_settle_time_changes_nothing() -> None:
    """Each post arrives up to four minutes late, so arrivals interleave across windows: every
    window still has all its posts when it is learned (settle_seconds = 300), so the baseline, and
    every signal, is what the in-order stream gives. (Learning a window as soon as a later one
    opened left most windows of such a stream unlearned, and the morning rush signalled daily.)"""
    posts = days_of_posts("raka", range(8), MORNING_RUSH, usual=30)
    posts += [obs("raka", 7 * DAY_S + 15 * HOUR + i * 3, f"spike-{i}") for i in range(100)]
    posts.sort(key=lambda o: o.at)
    rng = random.Random(3)
    delays = {o.post_id: rng.uniform(0, 240) for o in posts}
    arrivals = sorted(posts, key=lambda o: o.at + timedelta(seconds=delays[o.post_id]))
    assert arrivals != posts
    in_order, disordered = SeasonalBurst(), SeasonalBurst()
    expected = feed(in_order, posts)
    assert expected  # the spike, at least
    assert sorted(s.id for s in feed(disordered, arrivals)) == sorted(s.id for s in expected)
    assert len(levels(in_order)) == 3
    assert levels(disordered) == pytest.approx(levels(in_order))


def levels(detector: SeasonalBurst) -> list[float]:
    profiles = [s.forecaster for s in detector._keys[("target", "raka")].scales]
    return [p.level for p in profiles if isinstance(p, CalendarProfile)]


def test_a_post_dated_in_the_future_is_clamped_to_its_arrival() -> None:
    detector = SeasonalBurst()
    feed(detector, [obs("raka", 0, "p0")])
    feed(detector, [obs("raka", 30 * DAY_S, "wrong-clock", received=60)])
    feed(detector, [obs("raka", 120, "p1")])
    assert detector.late == 0
    clamped = T0 + timedelta(seconds=60 + detector.max_future_seconds)
    assert detector._keys[("target", "raka")].latest == int(clamped.timestamp())


def test_a_window_signals_once_per_scale_with_its_latest_posts_as_evidence() -> None:
    detector = SeasonalBurst(scales=(dataclasses.replace(MINUTES, min_count=30),))
    feed(detector, [obs("other", 0, "watch")])
    signals = feed(detector, [obs("#new", 2 * HOUR + i, f"n{i}") for i in range(200)])
    assert len(signals) == 1
    # The 20 posts that carried it over the threshold, the 30th last.
    assert signals[0].evidence == tuple(f"n{i}" for i in range(10, 30))


def test_signal_numbers_and_ids() -> None:
    detector = SeasonalBurst()
    feed(detector, [obs("other", 0, "watch")])
    [signal] = feed(detector, [obs("#new", 2 * HOUR + i, f"n{i}") for i in range(5)])
    assert {"count", "expected", "ratio", "score", "window_seconds", "history_windows"} <= set(signal.numbers)
    assert signal.kind == SignalKind.volume_burst and signal.details == {"scale": "5m"}
    start = T0 + timedelta(hours=2)
    assert signal.id == Signal.make_id(SignalKind.volume_burst, "target", "#new@300", start)
    assert signal.window_end == start + timedelta(minutes=5)


EAGER = (
    Scale(window_seconds=300, min_count=5, ratio=3.0, new_keys_exempt=True),
    Scale(window_seconds=HOUR, min_count=5, ratio=3.0),
    Scale(window_seconds=DAY_S, min_count=5, ratio=3.0),
)


def test_scales_that_share_a_window_start_give_distinct_ids() -> None:
    detector = SeasonalBurst(scales=EAGER)
    signals = feed(detector, [obs("raka", i, f"p{i}") for i in range(5)])  # at midnight
    assert sorted(s.numbers["window_seconds"] for s in signals) == [300.0, 3600.0, 86400.0]
    assert {s.window_start for s in signals} == {T0}
    assert len({s.id for s in signals}) == 3


def test_windows_and_slots_follow_the_local_day() -> None:
    jakarta = 7 * HOUR
    detector = SeasonalBurst(scales=EAGER[2:], utc_offset_seconds=jakarta)
    [signal] = feed(detector, [obs("raka", 20 * HOUR + i, f"p{i}") for i in range(5)])
    assert signal.window_start == T0 + timedelta(hours=17)  # local midnight, in UTC
    assert calendar(0) == {"hour": 0, "weekday": 3}  # 1970-01-01 was a Thursday


def test_scales_must_differ_in_window_length() -> None:
    with pytest.raises(ValueError, match="share a window length"):
        SeasonalBurst(scales=(MINUTES, dataclasses.replace(MINUTES, min_count=9)))


# -- bounds -------------------------------------------------------------------------------------------


def test_max_keys_bounds_state_under_100k_distinct_keys() -> None:
    detector = SeasonalBurst(max_keys=1000)
    for i in range(100_000):
        detector.update(
            Observation(
                key_kind="hashtag", key=f"#t{i}", post_id=f"p{i}", author_id="a", at=T0 + timedelta(seconds=i)
            )
        )
    assert detector.keys == 1000
    assert len(detector._signalled) <= 1000


def test_a_busy_key_holds_the_same_state_after_five_times_the_posts() -> None:
    """Stands in for a key with millions of posts: what it holds stops growing once its horizon and
    its redelivery memory are full (ids of fixed width, so pickled sizes compare)."""
    detector = SeasonalBurst()
    sizes = []
    for n in range(75_000):
        detector.update(
            Observation(
                key_kind="target",
                key="raka",
                post_id=f"p{n:07d}",
                author_id="a",
                at=T0 + timedelta(seconds=n),
            )
        )
        if n + 1 in (15_000, 75_000):  # its horizon (3 h) full, then 17 hours on
            sizes.append(len(pickle.dumps(detector)))
    assert sizes[1] <= sizes[0] * 1.02


def test_pickle_round_trip_mid_stream_gives_identical_later_signals() -> None:
    posts = days_of_posts("raka", range(3), {9: 400}, usual=20)
    posts += [obs("#new", 2 * DAY_S + 5 * HOUR + i, f"n{i}") for i in range(30)]
    posts.sort(key=lambda o: o.at)
    cut = len(posts) // 2
    detector = SeasonalBurst()
    feed(detector, posts[:cut])
    restored = pickle.loads(pickle.dumps(detector))
    later = feed(detector, posts[cut:])
    assert later  # something to compare
    assert comparable(feed(restored, posts[cut:])) == comparable(later)


# -- the forecaster -----------------------------------------------------------------------------------


def test_the_calendar_profile_learns_a_daily_and_weekly_shape() -> None:
    def truth(hour: int, weekday: int) -> float:
        return 40.0 * (3.0 if hour in (7, 8) else 0.3 if hour < 6 else 1.0) * (0.5 if weekday >= 5 else 1.0)

    profile = CalendarProfile(window_seconds=HOUR, alpha=0.05)
    week = 7 * 24
    for i in range(5 * week):
        x = calendar(i * HOUR)
        profile.learn_one(truth(x["hour"], x["weekday"]), x)
    errors = []
    for i in range(5 * week, 6 * week):
        x = calendar(i * HOUR)
        [forecast] = profile.forecast(1, [x])
        errors.append(abs(forecast / truth(x["hour"], x["weekday"]) - 1))
    # Shrunk towards a flat week while it has few visits: close after five weeks, not exact.
    assert sum(errors) / len(errors) < 0.1 and max(errors) < 0.3


def test_the_calendar_profile_keeps_rivers_conventions() -> None:
    profile = CalendarProfile(window_seconds=300, alpha=0.2)
    profile.learn_one(3.0, calendar(0))
    clone = profile.clone()
    assert clone.alpha == 0.2 and clone.window_seconds == 300 and clone.n == 0
    assert profile.forecast(2) == [3.0, 3.0]


# -- any input ----------------------------------------------------------------------------------------

events = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c"]),
        st.integers(min_value=-3 * DAY_S, max_value=3 * DAY_S),  # when it was written
        st.integers(min_value=-600, max_value=DAY_S),  # how long after that it arrived
        st.integers(min_value=0, max_value=40),  # its id (repeats are redeliveries)
    ),
    max_size=300,
)


def as_observations(evs: list[tuple[str, int, int, int]]) -> list[Observation]:
    return [obs(key, at, f"{key}{pid}", received=at + delay) for key, at, delay, pid in evs]


@settings(max_examples=150, deadline=None)
@given(evs=events, cut=st.integers(min_value=0, max_value=300))
@example(evs=[("a", 0, 0, i) for i in range(5)] + [("a", 3 * DAY_S, 0, 9)], cut=3)
def test_any_sequence_never_raises_and_never_repeats_a_signal(
    evs: list[tuple[str, int, int, int]], cut: int
) -> None:
    observations = as_observations(evs)
    detector = SeasonalBurst(scales=EAGER)
    head = feed(detector, observations[:cut])
    restored = pickle.loads(pickle.dumps(detector))
    tail = feed(detector, observations[cut:])
    signals = head + tail
    assert len({s.id for s in signals}) == len(signals)
    assert all(s.numbers["count"] >= 5 for s in signals)
    assert comparable(feed(restored, observations[cut:])) == comparable(tail)
