"""`pantau eval names` on the shipped default: stance on posts about names training never tied to
a stance, through the classifier as the pipeline runs it."""

from __future__ import annotations

from config.settings import Settings
from nlp.models import build_classifier
from nlp.training import target_watchlist
from nlp.tuning import PROBE_NAMES, evaluate_name_probes


def test_the_default_reads_stance_from_the_post_whatever_the_name(model_settings: Settings) -> None:
    figures = evaluate_name_probes(build_classifier(model_settings, target_watchlist(PROBE_NAMES)))
    assert {"accuracy", "macro_f1", "per_class", "confusion", "posts_per_s", "model"} <= set(figures)
    assert set(figures["by_name_accuracy"]) == set(PROBE_NAMES)
    assert figures["n"] == sum(map(sum, figures["confusion"]))
    # Better than the baseline the outside measurement sets: the same model's sentiment read as
    # stance (half the probes are posts where the two part: sarcasm, comparisons, "sedih X kalah").
    assert figures["accuracy"] > figures["read_off_sentiment"]["accuracy"]
    # A stance that follows the name judges the same post alike for 12% of the probes.
    assert figures["same_for_every_name"] >= 0.6
