"""Where and how the models run: device, precision, threads, and loading a transformers folder.

Decided once at start-up: a GPU when one is present (unless configured off); bf16 where the hardware
runs it natively (a GPU, or a CPU with AVX512-BF16/AMX), else fp32. bf16 on such CPUs is about four
times faster than fp32 for the same accuracy; without native support it is slower.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch

log = logging.getLogger(__name__)

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
