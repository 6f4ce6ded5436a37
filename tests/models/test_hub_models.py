"""Hub models are configuration: the loading and label-mapping code, on tiny random models the
tests build (real transformers folders, random weights)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from config.settings import Settings
from config.watchlist import load_watchlist
from nlp.models import build_classifier, placement_for
from nlp.sentiment import LabelMapError, SequenceClassifierSentiment
from nlp.stance import NliStance
from pantau.domain import Sentiment, Stance
from tests.factories import make_post as post
from tests.models.conftest import tiny_model

NLI_LABELS = {0: "entailment", 1: "neutral", 2: "contradiction"}


def test_a_sequence_classifier_maps_its_labels(tmp_path: Path, model_settings: Settings) -> None:
    folder = tiny_model(tmp_path / "sentiment", head="classifier", id2label={0: "LABEL_0", 1: "LABEL_1"})
    where = placement_for(model_settings)
    with pytest.raises(LabelMapError, match="LABEL_0"):
        SequenceClassifierSentiment(folder, where)
    model = SequenceClassifierSentiment(folder, where, labels={"LABEL_0": "negative", "LABEL_1": "positive"})
    texts = ["saya mendukung kebijakan ini", "", "this policy is terrible " * 40]
    result = model.predict(texts, np.zeros((3, 1), dtype=np.float32))
    assert len(result) == 3
    assert all(s in (Sentiment.negative, Sentiment.positive) and 0.5 <= p <= 1.0 for s, p in result)


def test_nli_stance_asks_one_question_per_target_and_stance(tmp_path: Path, model_settings: Settings) -> None:
    folder = tiny_model(tmp_path / "nli", head="classifier", id2label=NLI_LABELS)
    where = placement_for(model_settings)
    with pytest.raises(ValueError, match="PANTAU_STANCE_ENTAILMENT_LABEL"):
        NliStance(
            folder, where, favor_hypothesis="{target}", against_hypothesis="{target}", entailment_label="yes"
        )
    model = NliStance(
        folder, where, favor_hypothesis="mendukung {target}", against_hypothesis="menentang {target}"
    )
    result = model.predict(
        ["teks ini mendukung raka", "selamat pagi", "raka dan sari"],
        np.zeros((3, 1), dtype=np.float32),
        [["Raka"], [], ["Raka", "Sari"]],
    )
    assert [len(r) for r in result] == [1, 0, 2]
    assert all(s in Stance and 0.0 <= p <= 1.0 for r in result for s, p in r)


def test_configured_models_replace_the_heads(tmp_path: Path, model_settings: Settings) -> None:
    settings = model_settings.model_copy(
        update={
            "encoder_model": str(tiny_model(tmp_path / "encoder", head=None)),
            "sentiment_model": str(tiny_model(tmp_path / "sentiment", head="classifier")),
            "stance_model": str(tiny_model(tmp_path / "nli", head="classifier", id2label=NLI_LABELS)),
        }
    )
    classifier = build_classifier(settings, load_watchlist(settings.watchlist_path))
    assert classifier.encoder.dim == 32
    assert str(tmp_path / "sentiment") in classifier.name
    result = classifier.classify([post("Pak Raka dan Bu Sari debat malam ini", 1), post("", 2)])
    assert [len(e.targets) for e in result] == [2, 0]


def test_shipped_heads_refuse_an_encoder_of_another_size(tmp_path: Path, model_settings: Settings) -> None:
    settings = model_settings.model_copy(
        update={"encoder_model": str(tiny_model(tmp_path / "enc", head=None))}
    )
    with pytest.raises(ValueError, match="pantau train"):
        build_classifier(settings, load_watchlist(settings.watchlist_path))
