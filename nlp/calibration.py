"""Keep the emerging-topic detector's cosine threshold meaning the same when the encoder changes.

`EmergingTopics` joins a post to a topic when its cosine to the topic's centroid reaches a threshold
(0.88, chosen for the frozen 12-layer e5-small). A topic is young when it matters (a handful of
posts), so its centroid is close to single posts, and what the threshold decides is whether two
posts are about the same thing. Another encoder spreads its cosines differently: e5's are all high
(two unrelated posts are often above 0.8), a fine-tuned one's lower. The calibration measures both
encoders on posts of known events, over every pair of posts: the share of pairs from two different
events that reach the threshold (`joins_other`: wrong joins, the noise an emerging-topic alert
feeds on) and the share of pairs from one event (`joins_own`). The new threshold is the one at
which the candidate makes as many wrong joins as the reference does at its own (quantile matching
on the cross-event pairs); `joins_own` at it shows how much of an event still gathers.

The issue tracker also lets a post join a quiet issue on its embedding alone when it is "very
close" (for e5-small 0.94, half way from the threshold to 1). A linear rule carried to a crowded
embedding puts that band where posts of different events still meet (a Spanish train crash joining
the Lac-Megantic issue three days later), so it is matched by the same quantiles: the candidate's
`very_close` joins posts of different events as rarely as e5-small at 0.94.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from pantau.topic_bands import half_way_to_one

FloatArray = npt.NDArray[np.float32]


def pair_cosines(vectors: FloatArray, labels: Sequence[str]) -> tuple[FloatArray, FloatArray]:
    """Cosines of every pair of distinct rows of unit `vectors`: (same label, different labels)."""
    names = np.array(labels)
    upper = np.triu_indices(len(labels), k=1)
    cos = (vectors @ vectors.T)[upper].astype(np.float32)
    same = names[upper[0]] == names[upper[1]]
    return cos[same], cos[~same]


def share_at_or_above(values: FloatArray, threshold: float) -> float:
    return float((values >= threshold).mean()) if len(values) else 0.0


def matching_threshold(values: FloatArray, share: float) -> float:
    """A threshold t at which about `share` of `values` reach t."""
    return float(np.quantile(values, min(1.0, max(0.0, 1.0 - share))))


def calibrate(
    reference: FloatArray, candidate: FloatArray, labels: Sequence[str], threshold: float
) -> dict[str, Any]:
    """The candidate encoder's threshold that joins posts of different events as often as
    `reference` does at `threshold`, with the shares at both, as one JSON-ready object."""
    own_r, other_r = pair_cosines(reference, labels)
    own_c, other_c = pair_cosines(candidate, labels)
    wrong = share_at_or_above(other_r, threshold)
    calibrated = round(matching_threshold(other_c, wrong), 3)
    very_close_reference = half_way_to_one(threshold)
    very_close = round(matching_threshold(other_c, share_at_or_above(other_r, very_close_reference)), 3)

    def at(own: FloatArray, other: FloatArray, t: float) -> dict[str, float]:
        return {
            "threshold": t,
            "joins_own": round(share_at_or_above(own, t), 4),
            "joins_other": round(share_at_or_above(other, t), 4),
        }

    return {
        "posts": len(labels),
        "events": len(set(labels)),
        "reference": at(own_r, other_r, threshold),
        "candidate_same_threshold": at(own_c, other_c, threshold),
        "candidate_calibrated": at(own_c, other_c, calibrated),
        "threshold": calibrated,
        "reference_very_close": at(own_r, other_r, round(very_close_reference, 4)),
        "candidate_very_close": at(own_c, other_c, very_close),
        "very_close": very_close,
    }
