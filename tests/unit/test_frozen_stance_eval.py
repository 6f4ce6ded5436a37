"""`pantau eval stance` on the frozen encoder and its heads: the stance report, and the same posts'
sentiment read as stance beside it, as the fine-tuned path reports."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from nlp.training import evaluate_stance
from pantau.domain import Sentiment, Stance

ROWS = [
    # target, text, label: stance and mood agree on the first two, part on the next two.
    ("Raka Wibisana", "Pak Raka bagus sekali", "favor"),
    ("Raka Wibisana", "Pak Raka buruk sekali", "against"),
    ("Raka Wibisana", "Sedih Pak Raka kalah, padahal bagus", "favor"),
    ("Raka Wibisana", "Senang Pak Raka kalah, dia buruk", "against"),
    ("Raka Wibisana", "harga beras bagus turun", "none"),
    ("Raka Wibisana", "jalan rusak buruk", "against"),
]


class WordEncoder:
    """One dimension per word the fakes read, so each fake sees what the text says."""

    name = "words"
    max_tokens = 64
    words = ("bagus", "buruk", "sedih", "senang")

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        return np.array(
            [[float(w in t.lower().split() or w + "," in t.lower()) for w in self.words] for t in texts],
            dtype=np.float32,
        )


class MoodSentiment:
    """Reads the mood word: 'sedih' or 'buruk' negative, 'senang' or 'bagus' positive."""

    name = "mood"

    def predict(
        self, texts: Sequence[str], embeddings: npt.NDArray[np.float32]
    ) -> list[tuple[Sentiment, float]]:
        out = []
        for bagus, buruk, sedih, senang in embeddings:
            if sedih or (buruk and not senang):
                out.append((Sentiment.negative, 0.9))
            elif senang or bagus:
                out.append((Sentiment.positive, 0.9))
            else:
                out.append((Sentiment.neutral, 0.9))
        return out


class OutcomeStance:
    """Knows that sad-that-he-lost favours him: right on every row that names its target."""

    name = "outcome"

    def predict(
        self, texts: Sequence[str], embeddings: npt.NDArray[np.float32], targets: Sequence[Sequence[str]]
    ) -> list[list[tuple[Stance, float]]]:
        out = []
        for text in texts:
            if "sedih" in text.lower() or ("bagus" in text and "senang" not in text.lower()):
                stance = Stance.favor
            elif "buruk" in text or "senang" in text.lower():
                stance = Stance.against
            else:
                stance = Stance.none
            out.append([(stance, 0.9)])
        return out


def write(tmp_path: Path) -> Path:
    path = tmp_path / "stance.csv"
    lines = ["target,text,label", *(f'{t},"{x}",{label}' for t, x, label in ROWS)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_stance_is_scored_beside_the_sentiment_read_off_and_split_by_naming(tmp_path: Path) -> None:
    report = evaluate_stance(
        WordEncoder(),  # type: ignore[arg-type]
        OutcomeStance(),
        write(tmp_path),
        sentiment=MoodSentiment(),
    )
    assert report["rows_naming_target"] == 4
    # Stance reads every row right but 'harga beras bagus turun' (favor for none); sentiment
    # misreads both outcome posts.
    assert report["favor_against_f1"] > report["read_off_sentiment_favor_against_f1"]
    naming, not_naming = report["naming_target"], report["not_naming_target"]
    assert (naming["n"], not_naming["n"]) == (4, 2)
    assert naming["favor_against_f1"] == 1.0
    assert naming["read_off_sentiment_favor_against_f1"] == 0.5
    assert not_naming["read_off_sentiment_favor_against_f1"] == not_naming["favor_against_f1"]
    for key in ("accuracy", "macro_f1", "per_class", "confusion", "posts_per_s", "model"):
        assert key in report


def test_without_a_sentiment_model_the_report_keeps_its_shape(tmp_path: Path) -> None:
    report = evaluate_stance(WordEncoder(), OutcomeStance(), write(tmp_path))  # type: ignore[arg-type]
    assert "read_off_sentiment_favor_against_f1" not in report
    assert report["favor_against_f1"] < 1.0
    assert report["confusion"][0][0] == 2  # favor rows, both read as favor
