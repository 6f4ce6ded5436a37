"""pantau.hashtags: the key under which spellings of one hashtag are counted together."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pantau.hashtags import fold_hashtag


@pytest.mark.parametrize(
    "variant",
    [
        "#GOPDebate",
        "gopdebate",
        "#gopdebate",
        "#GOPDebates",  # a plural
        "#GOP_Debate",  # underscores
        "#_gop__debate_",
        "##GOPDebate",
        " #GOPDebate ",
        "＃ＧＯＰＤｅｂａｔｅ",  # full-width, as Japanese and Chinese keyboards type it
        "#GOPDébate",  # a diacritic
        "#GOP\u200bDebate",  # a zero-width space
    ],
)
def test_spellings_of_one_tag_share_a_key(variant: str) -> None:
    assert fold_hashtag(variant) == "gopdebate"


@pytest.mark.parametrize(
    ("tag", "key"),
    [
        ("#cbs", "cbs"),  # too short for a plural
        ("#news", "news"),
        ("#boss", "boss"),  # "ss", "us", "is", "as" are seldom plurals
        ("#status", "status"),
        ("#Paris", "paris"),
        ("#BEBAS", "bebas"),  # Indonesian has no "s" plural, but many words in "-as"
        ("#Hamas", "hamas"),
        ("#KPDBocor", "kpdbocor"),
        ("#Pemilu2024", "pemilu2024"),
        ("#covid19s", "covid19s"),  # an "s" after a digit is not a plural
        ("#votes", "vote"),
        ("#Elections", "election"),
        ("#Straße", "strasse"),  # case-folding spells it out; "ss" then keeps its "s"
    ],
)
def test_keys_of_tags_that_end_in_s_or_are_short(tag: str, key: str) -> None:
    assert fold_hashtag(tag) == key


@pytest.mark.parametrize(
    ("tag", "key"),
    [
        ("", ""),
        ("#", ""),
        ("_", ""),
        ("#_#", ""),
        ("s", "s"),
        ("#ab s", "ab s"),  # an "s" after a space is not a plural: taking it would leave a space
        ("#İstanbul", "istanbul"),  # "İ" decomposes to "I" and a dot above, a mark of its own
        ("\ud800", "\ud800"),  # a lone surrogate from a Python caller
    ],
)
def test_odd_input_still_gives_a_key(tag: str, key: str) -> None:
    assert fold_hashtag(tag) == key


def test_different_tags_keep_different_keys() -> None:
    assert fold_hashtag("#GOPDebate") != fold_hashtag("#DemDebate")
    assert fold_hashtag("#tolakRUU") != fold_hashtag("#dukungRUU")


# Characters that each step of folding treats specially, mixed into arbitrary text so that the
# steps meet: signs, separators, the plural "s" and its singular endings, marks, "İ", full width.
tricky_text = st.text(alphabet=st.sampled_from("#_ \t\u200bsSaiuİıßẞé\u0307ＧＳ＃") | st.characters())


@settings(max_examples=2000)
@given(tricky_text)
def test_any_text_gives_a_key_that_folds_to_itself(text: str) -> None:
    key = fold_hashtag(text)
    assert isinstance(key, str)
    assert fold_hashtag(key) == key


@settings(max_examples=500)
@given(st.text(alphabet=st.characters(categories=["L", "N"]), min_size=1), st.sampled_from(["#", "##", " #"]))
def test_signs_and_underscores_do_not_change_the_key(word: str, sign: str) -> None:
    key = fold_hashtag(word)
    assert fold_hashtag(sign + word) == key
    assert fold_hashtag(sign + "_".join(word) + "_") == key
    assert "_" not in key and not key.startswith("#")


@given(st.text(alphabet=st.characters(codec="ascii", categories=["L", "N"]), min_size=1))
def test_case_does_not_change_the_key(word: str) -> None:
    assert fold_hashtag(word.upper()) == fold_hashtag(word.lower()) == fold_hashtag(word)
