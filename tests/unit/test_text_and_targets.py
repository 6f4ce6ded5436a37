"""nlp.text, nlp.targets and the lexicon classifier, with the shipped watchlist. No I/O past loading it."""

from __future__ import annotations

import string
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config.settings import DEFAULT_WATCHLIST
from config.watchlist import Watchlist, load_watchlist
from nlp.classifier import LexiconClassifier, guess_language
from nlp.targets import TargetMatcher
from nlp.text import bare, content_terms, fingerprint, fold, tokens
from pantau.domain import Post, Sentiment, Stance

WATCHLIST = load_watchlist(DEFAULT_WATCHLIST)
MATCHER = TargetMatcher(WATCHLIST)
WHEN = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def post(text: str, *, n: int = 1, lang: str = "") -> Post:
    return Post(
        id=f"x:{n}",
        platform="x",
        native_id=str(n),
        author_id="a",
        author_handle="a",
        text=text,
        lang=lang,
        created_at=WHEN,
        received_at=WHEN,
    )


# -- text -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "folded"),
    [("Pák ÁNIES", "pak anies"), ("ÇÉÑÜ", "cenu"), ("Straße", "strasse"), ("ﬁle", "file"), ("abc", "abc")],
)
def test_fold_removes_case_and_diacritics(text: str, folded: str) -> None:
    assert fold(text) == folded


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_fold_is_idempotent_and_has_no_combining_marks(text: str) -> None:
    folded = fold(text)
    assert fold(folded) == folded
    assert folded == folded.casefold()


def test_tokens_keep_signs_and_drop_links() -> None:
    assert tokens("Halo #Pemilu @Raka https://x.y/z?a=1, lihat!  BERAS") == [
        "halo",
        "#pemilu",
        "@raka",
        "lihat",
        "beras",
    ]
    assert [bare(t) for t in tokens("#A @b c")] == ["a", "b", "c"]


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_tokens_are_folded_words(text: str) -> None:
    for token in tokens(text):
        assert token
        assert token == fold(token)
        assert bare(token)
        assert not any(ch.isspace() for ch in token)


@pytest.mark.parametrize(
    "copy",
    [
        "harga beras naik lagi #Pemilu",
        "HARGA Beras NAIK lagi #pemilu",
        "  harga   beras\nnaik\tlagi   #Pemilu  ",
        "harga beras naik lagi #Pemilu https://t.co/abc",
        "https://a.example/x harga beras naik lagi #Pemilu",
        "hárga béras naik lagí #Pemilu",
        "harga beras naik lagi Pemilu",
    ],
)
def test_fingerprint_equal_for_copies(copy: str) -> None:
    assert fingerprint(copy) == fingerprint("harga beras naik lagi #Pemilu")


@pytest.mark.parametrize(
    "other", ["harga beras turun lagi #Pemilu", "harga beras naik #Pemilu", "lagi naik beras harga #Pemilu"]
)
def test_fingerprint_differs_for_different_words(other: str) -> None:
    assert fingerprint(other) != fingerprint("harga beras naik lagi #Pemilu")


words = st.lists(st.text(alphabet=string.ascii_letters, min_size=1, max_size=8), min_size=1, max_size=8)


@settings(max_examples=200, deadline=None)
@given(words, st.sampled_from([" ", "  ", "\n", "\t "]))
def test_fingerprint_ignores_case_and_spacing(ws: list[str], sep: str) -> None:
    text = " ".join(ws)
    assert fingerprint(sep.join(w.upper() for w in ws)) == fingerprint(text)
    assert fingerprint(f"{text} https://example.com/{len(ws)}") == fingerprint(text)


@settings(max_examples=200, deadline=None)
@given(words, words)
def test_fingerprint_differs_when_the_folded_words_differ(a: list[str], b: list[str]) -> None:
    if [w.lower() for w in a] != [w.lower() for w in b]:
        assert fingerprint(" ".join(a)) != fingerprint(" ".join(b))


def test_content_terms() -> None:
    assert content_terms(tokens("yang #Pemilu @raka 2024 harga beras naik naik ok the")) == (
        "#pemilu",
        "harga",
        "beras",
        "naik",
    )


# -- targets --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("Pak Raka datang", "raka-wibisana"),
        ("#RakaWibisana", "raka-wibisana"),
        ("@rakawibisana kapan ke Medan?", "raka-wibisana"),
        ("RAKA WIBISANA!!", "raka-wibisana"),
        ("Rákà", "raka-wibisana"),
        ("#PakRaka", "raka-wibisana"),
        ("Kartu Pangan Digital gagal", "kartu-pangan-digital"),
        ("the digital food card is late", "kartu-pangan-digital"),
        ("#KartuPanganDigital", "kartu-pangan-digital"),
        ("PNM menang", "partai-nusantara-maju"),
        ("pnm", "partai-nusantara-maju"),
        ("Bima, Bima, Bima", "bima-hartono"),
        ("Bu Sari", "sari-lestari"),
        ("United People's Party", "partai-rakyat-bersatu"),
        ("subsidi listrik dicabut", "subsidi-listrik"),
    ],
)
def test_matches_aliases(text: str, target: str) -> None:
    assert MATCHER.match(text) == (target,)


@pytest.mark.parametrize(
    "text",
    [
        "Bimasakti galaxy",
        "sarinah mall",
        "Sari Roti",  # 'Sari' alone is no alias of Sari Lestari
        "rakaat sholat",
        "PNMX",
        "kartu sim digital",
        "food card",
        "#Bimasakti",
        "@sarinah",
        "",
        "   ",
    ],
)
def test_does_not_match_inside_other_words(text: str) -> None:
    assert MATCHER.match(text) == ()


def test_order_of_first_mention_each_once() -> None:
    text = "Bu Sari dan Pak Raka soal PNM; Raka lagi, #SariLestari lagi, PNM lagi"
    assert MATCHER.match(text) == ("sari-lestari", "raka-wibisana", "partai-nusantara-maju")


def test_longest_alias_wins_at_a_position() -> None:
    custom = Watchlist.model_validate(
        {
            "targets": [
                {"id": "short", "kind": "issue", "name": "harga"},
                {"id": "long", "kind": "issue", "name": "harga beras"},
            ]
        }
    )
    matcher = TargetMatcher(custom)
    assert matcher.match("harga beras naik") == ("long",)
    assert matcher.match("harga minyak naik") == ("short",)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_match_results_are_unique_known_ids(text: str) -> None:
    found = MATCHER.match(text)
    assert len(found) == len(set(found))
    assert all(WATCHLIST.get(t) is not None for t in found)
    assert MATCHER.match(text.upper().lower()) == MATCHER.match(text.lower())


# -- classifier -----------------------------------------------------------------------------------

CLASSIFIER = LexiconClassifier(WATCHLIST)


def test_one_enrichment_per_post_in_order() -> None:
    posts = [post("Pak Raka hebat", n=1), post("PNM gagal total", n=2), post("cuaca cerah", n=3)]
    result = CLASSIFIER.classify(posts)
    assert len(result) == 3
    assert [e.targets[0].target if e.targets else "" for e in result] == [
        "raka-wibisana",
        "partai-nusantara-maju",
        "",
    ]
    assert [e.sentiment for e in result] == [Sentiment.positive, Sentiment.negative, Sentiment.neutral]
    assert all(e.model == "lexicon-v1" for e in result)
    assert [e.fingerprint for e in result] == [fingerprint(p.text) for p in posts]
    assert CLASSIFIER.classify([]) == []


@pytest.mark.parametrize(
    ("text", "sentiment"),
    [
        ("bagus", Sentiment.positive),
        ("tidak bagus", Sentiment.negative),
        ("gak bagus", Sentiment.negative),
        ("bukan gagal", Sentiment.positive),
        ("not good", Sentiment.negative),
        ("tidak ada yang bagus", Sentiment.positive),  # the window is one word
        ("bagus tapi gagal", Sentiment.neutral),
    ],
)
def test_negation_flips_one_word(text: str, sentiment: Sentiment) -> None:
    assert CLASSIFIER.classify([post(text)])[0].sentiment == sentiment


def test_stance_follows_sentiment_for_each_target() -> None:
    (e,) = CLASSIFIER.classify([post("Pak Raka dan Bu Sari korupsi, gagal, bohong")])
    assert e.sentiment == Sentiment.negative
    assert [(t.target, t.stance) for t in e.targets] == [
        ("raka-wibisana", Stance.against),
        ("sari-lestari", Stance.against),
    ]
    assert all(t.score == e.sentiment_score for t in e.targets)
    assert e.sentiment_score > 0.5


def test_no_target_gives_empty_targets() -> None:
    (e,) = CLASSIFIER.classify([post("harga beras naik, mantap")])
    assert e.targets == ()
    assert e.sentiment == Sentiment.positive


@pytest.mark.parametrize("text", ["", "   ", "😀🔥🇮🇩", "\n\t", "#", "@", "https://x.y/z"])
def test_degenerate_texts_give_a_neutral_result(text: str) -> None:
    (e,) = CLASSIFIER.classify([post(text)])
    assert e.sentiment == Sentiment.neutral
    assert e.sentiment_score == 0.5
    assert e.targets == ()
    assert e.lang == "und"


def test_huge_text_is_classified() -> None:
    text = ("Pak Raka hebat dan bagus sekali " * 3300)[:100_000]
    (e,) = CLASSIFIER.classify([post(text)])
    assert e.sentiment == Sentiment.positive
    assert e.sentiment_score == 1.0
    assert [t.target for t in e.targets] == ["raka-wibisana"]


def test_language_hint_wins_over_guess() -> None:
    (hinted, guessed_id, guessed_en) = CLASSIFIER.classify(
        [post("yang dan di", lang="en"), post("yang dan di ini itu", n=2), post("the and of this that", n=3)]
    )
    assert (hinted.lang, guessed_id.lang, guessed_en.lang) == ("en", "id", "en")
    assert guess_language([]) == "und"


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=100), max_size=5))
def test_classifier_defined_for_any_text(texts: list[str]) -> None:
    result = CLASSIFIER.classify([post(t, n=i) for i, t in enumerate(texts)])
    assert len(result) == len(texts)
    for text, e in zip(texts, result, strict=True):
        assert 0.5 <= e.sentiment_score <= 1.0
        assert [t.target for t in e.targets] == list(MATCHER.match(text))
