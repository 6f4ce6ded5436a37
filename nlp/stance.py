"""Stance toward each named target: favor / against / none with a score, for a batch.

Stance is not sentiment ("Sedih Anies kalah" is sad and favours Anies), so it has its own model:
- `HeadStance`, the offline default: a linear head on the embedding of the post with every target
  mention masked as "X". It learned how people write *about X*, from posts about other targets, so it
  needs no training per target and reuses the encoder pass every post already gets. A post naming
  several targets gives each the same stance (one pass cannot tell them apart);
- `NliStance`: zero-shot by natural-language inference, when an NLI model is configured: the post is
  the premise, "This text supports {target}." and "This text opposes {target}." the hypotheses.
  One pair per (post, target, stance), so its cost grows with the targets named.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from nlp.heads import LinearHead
from nlp.runtime import Placement, SequenceClassifier
from pantau.domain import Stance

STANCE_LABELS = ("favor", "against", "none")


class StanceModel(Protocol):
    name: str

    def predict(
        self,
        texts: Sequence[str],
        embeddings: npt.NDArray[np.float32],
        targets: Sequence[Sequence[str]],
    ) -> list[list[tuple[Stance, float]]]:
        """For each post, one (stance, score) per target it names (`targets` holds their names)."""
        ...


class HeadStance:
    """The linear head's probabilities, mixed with a prototype vote: the similarity of the masked
    post to a few sentences that plainly favour, oppose, or do not judge "X" (stored with the head).
    The prototypes know nothing of any training target, which is what carries to new targets; the
    head adds how real posts word it. `prototype_weight` and `temperature` come with the head."""

    def __init__(
        self, head: LinearHead, name: str, embed: Callable[[list[str]], npt.NDArray[np.float32]]
    ) -> None:
        if set(head.labels) != set(STANCE_LABELS):
            raise ValueError(f"a stance head predicts {STANCE_LABELS}, this one {head.labels}")
        self.head = head
        self.name = name
        prototypes: dict[str, list[str]] = head.meta.get("prototypes", {})
        self.prototype_weight = float(head.meta.get("prototype_weight", 0.0)) if prototypes else 0.0
        self.temperature = float(head.meta.get("temperature", 50.0))
        self._prototypes = (
            [embed(list(prototypes.get(label, []))) for label in head.labels] if prototypes else []
        )
        if self.prototype_weight and any(len(p) == 0 for p in self._prototypes):
            raise ValueError(f"a stance head with prototypes needs sentences for each of {head.labels}")

    def probabilities(self, embeddings: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        probs = self.head.predict_proba(embeddings)
        if not self.prototype_weight:
            return probs
        similarity = np.stack([(embeddings @ p.T).mean(axis=1) for p in self._prototypes], axis=1)
        logits = similarity * self.temperature
        logits -= logits.max(axis=1, keepdims=True)
        votes = np.exp(logits)
        votes /= votes.sum(axis=1, keepdims=True)
        mixed: npt.NDArray[np.float32] = (
            (1 - self.prototype_weight) * probs + self.prototype_weight * votes
        ).astype(np.float32)
        return mixed

    def predict(
        self,
        texts: Sequence[str],
        embeddings: npt.NDArray[np.float32],
        targets: Sequence[Sequence[str]],
    ) -> list[list[tuple[Stance, float]]]:
        rows = [i for i, named in enumerate(targets) if named]
        result: list[list[tuple[Stance, float]]] = [[] for _ in texts]
        if not rows:
            return result
        probs = self.probabilities(embeddings[rows])
        for row, p in zip(rows, probs, strict=True):
            best = int(p.argmax())
            result[row] = [(Stance(self.head.labels[best]), float(p[best]))] * len(targets[row])
        return result


class NliStance:
    def __init__(
        self,
        source: str | Path,
        placement: Placement,
        *,
        favor_hypothesis: str,
        against_hypothesis: str,
        entailment_label: str = "entailment",
        threshold: float = 0.5,
        max_tokens: int = 256,
        batch_size: int = 32,
    ) -> None:
        self.name = str(source)
        self.favor_hypothesis = favor_hypothesis
        self.against_hypothesis = against_hypothesis
        self.threshold = threshold
        self.classifier = SequenceClassifier(source, placement, max_tokens=max_tokens, batch_size=batch_size)
        by_name = {label.lower(): i for i, label in self.classifier.id2label.items()}
        if entailment_label.lower() not in by_name:
            raise ValueError(
                f"the NLI model has no label {entailment_label!r} (it has {sorted(by_name)}): "
                "set PANTAU_STANCE_ENTAILMENT_LABEL"
            )
        self.entailment = by_name[entailment_label.lower()]

    def _entailment(self, pairs: list[tuple[str, str]]) -> npt.NDArray[np.float32]:
        probs = self.classifier.probabilities([p for p, _ in pairs], [h for _, h in pairs])
        entailment: npt.NDArray[np.float32] = probs[:, self.entailment]
        return entailment

    def predict(
        self,
        texts: Sequence[str],
        embeddings: npt.NDArray[np.float32],
        targets: Sequence[Sequence[str]],
    ) -> list[list[tuple[Stance, float]]]:
        pairs: list[tuple[str, str]] = []
        for text, named in zip(texts, targets, strict=True):
            for target in named:
                pairs.append((text, self.favor_hypothesis.format(target=target)))
                pairs.append((text, self.against_hypothesis.format(target=target)))
        scores = self._entailment(pairs) if pairs else np.zeros(0, dtype=np.float32)
        result: list[list[tuple[Stance, float]]] = []
        at = 0
        for named in targets:
            stances = []
            for _ in named:
                favor, against = float(scores[at]), float(scores[at + 1])
                at += 2
                if max(favor, against) < self.threshold:
                    stances.append((Stance.none, 1.0 - max(favor, against)))
                elif favor >= against:
                    stances.append((Stance.favor, favor))
                else:
                    stances.append((Stance.against, against))
            result.append(stances)
        return result
