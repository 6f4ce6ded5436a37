"""Classification metrics, computed the usual way (macro-F1 = unweighted mean of per-class F1)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def classification_report(
    truth: Sequence[str], predicted: Sequence[str], labels: Sequence[str]
) -> dict[str, Any]:
    """accuracy, macro_f1, per-class precision/recall/F1/support, and the confusion matrix
    (rows: true label, columns: predicted label, both in `labels` order)."""
    if len(truth) != len(predicted):
        raise ValueError(f"{len(truth)} true labels but {len(predicted)} predictions")
    index = {label: i for i, label in enumerate(labels)}
    unknown = sorted({*truth, *predicted} - index.keys())
    if unknown:
        raise ValueError(f"labels {unknown} are not among {list(labels)}")
    confusion = [[0] * len(labels) for _ in labels]
    for t, p in zip(truth, predicted, strict=True):
        confusion[index[t]][index[p]] += 1
    per_class: dict[str, dict[str, float | int]] = {}
    for label, i in index.items():
        tp = confusion[i][i]
        predicted_as = sum(row[i] for row in confusion)
        actual = sum(confusion[i])
        precision = tp / predicted_as if predicted_as else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "support": actual,
        }
    correct = sum(confusion[i][i] for i in range(len(labels)))
    return {
        "n": len(truth),
        "accuracy": round(correct / len(truth), 4) if truth else 0.0,
        "macro_f1": round(sum(float(c["f1"]) for c in per_class.values()) / len(labels), 4),
        "per_class": per_class,
        "labels": list(labels),
        "confusion": confusion,
    }


# Sentiment read as stance: the bar a stance model must clear, since reading stance off the
# post's mood is what a desk would do without one.
SENTIMENT_AS_STANCE = {"positive": "favor", "negative": "against", "neutral": "none"}


def favor_against_f1(report: dict[str, Any]) -> float:
    """SemEval-2016 stance's measure: the mean F1 of favor and against ('none' is not averaged)."""
    per_class = report["per_class"]
    return round((float(per_class["favor"]["f1"]) + float(per_class["against"]["f1"])) / 2, 4)


def beside_sentiment_by_naming(
    truth: Sequence[str],
    stances: Sequence[str],
    read_off: Sequence[str],
    named: Sequence[bool],
    labels: Sequence[str],
) -> dict[str, Any]:
    """The favor/against F1 of the same posts' sentiment read as stance (`read_off`) beside
    stance's, overall and split by whether each post names its target: the service asks stance
    only of the targets a post names, so the split is where the two must be compared."""

    def f1(predicted: Sequence[str], picked: list[int]) -> float:
        return favor_against_f1(
            classification_report([truth[i] for i in picked], [predicted[i] for i in picked], labels)
        )

    def scores(picked: list[int]) -> dict[str, Any]:
        return {
            "n": len(picked),
            "favor_against_f1": f1(stances, picked),
            "read_off_sentiment_favor_against_f1": f1(read_off, picked),
        }

    return {
        "read_off_sentiment_favor_against_f1": f1(read_off, list(range(len(truth)))),
        "naming_target": scores([i for i, n in enumerate(named) if n]),
        "not_naming_target": scores([i for i, n in enumerate(named) if not n]),
    }
