"""The classifier interface every enrichment model implements, and the skeleton's lexicon model.

`classify` takes a batch and is called from an executor thread, never on the event loop, so a
model may take its time; it must return one `Enrichment` per post, in order, for any text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from config.watchlist import Watchlist
from nlp.targets import TargetMatcher
from nlp.text import STOPWORDS_EN, STOPWORDS_ID, bare, content_terms, fingerprint, tokens
from pantau.domain import Enrichment, Post, Sentiment, Stance, TargetStance


class Classifier(Protocol):
    name: str

    def classify(self, posts: Sequence[Post]) -> list[Enrichment]: ...


# A small hand-made lexicon: enough to drive the pipeline and the demo. The transformer models that
# replace it plug in behind the same `Classifier` interface.
POSITIVE = frozenset(
    [
        "bagus",
        "hebat",
        "mantap",
        "keren",
        "setuju",
        "dukung",
        "mendukung",
        "bangga",
        "senang",
        "puas",
        "sukses",
        "berhasil",
        "terbaik",
        "peduli",
        "jujur",
        "amanah",
        "tegas",
        "cerdas",
        "solusi",
        "nyata",
        "maju",
        "semangat",
        "terima",
        "kasih",
        "top",
        "juara",
        "menang",
        "good",
        "great",
        "excellent",
        "support",
        "proud",
        "happy",
        "win",
        "best",
        "honest",
        "love",
        "strong",
        "impressive",
        "success",
    ]
)
NEGATIVE = frozenset(
    [
        "buruk",
        "jelek",
        "gagal",
        "bohong",
        "korupsi",
        "bocor",
        "kecewa",
        "marah",
        "tolak",
        "menolak",
        "curang",
        "malu",
        "parah",
        "hancur",
        "rugi",
        "bohongi",
        "payah",
        "mundur",
        "lambat",
        "mahal",
        "zalim",
        "tipu",
        "skandal",
        "bodoh",
        "kacau",
        "takut",
        "sedih",
        "bad",
        "fail",
        "failed",
        "lie",
        "liar",
        "corrupt",
        "corruption",
        "leak",
        "leaked",
        "angry",
        "reject",
        "shame",
        "scandal",
        "worst",
        "terrible",
        "awful",
        "disappointed",
        "fraud",
        "chaos",
        "mess",
        "scam",
    ]
)
NEGATORS = frozenset(["tidak", "gak", "nggak", "ga", "bukan", "tak", "belum", "not", "no", "never"])


class LexiconClassifier:
    """Counts sentiment words (with a one-word negation window); stance follows sentiment."""

    name = "lexicon-v1"

    def __init__(self, watchlist: Watchlist) -> None:
        self._matcher = TargetMatcher(watchlist)

    def classify(self, posts: Sequence[Post]) -> list[Enrichment]:
        return [self._one(post) for post in posts]

    def _one(self, post: Post) -> Enrichment:
        words = tokens(post.text)
        plain = [bare(w) for w in words]
        score = 0
        for i, word in enumerate(plain):
            polarity = (word in POSITIVE) - (word in NEGATIVE)
            if polarity and i > 0 and plain[i - 1] in NEGATORS:
                polarity = -polarity
            score += polarity
        sentiment = (
            Sentiment.positive if score > 0 else Sentiment.negative if score < 0 else Sentiment.neutral
        )
        confidence = min(1.0, 0.5 + 0.15 * abs(score)) if score else 0.5
        stance = {Sentiment.positive: Stance.favor, Sentiment.negative: Stance.against}.get(
            sentiment, Stance.none
        )
        targets = tuple(
            TargetStance(target=t, stance=stance, score=confidence) for t in self._matcher.match(post.text)
        )
        return Enrichment(
            lang=post.lang or guess_language(plain),
            sentiment=sentiment,
            sentiment_score=confidence,
            targets=targets,
            terms=content_terms(words),
            fingerprint=fingerprint(post.text),
            model=self.name,
        )


def guess_language(words: Sequence[str]) -> str:
    """'id', 'en' or 'und' by stop-word counts (the real classifier uses a language-id library)."""
    indonesian = sum(w in STOPWORDS_ID for w in words)
    english = sum(w in STOPWORDS_EN for w in words)
    if indonesian == english:
        return "und"
    return "id" if indonesian > english else "en"
