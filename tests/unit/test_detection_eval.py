"""detectors.evaluation: the ground truth from hourly volumes and the scoring arithmetic; pure, no data."""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.base import Observation
from detectors.evaluation import (
    KEY_KIND,
    Event,
    dense_hours,
    evaluate_bursts,
    onset,
    parse_day,
    percentile,
    quiet_hours,
    read_events,
    read_hourly,
    replay,
    run_detection_eval,
    score_event,
    summarise,
    synthesise_posts,
)
from pantau.domain import Signal, SignalKind

H0 = datetime(2013, 4, 17, 0, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)


def hours_of(counts: list[int], start: datetime = H0) -> list[tuple[datetime, int]]:
    return [(start + i * HOUR, count) for i, count in enumerate(counts)]


def signal_at(window_start: datetime, *, key: str = "quake", key_kind: str = KEY_KIND) -> Signal:
    return Signal(
        id=Signal.make_id(SignalKind.volume_burst, key_kind, key, window_start),
        kind=SignalKind.volume_burst,
        key_kind=key_kind,
        key=key,
        window_start=window_start,
        window_end=window_start + MINUTE,
        numbers={"count": 1.0},
        detected_at=window_start + MINUTE,
    )


class ScriptedDetector:
    """Signals one-minute windows starting at known times, each on the first post after its window."""

    def __init__(self, window_starts: list[datetime]) -> None:
        self.pending = sorted(window_starts)
        self.seen: list[Observation] = []

    def update(self, observation: Observation) -> list[Signal]:
        self.seen.append(observation)
        due = [start for start in self.pending if start + MINUTE <= observation.at]
        self.pending = [start for start in self.pending if start not in due]
        return [signal_at(start, key=observation.key, key_kind=observation.key_kind) for start in due]


# 40 hours: background of 1 a hour, one busy stretch at hours 20-21 (peak 50; 10% is 5).
QUAKE = [1] * 19 + [3, 50, 20] + [1] * 18
ONSET = H0 + 20 * HOUR
# Quiet: more than 6 h from the busy hours 20 and 21, so hours 0-13 and 28-39.
QUIET_HOURS = [H0 + i * HOUR for i in [*range(14), *range(28, 40)]]


# -- ground truth -------------------------------------------------------------------------------------


def test_onset_is_the_first_hour_reaching_the_fraction_of_the_peak() -> None:
    hours = hours_of(QUAKE)
    assert onset(hours) == ONSET  # 3 < 5 <= 50
    assert onset(hours, fraction=0.05) == H0 + 19 * HOUR  # 3 >= 2.5
    assert onset(hours, fraction=0.5) == ONSET
    assert onset(hours, fraction=0.01) == H0  # the background already reaches 0.5


def test_onset_of_an_event_without_tweets_is_an_error() -> None:
    with pytest.raises(ValueError):
        onset(hours_of([0, 0, 0]))


def test_missing_hours_had_no_tweets() -> None:
    sparse = [(H0, 2), (H0 + 3 * HOUR, 5), (H0 + 1 * HOUR, 1), (H0 + 3 * HOUR, 1)]
    assert dense_hours(sparse) == hours_of([2, 1, 0, 6])
    assert dense_hours([]) == []


def test_quiet_hours_are_far_from_every_busy_hour() -> None:
    assert quiet_hours(hours_of(QUAKE)) == QUIET_HOURS
    # A wider margin leaves less quiet time; a low fraction makes the background busy.
    assert quiet_hours(hours_of(QUAKE), margin_hours=12) == [
        H0 + i * HOUR for i in [*range(8), *range(34, 40)]
    ]
    assert quiet_hours(hours_of(QUAKE), quiet_fraction=0.01) == []


def test_quiet_hours_fill_gaps_in_sparse_input() -> None:
    sparse = [(H0, 100), (H0 + 10 * HOUR, 1)]
    assert quiet_hours(sparse, margin_hours=2) == [H0 + i * HOUR for i in range(3, 11)]


# -- reading ------------------------------------------------------------------------------------------


def test_start_day_in_either_format() -> None:
    assert parse_day("2013-04-17") == date(2013, 4, 17)
    assert parse_day("17/06/2013") == date(2013, 6, 17)


FLOOD = [3, 0, 8, 40, 30]  # onset at hour 2 (8 >= 4)


def write_data(folder: Path) -> None:
    (folder / "events.csv").write_text(
        "event,name,start_day,duration_days,development,category,keywords\n"
        "quake,Quake,2013-04-17,2,Instantaneous,Natural,#quake|quake city\n"
        "flood,Flood,17/04/2013,2,Progressive,Natural,#flood\n"
        "missing,Missing,2013-04-17,2,Instantaneous,Natural,x\n",
        encoding="utf-8",
    )
    rows = ["event,hour_utc,included,tweet_count"]
    rows += [f"quake,{h:%Y-%m-%dT%H:%M}Z,Y,{c}" for h, c in hours_of(QUAKE) if c]
    rows += [f"flood,{h:%Y-%m-%dT%H:%M}Z,N,{c}" for h, c in hours_of(FLOOD) if c]
    (folder / "hourly_volume_entire_period.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")


def test_read_events_and_hourly(tmp_path: Path) -> None:
    write_data(tmp_path)
    events = read_events(tmp_path / "events.csv")
    assert [e.event for e in events] == ["quake", "flood", "missing"]
    assert events[1].start_day == date(2013, 4, 17)
    assert events[0].keywords == ("#quake", "quake city")
    hourly = read_hourly(tmp_path / "hourly_volume_entire_period.csv")
    assert set(hourly) == {"quake", "flood"}
    assert hourly["quake"] == hours_of(QUAKE)
    assert hourly["flood"] == hours_of(FLOOD)  # the gap is a zero hour


# -- synthetic posts ----------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    counts=st.lists(st.integers(min_value=0, max_value=30), min_size=1, max_size=12),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_synthetic_posts_keep_every_hour_count(counts: list[int], seed: int) -> None:
    hours = hours_of(counts)
    posts = synthesise_posts(hours, seed=seed)
    per_hour = Counter(at.replace(minute=0, second=0, microsecond=0) for at, _, _ in posts)
    assert [per_hour.get(hour, 0) for hour, _ in hours] == counts
    assert [at for at, _, _ in posts] == sorted(at for at, _, _ in posts)
    assert len({post_id for _, post_id, _ in posts}) == len(posts) == sum(counts)


def test_synthetic_posts_are_deterministic_per_seed() -> None:
    hours = hours_of([5, 0, 40, 7])
    assert synthesise_posts(hours, seed=1) == synthesise_posts(hours, seed=1)
    assert synthesise_posts(hours, seed="1:quake") == synthesise_posts(hours, seed="1:quake")
    assert synthesise_posts(hours, seed=1) != synthesise_posts(hours, seed=2)


# -- replay and scoring -------------------------------------------------------------------------------


def test_replay_starts_the_watch_before_the_event_and_keeps_the_event_key() -> None:
    detector = ScriptedDetector([H0 + 2 * HOUR])
    posts = synthesise_posts(hours_of([3, 3, 3, 3]), seed=0)
    signals = replay("quake", posts, lambda: detector, watch_lead=timedelta(hours=24))
    first = detector.seen[0]
    assert (first.key_kind, first.at) == ("watch", posts[0][0] - timedelta(hours=24))
    assert [(o.key_kind, o.key) for o in detector.seen[1:]] == [(KEY_KIND, "quake")] * 12
    assert all(o.received_at == o.at for o in detector.seen)
    assert [s.window_start for s in signals] == [H0 + 2 * HOUR]

    without = ScriptedDetector([])
    replay("quake", posts, lambda: without, watch_lead=None)
    assert [o.post_id for o in without.seen] == [post_id for _, post_id, _ in posts]


def test_replay_ignores_signals_on_other_keys() -> None:
    posts = synthesise_posts(hours_of([2, 2]), seed=0)
    # The window ends after the watch-start post and before the first event post: it comes on the event key.
    detector = ScriptedDetector([H0 - timedelta(hours=23)])
    assert len(replay("quake", posts, lambda: detector)) == 1

    class WatchKeySignaller(ScriptedDetector):
        def update(self, observation: Observation) -> list[Signal]:
            return [signal_at(H0, key="watch-start", key_kind="watch")]

    assert replay("quake", posts, lambda: WatchKeySignaller([])) == []


def test_score_delay_early_and_quiet_false_signals() -> None:
    hours = hours_of(QUAKE)
    signals = [
        signal_at(H0 + 2 * HOUR),  # quiet and before the onset: early and false
        signal_at(H0 + 19 * HOUR + 50 * MINUTE),  # just before the onset, not quiet: early only
        signal_at(ONSET + 30 * MINUTE),  # the detection: ends 31 minutes after the onset
        signal_at(ONSET + 5 * HOUR),  # near the burst: neither
        signal_at(H0 + 35 * HOUR),  # quiet: false
    ]
    score = score_event("quake", hours, signals)
    assert score.onset == ONSET
    assert score.first_signal == ONSET + 31 * MINUTE
    assert score.delay_minutes == 31.0
    assert score.detected
    assert score.signals == 5
    assert score.signals_before_onset == 2
    assert score.lead_of_last_early_signal_minutes == 9.0
    assert score.quiet_key_days == len(QUIET_HOURS) / 24
    assert score.false_signals_quiet == 2
    assert score.as_json()["first_signal"] == (ONSET + 31 * MINUTE).isoformat()


def test_a_window_ending_at_the_onset_is_early_and_one_touching_a_busy_hour_is_not_quiet() -> None:
    hours = hours_of(QUAKE)
    at_onset = signal_at(ONSET - MINUTE)
    assert score_event("quake", hours, [at_onset]).signals_before_onset == 1
    assert score_event("quake", hours, [at_onset]).first_signal is None
    # A half-hour window from 13:30 ends where hour 14 begins: it lies in quiet hour 13 alone. One that
    # runs a minute into hour 14 (not quiet: 6 hours from the onset hour) is not quiet.
    straddling = signal_at(H0 + 13 * HOUR + 30 * MINUTE).model_copy(update={"window_end": H0 + 14 * HOUR})
    assert score_event("quake", hours, [straddling]).false_signals_quiet == 1
    longer = straddling.model_copy(update={"window_end": H0 + 14 * HOUR + MINUTE})
    assert score_event("quake", hours, [longer]).false_signals_quiet == 0
    assert score_event("quake", hours, [signal_at(H0 + 13 * HOUR + 59 * MINUTE)]).false_signals_quiet == 1


def test_a_signal_too_late_is_not_a_detection() -> None:
    late = signal_at(ONSET + 30 * HOUR)
    score = score_event("quake", hours_of(QUAKE + [1] * 20), [late])
    assert score.delay_minutes == 30 * 60 + 1
    assert not score.detected
    assert score_event("quake", hours_of(QUAKE + [1] * 20), [late], max_delay_hours=48).detected


def test_percentile_and_summary_arithmetic() -> None:
    assert percentile([], 90) is None
    assert percentile([10.0, 20.0, 30.0, 40.0], 90) == pytest.approx(37.0)
    assert percentile([5.0], 90) == 5.0
    hours = hours_of(QUAKE)
    scores = [
        score_event("a", hours, [signal_at(ONSET + 9 * MINUTE)]),  # 10 minutes
        score_event("b", hours, [signal_at(ONSET + 29 * MINUTE), signal_at(H0)]),  # 30, one false
        score_event("c", hours, []),  # missed
    ]
    overall = summarise(scores)
    assert overall["events"] == 3 and overall["events_detected"] == 2
    assert overall["detected_share"] == pytest.approx(2 / 3)
    assert overall["median_delay_minutes"] == 20.0
    assert overall["p90_delay_minutes"] == pytest.approx(28.0)
    assert overall["median_delay_all_minutes"] == 30.0  # 10, 30, never
    assert overall["false_signals_quiet"] == 1
    assert overall["false_signals_per_key_day"] == pytest.approx(1 / (3 * len(QUIET_HOURS) / 24))
    # Half or more missed: no finite median over all events.
    assert summarise(scores[1:])["median_delay_all_minutes"] is None


def test_evaluate_bursts_end_to_end_with_a_scripted_detector() -> None:
    events = [
        Event("quake", "Quake", date(2013, 4, 17), 2, "Instantaneous", "Natural", ()),
        Event("boston", "Boston", date(2013, 4, 15), 2, "Instantaneous", "Human-induced", ()),
    ]
    hourly = {"quake": hours_of(QUAKE)}
    starts = [H0 + 2 * HOUR, ONSET + 30 * MINUTE, H0 + 35 * HOUR]
    result = evaluate_bursts(events, hourly, lambda: ScriptedDetector(starts), seed=3)
    assert result["skipped"] == ["boston"]
    quake = result["events"]["quake"]
    assert quake["onset"] == ONSET.isoformat()
    assert quake["delay_minutes"] == 31.0
    assert (quake["signals"], quake["signals_before_onset"], quake["false_signals_quiet"]) == (3, 1, 2)
    overall = result["overall"]
    assert overall["detected_share"] == 1.0
    assert overall["false_signals_per_key_day"] == pytest.approx(2 / (len(QUIET_HOURS) / 24))
    # With the onset at 5% of the peak (hour 19) the same detection is an hour and a half late.
    assert result["onset_sensitivity"]["0.05"]["median_delay_minutes"] == 91.0
    assert result["settings"]["watch_lead_hours"] == 24.0


def test_run_detection_eval_averages_over_seeds(tmp_path: Path) -> None:
    write_data(tmp_path)
    # Both keys get the 03:30 window (the quake's is early); only the quake lasts until 20:30.
    starts = [ONSET + 30 * MINUTE, H0 + 3 * HOUR + 30 * MINUTE]
    result = run_detection_eval(
        tmp_path / "hourly_volume_entire_period.csv",
        tmp_path / "events.csv",
        lambda: ScriptedDetector(starts),
        seeds=(0, 1),
    )
    assert result["seeds"] == [0, 1]
    assert result["skipped"] == ["missing"]
    assert len(result["per_seed"]) == 2
    overall = result["overall"]
    assert overall["events"] == 2 and overall["detected_share"] == 1.0
    # The quake is found 31 minutes after its onset, the flood at 03:31, 91 minutes after its own.
    assert overall["median_delay_minutes"] == pytest.approx((31 + 91) / 2)
    assert math.isclose(overall["signals"], 3.0)
    assert math.isclose(overall["signals_before_onset"], 1.0)
