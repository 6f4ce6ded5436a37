"""One check suite over every detector (River's conventions), then each detector's own behaviour:
sentiment and stance shifts, emerging topics, and the set that routes observations to them all."""

from __future__ import annotations

import inspect
import pickle
import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from detectors.base import Observation
from detectors.coordination import CoordinatedPosting
from detectors.ensemble import DetectorSet
from detectors.shifts import ShareShift
from detectors.topics import EmergingTopics
from detectors.volume import VolumeBurst
from nlp.classifier import encode_embedding
from pantau.domain import Signal, SignalKind

T0 = datetime(2026, 11, 20, 8, tzinfo=UTC)
DIM = 16
PHRASES = [
    "harga beras naik lagi di pasar induk pagi ini",
    "banjir di kampung melayu warga mengungsi ke masjid",
    "debat capres malam ini soal kartu pangan digital",
]


def direction(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).normal(size=DIM).astype(np.float32)
    return vector / np.linalg.norm(vector)


def near(base: np.ndarray, rng: random.Random, noise: float = 0.08) -> str:
    vector = base + np.asarray([rng.gauss(0, noise) for _ in range(DIM)], dtype=np.float32)
    return encode_embedding((vector / np.linalg.norm(vector)).astype(np.float32))


def mixed_stream(n: int = 1500, seed: int = 3) -> list[Observation]:
    """A bit of everything: target, hashtag, term and stream observations, with bursts, a shift,
    a new topic and a copy-paste campaign in it, so every detector has something to do."""
    rng = random.Random(seed)
    topics = [direction(i) for i in range(4)]
    out: list[Observation] = []
    for i in range(n):
        at = T0 + timedelta(seconds=6 * i)
        late = i > n // 2
        author = f"u{rng.randrange(400)}"
        pid = f"p{i}"
        negative = rng.random() < (0.6 if late else 0.15)
        common: dict[str, Any] = {"post_id": pid, "author_id": author, "at": at, "received_at": at}
        out.append(
            Observation(
                key_kind="target",
                key="raka-wibisana",
                target="raka-wibisana",
                sentiment="negative" if negative else "neutral",
                stance="against" if negative else "favor",
                **common,
            )
        )
        tag = "kpdbocor" if late and i < n // 2 + 100 else f"tag{rng.randrange(30)}"
        out.append(Observation(key_kind="hashtag", key=tag, **common))
        out.append(Observation(key_kind="term", key=f"kata{rng.randrange(50)}", **common))
        campaign = late and i % 5 == 0 and i < n // 2 + 150
        topic = topics[3] if late and i % 3 == 0 else topics[rng.randrange(3)]
        out.append(
            Observation(
                key_kind="stream",
                key="all",
                text=(PHRASES[0] + f" kata{i % 7} mohon sebarkan")
                if campaign
                else f"{PHRASES[rng.randrange(3)]} {i}",
                terms=("banjir", "tanggul") if topic is topics[3] else ("harga", f"kata{i % 9}"),
                embedding=near(topic, rng),
                **{**common, "author_id": f"buzzer{i}" if campaign else author},
            )
        )
    return out


FACTORIES: dict[str, Callable[[], Any]] = {
    "volume": lambda: VolumeBurst(window_seconds=60, min_count=5),
    "sentiment": lambda: ShareShift("sentiment"),
    "stance": lambda: ShareShift("stance"),
    "topics": lambda: EmergingTopics(similarity=0.9, warmup_seconds=600, min_posts=8, min_authors=5),
    "coordination": lambda: CoordinatedPosting(min_accounts=8),
    "set": DetectorSet,
}
STREAM = mixed_stream()


def run(detector: Any, observations: list[Observation]) -> list[Signal]:
    return [signal for obs in observations for signal in detector.update(obs)]


def ids(signals: list[Signal]) -> list[str]:
    return [s.id for s in signals]


@pytest.fixture(params=sorted(FACTORIES))
def factory(request: pytest.FixtureRequest) -> Iterator[Callable[[], Any]]:
    yield FACTORIES[request.param]


def test_every_hyperparameter_is_an_attribute_of_its_own_name(factory: Callable[[], Any]) -> None:
    detector = factory()
    if isinstance(detector, DetectorSet):
        pytest.skip("the set's arguments are the detectors themselves")
    for name in inspect.signature(type(detector).__init__).parameters:
        if name != "self":
            assert hasattr(detector, name), f"{type(detector).__name__}.{name}"


def test_a_clone_from_the_parameters_behaves_the_same(factory: Callable[[], Any]) -> None:
    detector = factory()
    if isinstance(detector, DetectorSet):
        pytest.skip("the set's arguments are the detectors themselves")
    params = {
        n: getattr(detector, n) for n in inspect.signature(type(detector).__init__).parameters if n != "self"
    }
    clone = type(detector)(**params)
    assert ids(run(detector, STREAM)) == ids(run(clone, STREAM))


def test_signals_are_well_formed_and_deterministic(factory: Callable[[], Any]) -> None:
    first, second = run(factory(), STREAM), run(factory(), STREAM)
    assert first, "the mixed stream holds something for every detector"
    assert ids(first) == ids(second)
    assert len(set(ids(first))) == len(first), "a signal is reported once"
    for signal in first:
        assert signal.window_start <= signal.window_end
        assert signal.evidence and len(signal.evidence) <= 50
        assert all(isinstance(v, float) for v in signal.numbers.values())


def test_a_pickled_detector_resumes_where_it_was(factory: Callable[[], Any]) -> None:
    half = len(STREAM) // 2
    detector = factory()
    before = run(detector, STREAM[:half])
    restored = pickle.loads(pickle.dumps(detector))
    assert ids(before + run(restored, STREAM[half:])) == ids(run(factory(), STREAM))


def test_redelivered_observations_change_nothing(factory: Callable[[], Any]) -> None:
    once = run(factory(), STREAM)
    twice_detector = factory()
    twice: list[Signal] = []
    for i in range(0, len(STREAM), 50):
        chunk = STREAM[i : i + 50]
        twice += run(twice_detector, chunk)
        twice += run(twice_detector, chunk[-10:])  # the tail of a batch delivered again
    assert ids(twice) == ids(once)


# -- shifts -------------------------------------------------------------------------------------------


def target_stream(shares: list[float], per_phase: int = 300, seed: int = 0) -> list[Observation]:
    rng = random.Random(seed)
    out = []
    for phase, share in enumerate(shares):
        for i in range(per_phase):
            n = phase * per_phase + i
            at = T0 + timedelta(seconds=20 * n)
            hit = rng.random() < share
            out.append(
                Observation(
                    key_kind="target",
                    key="bima-hartono",
                    target="bima-hartono",
                    post_id=f"s{n}",
                    author_id=f"a{n}",
                    at=at,
                    sentiment="negative" if hit else "positive",
                    stance="against" if hit else "none",
                )
            )
    return out


@pytest.mark.parametrize("seed", range(5))
def test_a_turn_in_sentiment_is_found_soon_with_the_numbers(seed: int) -> None:
    stream = target_stream([0.15, 0.6], seed=seed)
    signals = run(ShareShift("sentiment"), stream)
    assert len(signals) == 1
    (signal,) = signals
    assert signal.kind == SignalKind.sentiment_shift and signal.target == "bima-hartono"
    assert signal.numbers["share_before"] < 0.25 and signal.numbers["share_after"] > 0.45
    found_at = next(i for i, o in enumerate(stream) if o.at == signal.window_end)
    assert found_at - 300 < 120, "found within 120 posts of the turn"
    negative_ids = {o.post_id for o in stream if o.sentiment == "negative"}
    assert set(signal.evidence) <= negative_ids


@pytest.mark.parametrize("seed", range(5))
def test_a_steady_share_does_not_signal(seed: int) -> None:
    assert run(ShareShift("sentiment"), target_stream([0.3, 0.3, 0.3], seed=seed)) == []


def test_stance_shift_reads_stance_and_small_moves_are_ignored() -> None:
    stream = target_stream([0.1, 0.7], seed=1)
    (signal,) = run(ShareShift("stance"), stream)
    assert signal.kind == SignalKind.stance_shift
    assert run(ShareShift("stance", min_change=0.9), stream) == []
    few = target_stream([0.1, 0.9], per_phase=20)
    assert run(ShareShift("stance"), few) == [], "too few posts to say"


# -- topics -------------------------------------------------------------------------------------------


def topic_stream(new_topic_at: int | None, n: int = 800, seed: int = 0) -> list[Observation]:
    rng = random.Random(seed)
    known = [direction(i) for i in range(3)]
    fresh = direction(99)
    out = []
    for i in range(n):
        is_new = new_topic_at is not None and i >= new_topic_at and i % 2 == 0
        base = fresh if is_new else known[rng.randrange(3)]
        out.append(
            Observation(
                key_kind="stream",
                key="all",
                post_id=f"t{i}",
                author_id=f"a{rng.randrange(300)}",
                at=T0 + timedelta(seconds=10 * i),
                embedding=near(base, rng),
                terms=("tanggul", "jebol", "banjir") if is_new else (f"kata{rng.randrange(40)}", "harga"),
                text="tanggul jebol, banjir" if is_new else "harga naik",
            )
        )
    return out


def test_a_new_topic_that_grows_is_signalled_once_with_its_terms() -> None:
    detector = EmergingTopics(similarity=0.9, warmup_seconds=600, min_posts=10, min_authors=6)
    signals = run(detector, topic_stream(new_topic_at=500))
    assert len(signals) == 1
    (signal,) = signals
    assert signal.kind == SignalKind.emerging_topic
    assert {"tanggul", "jebol", "banjir"} & set(signal.details["terms"].split(", "))
    assert signal.numbers["authors"] >= 6 and signal.window_start >= T0 + timedelta(seconds=5000)
    assert all(int(pid[1:]) >= 500 for pid in signal.evidence)


def test_known_topics_and_the_warm_up_do_not_signal() -> None:
    detector = EmergingTopics(similarity=0.9, warmup_seconds=600, min_posts=10, min_authors=6)
    assert run(detector, topic_stream(new_topic_at=None)) == []
    # A topic already running when watching starts is not news, however busy.
    assert run(EmergingTopics(similarity=0.9, warmup_seconds=600), topic_stream(new_topic_at=0)) == []


def test_topic_state_is_bounded() -> None:
    # Nearly every post starts a topic (similarity 0.999) and none expires: only the cap holds them.
    capped = EmergingTopics(similarity=0.999, max_topics=50, ttl_seconds=86_400)
    run(capped, topic_stream(new_topic_at=None, n=2000))
    assert capped.topics == 50
    # And with a short time to live, topics quiet for longer go.
    expiring = EmergingTopics(similarity=0.999, ttl_seconds=600)
    run(expiring, topic_stream(new_topic_at=None, n=2000))
    assert expiring.topics <= 600 // 10 + 60 // 10 + 1  # posts 10 s apart, expiry checked every minute


# -- the set --------------------------------------------------------------------------------------


def test_the_set_routes_each_observation_to_the_detectors_that_read_it() -> None:
    kinds = {s.kind for s in run(DetectorSet(), STREAM)}
    assert SignalKind.volume_burst in kinds
    assert SignalKind.sentiment_shift in kinds and SignalKind.stance_shift in kinds
    assert SignalKind.coordinated_posting in kinds


def test_a_checkpoint_of_another_version_is_ignored() -> None:
    detectors = DetectorSet()
    run(detectors, STREAM[:100])
    restored = DetectorSet.loads(detectors.dumps())
    assert restored is not None and restored.observations == 100
    assert DetectorSet.loads(pickle.dumps((0, detectors))) is None
    assert DetectorSet.loads(b"not a pickle") is None
