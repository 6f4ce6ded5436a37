"""Detector updates per second on one core, each against a floor measured in the same run.

The stream is synthetic but shaped like the real one: 2,000 keys with Zipf-like popularity, posts
every 50 ms of event time, a share of negative posts that moves, and, for the stream detectors,
embeddings near a few topic directions and texts partly copied from each other.

Floors: for the keyed detectors, a dict of per-key, per-minute counters (what any windowed count
costs in Python); for the stream detectors, decoding the embedding and hashing the text once.

    .venv/bin/python bench/detector_throughput.py [--events 200000]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import random
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from detectors.base import Observation
from detectors.coordination import CoordinatedPosting
from detectors.ensemble import DetectorSet
from detectors.shifts import ShareShift
from detectors.topics import EmergingTopics
from detectors.volume import VolumeBurst
from nlp.classifier import encode_embedding

T0 = datetime(2026, 11, 20, tzinfo=UTC)
WORDS = [
    *("harga", "beras", "naik", "pemerintah", "banjir", "jalan", "rusak"),
    *("debat", "capres", "kartu", "pangan", "subsidi", "listrik"),
]


def keyed(n: int, seed: int = 1) -> list[Observation]:
    rng = random.Random(seed)
    keys = [f"k{int(rng.paretovariate(1.2)) % 2000}" for _ in range(n)]
    return [
        Observation(
            key_kind="target" if i % 3 == 0 else "hashtag",
            key=keys[i],
            target=keys[i],
            post_id=f"p{i}",
            author_id=f"a{rng.randrange(50_000)}",
            at=T0 + timedelta(milliseconds=50 * i),
            sentiment="negative" if rng.random() < (0.2 if i < n // 2 else 0.5) else "neutral",
            stance="against" if rng.random() < 0.3 else "favor",
        )
        for i in range(n)
    ]


def streamed(n: int, seed: int = 2) -> list[Observation]:
    rng = random.Random(seed)
    directions = np.random.default_rng(seed).normal(size=(8, 384)).astype(np.float32)
    texts = [" ".join(rng.choices(WORDS, k=12)) for _ in range(200)]
    out = []
    for i in range(n):
        vector = directions[rng.randrange(8)] + np.random.default_rng(i).normal(0, 0.4, 384).astype(
            np.float32
        )
        out.append(
            Observation(
                key_kind="stream",
                key="all",
                post_id=f"s{i}",
                author_id=f"a{rng.randrange(50_000)}",
                at=T0 + timedelta(milliseconds=50 * i),
                text=rng.choice(texts) + f" {i % 50}",
                terms=tuple(rng.sample(WORDS, 4)),
                embedding=encode_embedding(vector / np.linalg.norm(vector)),
            )
        )
    return out


def rate(detector: object, observations: list[Observation]) -> float:
    update = detector.update  # type: ignore[attr-defined]
    started = time.perf_counter()
    for observation in observations:
        update(observation)
    return len(observations) / (time.perf_counter() - started)


def keyed_floor(observations: list[Observation]) -> float:
    counts: defaultdict[tuple[str, int], int] = defaultdict(int)
    started = time.perf_counter()
    for o in observations:
        counts[(o.key, int(o.at.timestamp()) // 60)] += 1
    return len(observations) / (time.perf_counter() - started)


def stream_floor(observations: list[Observation]) -> float:
    started = time.perf_counter()
    for o in observations:
        np.frombuffer(base64.b64decode(o.embedding), dtype="<f2").astype(np.float32)
        hashlib.blake2b(o.text.encode(), digest_size=8).digest()
    return len(observations) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--stream-events", type=int, default=20_000)
    args = parser.parse_args()
    observations = keyed(args.events)
    stream = streamed(args.stream_events)
    floor = keyed_floor(observations)
    print(f"{len(observations):,} keyed observations, {len(stream):,} stream observations, one core")
    print(f"floor: per-key minute counters in a dict:   {floor:>10,.0f} events/s")
    for name, detector in (
        ("volume burst (5-min windows)", VolumeBurst(window_seconds=300, min_count=5, warmup_windows=3)),
        ("sentiment shift (ADWIN)", ShareShift("sentiment")),
    ):
        value = rate(detector, observations)
        print(f"{name:<42} {value:>10,.0f} events/s ({value / floor:.2f}x the floor)")
    stream_base = stream_floor(stream)
    print(f"floor: decode embedding + hash text:        {stream_base:>10,.0f} events/s")
    for name, detector in (
        ("emerging topics (numpy clustering)", EmergingTopics()),
        ("coordinated posting (MinHash LSH)", CoordinatedPosting()),
    ):
        value = rate(detector, stream)
        print(f"{name:<42} {value:>10,.0f} events/s ({value / stream_base:.2f}x the floor)")
    mixed = observations[: args.events // 4] + stream[: args.stream_events // 4]
    mixed.sort(key=lambda o: o.at)
    print(f"{'the whole set, mixed stream':<42} {rate(DetectorSet(), mixed):>10,.0f} events/s")


if __name__ == "__main__":
    main()
