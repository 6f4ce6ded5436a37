"""The figures of `pantau eval issues`, on hand-made pages and truth."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from detectors.issue_eval import Page, delay_floor, delay_over_floor, matched_event, quiet_days, score_pages
from detectors.issue_streams import EventRow

T0 = datetime(2026, 1, 5, tzinfo=UTC)
QUAKE = EventRow(
    "quake", "Costa Rica earthquake", ("#terremotocr", "costa rica quake"), T0 + timedelta(hours=2)
)
FLOOD = EventRow("flood", "Alberta floods", ("#yycflood",), T0 + timedelta(days=3))
FIRE = EventRow("fire", "Nightclub fire", ("#santamaria",), T0 + timedelta(days=6))
TRUTH = {
    **{f"q{i}": "quake" for i in range(10)},
    **{f"f{i}": "flood" for i in range(10)},
    **{f"x{i}": "fire" for i in range(10)},
    **{f"b{i}": "" for i in range(10)},
}


def page(n: int, hours: float, label: tuple[str, ...], posts: list[str]) -> Page:
    return Page(f"i{n}", T0 + timedelta(hours=hours), label, tuple(posts))


def test_a_page_matches_the_event_most_of_its_known_posts_belong_to() -> None:
    assert matched_event(page(1, 0, (), ["q1", "q2", "b1", "unknown"]), TRUTH) == "quake"
    assert matched_event(page(1, 0, (), ["q1", "b1"]), TRUTH) == ""  # split: no majority
    assert matched_event(page(1, 0, (), ["b1", "b2", "q1"]), TRUTH) == ""  # mostly background
    assert matched_event(page(1, 0, (), ["nobody"]), TRUTH) == ""


def test_quiet_days_are_those_without_an_onset_that_day_or_the_day_before() -> None:
    days = quiet_days([QUAKE], T0, T0 + timedelta(days=3))
    assert sorted(d.day for d in days) == [7, 8]


def test_scores_count_found_events_alerts_labels_delays_and_noise() -> None:
    pages = [
        page(1, 2.5, ("#terremotocr", "alerta"), ["q1", "q2", "q3"]),
        page(2, 5.0, ("sismo", "fuerte"), ["q4", "q5"]),  # a second alert for the quake, unnamed
        page(3, 73.0, ("#yycflood", "calgary"), ["f1", "f2", "b1"]),
        page(4, 24 * 5, ("lunch", "today"), ["b2", "b3"]),  # day 5: quiet (flood's onset on day 3)
    ]
    result = score_pages(pages, TRUTH, [QUAKE, FLOOD, FIRE], first=T0, last=T0 + timedelta(days=7))
    assert result["events"] == 3 and result["events_found"] == 2
    assert result["missed_events"] == ["fire"]
    assert result["alerts_per_found_event"] == 1.5  # three matching pages, two events
    assert result["labels_naming_event"] == round(2 / 3, 3)
    assert result["per_event"]["quake"] == {"alerts": 2, "delay_minutes": 30.0}
    assert result["per_event"]["flood"]["delay_minutes"] == 60.0
    assert result["delay_minutes_median"] == 45.0
    assert result["unmatched_alerts"] == 1
    assert result["quiet_days"] == 2 and result["unmatched_per_quiet_day"] == 0.5


def test_an_event_without_posts_in_the_stream_is_not_counted() -> None:
    ghost = EventRow("ghost", "Ghost", ("#ghost",), T0)
    result = score_pages([], {"q1": "quake"}, [QUAKE, ghost], first=T0, last=T0 + timedelta(days=1))
    assert result["events"] == 1 and result["events_found"] == 0 and result["found_share"] == 0.0
    assert result["alerts_per_found_event"] is None and result["delay_minutes_median"] is None


def test_the_delay_floor_is_when_an_event_first_has_enough_posts_from_enough_accounts() -> None:
    onset = QUAKE.onset
    posts = [(f"p{n}", onset + timedelta(minutes=n), f"u{n % 2}") for n in range(-3, 12)]  # 2 accounts
    posts += [("late", onset + timedelta(minutes=20), "u9")]
    truth = {post_id: "quake" for post_id, _, _ in posts} | {"bg": ""}
    floor = delay_floor([*posts, ("bg", onset, "u5")], truth, [QUAKE, FLOOD], min_posts=10, min_accounts=3)
    # Posts before the onset do not count; the tenth came at minute 9 but from two accounts only.
    assert floor["per_event"] == {"quake": 20.0}
    assert floor["delay_floor_minutes_median"] == 20.0
    assert "flood" not in floor["per_event"]  # no post of its own: no floor


def test_the_delay_over_the_floor_is_per_event_found_with_a_floor() -> None:
    scores = {
        "per_event": {
            "quake": {"alerts": 1, "delay_minutes": 50.0},
            "flood": {"alerts": 2, "delay_minutes": 9.0},
        }
    }
    floor = {"per_event": {"quake": 20.0, "fire": 5.0}}  # flood never had enough posts; fire was never found
    over = delay_over_floor(scores, floor)
    assert over["per_event"] == {"quake": 30.0}
    assert over["over_floor_minutes_median"] == 30.0 and over["over_floor_minutes_p90"] == 30.0
    assert delay_over_floor({"per_event": {}}, floor)["over_floor_minutes_median"] is None
