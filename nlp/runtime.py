"""Where and how the models run: device, precision, threads, and loading a transformers folder.

Decided once at start-up: a GPU when one is present (unless configured off); bf16 where the hardware
runs it natively (a GPU, or a CPU with AVX512-BF16/AMX), else fp32. bf16 on such CPUs is about four
times faster than fp32 for the same accuracy; without native support it is slower.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import torch

log = logging.getLogger(__name__)
FloatArray = npt.NDArray[np.float32]

# Model loading must never reach for a hub the machine cannot see; a configured hub id still works
# where the model is in the local cache or the machine is online (the user sets HF_HUB_OFFLINE=0).
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@dataclass(frozen=True)
class Placement:
    device: torch.device
    dtype: torch.dtype

    @property
    def describe(self) -> str:
        return f"{self.device.type}/{'bf16' if self.dtype == torch.bfloat16 else 'fp32'}"


def cpu_has_native_bf16() -> bool:
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # pragma: no cover - builds without oneDNN
        return False


def choose_placement(
    device: Literal["auto", "cpu", "cuda"] = "auto",
    precision: Literal["auto", "bf16", "fp32"] = "auto",
    threads: int = 0,
) -> Placement:
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("model_device is cuda, but torch sees no CUDA device")
    on_gpu = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    target = torch.device("cuda" if on_gpu else "cpu")
    if precision == "auto":
        native = torch.cuda.is_bf16_supported() if on_gpu else cpu_has_native_bf16()
        dtype = torch.bfloat16 if native else torch.float32
    else:
        dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    if threads:
        torch.set_num_threads(threads)
    placement = Placement(target, dtype)
    log.info("models run on %s (%d CPU threads)", placement.describe, torch.get_num_threads())
    return placement


def quiet_transformers() -> None:
    """No progress bars or advisory warnings in a service's logs."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]


def is_local_folder(name: str) -> bool:
    return Path(name).expanduser().is_dir()


def load_transformer(
    auto_class: Any, source: str | Path, placement: Placement, max_tokens: int
) -> tuple[Any, Any, int]:
    """Tokenizer, model (on its device, in its dtype, in eval mode) and the token cap it allows:
    never more tokens than the model has positions for (a small model may have fewer than asked)."""
    from transformers import AutoTokenizer

    quiet_transformers()
    tokenizer = AutoTokenizer.from_pretrained(str(source))
    model = auto_class.from_pretrained(str(source), dtype=placement.dtype).to(placement.device).eval()
    positions = int(getattr(model.config, "max_position_embeddings", max_tokens))
    return tokenizer, model, min(max_tokens, positions)


class SequenceClassifier:
    """A transformers sequence classifier (a hub id or a folder) run the way the encoder is: inputs
    sorted by length, padded to the longest of each batch, probabilities back in input order."""

    def __init__(self, source: str | Path, placement: Placement, *, max_tokens: int, batch_size: int) -> None:
        from transformers import AutoModelForSequenceClassification

        self.placement = placement
        self.batch_size = batch_size
        self.tokenizer, self.model, self.max_tokens = load_transformer(
            AutoModelForSequenceClassification, source, placement, max_tokens
        )
        self.id2label: dict[int, str] = {
            int(i): str(label) for i, label in self.model.config.id2label.items()
        }

    def probabilities(self, first: Sequence[str], second: Sequence[str] | None = None) -> FloatArray:
        """(len(first), labels) softmax probabilities; `second` makes them pairs (premise, hypothesis),
        and then only the first of a pair is truncated."""
        out = np.zeros((len(first), len(self.id2label)), dtype=np.float32)
        order = sorted(range(len(first)), key=lambda i: len(first[i]))
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                chunk = order[start : start + self.batch_size]
                encoded = self.tokenizer(
                    [first[i] for i in chunk],
                    [second[i] for i in chunk] if second is not None else None,
                    padding=True,
                    truncation="only_first" if second is not None else True,
                    max_length=self.max_tokens,
                    return_tensors="pt",
                ).to(self.placement.device)
                logits = self.model(**encoded).logits.float()
                out[chunk] = torch.softmax(logits, dim=-1).cpu().numpy()
        return out
