"""The sentence encoder: one forward pass per post gives the embedding that sentiment, stance and the
detectors all reuse.

Batches are sorted by length and padded to the longest post of each batch (not to the token cap),
so a batch of short posts costs what short posts cost. Embeddings are mean-pooled over the attention
mask and L2-normalised, as the e5 family is trained to be used.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch

from nlp.runtime import Placement, load_transformer

EMBEDDING_DTYPE = np.float32


class Encoder:
    def __init__(
        self,
        source: str | Path,
        placement: Placement,
        *,
        prefix: str = "query: ",
        max_tokens: int = 128,
        batch_size: int = 32,
        name: str | None = None,
    ) -> None:
        from transformers import AutoModel

        self.name = name or str(source)
        self.placement = placement
        self.prefix = prefix
        self.batch_size = batch_size
        self.tokenizer, self.model, self.max_tokens = load_transformer(
            AutoModel, source, placement, max_tokens
        )
        self.dim = int(self.model.config.hidden_size)

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """(len(texts), dim) float32, unit length; the order of `texts` is kept."""
        out = np.zeros((len(texts), self.dim), dtype=EMBEDDING_DTYPE)
        if not texts:
            return out
        # Character length orders texts closely enough to token length, without tokenising twice.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                chunk = order[start : start + self.batch_size]
                out[chunk] = self._embed_batch([self.prefix + texts[i] for i in chunk])
        return out

    def _embed_batch(self, texts: list[str]) -> npt.NDArray[np.float32]:
        encoded = self.tokenizer(
            texts, padding=True, truncation=True, max_length=self.max_tokens, return_tensors="pt"
        ).to(self.placement.device)
        hidden = self.model(**encoded).last_hidden_state.float()
        mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
        normalised = torch.nn.functional.normalize(pooled, dim=-1)
        result: npt.NDArray[np.float32] = normalised.cpu().numpy().astype(EMBEDDING_DTYPE)
        return result
