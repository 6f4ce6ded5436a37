"""Sentiment: negative / neutral / positive with a score, for a batch.

Two implementations behind one interface:
- `HeadSentiment`, the offline default: the shipped linear head on the encoder's embedding, so
  sentiment costs nothing beyond the pass every post already gets;
- `SequenceClassifierSentiment`: any transformers sequence classifier (a hub id or a folder), with
  its labels mapped onto Pantau's three, for users who can reach a hub.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from nlp.heads import LinearHead
from nlp.runtime import Placement, SequenceClassifier
from pantau.domain import Sentiment

SENTIMENT_LABELS = ("negative", "neutral", "positive")


class LabelMapError(ValueError):
    pass


class SentimentModel(Protocol):
    name: str

    def predict(
        self, texts: Sequence[str], embeddings: npt.NDArray[np.float32]
    ) -> list[tuple[Sentiment, float]]: ...


class HeadSentiment:
    def __init__(self, head: LinearHead, name: str) -> None:
        if set(head.labels) != set(SENTIMENT_LABELS):
            raise LabelMapError(f"a sentiment head predicts {SENTIMENT_LABELS}, this one {head.labels}")
        self.head = head
        self.name = name

    def predict(
        self, texts: Sequence[str], embeddings: npt.NDArray[np.float32]
    ) -> list[tuple[Sentiment, float]]:
        return [(Sentiment(label), score) for label, score in self.head.predict(embeddings)]


def map_labels(id2label: Mapping[int, str], configured: Mapping[str, str]) -> dict[int, Sentiment]:
    """The model's label ids to Pantau's sentiments: the configured map first, else labels whose
    names say it ('NEG', 'Negative', 'positive', ...). Every label must land somewhere."""
    mapped: dict[int, Sentiment] = {}
    for index, label in id2label.items():
        name = configured.get(label) or configured.get(str(index))
        if name is None:
            lowered = label.lower()
            name = next((s for s in SENTIMENT_LABELS if lowered.startswith(s[:3])), None)
        if name is None:
            raise LabelMapError(
                f"cannot tell what the model's label {label!r} means: set PANTAU_SENTIMENT_LABELS, e.g. "
                f'{{"{label}": "negative"}}'
            )
        mapped[int(index)] = Sentiment(name)
    return mapped


class SequenceClassifierSentiment:
    def __init__(
        self,
        source: str | Path,
        placement: Placement,
        *,
        labels: Mapping[str, str] | None = None,
        max_tokens: int = 128,
        batch_size: int = 32,
    ) -> None:
        self.name = str(source)
        self.classifier = SequenceClassifier(source, placement, max_tokens=max_tokens, batch_size=batch_size)
        self.labels = map_labels(self.classifier.id2label, labels or {})

    def predict(
        self, texts: Sequence[str], embeddings: npt.NDArray[np.float32]
    ) -> list[tuple[Sentiment, float]]:
        result = []
        for row in self.classifier.probabilities(texts):
            # Several model labels may map to one sentiment (e.g. 'very negative', 'negative').
            totals = {s: 0.0 for s in Sentiment}
            for index, sentiment in self.labels.items():
                totals[sentiment] += float(row[index])
            best = max(totals, key=lambda s: totals[s])
            result.append((best, totals[best]))
        return result
