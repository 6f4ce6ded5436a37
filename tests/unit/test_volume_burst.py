"""detectors.volume.VolumeBurst on event-time observations; pure, no I/O."""

from __future__ import annotations

import pickle
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.base import Observation
from detectors.volume import VolumeBurst
from pantau.domain import Signal, SignalKind

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)  # on a minute boundary


def obs(key: str, seconds: float, post_id: str, *, key_kind: str = "target") -> Observation:
    return Observation(
        key_kind=key_kind,
        key=key,
        target=key if key_kind == "target" else "",
        post_id=post_id,
        author_id="a",
        at=T0 + timedelta(seconds=seconds),
    )


def feed(detector: VolumeBurst, observations: Iterable[Observation]) -> list[Signal]:
    signals: list[Signal] = []
    for o in observations:
        signals.extend(detector.update(o))
    return signals


def steady(key: str, minutes: range, per_minute: int) -> list[Observation]:
    step = 60 / per_minute
    return [obs(key, m * 60 + 1 + i * step, f"{key}-{m}-{i}") for m in minutes for i in range(per_minute)]


def burst(key: str, minute: int, count: int) -> list[Observation]:
    return [obs(key, minute * 60 + 1 + i * (58 / count), f"{key}-burst-{i}") for i in range(count)]


def comparable(signals: list[Signal]) -> list[dict[str, Any]]:
    return [s.model_dump(exclude={"detected_at"}) for s in signals]


def test_steady_quiet_key_never_signals() -> None:
    for detector in (VolumeBurst(), VolumeBurst(min_count=2)):
        assert feed(detector, steady("raka", range(60), 2)) == []


def test_jump_signals_once_for_its_window() -> None:
    detector = VolumeBurst()
    before = feed(detector, steady("raka", range(30), 3))
    jump = burst("raka", 30, 30)
    during = [(o, detector.update(o)) for o in jump]
    after = feed(detector, steady("raka", range(31, 40), 3))
    assert before == [] and after == []
    fired = [(o, s) for o, found in during for s in found]
    assert len(fired) == 1
    trigger, signal = fired[0]
    n = signal.numbers
    # The baseline is exactly 3 a minute with no spread: the 9th post (3x) completes the burst.
    assert n["baseline_mean"] == 3.0
    assert n["baseline_std"] == 0.0
    assert n["count"] == 9.0
    assert trigger.post_id == jump[8].post_id
    assert n["ratio"] == n["count"] / n["baseline_mean"] == 3.0
    assert n["history_windows"] == 30
    assert n["window_seconds"] == 60
    assert signal.kind == SignalKind.volume_burst
    assert (signal.key_kind, signal.key, signal.target) == ("target", "raka", "raka")
    assert signal.window_start == T0 + timedelta(minutes=30)
    assert signal.window_end == T0 + timedelta(minutes=31)
    assert signal.evidence == tuple(o.post_id for o in jump[:9])
    assert signal.id == Signal.make_id(SignalKind.volume_burst, "target", "raka", signal.window_start)


def test_evidence_is_capped() -> None:
    detector = VolumeBurst(warmup_windows=0, min_count=30, max_evidence=5)
    (signal,) = feed(detector, burst("raka", 0, 40))
    assert signal.numbers["count"] == 30
    assert len(signal.evidence) == 5


def test_below_min_count_never_signals_even_from_zero() -> None:
    detector = VolumeBurst(min_count=8)
    assert feed(detector, burst("new", 0, 7)) == []
    # The next window starts again from nothing.
    assert feed(detector, burst("new", 5, 7)) == []


def test_min_count_from_zero_baseline_signals() -> None:
    (signal,) = feed(VolumeBurst(warmup_windows=0, min_count=8), burst("new", 0, 8))
    assert signal.numbers["count"] == 8
    assert signal.numbers["baseline_mean"] == 0.0
    assert signal.numbers["ratio"] == 8.0  # the baseline counts as at least 1


def test_redelivered_post_counts_once() -> None:
    detector = VolumeBurst(warmup_windows=0, min_count=8)
    copies = [obs("raka", 1 + i, "same-post") for i in range(20)]
    assert feed(detector, copies) == []
    six = [obs("raka", 30 + i, f"p{i}") for i in range(6)]
    assert feed(detector, six) == []  # 7 distinct posts
    (signal,) = feed(detector, [obs("raka", 45, "p6")])
    assert signal.numbers["count"] == 8
    assert signal.evidence.count("same-post") == 1


def test_an_observation_older_than_the_horizon_is_ignored() -> None:
    detector = VolumeBurst(min_count=8, horizon_windows=3)
    assert feed(detector, [obs("raka", i, f"p{i}") for i in range(7)]) == []
    # The key moves three windows on: the first window is beyond its horizon now.
    assert feed(detector, [obs("raka", 185, "p-later")]) == []
    # This would be the 8th post in the first window, but the key no longer remembers it.
    assert detector.update(obs("raka", 50, "p7")) == []
    assert detector.update(obs("raka", 59, "p8")) == []
    assert detector.late == 2


def test_each_key_keeps_its_own_clock() -> None:
    """Another key far ahead in time (say, a post with a wrong clock) does not make this key late."""
    detector = VolumeBurst(warmup_windows=0, min_count=8, horizon_windows=3)
    assert feed(detector, [obs("other", 3600, "o1")]) == []
    (signal,) = feed(detector, [obs("raka", i, f"p{i}") for i in range(8)])
    assert signal.key == "raka" and signal.numbers["count"] == 8


def test_a_post_dated_in_the_future_is_clamped_to_its_arrival() -> None:
    detector = VolumeBurst(warmup_windows=0, min_count=3, horizon_windows=3, max_future_seconds=60)
    arrival = T0 + timedelta(seconds=10)
    wrong_clock = Observation(key_kind="target", key="raka", target="raka", post_id="future", author_id="a",
                              at=T0 + timedelta(days=365), received_at=arrival)  # fmt: skip
    assert detector.update(wrong_clock) == []
    # It counts at arrival + 60 s (T0 + 70 s), not a year ahead, so posts in the first minute are
    # still within the key's horizon.
    (signal,) = feed(detector, [obs("raka", 20, "p1"), obs("raka", 30, "p2"), obs("raka", 45, "p3")])
    assert detector.late == 0
    assert signal.window_start == T0
    assert set(signal.evidence) == {"p1", "p2", "p3"}


def test_a_window_is_judged_against_the_windows_before_it_whatever_the_arrival_order() -> None:
    """A replay interleaves partitions: the burst minute may arrive before its quiet history."""
    history = steady("raka", range(30), 3)
    jump = burst("raka", 30, 30)
    in_order = feed(VolumeBurst(), history + jump)
    history_late = feed(VolumeBurst(), list(reversed(history[:45])) + jump + history[45:])
    assert len(in_order) == 1 and in_order[0].numbers["baseline_mean"] == 3.0
    # Out of order the burst is still found in its own window; only the baseline seen at that
    # moment differs (part of the history had not arrived yet).
    assert [s.window_start for s in history_late] == [T0 + timedelta(minutes=30)]


def test_keys_are_independent() -> None:
    a = steady("a", range(20), 3) + burst("a", 20, 30)
    b = steady("b", range(21), 3)
    merged = sorted(a + b, key=lambda o: o.at)
    together = feed(VolumeBurst(), merged)
    alone = feed(VolumeBurst(), sorted(a, key=lambda o: o.at))
    assert [s.key for s in together] == ["a"]
    assert comparable(together) == comparable(alone)


def test_same_key_name_under_different_kinds_is_two_keys() -> None:
    detector = VolumeBurst(min_count=8)
    mixed = [obs("pemilu", i, f"p{i}", key_kind="target" if i % 2 else "hashtag") for i in range(14)]
    assert feed(detector, mixed) == []  # 7 under each
    assert detector.keys == 2


def test_max_keys_bounds_state() -> None:
    detector = VolumeBurst(max_keys=5)
    for i in range(50):
        detector.update(obs(f"k{i}", i, f"p{i}"))
        assert detector.keys <= 5
    assert detector.keys == 5


def test_pickle_round_trip_continues_identically() -> None:
    first = steady("a", range(20), 3) + steady("b", range(20), 2)
    rest = sorted(burst("a", 20, 30) + burst("b", 20, 2) + steady("a", range(21, 25), 3), key=lambda o: o.at)
    original = VolumeBurst()
    assert feed(original, sorted(first, key=lambda o: o.at)) == []
    copy = pickle.loads(pickle.dumps(original))
    assert copy.keys == original.keys
    from_original = feed(original, rest)
    from_copy = feed(copy, rest)
    assert len(from_original) == 1
    assert comparable(from_copy) == comparable(from_original)


# -- properties -----------------------------------------------------------------------------------

events = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c"]),
        st.integers(min_value=0, max_value=600),  # seconds, in any order: some late
        st.integers(min_value=0, max_value=40),  # post id: some repeated
    ),
    max_size=150,
)


@settings(max_examples=150, deadline=None)
@given(
    events,
    st.integers(min_value=1, max_value=5),
    st.sampled_from([5, 10, 30]),
    st.integers(min_value=2, max_value=20),
)
def test_signals_are_unique_per_window_and_big_enough(
    evs: list[tuple[str, int, int]], min_count: int, window: int, horizon: int
) -> None:
    detector = VolumeBurst(
        window_seconds=window, min_count=min_count, ratio=1.5, z=1.0, horizon_windows=horizon
    )
    seen: dict[str, set[str]] = defaultdict(set)
    signals: list[Signal] = []
    for key, seconds, pid in evs:
        o = obs(key, seconds, f"p{pid}")
        seen[key].add(o.post_id)
        signals.extend(detector.update(o))
    windows = [(s.key_kind, s.key, s.window_start) for s in signals]
    assert len(windows) == len(set(windows))
    assert len({s.id for s in signals}) == len(signals)
    for s in signals:
        assert s.numbers["count"] >= min_count
        assert s.numbers["count"] >= len(s.evidence)
        assert s.window_end - s.window_start == timedelta(seconds=window)
        assert set(s.evidence) <= seen[s.key]
        assert len(set(s.evidence)) == len(s.evidence)
        expected = max(s.numbers["baseline_mean"], 1.0)
        assert abs(s.numbers["ratio"] - s.numbers["count"] / expected) < 1e-3
        assert s.numbers["count"] >= 1.5 * expected - 1e-3


@settings(max_examples=50, deadline=None)
@given(events, st.integers(min_value=0, max_value=150))
def test_pickle_at_any_point_gives_the_same_future(evs: list[tuple[str, int, int]], cut: int) -> None:
    observations = [obs(k, s, f"p{p}") for k, s, p in evs]
    original = VolumeBurst(window_seconds=10, min_count=2, ratio=1.5, z=1.0, horizon_windows=5)
    feed(original, observations[:cut])
    copy = pickle.loads(pickle.dumps(original))
    assert comparable(feed(copy, observations[cut:])) == comparable(feed(original, observations[cut:]))


def test_eviction_does_not_signal_a_window_twice() -> None:
    detector = VolumeBurst(max_keys=2, min_count=3)
    signals = feed(detector, [obs("a", i, f"a{i}") for i in range(3)])
    signals += feed(detector, [obs("b", 5, "b0"), obs("c", 6, "c0")])
    signals += feed(detector, [obs("a", 10 + i, f"a-more-{i}") for i in range(3)])
    windows = [(s.key, s.window_start) for s in signals]
    assert len(windows) == len(set(windows))


def test_a_key_busy_since_start_up_does_not_signal_until_it_has_history() -> None:
    """After a restart every active key starts from nothing; its first busy minute is no burst."""
    detector = VolumeBurst(warmup_windows=10)
    assert feed(detector, steady("raka", range(12), 10)) == []  # 10 a minute from the first minute
    # With its history learned, a real jump still signals.
    (signal,) = feed(detector, burst("raka", 12, 60))
    assert signal.numbers["history_windows"] >= 10 and signal.numbers["baseline_mean"] == 10.0


def test_a_key_born_after_the_warm_up_may_signal_from_its_first_window() -> None:
    """A hashtag that appears in a burst is exactly what an emerging issue looks like."""
    detector = VolumeBurst(warmup_windows=10)
    assert feed(detector, steady("raka", range(15), 2)) == []
    (signal,) = feed(detector, burst("kpdbocor", 15, 12))
    assert signal.key == "kpdbocor" and signal.numbers["history_windows"] == 0


def test_one_backfilled_post_does_not_end_the_warm_up() -> None:
    """A post far older than its arrival (a backfill, a slow collector) must not anchor the watch."""
    detector = VolumeBurst(warmup_windows=10)
    arrival = T0 + timedelta(minutes=1)
    stray = Observation(key_kind="target", key="old", target="old", post_id="stray", author_id="a",
                        at=T0 - timedelta(hours=5), received_at=arrival)  # fmt: skip
    assert detector.update(stray) == []
    busy = [o.model_copy(update={"received_at": o.at}) for o in steady("raka", range(3), 10)]
    assert feed(detector, busy) == []  # busy since start-up: no burst from a zero baseline
