"""detectors.coordination.CoordinatedPosting on event-time observations; pure, no I/O."""

from __future__ import annotations

import inspect
import pickle
import random
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from detectors.coordination import CoordinatedPosting, is_repost_text, normalise, shingles
from detectors.coordination_eval import StreamPost
from pantau.domain import Signal, SignalKind

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)

BASE = "Tolak revisi undang-undang pilkada yang hanya menguntungkan segelintir elite politik di Jakarta"
POPULAR = "Gempa magnitudo 6,2 guncang Cianjur, warga diminta menjauhi bangunan yang retak dan tetap tenang"
FILLERS = ("sangat", "memang", "pasti", "benar", "kita")
EMOJI = ("🔥", "💪", "🇮🇩", "🙏")
HASHTAGS = ("#TolakRUU", "#SaveDemokrasi")


# The evaluation's stream record carries just what the detector reads.
Obs = StreamPost


def small_edit(text: str, rng: random.Random) -> str:
    """One change of words at most (a swap, a changed word, an extra hashtag), plus changes the
    normalisation removes (case, emoji, a link)."""
    words = text.split()
    edit = rng.choice(("none", "swap", "change", "hashtag"))
    i = rng.randrange(len(words) - 1)
    if edit == "swap":
        words[i], words[i + 1] = words[i + 1], words[i]
    elif edit == "change":
        words[i] = rng.choice(FILLERS)
    elif edit == "hashtag":
        words.append(rng.choice(HASHTAGS))
    copy = " ".join(words)
    if rng.random() < 0.3:
        copy = copy.upper()
    if rng.random() < 0.5:
        copy += " " + rng.choice(EMOJI)
    if rng.random() < 0.2:
        copy += f" https://t.co/{rng.randrange(10**6)}"
    return copy


def campaign(
    rng: random.Random, *, accounts: int = 20, seconds: float = 300, start: float = 0, name: str = "c"
) -> list[Obs]:
    return [
        Obs(
            f"{name}:{a}",
            f"{name}-acct{a}",
            T0 + timedelta(seconds=start + rng.uniform(0, seconds)),
            small_edit(BASE, rng),
        )
        for a in range(accounts)
    ]


VOCABULARY = [
    f"{a}{b}{c}"
    for a in ("ka", "mi", "su", "to", "ra", "le")
    for b in ("ba", "di", "go", "nu", "pe")
    for c in ("n", "k", "s", "r", "")
]


def chatter(rng: random.Random, count: int, *, every: float, start: float = 0, name: str = "n") -> list[Obs]:
    """Unrelated posts of unrelated accounts, one each `every` seconds."""
    return [
        Obs(
            f"{name}:{i}",
            f"{name}-acct{i}",
            T0 + timedelta(seconds=start + i * every),
            " ".join(rng.choices(VOCABULARY, k=rng.randint(6, 16))),
        )
        for i in range(count)
    ]


def by_time(observations: Iterable[Obs]) -> list[Obs]:
    return sorted(observations, key=lambda o: (o.at, o.post_id))


def feed(detector: CoordinatedPosting, observations: Iterable[Obs]) -> list[Signal]:
    signals: list[Signal] = []
    for o in observations:
        signals.extend(detector.update(o))
    return signals


def comparable(signals: list[Signal]) -> list[dict[str, Any]]:
    return [s.model_dump(exclude={"detected_at"}) for s in signals]


# 64 permutations estimate one pair's Jaccard similarity within about 0.06 (one standard deviation);
# a campaign's copies share the permutations, so their errors add up rather than cancel.
MINHASH_TOLERANCE = 0.2


def mean_jaccard_to_first(signal: Signal, text_of: dict[str, str]) -> float:
    """The exact mean Jaccard similarity of the signal's posts' shingles to its first post's."""
    first = shingles(normalise(text_of[signal.evidence[0]]), 2)
    similarities = []
    for post_id in signal.evidence:
        other = shingles(normalise(text_of[post_id]), 2)
        similarities.append(len(first & other) / len(first | other))
    return sum(similarities) / len(similarities)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
# Hypothesis found it: the campaign's similarity figure was 0.5977, below the 0.6 threshold.
@example(seed=907)
# Hypothesis found it: a younger part of the campaign signalled first, then merged into an older
# part that had not, and the merged cluster took the older part's key: two keys, two alerts.
@example(seed=272)
# Hypothesis found it: the campaign's earliest post (one word changed) missed the cluster, as MinHash
# may; the signal carries the text of its cluster's first post, which is the next one.
@example(seed=479001599)
def test_a_campaign_of_small_edits_is_flagged_under_one_key(seed: int) -> None:
    posts = campaign(random.Random(seed))
    detector = CoordinatedPosting()

    signals = feed(detector, by_time(posts))

    # One cluster, one key: signalled at 8 accounts and again when it doubled to 16. (Now and then
    # two parts of the campaign meet only later, and the merged cluster crosses a step with 9 or 17.)
    assert len(signals) == 2
    assert 8 <= signals[0].numbers["accounts"] < 16 <= signals[1].numbers["accounts"]
    assert len({s.key for s in signals}) == 1
    assert len({s.id for s in signals}) == 2
    campaign_ids = {o.post_id for o in posts}
    author_of = {o.post_id: o.author_id for o in posts}
    first, grown = signals
    assert set(first.evidence) <= campaign_ids
    assert len({author_of[p] for p in first.evidence}) >= 8
    assert len({author_of[p] for p in grown.evidence}) >= 16
    assert first.kind is SignalKind.coordinated_posting
    assert first.key_kind == "text"
    assert first.window_start <= first.window_end
    assert first.numbers["window_seconds"] <= 300
    assert first.numbers["threshold_accounts"] == 8
    # Posts join a cluster by matching any of its posts at `threshold`; the figure is their mean
    # estimated similarity to the cluster's first post, so it estimates that mean Jaccard and may lie
    # below the threshold (seed 907: 0.5977 reported, 0.7255 exact).
    exact = mean_jaccard_to_first(first, {o.post_id: o.text for o in posts})
    assert abs(first.numbers["similarity"] - exact) <= MINHASH_TOLERANCE
    assert first.numbers["similarity"] <= 1.0
    details = grown.details
    text_of = {o.post_id: o.text for o in posts}
    time_of = {o.post_id: (o.at, o.post_id) for o in posts}
    assert details["text"] == text_of[min(grown.evidence, key=time_of.__getitem__)]
    assert set(details["accounts"].split(",")) == {author_of[p] for p in grown.evidence}


def test_a_campaign_among_chatter_is_found_and_the_chatter_is_not() -> None:
    rng = random.Random(7)
    posts = by_time([*chatter(rng, 3000, every=1.0), *campaign(rng, start=1200)])
    signals = feed(CoordinatedPosting(), posts)

    assert signals
    assert all(p.startswith("c:") for s in signals for p in s.evidence)


def test_native_reposts_are_not_flagged() -> None:
    rng = random.Random(1)
    reposts = [
        Obs(f"r{i}", f"fan{i}", T0 + timedelta(seconds=rng.uniform(0, 300)), POPULAR, repost_of="orig")
        for i in range(20)
    ]
    # Retweets written as text, as old Twitter exports give them, are reposts too.
    written = [
        Obs(f"rt{i}", f"fan{i}", T0 + timedelta(seconds=rng.uniform(0, 300)), f"RT @bmkg: {POPULAR}")
        for i in range(20)
    ]
    detector = CoordinatedPosting()

    assert feed(detector, by_time([*reposts, *written])) == []
    assert detector.live_posts == 0


@settings(max_examples=25, deadline=None)
@given(gaps=st.lists(st.floats(601, 1200), min_size=24, max_size=24), seed=st.integers(0, 1000))
def test_a_popular_text_copied_over_hours_is_not_flagged(gaps: list[float], seed: int) -> None:
    """The same text by unrelated accounts, one about every fifteen minutes for six hours."""
    rng = random.Random(seed)
    at, posts = 0.0, []
    for i, gap in enumerate(gaps):
        at += gap
        posts.append(Obs(f"p{i}", f"reader{i}", T0 + timedelta(seconds=at), small_edit(POPULAR, rng)))

    assert feed(CoordinatedPosting(), posts) == []


def test_one_account_repeating_itself_is_one_account() -> None:
    rng = random.Random(2)
    spam = [Obs(f"s{i}", "spammer", T0 + timedelta(seconds=10 * i), small_edit(BASE, rng)) for i in range(30)]
    # Seven accounts posting five times each are still seven accounts: below the threshold.
    few = [
        Obs(f"f{a}-{i}", f"acct{a}", T0 + timedelta(seconds=rng.uniform(0, 300)), small_edit(BASE, rng))
        for a in range(7)
        for i in range(5)
    ]

    assert feed(CoordinatedPosting(), spam) == []
    assert feed(CoordinatedPosting(), by_time(few)) == []


def test_short_texts_are_ignored() -> None:
    texts = ("Mantap!", "setuju bang 👍", "MANTAP JIWA!!! @jokowi", "gas terus pak https://t.co/x")
    posts = [Obs(f"s{i}", f"acct{i}", T0 + timedelta(seconds=i), texts[i % len(texts)]) for i in range(60)]
    detector = CoordinatedPosting()

    assert feed(detector, posts) == []
    assert detector.ignored == 60
    assert detector.live_posts == 0


def test_a_redelivered_post_counts_once_and_a_late_post_is_dropped() -> None:
    rng = random.Random(3)
    posts = campaign(rng, accounts=7)
    again = posts[0]
    detector = CoordinatedPosting()

    assert feed(detector, by_time([*posts, again, again])) == []
    assert detector.live_posts == 7
    feed(detector, chatter(rng, 1, every=1, start=2000))  # moves the clock past the window
    late = Obs("late", "someone", T0 + timedelta(seconds=10), small_edit(BASE, rng))
    assert detector.update(late) == []
    assert detector.late == 1


@dataclass(frozen=True)
class ObsReceived(Obs):
    received_at: datetime | None = None


def test_a_post_from_the_future_does_not_expire_everything() -> None:
    rng = random.Random(8)
    posts = campaign(rng, accounts=7)
    # Three days ahead, by a post that arrived five minutes in.
    wrong_clock = ObsReceived(
        "future",
        "x",
        T0 + timedelta(days=3),
        "jam rusak " + " ".join(VOCABULARY[:8]),
        received_at=T0 + timedelta(seconds=300),
    )
    detector = CoordinatedPosting(max_future_seconds=300)

    feed(detector, by_time(posts))
    detector.update(wrong_clock)
    assert detector.live_posts == 8
    signals = feed(detector, campaign(rng, accounts=1, start=310, name="d"))
    assert [s.numbers["accounts"] for s in signals] == [8]


def test_the_target_is_the_most_common_one_named() -> None:
    rng = random.Random(4)
    posts = [
        Obs(o.post_id, o.author_id, o.at, o.text, target="gubernur" if i % 3 else "")
        for i, o in enumerate(campaign(rng))
    ]
    signals = feed(CoordinatedPosting(), by_time(posts))
    assert signals
    assert {s.target for s in signals} == {"gubernur"}


@settings(max_examples=15, deadline=None)
@given(split=st.integers(0, 400), seed=st.integers(0, 1000))
def test_a_pickled_detector_goes_on_as_the_original(split: int, seed: int) -> None:
    rng = random.Random(seed)
    posts = by_time(
        [
            *chatter(rng, 300, every=2.0),
            *campaign(rng, start=100, name="a"),
            *campaign(rng, accounts=40, seconds=500, start=350, name="b"),
        ]
    )
    original = CoordinatedPosting(seed=seed)
    before = feed(original, posts[:split])
    restored: CoordinatedPosting = pickle.loads(pickle.dumps(original))

    after_original = feed(original, posts[split:])
    after_restored = feed(restored, posts[split:])

    assert comparable(after_restored) == comparable(after_original)
    assert before or after_original


def test_state_stays_bounded_over_a_long_stream() -> None:
    rng = random.Random(5)
    window = 300.0
    stream = chatter(rng, 4000, every=1.0)
    for start in range(0, 4000, 500):
        stream += campaign(rng, accounts=12, seconds=120, start=start, name=f"c{start}")
    detector = CoordinatedPosting(window_seconds=window)
    signals = []
    recent: deque[datetime] = deque()  # arrival times of the posts within the window, oldest first
    for o in by_time(stream):
        signals += detector.update(o)
        recent.append(o.at)
        while recent[0] <= o.at - timedelta(seconds=window):
            recent.popleft()
        # Never more live posts than arrived within the window.
        assert detector.live_posts <= len(recent)
        assert detector.clusters <= detector.live_posts
    assert len(signals) == 8


def test_max_posts_caps_the_live_posts() -> None:
    rng = random.Random(6)
    detector = CoordinatedPosting(max_posts=100)
    for o in chatter(rng, 1000, every=0.1):
        detector.update(o)
        assert detector.live_posts <= 100
    assert detector.live_posts == 100


def test_thousands_of_identical_copies_stay_one_cluster() -> None:
    """Copies do not all enter the index (they are covered by an indexed one), yet every account
    counts, also after the indexed posts have expired and been replaced."""
    posts = [Obs(f"p{i}", f"acct{i}", T0 + timedelta(seconds=i * 0.5), BASE) for i in range(3000)]
    detector = CoordinatedPosting()

    signals = feed(detector, posts)

    assert [s.numbers["accounts"] for s in signals] == [8, 16, 32, 64, 128, 256, 512, 1024]
    assert len({s.key for s in signals}) == 1
    assert detector.clusters == 1
    assert detector.live_posts == 1200


def test_copies_still_count_after_the_post_that_covered_them_expires() -> None:
    """A burst, a pause longer than half the window, another burst: the first burst's indexed post
    has expired by then, and the newest copy it covered takes its place, so both bursts count."""
    first = [Obs(f"a{i}", f"early{i}", T0 + timedelta(seconds=50 * i), BASE) for i in range(6)]
    second = [Obs(f"b{i}", f"late{i}", T0 + timedelta(seconds=610 + 10 * i), BASE) for i in range(4)]
    detector = CoordinatedPosting()

    signals = feed(detector, [*first, *second])

    # At 640 s the posts at 50..250 s are live, with the four new ones: nine accounts.
    assert [s.numbers["accounts"] for s in signals] == [8]
    assert set(signals[0].evidence) == {"a1", "a2", "a3", "a4", "a5", "b0", "b1", "b2"}


def test_normalisation() -> None:
    assert normalise("RT @bmkg: Gempa M6,2 di #Cianjur!! 😱 https://t.co/abc &amp; @user") == [
        "gempa",
        "m6",
        "2",
        "di",
        "cianjur",
    ]
    assert is_repost_text("RT @bmkg: gempa")
    assert is_repost_text("  rt @bmkg gempa")
    assert not is_repost_text("Gempa! RT @bmkg")


def test_hyperparameters_are_stored_under_their_own_names() -> None:
    values: dict[str, Any] = {
        "window_seconds": 120.0,
        "min_accounts": 5,
        "threshold": 0.7,
        "num_perm": 32,
        "lsh_false_negative_weight": 0.5,
        "shingle_words": 3,
        "min_words": 4,
        "representative_similarity": 0.95,
        "max_posts": 1000,
        "max_future_seconds": 60.0,
        "seed": 42,
    }
    assert set(values) == set(inspect.signature(CoordinatedPosting).parameters)
    detector = CoordinatedPosting(**values)
    assert {name: getattr(detector, name) for name in values} == values
    with pytest.raises(ValueError, match="min_accounts"):
        CoordinatedPosting(min_accounts=1)
