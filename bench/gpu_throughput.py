"""Encoder throughput on a GPU: Pantau's batched, length-sorted pass against a per-post fp32
transformers pipeline, in the same run.

Meant for a GPU host that has torch and transformers but not the rest of Pantau's dependencies:
it imports only `nlp.encoder`, `nlp.heads` and `nlp.runtime`. `--model` is a folder with the
rebuilt encoder's config and tokenizer (as `nlp/e5_convert.py` writes them); when its weights are
absent, random weights of the same shape are written first (throughput does not depend on the
values). The shipped sentiment and stance heads run on the embeddings, as in the classifier.

    python bench/gpu_throughput.py --model DIR [--posts 8192] [--out result.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import torch

from nlp.encoder import Encoder
from nlp.heads import LinearHead
from nlp.runtime import Placement

ROOT = Path(__file__).resolve().parent.parent


def posts(n: int) -> list[str]:
    demo = ROOT / "service" / "demo" / "posts.jsonl"
    texts = [json.loads(line)["text"] for line in demo.read_text(encoding="utf-8").splitlines()]
    return [f"{texts[i % len(texts)]} #{i}" for i in range(n)]


def ensure_weights(folder: Path) -> None:
    if (folder / "model.safetensors").exists():
        return
    from transformers import BertConfig, BertModel

    BertModel(BertConfig.from_pretrained(str(folder)), add_pooling_layer=False).save_pretrained(str(folder))


def encoder_rate(folder: Path, placement: Placement, texts: list[str], batch: int) -> float:
    encoder = Encoder(folder, placement, batch_size=batch, max_tokens=128)
    sentiment = LinearHead.load(ROOT / "nlp" / "trained" / "sentiment-head.json")
    stance = LinearHead.load(ROOT / "nlp" / "trained" / "stance-head.json")
    encoder.embed(texts[:batch])
    if placement.device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    # The enrich stage hands the classifier up to 512 posts at a time.
    for i in range(0, len(texts), 512):
        vectors = encoder.embed(texts[i : i + 512])
        sentiment.predict(vectors)
        stance.predict(vectors)
    return len(texts) / (time.perf_counter() - started)


def baseline_rate(folder: Path, device: str, texts: list[str]) -> float:
    from transformers import pipeline

    extractor = pipeline("feature-extraction", model=str(folder), dtype=torch.float32, device=device)
    extractor("query: warm-up")
    started = time.perf_counter()
    for text in texts:
        hidden = np.asarray(extractor("query: " + text, truncation=True, max_length=128))[0]
        hidden.mean(axis=0)
    return len(texts) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--posts", type=int, default=8192)
    parser.add_argument("--baseline-posts", type=int, default=512)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    ensure_weights(args.model)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    texts = posts(args.posts)
    result: dict[str, object] = {
        "device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "posts": len(texts),
    }
    for dtype, label in ((torch.bfloat16, "bf16"), (torch.float32, "fp32")):
        for batch in (32, 128, 512):
            rate = encoder_rate(args.model, Placement(device, dtype), texts, batch)
            result[f"pantau_{label}_batch{batch}"] = round(rate, 1)
            print(f"pantau {label} batch {batch:>3}: {rate:9.1f} posts/s", flush=True)
    baseline = baseline_rate(args.model, device.type, texts[: args.baseline_posts])
    result["baseline_pipeline_fp32_per_post"] = round(baseline, 1)
    best = max(v for k, v in result.items() if k.startswith("pantau_") and isinstance(v, float))
    result["ratio_best_to_baseline"] = round(best / baseline, 1)
    print(
        f"baseline pipeline per post, fp32: {baseline:.1f} posts/s; best / baseline: {best / baseline:.1f}x"
    )
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
