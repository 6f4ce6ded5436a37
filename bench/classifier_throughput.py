"""Posts per second through sentiment and stance, against a plain transformers pipeline, same run.

The posts are real Indonesian texts (IndoNLU SmSA valid when it is at hand, else the bundled demo
stream), cut to 280 characters, each naming up to three of ten watchlist targets. Measured:

1. the fine-tuned classifier (`nlp/trained/tuned`, `PANTAU_TUNED_MODEL=auto`: one batched pass per
   post, read with up to four of its targets' names, for embedding, sentiment and their stance;
   bf16 torch where bf16 is native, else int8 ONNX; cache off), at batch sizes 1, 32 and 128:
   unique posts per second, language and target matching included; and, in the same run, the
   frozen encoder with the linear heads (`PANTAU_TUNED_MODEL=off`) at batch 128;
2. the baseline: `transformers.pipeline("feature-extraction")` in fp32 called per post: one call for
   sentiment and one per named target for stance (each with that target masked), the shipped heads
   on top; the straightforward way to get the same answers;
3. the cache: a stream where 40% of posts repeat an earlier text (reposts, copy-paste), cache on
   against cache off.

    .venv/bin/python bench/classifier_throughput.py [--posts 1024] [--baseline-posts 96] [--data CSV]
        [--also ARTEFACT_DIR ...]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import torch

from config.settings import load_settings
from config.watchlist import Target, Watchlist, load_watchlist
from nlp.classifier import CachingClassifier, TransformerClassifier, prepare_text
from nlp.models import build_classifier, load_encoder
from nlp.targets import mask_mentions
from pantau.domain import Post

EXTRA_TARGETS = (
    Target(id="dewi-anggraini", kind="candidate", name="Dewi Anggraini", aliases=("Bu Dewi",)),
    Target(id="joko-pranoto", kind="candidate", name="Joko Pranoto", aliases=("Pak Joko",)),
    Target(id="makan-gratis", kind="policy", name="program makan gratis", aliases=("makan gratis",)),
)
WHEN = datetime(2026, 11, 20, 12, tzinfo=UTC)


def texts_from(data: Path | None) -> list[str]:
    if data is not None and data.exists():
        with data.open(encoding="utf-8") as handle:
            return [row["text"] for row in csv.DictReader(handle)]
    demo = Path(__file__).resolve().parent.parent / "service" / "demo" / "posts.jsonl"
    return [json.loads(line)["text"] for line in demo.read_text(encoding="utf-8").splitlines()]


def make_posts(texts: list[str], watchlist: Watchlist, n: int, seed: int = 7) -> list[Post]:
    rng = random.Random(seed)
    aliases = [t.aliases[0] if t.aliases else t.name for t in watchlist.targets]
    posts = []
    for i in range(n):
        named = rng.sample(aliases, rng.choice([0, 1, 1, 2, 3]))
        # Posts are cut to X's 280 characters: SmSA holds long reviews, Pantau reads posts.
        body = texts[i % len(texts)][:280]
        text = " ".join([*named, body, f"#{i}" if i >= len(texts) else ""]).strip()
        posts.append(
            Post(
                id=f"b:{i}",
                platform="x",
                native_id=str(i),
                author_id="a",
                author_handle="a",
                text=text,
                created_at=WHEN,
                received_at=WHEN,
            )
        )
    return posts


def rate(classifier: CachingClassifier, posts: list[Post], batch: int) -> float:
    warm_up = [p.model_copy(update={"text": f"pemanasan {i} {p.text}"}) for i, p in enumerate(posts[:batch])]
    classifier.classify(warm_up)  # first calls allocate; these texts are not in the stream
    started = time.perf_counter()
    for i in range(0, len(posts), batch):
        classifier.classify(posts[i : i + batch])
    return len(posts) / (time.perf_counter() - started)


def baseline_rate(classifier: TransformerClassifier, folder: str, posts: list[Post]) -> float:
    from transformers import pipeline

    extractor = pipeline("feature-extraction", model=folder, dtype=torch.float32, device="cpu")
    sentiment = classifier.sentiment
    stance = classifier.stance

    def embed(text: str) -> np.ndarray:
        hidden = np.asarray(extractor("query: " + text, truncation=True, max_length=128))[0]
        vector = hidden.mean(axis=0)
        return (vector / np.linalg.norm(vector)).astype(np.float32)[None, :]

    embed(posts[0].text)
    started = time.perf_counter()
    for post in posts:
        text = prepare_text(post.text, 1024)
        mentions = classifier.matcher.mentions(text)
        sentiment.predict([text], embed(text))
        for target in dict.fromkeys(m.target for m in mentions):
            own = [m for m in mentions if m.target == target]
            stance.predict([text], embed(mask_mentions(text, own)), [[target]])
    return len(posts) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=1024)
    parser.add_argument("--baseline-posts", type=int, default=96)
    parser.add_argument("--data", type=Path, default=None, help="CSV with a text column")
    parser.add_argument(
        "--also",
        type=Path,
        action="append",
        default=[],
        help="another `pantau train tuned` artefact (fewer layers, say), measured at batch 128 too",
    )
    args = parser.parse_args()

    settings = load_settings(classify_cache_size=0)
    base = load_watchlist(settings.watchlist_path)
    watchlist = Watchlist(targets=(*base.targets, *EXTRA_TARGETS))
    # The fine-tuned model whenever one is shipped, whatever the default; the frozen one beside it.
    classifier = build_classifier(settings.model_copy(update={"tuned_model": "auto"}), watchlist)
    heads = build_classifier(settings.model_copy(update={"tuned_model": "off"}), watchlist)
    assert isinstance(heads, TransformerClassifier)
    texts = texts_from(args.data)
    posts = make_posts(texts, watchlist, args.posts)
    named = sum(bool(classifier.matcher.match(p.text)) for p in posts)
    print(f"device: {heads.encoder.placement.describe}, {torch.get_num_threads()} threads; "
          f"{len(watchlist.targets)} targets; {len(posts)} posts, {named} naming a target")  # fmt: skip
    print(f"classifier: {classifier.name}")

    rates = {batch: rate(classifier, posts, batch) for batch in (1, 32, 128)}
    for batch, value in rates.items():
        print(f"pantau classifier, batch {batch:>3}:     {value:7.1f} unique posts/s")
    frozen = rate(heads, posts, 128) if heads.name != classifier.name else rates[128]
    print(f"frozen encoder + heads, batch 128: {frozen:7.1f} unique posts/s")
    if classifier.name.endswith("/onnx"):
        # Before each post ran alone on its own lane: the batch in one ONNX run on every thread.
        batched = build_classifier(
            settings.model_copy(update={"tuned_model": "auto", "model_onnx_lanes": 0}), watchlist
        )
        before = rate(batched, posts, 128)
        print(f"pantau classifier, batch 128, int8 batch in one run (lanes 0): {before:7.1f} unique posts/s; "
              f"posts alone on lanes {rates[128] / before:.2f}x that")  # fmt: skip

    folder = str(load_encoder(settings).model.name_or_path)
    baseline = baseline_rate(heads, folder, posts[: args.baseline_posts])
    print(f"baseline pipeline per post, fp32:  {baseline:7.1f} posts/s")
    print(f"ratio batch 32 / baseline:  {rates[32] / baseline:.1f}x")
    print(f"ratio batch 128 / baseline: {rates[128] / baseline:.1f}x")
    print(f"ratio batch 128 / frozen encoder + heads: {rates[128] / frozen:.1f}x")
    for path in args.also:
        other = build_classifier(
            settings.model_copy(update={"tuned_model": "auto", "tuned_path": path}), watchlist
        )
        value = rate(other, posts, 128)
        print(f"{path}, batch 128: {value:7.1f} unique posts/s; {value / frozen:.1f}x the frozen "
              f"encoder + heads, {value / rates[128]:.2f}x the classifier above")  # fmt: skip

    # 40% of the stream repeats earlier texts, in stream order.
    rng = random.Random(11)
    unique = posts[: int(args.posts * 0.6)]
    stream = list(unique)
    while len(stream) < args.posts:
        source = rng.choice(stream[: max(1, len(stream))])
        stream.insert(rng.randrange(stream.index(source) + 1, len(stream) + 1), source)
    cached = build_classifier(
        settings.model_copy(update={"classify_cache_size": 100_000, "tuned_model": "auto"}), watchlist
    )
    with_cache = rate(cached, stream, 32)
    print(f"40% repeats, cache off: {rate(classifier, stream, 32):7.1f} posts/s")
    print(f"40% repeats, cache on:  {with_cache:7.1f} posts/s "
          f"(hits {cached.cache_hits}, misses {cached.cache_misses - 32} after the warm-up)")  # fmt: skip


if __name__ == "__main__":
    main()
