"""detectors.issue_streams: the issue evaluation's dev stream from a tiny CrisisLex-shaped folder, and the
demo stream's truth files."""

from __future__ import annotations

import csv
import gzip
import json
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from detectors.issue_streams import (
    BASE,
    EventRow,
    IssueStream,
    build_crisislex_stream,
    diurnal_rate,
    draw_diurnal_times,
    read_issue_events,
    read_truth,
    retweet_body,
    write_issue_stream,
)
from pantau.normalise import PostIn, post_from_input

DEMO = Path(__file__).resolve().parents[2] / "service" / "demo"
INFORMATIVE = "Related and informative"
NOT_INFORMATIVE = "Related - but not informative"
# Event "alpha" is first in the files but its onset is a year after "beta"'s: beta comes first.
ALPHA_ONSET = datetime(2013, 5, 20, 10, 0, tzinfo=UTC)
BETA_ONSET = datetime(2012, 4, 15, 19, 0, tzinfo=UTC)
ORIGINAL = "Strong quake felt across the alpha valley, buildings damaged near the old market square"


def time_of_day(at: datetime) -> timedelta:
    return timedelta(hours=at.hour, minutes=at.minute)


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def labelled_rows() -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []

    def add(event: str, at: datetime, text: str, informativeness: str) -> None:
        rows.append(
            {
                "event": event,
                "tweet_id": str(300_000_000_000_000_000 + len(rows)),
                "created_at": iso(at),
                "ts_source": "entire_period_file",
                "included_in_analysis_period": "Y",
                "text": text,
                "information_source": "Outsiders",
                "information_type": "Other Useful Information",
                "informativeness": informativeness,
            }
        )

    alpha = "2013_Alpha_quake"
    add(alpha, ALPHA_ONSET - timedelta(days=3), "alpha stray early", INFORMATIVE)  # dropped: > 12 h before
    add(alpha, ALPHA_ONSET - timedelta(hours=4, minutes=30), "alpha hours before", INFORMATIVE)
    add(alpha, ALPHA_ONSET + timedelta(minutes=3), ORIGINAL, INFORMATIVE)
    for i in range(11):  # the peak hour: 12 tweets, so a lone tweet is under 10% of it
        add(alpha, ALPHA_ONSET + timedelta(minutes=5 + 4 * i, seconds=i), f"alpha peak {i}", NOT_INFORMATIVE)
    add(alpha, ALPHA_ONSET + timedelta(minutes=58), f"RT @newsdesk: {ORIGINAL[:50]}...", INFORMATIVE)
    add(
        alpha,
        ALPHA_ONSET + timedelta(hours=2),
        "RT @someone: an original that is not in the sample",
        INFORMATIVE,
    )
    add(alpha, ALPHA_ONSET + timedelta(days=6), "alpha six days after", INFORMATIVE)
    add(alpha, ALPHA_ONSET + timedelta(days=8), "alpha stray late", INFORMATIVE)  # dropped: > 7 d after
    add(alpha, ALPHA_ONSET + timedelta(hours=1), "alpha unrelated chatter", "Not related")
    add(alpha, ALPHA_ONSET + timedelta(hours=2), "alpha not applicable", "Not applicable")

    beta = "2012_Beta_floods"
    for i in range(12):
        add(beta, BETA_ONSET + timedelta(minutes=2 + 5 * i), f"beta flood rising {i}", INFORMATIVE)
    add(beta, BETA_ONSET + timedelta(hours=3), "beta flood receding", NOT_INFORMATIVE)
    # The same body as alpha's original, but in another event: no repost across events.
    add(beta, BETA_ONSET + timedelta(days=6), f"RT @newsdesk: {ORIGINAL}", INFORMATIVE)
    add(beta, BETA_ONSET + timedelta(hours=4), "beta unrelated chatter", "Not related")
    return rows


def write_crisislex(folder: Path) -> Path:
    folder.mkdir()
    with (folder / "events.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(
            ["event", "name", "start_day", "duration_days", "development", "category", "keywords"]
        )
        writer.writerow(
            [
                "2013_Alpha_quake",
                "Alpha quake",
                "2013-05-18",
                "30",
                "Instantaneous",
                "Natural",
                "#AlphaQuake|alpha",
            ]
        )
        writer.writerow(
            ["2012_Beta_floods", "Beta floods", "2012-04-10", "20", "Progressive", "Natural", "#BetaFlood"]
        )
    rows = labelled_rows()
    with gzip.open(folder / "crisislex_t26_labeled.csv.gz", "wt", encoding="utf-8", newline="") as fh:
        dict_writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        dict_writer.writeheader()
        dict_writer.writerows(rows)
    return folder


def write_airline(path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        for i in range(20):
            writer.writerow([f"@airline flight {i} delayed again", "negative"])
    return path


@pytest.fixture
def sources(tmp_path: Path) -> tuple[Path, Path]:
    return write_crisislex(tmp_path / "crisislex"), write_airline(tmp_path / "airline.csv")


def by_text(stream: IssueStream) -> dict[str, tuple[dict[str, Any], str]]:
    return {post["text"]: (post, event) for post, (_, event) in zip(stream.posts, stream.truth, strict=True)}


def at_of(post: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(post["created_at"])


def test_the_same_seed_gives_the_same_stream(sources: tuple[Path, Path]) -> None:
    first = build_crisislex_stream(*sources, seed=7)
    assert build_crisislex_stream(*sources, seed=7) == first
    other = build_crisislex_stream(*sources, seed=8)
    assert other.posts != first.posts
    assert len(other.posts) == len(first.posts)


def test_posts_are_sorted_with_unique_increasing_ids_and_no_real_year(sources: tuple[Path, Path]) -> None:
    stream = build_crisislex_stream(*sources)
    times = [at_of(p) for p in stream.posts]
    assert times == sorted(times)
    ids = [int(p["id"]) for p in stream.posts]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert [post_id for post_id, _ in stream.truth] == [f"x:{p['id']}" for p in stream.posts]
    assert not any(p["created_at"].startswith(("2012", "2013")) for p in stream.posts)
    for post in stream.posts:
        stored = post_from_input(PostIn.model_validate(post), source="test")
        assert stored.platform == "x" and stored.author_handle
        assert "Alpha" not in stored.id and "Beta" not in stored.id


def test_events_are_ordered_by_real_onset_and_spaced(sources: tuple[Path, Path]) -> None:
    stream = build_crisislex_stream(*sources, spacing_hours=48)
    assert [e.event for e in stream.events] == ["2012_Beta_floods", "2013_Alpha_quake"]
    # Spaced on the synthetic timeline, each at its real onset's hour of day.
    assert [e.onset for e in stream.events] == [
        BASE + time_of_day(BETA_ONSET),
        BASE + timedelta(hours=48) + time_of_day(ALPHA_ONSET),
    ]
    beta, alpha = stream.events
    assert alpha.name == "Alpha quake"
    assert alpha.keywords == ("#AlphaQuake", "alpha", "Alpha", "quake")
    assert beta.keywords == ("#BetaFlood", "Beta", "floods")


def test_relative_timing_is_kept_and_far_tweets_dropped(sources: tuple[Path, Path]) -> None:
    stream = build_crisislex_stream(*sources, spacing_hours=48)
    posts = by_text(stream)
    alpha_onset = stream.events[1].onset
    for text, offset in [
        ("alpha hours before", -timedelta(hours=4, minutes=30)),
        (ORIGINAL, timedelta(minutes=3)),
        ("alpha peak 3", timedelta(minutes=17, seconds=3)),
        ("alpha six days after", timedelta(days=6)),
    ]:
        post, event = posts[text]
        assert event == "2013_Alpha_quake"
        assert at_of(post) - alpha_onset == offset
    assert at_of(posts["beta flood receding"][0]) == stream.events[0].onset + timedelta(hours=3)
    assert "alpha stray early" not in posts and "alpha stray late" not in posts
    assert stream.dropped_event_posts == 2
    assert Counter(event for _, event in stream.truth) == {
        "": 3 + 20,
        "2013_Alpha_quake": 16,
        "2012_Beta_floods": 14,
    }


def test_background_is_unlabelled_and_spread_over_the_timeline(sources: tuple[Path, Path]) -> None:
    stream = build_crisislex_stream(*sources)
    posts = by_text(stream)
    for text in ["alpha unrelated chatter", "alpha not applicable", "beta unrelated chatter"]:
        assert posts[text][1] == "" and posts[text][0]["lang"] == ""
    airline = [(p, event) for text, (p, event) in posts.items() if text.startswith("@airline")]
    assert len(airline) == 20 and all(event == "" and p["lang"] == "en" for p, event in airline)
    event_times = [at_of(p) for p, (_, event) in zip(stream.posts, stream.truth, strict=True) if event]
    for post, _ in airline:
        assert min(event_times) - timedelta(days=2) <= at_of(post) <= max(event_times) + timedelta(days=1)
    assert all(p["lang"] == "" for text, (p, event) in posts.items() if event)


def test_a_retweet_points_at_an_earlier_post_of_its_event(sources: tuple[Path, Path]) -> None:
    stream = build_crisislex_stream(*sources)
    posts = by_text(stream)
    original = posts[ORIGINAL][0]
    retweet = posts[f"RT @newsdesk: {ORIGINAL[:50]}..."][0]
    assert retweet["repost_of"] == original["id"]
    assert int(original["id"]) < int(retweet["id"])
    assert "repost_of" not in posts["RT @someone: an original that is not in the sample"][0]
    assert "repost_of" not in posts[f"RT @newsdesk: {ORIGINAL}"][0]  # beta's: the original is alpha's
    assert sum(1 for p in stream.posts if "repost_of" in p) == 1
    assert retweet_body("RT @a_b: hello") == "hello" and retweet_body("hello RT @a: x") is None


def test_authors_are_synthetic_and_some_post_more_than_once(sources: tuple[Path, Path]) -> None:
    stream = build_crisislex_stream(*sources)
    authors = Counter(p["author"]["id"] for p in stream.posts)
    assert max(authors.values()) > 1
    assert len(authors) > 10
    handles = {p["author"]["id"]: p["author"]["handle"] for p in stream.posts}
    assert len(set(handles.values())) == len(handles)


def test_write_and_read_back(sources: tuple[Path, Path], tmp_path: Path) -> None:
    stream = build_crisislex_stream(*sources)
    paths = write_issue_stream(stream, tmp_path / "out")
    assert read_truth(paths["truth"]) == dict(stream.truth)
    assert read_issue_events(paths["events"]) == stream.events
    lines = paths["stream"].read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == stream.posts
    assert paths["truth"].read_text(encoding="utf-8").splitlines()[0] == "post_id,event"
    assert paths["events"].read_text(encoding="utf-8").splitlines()[0] == "event,name,onset,keywords"


def test_events_round_trip_keeps_spelling_and_commas(tmp_path: Path) -> None:
    row = EventRow("e1", "Quake, north", ("#Sismo", "San Felice", "terremoto"), BASE + timedelta(hours=5))
    paths = write_issue_stream(
        IssueStream(posts=[], truth=[("x:1", "e1"), ("x:2", "")], events=[row]), tmp_path
    )
    assert read_issue_events(paths["events"]) == [row]
    assert read_truth(paths["truth"]) == {"x:1": "e1", "x:2": ""}


def test_background_rate_follows_the_hour_of_day() -> None:
    assert diurnal_rate(datetime(2026, 1, 5, 15, tzinfo=UTC)) == pytest.approx(1.8)
    assert diurnal_rate(datetime(2026, 1, 5, 3, tzinfo=UTC)) == pytest.approx(0.2)
    times = draw_diurnal_times(random.Random(1), BASE, BASE + timedelta(days=10), 3000)
    afternoon = sum(1 for t in times if 12 <= t.hour < 18)
    night = sum(1 for t in times if 0 <= t.hour < 6)
    assert afternoon > 3 * night


def test_the_demo_stream_has_its_truth() -> None:
    posts = [json.loads(line) for line in (DEMO / "posts.jsonl").read_text(encoding="utf-8").splitlines()]
    truth = read_truth(DEMO / "truth.csv")
    events = read_issue_events(DEMO / "events.csv")
    ids = {f"{p['platform']}:{p['id']}" for p in posts}
    assert set(truth) <= ids
    assert set(truth) == ids
    assert [e.event for e in events] == ["kpd_leak", "bima_buzzer", "sari_debate"]
    times = {f"{p['platform']}:{p['id']}": datetime.fromisoformat(p["created_at"]) for p in posts}
    for event in events:
        members = [times[post_id] for post_id, name in truth.items() if name == event.event]
        assert len(members) >= 10, event.event
        assert event.onset <= min(members) < event.onset + timedelta(minutes=5)
    assert set(truth.values()) == {"", "kpd_leak", "bima_buzzer", "sari_debate"}
