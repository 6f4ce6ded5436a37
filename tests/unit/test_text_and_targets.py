"""nlp.text and nlp.targets, with the shipped watchlist. No I/O past loading it."""

from __future__ import annotations

import string

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from config.settings import DEFAULT_WATCHLIST
from config.watchlist import Target, Watchlist, load_watchlist
from nlp.targets import MASK, TargetMatcher, _fold_with_offsets, is_acronym, mask_mentions
from nlp.text import STOPWORDS, bare, content_terms, fingerprint, tokens
from pantau.folding import fold, strip_marks

WATCHLIST = load_watchlist(DEFAULT_WATCHLIST)
MATCHER = TargetMatcher(WATCHLIST)


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


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_ascii_text_folds_as_the_full_definition_does(text: str) -> None:
    assert fold(text) == strip_marks(text).casefold()


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


POLITICAL_WORDS = [
    "pemerintah", "presiden", "partai", "menteri", "rakyat", "korupsi", "subsidi", "naik", "kasus",
    "debate", "vote", "election", "government", "bill", "state",
]  # fmt: skip


@pytest.mark.parametrize("word", POLITICAL_WORDS)
def test_words_a_campaign_tracks_stay_terms(word: str) -> None:
    assert content_terms(tokens(f"yang {word.upper()} the")) == (word,)


@pytest.mark.parametrize(
    "word",
    [
        # from the maintained Indonesian and English lists
        "adalah", "bagaimana", "sebuah", "because", "however", "themselves",
        # social-media slang and platform tokens the maintained lists lack
        "yg", "gak", "nggak", "aja", "udah", "bgt", "rt", "amp", "https",
    ],
)  # fmt: skip
def test_stop_words_are_not_terms(word: str) -> None:
    assert content_terms(tokens(f"harga {word} beras")) == ("harga", "beras")


def test_stop_words_are_folded_like_tokens() -> None:
    assert all(word == fold(word) for word in STOPWORDS)
    assert content_terms(tokens("Yáng ADALAH Gák")) == ()


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
        ("#pnm", "partai-nusantara-maju"),
        ("@PNM", "partai-nusantara-maju"),
        ("Bima, Bima, Bima", "bima-hartono"),
        ("Bu Sari", "sari-lestari"),
        ("United People's Party", "partai-rakyat-bersatu"),
        ("subsidi listrik dicabut", "subsidi-listrik"),
    ],
)
def test_matches_aliases(text: str, target: str) -> None:
    assert MATCHER.match(text) == (target,)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("PNM menang lagi", True),
        ("Kader PNM-nya turun", True),
        ("pnm menang lagi", False),  # an acronym alias in a plain word needs its capitals
        ("Pnm menang lagi", False),
        ("#pnm menang", True),  # tags fold as any alias does
        ("#KPDBocor lagi", True),
        ("#PNMMenang", True),
        ("#BeliPnmBaru", False),  # a CamelCase part "Pnm" is a word, not the acronym
        ("#pnm2029", True),  # a lowercase tag says nothing by its case
        ("PNM MENANG LAGI", True),  # a post all in capitals
    ],
)
def test_an_acronym_alias_finds_a_plain_word_only_in_capitals(text: str, found: bool) -> None:
    assert bool(MATCHER.match(text)) is found


def test_an_acronym_alias_written_in_lowercase_too_finds_both() -> None:
    watchlist = Watchlist(
        targets=(Target(id="pks", kind="party", name="Partai Keadilan Sejahtera", aliases=("PKS", "pks")),)
    )
    matcher = TargetMatcher(watchlist)
    assert matcher.match("pks lagi") == ("pks",) and matcher.match("PKS lagi") == ("pks",)
    pan = TargetMatcher(
        Watchlist(targets=(Target(id="pan", kind="party", name="Partai Amanat Nasional", aliases=("PAN",)),))
    )
    assert pan.match("goreng pakai pan anti lengket") == () and pan.match("PAN dukung Raka") == ("pan",)


@pytest.mark.parametrize(
    ("alias", "acronym"),
    [
        ("PNM", True),
        ("HRC", True),
        ("PKS ", True),
        ("Pnm", False),
        ("pnm", False),
        ("P", False),
        ("G20", False),
        ("PDI Perjuangan", False),
        ("TOOLONG", False),
    ],
)
def test_which_aliases_are_acronyms(alias: str, acronym: bool) -> None:
    assert is_acronym(alias) is acronym


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


# -- mentions and masking -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sedih Pák RAKA kalah", [("raka-wibisana", "Pák RAKA")]),
        (
            "Senang Bima tersingkir, @sarilestari juara",
            [("bima-hartono", "Bima"), ("sari-lestari", "@sarilestari")],
        ),
        ("pemerintah Bima gagal https://x.co/Bima", [("bima-hartono", "Bima")]),
        ("Straße? Raka!", [("raka-wibisana", "Raka")]),
        ("#KartuPanganDigital ditunda", [("kartu-pangan-digital", "#KartuPanganDigital")]),
    ],
)
def test_mentions_carry_their_span_in_the_original_text(text: str, expected: list[tuple[str, str]]) -> None:
    assert [(m.target, text[m.start : m.end]) for m in MATCHER.mentions(text)] == expected


@pytest.mark.parametrize(
    ("tag", "targets"),
    [
        ("#RakaBima", ("raka-wibisana", "bima-hartono")),  # CamelCase parts, each a name
        ("#PakRakaDanBuSari", ("raka-wibisana", "sari-lestari")),
        ("#rakawibisana2029", ("raka-wibisana",)),  # a lowercase tag starting with a long alias
        ("#dukungbimahartono", ("bima-hartono",)),  # ... or ending with one
        ("#BimaSakti", ("bima-hartono",)),  # a CamelCase part is a word: 'Bima' names him
    ],
)
def test_a_hashtag_joining_names_names_each(tag: str, targets: tuple[str, ...]) -> None:
    assert MATCHER.match(f"gas {tag} sekarang") == targets
    assert {(m.start, m.end) for m in MATCHER.mentions(f"gas {tag} sekarang")} == {(4, 4 + len(tag))}


def test_a_handle_names_only_the_account_it_is() -> None:
    assert MATCHER.match("@bimasakti_official @rakapedia") == ()


def test_masking_replaces_each_mention_once() -> None:
    text = "Senang Bima tersingkir, #RakaBima @sarilestari juara"
    assert mask_mentions(text, MATCHER.mentions(text)) == f"Senang {MASK} tersingkir, {MASK} {MASK} juara"
    assert mask_mentions("tanpa nama", MATCHER.mentions("tanpa nama")) == "tanpa nama"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=120), st.sampled_from(["Pak Raka", "#SariLestari", "PNM", "Bima Hartono"]))
def test_masked_text_names_no_target_and_keeps_the_rest(noise: str, alias: str) -> None:
    text = f"{noise} {alias} {noise}"
    mentions = MATCHER.mentions(text)
    masked = mask_mentions(text, mentions)
    assert MATCHER.match(masked) == ()
    assert all(0 <= m.start < m.end <= len(text) for m in mentions)
    assert len(masked) <= len(text)


def fold_char_by_char(text: str) -> tuple[str, list[int]]:
    """The definition the matcher's folding must keep: each character folded as `fold` folds text,
    and every folded character pointing back at its original."""
    out, origin = [], []
    for index, char in enumerate(text):
        out.append(fold(char))
        origin.extend([index] * len(fold(char)))
    return "".join(out), origin


@given(st.one_of(st.text(), st.text(alphabet=st.characters(max_codepoint=127))))
@example("Pak RAKA di Medan #SariLestari")  # ASCII: the fast path
@example("Straße İstanbul Pák ÁNIES ﬁ")  # expansions and marks: the slow path
def test_folding_with_offsets_is_the_char_by_char_definition(text: str) -> None:
    assert _fold_with_offsets(text) == fold_char_by_char(text)
