"""The fine-tuned model's plumbing on a tiny random BERT: training steps, the artefact on disk,
and the two runtimes (torch, ONNX int8) giving the same kind of answer for any batch."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from nlp.runtime import choose_placement
from nlp.tuned import STANCE_ORDER, TUNED_DIR, Artefact, TunedError, TunedModel, TunedSpec
from nlp.tuning import Data, Recipe, SentimentRow, StanceRow, Trainer
from tests.factories import make_post
from tests.models.conftest import tiny_model

SPEC = TunedSpec(layers=1, lora_rank=4, lora_alpha=8, head_hidden=16, max_tokens=32)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)  # the tiny model's random weights: the same every run
    return tiny_model(tmp_path_factory.mktemp("tiny") / "bert", head=None)


def rows() -> tuple[list[SentimentRow], list[StanceRow]]:
    sentiment = [
        SentimentRow("saya mendukung kebijakan ini", 2, False),
        SentimentRow("this policy is terrible", 0, False),
    ]
    stance = [
        StanceRow("raka", "teks ini mendukung raka", 0, ((19, 23),), "test"),
        StanceRow("raka", "teks ini menentang raka", 1, ((19, 23),), "test"),
    ]
    return sentiment * 4, stance * 4


def trained(base: Path, steps: int) -> tuple[Trainer, list[float]]:
    recipe = Recipe(
        steps=steps, sentiment_batch=4, stance_batch=4, lr_adapters=1e-2, lr_heads=1e-2, warmup=0.01
    )
    trainer = Trainer(base, SPEC, recipe)
    sentiment, stance = rows()

    data = Data(sentiment, stance, [], [], [], [], [], [])
    teacher = {r.text: np.full(32, 32**-0.5, dtype=np.float32) for r in sentiment}
    losses: list[float] = []

    def progress(line: str) -> None:
        losses.append(float(line.split("'stance': ")[1].split(",")[0]))

    trainer.train(data, teacher, progress)
    return trainer, losses


def test_training_fits_a_separable_stance_task(base: Path) -> None:
    _, losses = trained(base, steps=100)
    assert losses[-1] < losses[0] / 2


def test_the_artefact_round_trips_and_both_runtimes_answer_alike(base: Path, tmp_path: Path) -> None:
    trainer, _ = trained(base, steps=5)
    trainer.artefact({"test": True}).save(tmp_path / "tuned")
    artefact = Artefact.load(tmp_path / "tuned")
    assert artefact.report == {"test": True}
    placement = choose_placement("cpu", "fp32")
    models = [
        TunedModel(artefact, base, placement, cache_dir=tmp_path / "cache", runtime=runtime)
        for runtime in ("torch", "onnx")
    ]
    assert list((tmp_path / "cache").glob("tuned-*-int8.onnx"))
    texts = ["teks ini mendukung raka", "", "selamat pagi semua " * 30, "raka raka raka"]
    asked = [[("raka", [(19, 23)])], [], [("raka", [])] * 20, [("raka", [(0, 4)]), ("sari", [(5, 9)])]]
    results = [model.analyse(texts, asked) for model in models]
    for answer in results:
        assert [len(r.stances) for r in answer] == [1, 0, 20, 2]
        for r in answer:
            assert abs(float(np.linalg.norm(r.embedding)) - 1) < 1e-3
            assert r.sentiment.sum() == pytest.approx(1, abs=1e-4)
            assert all(s.shape == (len(STANCE_ORDER),) for s in r.stances)
    torch_embeddings = np.stack([r.embedding for r in results[0]])
    onnx_embeddings = np.stack([r.embedding for r in results[1]])
    assert (torch_embeddings * onnx_embeddings).sum(axis=1).min() > 0.9


def test_a_damaged_artefact_is_named(tmp_path: Path) -> None:
    (tmp_path / "tuned").mkdir()
    (tmp_path / "tuned" / "tuned.json").write_text("{}")
    with pytest.raises(TunedError, match="tuned"):
        Artefact.load(tmp_path / "tuned")


def test_the_plan_is_fixed_by_the_seed_and_draws_from_every_stance_source(base: Path) -> None:
    sentiment, stance = rows()
    other = [StanceRow("anies", "teks lain tentang anies", 2, ((17, 22),), "other")]
    data = Data(sentiment, stance + other, [], [], [], [], [], [])
    recipe = Recipe(steps=30, sentiment_batch=3, stance_batch=5)

    first, again = Trainer(base, SPEC, recipe).plan(data), Trainer(base, SPEC, recipe).plan(data)
    reseeded = Trainer(base, SPEC, Recipe(steps=30, sentiment_batch=3, stance_batch=5, seed=1)).plan(data)

    assert first == again != reseeded
    assert len(first) == 30
    assert all(len(b.sentiment) == 3 and len(b.stance) == 5 for b in first)
    # The one-row source is drawn by the square root of its size, not drowned by the eight-row one.
    drawn = Counter(row.source for b in first for row in b.stance)
    assert drawn["other"] > 150 * (1 / (1 + 8**0.5)) / 2


def test_a_post_naming_twenty_targets_gets_twenty_stances_from_one_encoder_pass(
    base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trainer, _ = trained(base, steps=2)
    trainer.artefact({}).save(tmp_path / "tuned")
    model = TunedModel(
        Artefact.load(tmp_path / "tuned"),
        base,
        choose_placement("cpu", "fp32"),
        cache_dir=tmp_path / "cache",
        runtime="torch",
    )
    names = [f"calon {i}" for i in range(20)]
    text = " dan ".join(names) + " semua bagus"
    spans = [(text.index(n), text.index(n) + len(n)) for n in names]
    model.target_vectors(names)  # targets are encoded once, then cached
    passes: list[int] = []
    states = model._states

    def counted(texts: list[str]) -> tuple[torch.Tensor, torch.Tensor, list[list[list[int]]]]:
        passes.append(len(texts))
        return states(texts)

    monkeypatch.setattr(model, "_states", counted)

    (result,) = model.analyse([text], [[(n, [s]) for n, s in zip(names, spans, strict=True)]])

    assert passes == [1]  # one pass over the post, whatever the number of targets
    assert len(result.stances) == 20
    assert all(s.sum() == pytest.approx(1, abs=1e-4) for s in result.stances)


def test_the_shipped_artefact_loads_and_carries_its_report_and_topic_threshold(model_cache: Path) -> None:
    from config.settings import load_settings
    from config.watchlist import load_watchlist
    from nlp.classifier import TunedClassifier
    from nlp.models import build_classifier

    settings = load_settings(model_cache_dir=model_cache, tuned_model="auto")
    classifier = build_classifier(settings, load_watchlist(settings.watchlist_path))
    assert isinstance(classifier, TunedClassifier)
    report = Artefact.load(TUNED_DIR).report
    assert {"recipe", "data", "training", "dev", "topic_similarity"} <= set(report)
    assert classifier.topic_similarity == report["topic_similarity"]["threshold"]
    (e,) = classifier.classify([make_post("Pak Raka hari ini berkunjung ke Surabaya.", 1)])
    assert [(t.target, t.stance.value) for t in e.targets] == [("raka-wibisana", "none")]
