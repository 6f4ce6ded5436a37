"""The issue layer: signals and posts of one happening become one named issue that pages once."""

from __future__ import annotations

import base64
import pickle
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

import detectors.issues as issues_module
from detectors.base import Observation
from detectors.issues import IssueEvent, IssueTracker, anchors_post, post_terms
from pantau.domain import IssueStatus, Signal, SignalKind

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
DIM = 32
RNG = np.random.default_rng(7)
TOPICS = {name: RNG.normal(size=DIM) for name in ("leak", "debate", "flood", "chatter")}


def embedding(topic: str, noise: float = 0.25, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    base = TOPICS[topic] / np.linalg.norm(TOPICS[topic])
    vector = base + noise * rng.normal(size=DIM) / np.sqrt(DIM)
    vector /= np.linalg.norm(vector)
    return base64.b64encode(vector.astype("<f2").tobytes()).decode()


def post(
    n: int,
    topic: str,
    text: str,
    *,
    minute: float = 0.0,
    author: str = "",
    targets: tuple[tuple[str, str], ...] = (),
    repost_of: str = "",
    sentiment: str = "neutral",
) -> Observation:
    words = [w.strip("#").lower() for w in text.split() if len(w.strip("#")) >= 3]
    hashtags = tuple(w.lstrip("#").lower() for w in text.split() if w.startswith("#"))
    return Observation(
        key_kind="stream",
        key="all",
        post_id=f"p{n}",
        author_id=author or f"a{n}",
        at=T0 + timedelta(minutes=minute),
        text=text,
        terms=tuple(dict.fromkeys(words)),
        hashtags=hashtags,
        embedding=embedding(topic, seed=abs(n)),
        repost_of=repost_of,
        target_stances=targets,
        sentiment=sentiment,
    )


def burst(
    key_kind: str, key: str, evidence: list[Observation], *, kind: SignalKind = SignalKind.volume_burst
) -> Signal:
    start = min(o.at for o in evidence)
    end = max(o.at for o in evidence) + timedelta(seconds=1)
    return Signal(
        id=Signal.make_id(kind, key_kind, key, start),
        kind=kind,
        key_kind=key_kind,
        key=key,
        target=key if key_kind == "target" else "",
        window_start=start,
        window_end=end,
        numbers={"count": float(len(evidence)), "ratio": 6.0, "window_seconds": 300.0},
        evidence=tuple(o.post_id for o in evidence),
        detected_at=end,
    )


LEAK = "data penerima kartu pangan bocor #KPDBocor"
DEBATE = "sari lestari juara debat malam ini #DebatCapres"


def leak_posts(first: int = 0, count: int = 20, minute: float = 0.0) -> list[Observation]:
    return [post(first + i, "leak", LEAK, minute=minute + i * 0.2) for i in range(count)]


CHATTER = ["macet parah di jalan pagi ini", "hujan deras sore nanti", "harga cabai naik lagi di pasar"]


def watching(**settings: float) -> IssueTracker:
    """A tracker that has seen an hour of ordinary chatter: it knows what is usual."""
    settings.setdefault("settle_seconds", 0)
    tracker = IssueTracker(**settings)  # type: ignore[arg-type]
    feed(tracker, [post(-1 - i, "chatter", CHATTER[i % 3], minute=-60 + i * 0.3) for i in range(200)])
    return tracker


def feed(tracker: IssueTracker, posts: list[Observation]) -> list[IssueEvent]:
    events: list[IssueEvent] = []
    for observation in posts:
        events += tracker.observe(observation)
    return events


def test_the_signals_of_one_happening_page_once_under_a_readable_label() -> None:
    tracker = watching()
    posts = leak_posts()
    events = feed(tracker, posts)
    events += tracker.signal(burst("hashtag", "kpdbocor", posts))
    events += tracker.signal(burst("term", "kartu", posts))
    events += tracker.signal(burst("term", "pangan", posts))
    events += tracker.signal(burst("target", "kartu-pangan-digital", posts))
    opened = [e for e in events if e.kind == "opened"]
    assert len(opened) == 1
    issue = tracker.issues()[0]
    assert len(tracker.issues()) == 1
    assert issue.status == IssueStatus.live
    assert "#KPDBocor" in issue.label
    assert any(" " in item for item in issue.label), issue.label  # a phrase, not only words
    assert 2 <= len(issue.label) <= 5
    assert issue.posts == 20 and issue.voices == 20
    assert {f.key for f in issue.facets} == {"kpdbocor", "kartu", "pangan", "kartu-pangan-digital"}


def test_a_word_burst_never_pages_alone() -> None:
    tracker = watching()
    posts = leak_posts(count=40)
    feed(tracker, posts)
    events = tracker.signal(burst("term", "kartu", posts))
    assert not [e for e in events if e.kind == "opened"]
    assert tracker.issues()[0].status == IssueStatus.candidate
    # A second word of the same happening makes it an issue.
    events = tracker.signal(burst("term", "pangan", posts))
    assert [e.kind for e in events if e.kind == "opened"] == ["opened"]


def test_two_happenings_are_two_issues() -> None:
    tracker = watching()
    leak = leak_posts()
    debate = [post(100 + i, "debate", DEBATE, minute=30 + i * 0.2) for i in range(20)]
    feed(tracker, leak)
    tracker.signal(burst("hashtag", "kpdbocor", leak))
    feed(tracker, debate)
    tracker.signal(burst("hashtag", "debatcapres", debate))
    labels = sorted(i.label[0] for i in tracker.issues())
    assert labels == ["#DebatCapres", "#KPDBocor"]  # as people write them


def test_later_posts_join_and_reposts_amplify_without_adding_voices() -> None:
    tracker = watching()
    posts = leak_posts()
    feed(tracker, posts)
    tracker.signal(burst("hashtag", "kpdbocor", posts))
    later = [post(200 + i, "leak", LEAK, minute=10 + i) for i in range(5)]
    reposts = [
        post(300 + i, "leak", f"RT @a0: {LEAK}", minute=12, author=f"r{i}", repost_of="p0") for i in range(4)
    ]
    unrelated = [post(400 + i, "chatter", "macet parah di bekasi pagi ini", minute=11) for i in range(5)]
    feed(tracker, later + reposts + unrelated)
    issue = tracker.issues()[0]
    assert issue.posts == 29
    assert issue.voices == 25 and issue.accounts == 29 and issue.reposts == 4
    assert issue.amplifiers["a0"] == 5  # its own post and four reposts of it
    assert issue.first_posts[0] == "p0"


def test_a_post_about_another_target_does_not_join_by_shared_words() -> None:
    tracker = watching()
    about_raka = (("raka", "against"),)
    posts = [post(i, "leak", LEAK, minute=i * 0.2, targets=about_raka) for i in range(20)]
    feed(tracker, posts)
    tracker.signal(burst("hashtag", "kpdbocor", posts))
    # Same hashtag, a looser neighbourhood of the same topic, but about Sari.
    other = post(500, "leak", LEAK, minute=6, targets=(("sari", "favor"),))
    other = other.model_copy(update={"embedding": embedding("leak", noise=1.2, seed=500)})
    feed(tracker, [other])
    assert tracker.issues()[0].posts == 20


FILLER = ["satu", "dua", "tiga", "empat", "lima", "enam", "tujuh", "delapan"] * 2


def quake_story() -> list[Observation]:
    """An issue whose label holds single words: "gempa" and "cianjur" in every post, never side by
    side, among changing words."""
    texts = [
        f"{FILLER[i % 16]} gempa {FILLER[(i + 5) % 16]} {FILLER[(i + 9) % 16]} cianjur #GempaCianjur"
        for i in range(20)
    ]
    return [post(i, "flood", text, minute=i * 0.2) for i, text in enumerate(texts)]


@pytest.mark.parametrize(
    ("text", "joins"),
    [
        ("warga panik gempa lagi", False),  # one word of the issue: the next quake uses it too
        ("gempa susulan guncang cianjur", True),  # two of its words
        ("doa untuk #GempaCianjur", True),  # its hashtag
    ],
)
def test_a_post_near_an_issue_joins_by_a_hashtag_a_phrase_or_two_words_never_by_one(
    text: str, joins: bool
) -> None:
    tracker = watching()
    story = quake_story()
    feed(tracker, story)
    tracker.signal(burst("hashtag", "gempacianjur", story))
    (issue,) = tracker.issues()
    assert {"gempa", "cianjur"} <= set(issue.label), issue.label
    # Near the issue, but not so near that closeness alone would bring it in.
    near = post(600, "flood", text, minute=8).model_copy(update={"embedding": embedding("flood", 0.6, 600)})
    feed(tracker, [near])
    assert ("p600" in tracker.members(issue.id)) is joins


def test_anchors_tie_a_post_by_a_hashtag_a_phrase_or_two_words() -> None:
    assert anchors_post({"#kpdbocor"}) and anchors_post({"kartu pangan"}) and anchors_post({"kartu", "bocor"})
    assert not anchors_post({"train"}) and not anchors_post(set())


def test_a_shift_joins_the_issue_about_its_target_and_names_its_drivers() -> None:
    tracker = watching()
    posts = [
        post(i, "leak", LEAK, minute=i * 0.2, targets=(("raka", "against"),), sentiment="negative")
        for i in range(20)
    ]
    feed(tracker, posts)
    tracker.signal(burst("hashtag", "kpdbocor", posts))
    events = tracker.signal(burst("target", "raka", posts, kind=SignalKind.stance_shift))
    assert [e.kind for e in events] == ["updated"]
    issue = tracker.issues()[0]
    shift = next(f for f in issue.facets if f.kind == SignalKind.stance_shift)
    assert "#KPDBocor" in shift.details["drivers"]
    assert shift.details["examples"]
    shares = {s.target: s for s in issue.shares}
    assert shares["raka"].stance == {"against": 1.0}
    assert issue.targets == ("raka",)


def test_issues_that_are_one_merge_and_keep_the_history() -> None:
    tracker = watching()
    first = leak_posts(count=12)
    feed(tracker, first)
    tracker.signal(burst("hashtag", "kpdbocor", first))
    assert [i.status for i in tracker.issues()] == [IssueStatus.live]
    # The same happening written otherwise (another language reads far to the encoder): a second
    # issue on its own signal, until its leading items show it is the same one.
    other = [
        post(600 + i, "flood", "bocor lagi data kartu pangan #KPDBocor", minute=1 + i * 0.1)
        for i in range(12)
    ]
    feed(tracker, other)
    events = tracker.signal(burst("term", "bocor", other)) + tracker.signal(burst("term", "lagi", other))
    live = [i for i in tracker.issues() if i.status != IssueStatus.closed]
    assert len(live) == 1 and live[0].posts == 24
    assert not [e for e in events if e.kind == "opened"]  # nobody was paged twice
    assert live[0].merged_from


def test_an_issue_back_the_next_day_reopens_instead_of_paging_anew() -> None:
    tracker = watching(quiet_seconds=3600)
    morning = leak_posts(count=15)
    feed(tracker, morning)
    tracker.signal(burst("hashtag", "kpdbocor", morning))
    tracker.observe(post(90, "chatter", CHATTER[0], minute=4 * 60))  # quiet: it closes
    assert [i.status for i in tracker.issues()] == [IssueStatus.closed]
    evening = leak_posts(first=700, count=15, minute=10 * 60)
    feed(tracker, evening)
    events = tracker.signal(burst("hashtag", "kpdbocor", evening))
    assert [(e.kind, e.reason) for e in events] == [("updated", "back")]
    assert len(tracker.issues()) == 1 and tracker.issues()[0].posts == 30


def test_a_quiet_issue_closes() -> None:
    tracker = watching(quiet_seconds=3600)
    posts = leak_posts()
    feed(tracker, posts)
    tracker.signal(burst("hashtag", "kpdbocor", posts))
    later = post(999, "chatter", "cuaca cerah", minute=3 * 60)
    events = tracker.observe(later)
    assert [e.kind for e in events] == ["closed"]
    assert tracker.issues()[0].status == IssueStatus.closed
    assert tracker.live == 0


def test_redelivery_changes_nothing_and_state_survives_pickle() -> None:
    tracker = watching()
    posts = leak_posts()
    feed(tracker, posts)
    signal = burst("hashtag", "kpdbocor", posts)
    assert tracker.signal(signal)
    restored = pickle.loads(pickle.dumps(tracker))
    assert feed(restored, posts) == [] and restored.signal(signal) == []
    assert restored.issues() == tracker.issues()


def test_state_is_bounded() -> None:
    tracker = IssueTracker(index_posts=50, max_live=3, max_stream_terms=500)
    for n in range(400):
        tracker.observe(post(n, "chatter", f"kata{n} lain{n} unik{n}", minute=n * 0.01))
    assert len(tracker._index) == 50
    assert len(tracker._stream_terms) <= 500 + 10
    for k in range(6):
        group = [post(1000 + 10 * k + i, "chatter", f"topik{k} khusus{k}", minute=5 + k) for i in range(3)]
        feed(tracker, group)
        tracker.signal(burst("hashtag", f"tag{k}", group))
    assert tracker.live <= 3


@pytest.mark.parametrize(
    "text",
    ["", "🔥🔥🔥", "a" * 100_000, "Ã¢â‚¬Å“mojibakeÃ¢â‚¬", "#" * 500, "Раки беларусь 中文 #テスト"],
)
def test_odd_posts_are_counted_without_error(text: str) -> None:
    tracker = watching()
    observation = post(1, "chatter", text)
    assert tracker.observe(observation.model_copy(update={"embedding": ""})) == []
    assert tracker.observe(post(2, "chatter", text)) == []


def test_a_copy_paste_flood_is_one_issue_with_one_voice_per_account() -> None:
    tracker = watching()
    flood = [post(i, "leak", LEAK, minute=i * 0.01, author=f"b{i % 15}") for i in range(3000)]
    feed(tracker, flood[:20])
    tracker.signal(burst("hashtag", "kpdbocor", flood[:20]))
    feed(tracker, flood[20:])
    issue = tracker.issues()[0]
    assert len(tracker.issues()) == 1
    assert issue.posts == 3000 and issue.voices == 15


def test_post_terms_take_phrases_of_adjacent_words_and_fold_hashtags() -> None:
    observation = post(1, "leak", "Data penerima KARTU pangan bocor lagi #KPDBocor")
    observation = observation.model_copy(update={"terms": ("data", "penerima", "kartu", "pangan", "bocor")})
    items = post_terms(observation)
    assert {"kartu pangan", "data penerima", "#kpdbocor", "bocor"} <= items
    assert "lagi" not in items and "bocor lagi" not in items


def test_a_signal_that_comes_before_its_posts_joins_when_they_arrive() -> None:
    tracker = watching()
    posts = leak_posts()
    early = burst("hashtag", "kpdbocor", posts)
    assert tracker.signal(early) == []
    events = feed(tracker, posts)
    assert [e.kind for e in events if e.kind == "opened"] == ["opened"]
    assert tracker.issues()[0].posts == 20


def test_a_signal_whose_posts_never_come_is_forgotten() -> None:
    tracker = watching(max_wait_seconds=60)
    ghost = burst("hashtag", "ghost", leak_posts(first=900))
    tracker.signal(ghost)
    tracker.observe(post(999, "chatter", "hujan deras sore nanti", minute=30))
    assert not tracker._waiting and not tracker._waiting_for


def test_an_issue_pages_only_after_the_signals_of_its_moment_have_settled() -> None:
    tracker = watching(settle_seconds=60)
    posts = leak_posts()
    feed(tracker, posts)
    assert tracker.signal(burst("hashtag", "kpdbocor", posts)) == []
    # Another key of the same happening, a moment later: it joins before anyone is paged.
    assert tracker.signal(burst("target", "kartu-pangan-digital", posts)) == []
    events = tracker.observe(post(50, "chatter", "hujan deras sore nanti", minute=6))
    assert [e.kind for e in events] == ["opened"]
    assert {f.key for f in events[0].issue.facets} == {"kpdbocor", "kartu-pangan-digital"}


def test_a_replay_faster_than_life_still_waits_for_the_moment_to_settle_in_arrival_time() -> None:
    tracker = watching(settle_seconds=30, settle_arrival_seconds=2.0)
    arrived = T0 + timedelta(hours=5)  # a replay: posts from 12:00 arrive at 17:00

    def arriving(observation: Observation, seconds: float) -> Observation:
        return observation.model_copy(update={"received_at": arrived + timedelta(seconds=seconds)})

    posts = [arriving(p, 0.01 * i) for i, p in enumerate(leak_posts())]
    feed(tracker, posts)
    tracker.signal(burst("hashtag", "kpdbocor", posts))
    # Ten minutes of event time pass in half a second of arrival time: not settled yet.
    assert tracker.observe(arriving(post(60, "chatter", CHATTER[0], minute=10), 0.5)) == []
    events = tracker.observe(arriving(post(61, "chatter", CHATTER[1], minute=11), 2.5))
    assert [e.kind for e in events] == ["opened"]


def test_a_hashtag_in_ten_thousand_spellings_keeps_the_state_bounded() -> None:
    tracker = watching(max_stream_terms=2000)
    spellings = [
        post(
            3000 + i,
            "leak",
            f"#{''.join(c.upper() if (i >> k) & 1 else c for k, c in enumerate('kpdbocor'))}{i}",
        )
        for i in range(10_000)
    ]
    feed(tracker, spellings[:20])
    tracker.signal(burst("hashtag", "kpdbocor0", spellings[:20]))
    feed(tracker, spellings[20:])
    assert len(tracker._stream_terms) <= 2000 + 50
    issue = next(iter(tracker._live.values()))
    assert len(issue.terms) <= 3000 and len(issue.spellings) <= 3000


def test_posts_far_in_the_future_or_past_cannot_move_the_clock_or_stay() -> None:
    tracker = watching(index_seconds=3600)
    now = T0 + timedelta(minutes=1)
    future = post(1, "chatter", "dari masa depan", minute=60 * 24 * 365).model_copy(
        update={"received_at": now}
    )
    tracker.observe(future)
    assert tracker._clock is not None and tracker._clock <= now + timedelta(seconds=300)
    past = post(2, "chatter", "dari masa lalu", minute=-60 * 24 * 30)
    tracker.observe(past)
    tracker.observe(post(3, "chatter", "sekarang", minute=10))  # the next sweep drops what is too old
    assert "p2" not in tracker._index


def test_a_key_with_very_many_posts_keeps_one_issue_with_bounded_members() -> None:
    tracker = watching(max_members=500)
    posts = leak_posts(count=20)
    feed(tracker, posts)
    tracker.signal(burst("hashtag", "kpdbocor", posts))
    feed(tracker, [post(10_000 + i, "leak", LEAK, minute=5 + i * 0.001) for i in range(5000)])
    issue = next(iter(tracker._live.values()))
    assert issue.posts == 5020
    assert len(issue.members) == 500 and len(issue.accounts) <= 500 and len(issue.minutes) <= 10


def test_a_merge_keeps_the_posts_the_index_no_longer_holds() -> None:
    tracker = watching(index_posts=30)
    first = leak_posts(count=20)
    feed(tracker, first)
    tracker.signal(burst("hashtag", "kpdbocor", first))
    # Hundreds of other posts later, the index holds none of the first issue's posts.
    feed(tracker, [post(2000 + i, "chatter", CHATTER[i % 3], minute=5 + i * 0.01) for i in range(300)])
    retold = "bocor lagi data kartu pangan #KPDBocor"
    other = [post(600 + i, "flood", retold, minute=9 + i * 0.1) for i in range(12)]
    feed(tracker, other)
    tracker.signal(burst("term", "bocor", other))
    tracker.signal(burst("term", "lagi", other))
    live = [i for i in tracker.issues() if i.status != IssueStatus.closed]
    assert len(live) == 1 and live[0].posts == 32 and live[0].voices == 32


def test_a_long_steady_issue_tells_its_alert_it_is_still_going() -> None:
    tracker = watching(refresh_seconds=3600, quiet_seconds=7200)
    posts = leak_posts()
    feed(tracker, posts)
    tracker.signal(burst("hashtag", "kpdbocor", posts))
    steady = [post(3000 + i, "leak", LEAK, minute=10 + 10 * i) for i in range(24)]  # 4 hours, slowly
    reasons = [e.reason for e in feed(tracker, steady)]
    assert reasons.count("still going") >= 2 and "quiet" not in reasons


def test_a_hashtag_of_signs_only_is_no_label_item() -> None:
    tracker = watching()
    posts = [post(i, "leak", f"{LEAK} #__", minute=i * 0.2) for i in range(20)]
    feed(tracker, posts)
    tracker.signal(burst("hashtag", "kpdbocor", posts))
    assert "#" not in tracker.issues()[0].label


def test_a_signal_before_any_post_does_not_move_the_clock() -> None:
    tracker = IssueTracker(settle_seconds=0)
    ahead = burst("hashtag", "later", leak_posts(first=800, minute=24 * 60))
    tracker.signal(ahead)
    assert tracker._clock is None


def test_a_burst_at_the_end_of_the_stream_pages_as_time_passes_without_posts() -> None:
    tracker = watching(settle_seconds=30, settle_arrival_seconds=2.0)
    arrived = T0 + timedelta(minutes=4)
    posts = [p.model_copy(update={"received_at": arrived}) for p in leak_posts()]
    feed(tracker, posts)
    tracker.signal(burst("hashtag", "kpdbocor", posts))
    assert tracker.idle(arrived + timedelta(seconds=10)) == []  # its moment is not over yet
    assert [e.kind for e in tracker.idle(arrived + timedelta(seconds=40))] == ["opened"]
    assert tracker.idle(arrived - timedelta(seconds=5)) == []  # a clock going back changes nothing


def test_a_signal_that_is_the_stages_first_record_waits_for_its_posts() -> None:
    tracker = IssueTracker(settle_seconds=0)
    posts = leak_posts()
    assert tracker.signal(burst("hashtag", "kpdbocor", posts)) == []
    feed(tracker, [post(-1 - i, "chatter", CHATTER[i % 3], minute=-60 + i * 0.3) for i in range(200)])
    events = feed(tracker, posts)
    assert [e.kind for e in events if e.kind == "opened"] == ["opened"]


def test_the_posts_of_a_paged_issue_wait_for_the_warehouse_and_a_candidates_do_not() -> None:
    tracker = watching()
    posts = leak_posts()
    feed(tracker, posts)
    tracker.signal(burst("term", "kartu", posts))  # a word's burst alone: a candidate, never paged
    assert tracker.issues() and tracker.unsaved_members() == []
    tracker.signal(burst("hashtag", "kpdbocor", posts))
    (issue,) = tracker.paged()
    pending = tracker.unsaved_members()
    assert {(i, p) for i, p, _, _ in pending} == {(issue.id, o.post_id) for o in posts}
    assert all(at == o.at for (_, _, at, _), o in zip(pending, posts, strict=True))
    tracker.members_saved(pending[:5])
    later = leak_posts(first=100, count=3, minute=1.0)
    feed(tracker, later)
    left = {p for _, p, _, _ in tracker.unsaved_members()}
    assert left == {o.post_id for o in posts[5:]} | {o.post_id for o in later}


def test_unsaved_posts_are_capped_when_nobody_stores_them() -> None:
    tracker = watching(max_unsaved_members=8)
    posts = leak_posts()
    feed(tracker, posts)
    tracker.signal(burst("hashtag", "kpdbocor", posts))
    assert len(tracker.unsaved_members()) == 8
    assert tracker.unsaved_dropped == len(posts) - 8


def test_posts_the_index_has_forgotten_reach_the_warehouse_at_their_own_time() -> None:
    tracker = watching(index_posts=30)
    posts = leak_posts()
    feed(tracker, posts)
    tracker.signal(burst("term", "kartu", posts))  # a candidate holds them; it does not page yet
    chatter = [post(1000 + i, "chatter", CHATTER[i % 3], minute=1 + i * 0.01) for i in range(300)]
    feed(tracker, chatter)  # the index (30 posts) no longer has the leak's posts
    tracker.signal(burst("hashtag", "kpdbocor", posts))
    (issue,) = tracker.paged()
    times = {post_id: at for issue_id, post_id, at, _ in tracker.unsaved_members() if issue_id == issue.id}
    assert times == {o.post_id: o.at for o in posts}


def page_story(tracker: IssueTracker, first: int, topic: str, text: str, tag: str, minute: float) -> None:
    story = [post(first + i, topic, text, minute=minute + i * 0.2) for i in range(20)]
    feed(tracker, story)
    tracker.signal(burst("hashtag", tag, story))


@pytest.mark.parametrize("rule", ["on", "off"])
def test_the_same_happening_in_two_languages_is_one_issue_by_the_rare_names_it_shares(
    rule: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if rule == "off":
        monkeypatch.setattr(issues_module, "SHARED_RARE_ITEMS", 99)
    tracker = watching()
    # Far apart to the encoder (another language), and no label item in common: only the names.
    indonesian = "banjir bandang terjang kampung sukamaju lembah cibeureum garut #BanjirSukamaju"
    english = "flash flood hits sukamaju village cibeureum valley garut #PrayForSukamaju"
    page_story(tracker, 0, "flood", indonesian, "banjirsukamaju", 0.0)
    page_story(tracker, 100, "debate", english, "prayforsukamaju", 40.0)
    live = [i for i in tracker.issues() if i.status == IssueStatus.live]
    if rule == "on":
        (issue,) = live
        assert issue.posts == 40 and len(issue.merged_from) == 1
    else:
        assert len(live) == 2  # the rule, and nothing else, made them one


def test_two_explosions_that_share_only_common_words_stay_two_issues() -> None:
    tracker = watching()
    usual = ["banyak orang antre bensin", "korban macet orang kantor", "orang pulang kerja korban hujan"]
    feed(tracker, [post(-500 - i, "chatter", usual[i % 3], minute=-30 + i * 0.1) for i in range(150)])
    page_story(
        tracker,
        0,
        "flood",
        "ledakan gudang pupuk cilacap korban orang #LedakanCilacap",
        "ledakancilacap",
        0.0,
    )
    page_story(
        tracker, 100, "debate", "ledakan pipa gas bekasi korban orang #LedakanBekasi", "ledakanbekasi", 40.0
    )
    assert len([i for i in tracker.issues() if i.status == IssueStatus.live]) == 2
