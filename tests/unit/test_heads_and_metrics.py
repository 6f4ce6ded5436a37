"""nlp.heads (training and using a linear head) and nlp.evaluation (the metrics `pantau eval` prints)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nlp.evaluation import classification_report, favor_against_f1
from nlp.heads import HeadError, LinearHead, fit_head
from pantau.metrics import StageRates

LABELS = ("negative", "neutral", "positive")


def clusters(n: int = 60, dim: int = 8, seed: int = 1) -> tuple[np.ndarray, list[str]]:
    """Three well-separated Gaussian clusters, one per label, unit-normalised like embeddings."""
    rng = np.random.default_rng(seed)
    centres = np.eye(dim, dtype=np.float32)[:3] * 3
    x = np.vstack([centres[i] + rng.normal(0, 0.3, (n, dim)) for i in range(3)]).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x, [LABELS[i] for i in range(3) for _ in range(n)]


def test_a_head_learns_separable_classes() -> None:
    x, y = clusters()
    head = fit_head(x, y, label_order=LABELS, l2=1e-4)
    assert [label for label, _ in head.predict(x)] == y
    assert all(score > 0.5 for _, score in head.predict(x))


def test_training_is_deterministic_and_class_weights_move_the_boundary() -> None:
    x, y = clusters()
    a = fit_head(x, y, label_order=LABELS)
    b = fit_head(x, y, label_order=LABELS)
    assert np.array_equal(a.weights, b.weights)
    # Make 'neutral' rare: balancing must raise its weight relative to the unbalanced fit.
    keep = [i for i, label in enumerate(y) if label != "neutral" or i % 10 == 0]
    rare_x, rare_y = x[keep], [y[i] for i in keep]
    plain = fit_head(rare_x, rare_y, label_order=LABELS, l2=1e-2)
    balanced = fit_head(rare_x, rare_y, label_order=LABELS, l2=1e-2, balanced=True)
    neutral = [i for i, label in enumerate(rare_y) if label == "neutral"]
    assert (
        balanced.predict_proba(rare_x[neutral])[:, 1].mean()
        > plain.predict_proba(rare_x[neutral])[:, 1].mean()
    )


def test_a_head_survives_a_save_and_load(tmp_path: Path) -> None:
    x, y = clusters()
    head = fit_head(x, y, label_order=LABELS, meta={"task": "sentiment"})
    head.save(tmp_path / "head.json")
    loaded = LinearHead.load(tmp_path / "head.json")
    assert loaded.labels == LABELS and loaded.meta == {"task": "sentiment"}
    assert np.allclose(loaded.predict_proba(x), head.predict_proba(x), atol=1e-4)


@pytest.mark.parametrize(
    "content",
    ["not json", '{"labels": ["a"]}', '{"labels": ["a", "b"], "weights": [[1, 2]], "bias": [0, 0]}'],
)
def test_a_broken_head_file_is_refused_clearly(tmp_path: Path, content: str) -> None:
    (tmp_path / "head.json").write_text(content)
    with pytest.raises(HeadError, match=r"head\.json"):
        LinearHead.load(tmp_path / "head.json")


def test_wrong_dimensions_and_labels_are_refused() -> None:
    x, y = clusters()
    head = fit_head(x, y, label_order=LABELS)
    with pytest.raises(HeadError, match="8-dimensional"):
        head.predict_proba(np.zeros((2, 5), dtype=np.float32))
    with pytest.raises(HeadError, match="not among"):
        fit_head(x, ["angry"] * len(y), label_order=LABELS)
    with pytest.raises(HeadError, match="labels"):
        fit_head(x, y[:-1], label_order=LABELS)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(st.floats(-50, 50), min_size=8, max_size=8), min_size=1, max_size=20))
def test_probabilities_are_a_distribution_for_any_input(rows: list[list[float]]) -> None:
    x, y = clusters()
    head = fit_head(x, y, label_order=LABELS)
    probs = head.predict_proba(np.asarray(rows, dtype=np.float32))
    assert np.all(probs >= 0) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)


# -- metrics ----------------------------------------------------------------------------------------


def test_report_matches_a_hand_computed_example() -> None:
    truth = ["favor", "favor", "against", "against", "against", "none"]
    predicted = ["favor", "against", "against", "against", "none", "none"]
    report = classification_report(truth, predicted, ("favor", "against", "none"))
    assert report["confusion"] == [[1, 1, 0], [0, 2, 1], [0, 0, 1]]
    assert report["accuracy"] == round(4 / 6, 4)
    # favor: P 1/1, R 1/2 -> F1 2/3; against: P 2/3, R 2/3 -> 2/3; none: P 1/2, R 1 -> 2/3
    assert report["per_class"]["favor"] == {"precision": 1.0, "recall": 0.5, "f1": 0.6667, "support": 2}
    assert report["macro_f1"] == 0.6667
    assert favor_against_f1(report) == 0.6667


def test_a_class_never_predicted_has_zero_f1_not_an_error() -> None:
    report = classification_report(["a", "b"], ["a", "a"], ("a", "b"))
    assert report["per_class"]["b"]["f1"] == 0.0
    assert report["macro_f1"] == round((2 / 3) / 2, 4)


def test_unknown_labels_and_length_mismatch_are_refused() -> None:
    with pytest.raises(ValueError, match="not among"):
        classification_report(["a"], ["z"], ("a", "b"))
    with pytest.raises(ValueError, match="predictions"):
        classification_report(["a"], [], ("a", "b"))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(LABELS), st.sampled_from(LABELS)), min_size=1, max_size=60))
def test_report_invariants(pairs: list[tuple[str, str]]) -> None:
    truth, predicted = [t for t, _ in pairs], [p for _, p in pairs]
    report = classification_report(truth, predicted, LABELS)
    assert sum(map(sum, report["confusion"])) == len(pairs)
    assert 0.0 <= report["macro_f1"] <= 1.0 and 0.0 <= report["accuracy"] <= 1.0
    perfect = classification_report(truth, truth, LABELS)
    assert perfect["accuracy"] == 1.0
    assert all(perfect["per_class"][label]["f1"] == 1.0 for label in set(truth))


def test_stage_rates_are_per_second_over_the_window_and_need_two_samples() -> None:
    rates = StageRates(window_seconds=60)
    assert rates.per_second() == {}
    rates.sample(0.0, {"enrich": 0.0})
    assert rates.per_second() == {}
    rates.sample(10.0, {"enrich": 50.0, "store": 20.0})
    assert rates.per_second() == {"enrich": 5.0, "store": 2.0}
    for t in range(20, 200, 10):  # old samples fall out of the window
        rates.sample(float(t), {"enrich": 50.0, "store": 20.0})
    assert rates.per_second() == {"enrich": 0.0, "store": 0.0}
