"""Linear heads on the frozen encoder's embedding: multinomial logistic regression.

A head is a few kilobytes of JSON (labels, weights, bias, and what it was trained on), committed to
the repository and reproduced by `pantau train`. Training is full-batch L-BFGS with an L2 penalty,
in torch, which the encoder already needs; prediction is one numpy matrix product.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]


class HeadError(ValueError):
    pass


@dataclass(frozen=True)
class LinearHead:
    labels: tuple[str, ...]
    weights: FloatArray  # (n_labels, dim)
    bias: FloatArray  # (n_labels,)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def dim(self) -> int:
        return int(self.weights.shape[1])

    def predict_proba(self, embeddings: FloatArray) -> FloatArray:
        if embeddings.ndim != 2 or embeddings.shape[1] != self.dim:
            raise HeadError(f"the head takes {self.dim}-dimensional embeddings, got {embeddings.shape}")
        logits = embeddings @ self.weights.T + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        probs: FloatArray = (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)
        return probs

    def predict(self, embeddings: FloatArray) -> list[tuple[str, float]]:
        probs = self.predict_proba(embeddings)
        best = probs.argmax(axis=1)
        return [(self.labels[i], float(probs[row, i])) for row, i in enumerate(best)]

    def to_json(self) -> str:
        return json.dumps(
            {
                "labels": list(self.labels),
                "dim": self.dim,
                "weights": np.round(self.weights.astype(np.float64), 6).tolist(),
                "bias": np.round(self.bias.astype(np.float64), 6).tolist(),
                "meta": self.meta,
            },
            ensure_ascii=False,
        )

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json() + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> LinearHead:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            weights = np.asarray(data["weights"], dtype=np.float32)
            bias = np.asarray(data["bias"], dtype=np.float32)
            labels = tuple(str(label) for label in data["labels"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise HeadError(f"{path}: not a head written by `pantau train`: {exc}") from None
        if weights.ndim != 2 or weights.shape[0] != len(labels) or bias.shape != (len(labels),):
            raise HeadError(f"{path}: weights {weights.shape} and bias {bias.shape} do not fit {labels}")
        return cls(labels, weights, bias, dict(data.get("meta", {})))


def fit_head(
    embeddings: FloatArray,
    labels: Sequence[str],
    *,
    label_order: Sequence[str],
    l2: float = 1e-3,
    balanced: bool = False,
    sample_weight: npt.NDArray[np.float64] | None = None,
    max_iter: int = 500,
    meta: dict[str, Any] | None = None,
) -> LinearHead:
    """Multinomial logistic regression, deterministic (full batch, L-BFGS from zeros)."""
    import torch

    if len(labels) != len(embeddings):
        raise HeadError(f"{len(embeddings)} embeddings but {len(labels)} labels")
    index = {label: i for i, label in enumerate(label_order)}
    unknown = sorted(set(labels) - index.keys())
    if unknown:
        raise HeadError(f"labels {unknown} are not among {list(label_order)}")
    y = torch.tensor([index[label] for label in labels], dtype=torch.long)
    x = torch.tensor(np.asarray(embeddings, dtype=np.float32))
    weight = torch.ones(len(y), dtype=torch.float32)
    if sample_weight is not None:
        weight = torch.tensor(sample_weight, dtype=torch.float32)
    if balanced:
        counts = torch.bincount(y, minlength=len(label_order)).clamp(min=1).float()
        weight = weight * (len(y) / (len(label_order) * counts))[y]
    w = torch.zeros((len(label_order), x.shape[1]), requires_grad=True)
    b = torch.zeros(len(label_order), requires_grad=True)
    optimiser = torch.optim.LBFGS([w, b], max_iter=max_iter, line_search_fn="strong_wolfe")

    def loss_fn() -> torch.Tensor:
        optimiser.zero_grad()
        losses = torch.nn.functional.cross_entropy(x @ w.T + b, y, reduction="none")
        loss = (losses * weight).sum() / weight.sum() + l2 * (w * w).sum()
        loss.backward()  # type: ignore[no-untyped-call]
        return loss

    optimiser.step(loss_fn)  # type: ignore[no-untyped-call]
    return LinearHead(
        tuple(label_order),
        w.detach().numpy().astype(np.float32),
        b.detach().numpy().astype(np.float32),
        dict(meta or {}),
    )
