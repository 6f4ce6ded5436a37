"""How close two posts' embeddings must be to be read as one topic or issue, for one encoder.

Each encoder spreads its cosines its own way, so the bands belong to the encoder: the frozen
e5-small's are set by hand, a fine-tuned encoder's are calibrated against them (`nlp.calibration`)
and travel in its artefact; the detectors and the issue tracker take them from the classifier.
"""

from __future__ import annotations

from dataclasses import dataclass


def half_way_to_one(similarity: float) -> float:
    """The "very close" band derived from a threshold: half way from it to 1. Right for e5-small
    (0.88 -> 0.94); a crowded embedding needs its own, calibrated band instead."""
    return 1.0 - 0.5 * (1.0 - similarity)


@dataclass(frozen=True)
class TopicBands:
    # A post joins a topic (the emerging-topic detector) or an issue when its cosine reaches this.
    similarity: float
    # A post joins a quiet issue on its embedding alone, without a shared word, when it reaches this.
    very_close: float

    @classmethod
    def derived(cls, similarity: float) -> TopicBands:
        """The bands for a threshold set by hand, with no calibration behind its band."""
        return cls(similarity, half_way_to_one(similarity))


E5_SMALL_BANDS = TopicBands.derived(0.88)
