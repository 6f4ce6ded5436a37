"""The topic threshold calibration on vectors whose geometry is known."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from nlp.calibration import calibrate, matching_threshold, pair_cosines, share_at_or_above


def clusters(spread: float, seed: int = 0, per: int = 40, dim: int = 16) -> tuple[np.ndarray, list[str]]:
    """Three events; each post its event's axis plus noise of `spread` (not yet unit length)."""
    rng = np.random.default_rng(seed)
    vectors, labels = [], []
    for k in range(3):
        axis = np.zeros(dim)
        axis[k] = 1.0
        noisy = axis + spread * rng.standard_normal((per, dim))
        vectors.append(noisy)
        labels += [f"e{k}"] * per
    return np.concatenate(vectors), labels


def unit(vectors: np.ndarray, offset: float = 0.0) -> np.ndarray:
    """Unit rows after a shared `offset` along the last axis: large, it makes every cosine high, as
    e5's are."""
    shifted = vectors + offset * np.eye(vectors.shape[1])[-1]
    return (shifted / np.linalg.norm(shifted, axis=1, keepdims=True)).astype(np.float32)


def test_pairs_split_into_same_and_different_events() -> None:
    raw, labels = clusters(0.1)
    same, other = pair_cosines(unit(raw), labels)
    assert len(same) == 3 * (40 * 39 // 2) and len(other) == 3 * 40 * 40
    assert same.min() > other.max()


def test_an_encoder_with_all_cosines_high_gets_a_higher_threshold_and_the_same_wrong_joins() -> None:
    raw, labels = clusters(0.3)
    plain, crowded = unit(raw), unit(raw, offset=2.0)  # the same geometry, every cosine pushed up
    result = calibrate(plain, crowded, labels, threshold=0.5)
    assert result["threshold"] > 0.5
    assert result["candidate_same_threshold"]["joins_other"] > result["reference"]["joins_other"]
    assert abs(result["candidate_calibrated"]["joins_other"] - result["reference"]["joins_other"]) < 0.02
    # The same geometry under the push: an event gathers about as much at the calibrated threshold.
    assert abs(result["candidate_calibrated"]["joins_own"] - result["reference"]["joins_own"]) < 0.15


def test_the_same_encoder_keeps_its_threshold() -> None:
    raw, labels = clusters(0.25)
    vectors = unit(raw)
    result = calibrate(vectors, vectors, labels, threshold=0.6)
    assert abs(result["threshold"] - 0.6) < 0.05


@given(st.lists(st.floats(-1, 1), min_size=1, max_size=200), st.floats(0, 1))
def test_the_matching_threshold_reaches_about_the_share_asked(values: list[float], share: float) -> None:
    array = np.array(values, dtype=np.float32)
    t = matching_threshold(array, share)
    assert float(array.min()) <= t <= float(array.max())
    # At least the share asked reaches the threshold (ties and the discrete sample may add more).
    assert share_at_or_above(array, t) >= share - 1.0 / len(values) - 1e-9


def test_the_very_close_band_is_matched_too_and_sits_above_the_linear_rule_on_a_crowded_encoder() -> None:
    raw, labels = clusters(0.6)
    plain, crowded = unit(raw), unit(raw, offset=2.0)
    result = calibrate(plain, crowded, labels, threshold=0.5)
    # The reference's band is half way from its threshold to 1, as the tracker derives it.
    assert result["reference_very_close"]["threshold"] == 0.75
    assert result["candidate_very_close"]["threshold"] == result["very_close"] > result["threshold"]
    wrong = result["reference_very_close"]["joins_other"]
    assert abs(result["candidate_very_close"]["joins_other"] - wrong) < 0.01
    # Carried over linearly, the band would let far more posts of other events join.
    linear = 1.0 - 0.5 * (1.0 - result["threshold"])
    _, other = pair_cosines(crowded, labels)
    assert result["very_close"] > linear
    assert share_at_or_above(other, linear) > wrong
