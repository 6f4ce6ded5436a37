"""`pantau eval comparisons` and `pantau eval outcomes` on their shipped defaults: posts naming two
targets (most of them comparisons) and posts reacting to a target's outcome, through the classifier
as the pipeline runs it, beside the models alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import Settings
from nlp.models import build_classifier
from nlp.training import STANCE_COLUMNS, read_labelled, target_watchlist
from nlp.tuning import OUTCOME_EXAMPLES, OUTCOME_REVIEWED, STANCE_EXAMPLES_PAIRS, evaluate_stance_rule


@pytest.mark.parametrize(
    ("rule", "data", "least_placed"),
    [
        ("comparisons", STANCE_EXAMPLES_PAIRS, 10),
        ("outcomes", OUTCOME_EXAMPLES, 100),
        ("outcomes", OUTCOME_REVIEWED, 150),
    ],
    ids=["comparisons", "outcomes", "outcomes reviewed"],
)
def test_the_stances_read_by_rule_are_right_and_lift_the_models(
    model_settings: Settings, rule: str, data: Path, least_placed: int
) -> None:
    targets = target_watchlist(r["target"] for r in read_labelled(data, STANCE_COLUMNS))
    figures = evaluate_stance_rule(build_classifier(model_settings, targets), data, rule)
    assert figures["task"] == rule
    assert {"accuracy", "macro_f1", "per_class", "confusion", "posts_per_s", "model"} <= set(figures)
    assert figures["n"] == sum(map(sum, figures["confusion"]))
    placed = figures["rule"]
    assert placed["placed"] >= least_placed and placed["placed_accuracy"] >= 0.9, placed
    # The rule only replaces the models' stance where it places one, and is right there.
    assert figures["accuracy"] > figures["models_alone"]["accuracy"]
    assert figures["accuracy"] > figures["read_off_sentiment"]["accuracy"]
