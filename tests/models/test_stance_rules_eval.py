"""`pantau eval comparisons` on the shipped default: posts naming two targets, most of
them comparisons, through the classifier as the pipeline runs it, beside the models alone."""

from __future__ import annotations

from config.settings import Settings
from nlp.models import build_classifier
from nlp.training import STANCE_COLUMNS, read_labelled, target_watchlist
from nlp.tuning import STANCE_EXAMPLES_PAIRS, evaluate_comparisons


def test_the_comparisons_read_by_rule_are_right_and_lift_the_models(model_settings: Settings) -> None:
    targets = target_watchlist(r["target"] for r in read_labelled(STANCE_EXAMPLES_PAIRS, STANCE_COLUMNS))
    figures = evaluate_comparisons(build_classifier(model_settings, targets))
    assert {"accuracy", "macro_f1", "per_class", "confusion", "posts_per_s", "model"} <= set(figures)
    assert figures["n"] == sum(map(sum, figures["confusion"]))
    rule = figures["rule"]
    assert rule["placed"] >= 10 and rule["placed_accuracy"] >= 0.9, rule
    # The rule only replaces the models' stance where it places one, and is right there.
    assert figures["accuracy"] > figures["models_alone"]["accuracy"]
    assert figures["accuracy"] > figures["read_off_sentiment"]["accuracy"]
