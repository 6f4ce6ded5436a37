"""Which words of a data set's multi-word target names find those targets on their own."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from nlp.targets import TargetMatcher
from nlp.training import name_initials, name_words, surname_alone, target_watchlist
from nlp.tuning import Recipe, with_spans


def found(names: list[str], text: str) -> set[str]:
    watchlist = target_watchlist(names)
    by_id = {t.id: t.name for t in watchlist.targets}
    return {by_id[m.target] for m in TargetMatcher(watchlist).mentions(text)}


def test_a_person_is_found_by_first_or_last_name() -> None:
    assert found(["Raka Wibisana"], "Pak Raka datang ke pasar") == {"Raka Wibisana"}
    assert found(["Raka Wibisana"], "#RakaPresiden!") == {"Raka Wibisana"}
    assert name_words(["Raka Wibisana"], "distinct") == {"Raka Wibisana": ("Raka", "Wibisana")}


def test_a_word_saying_what_kind_of_target_finds_none() -> None:
    """ "Partai" and "Rakyat" name no one party: a post about another party is not about this one."""
    assert found(["Partai Karya Rakyat"], "Partai Surya Madani menang, rakyat senang") == set()
    assert found(["Partai Karya Rakyat"], "Karya Rakyat menang") == {"Partai Karya Rakyat"}
    assert name_words(["program makan gratis"], "distinct") == {
        "program makan gratis": ("makan", "gratis", "PMG")
    }


def test_a_common_word_finds_none() -> None:
    """ "Baru" is "new": "Partai Harapan Baru" is found by "Harapan", not by every new thing."""
    assert found(["Partai Harapan Baru"], "Harga baru naik lagi") == set()
    assert found(["Partai Harapan Baru"], "Harapan menang") == {"Partai Harapan Baru"}


def test_a_word_two_names_share_finds_neither() -> None:
    names = ["Wulan Anggita", "Wulan Kartika"]
    assert found(names, "Wulan kalah") == set()
    assert found(names, "Bu Kartika kalah") == {"Wulan Kartika"}


def test_a_one_word_target_keeps_its_mentions_beside_a_longer_name_sharing_it() -> None:
    """With every word, "salt" was an alias of "salt intake" too, and took "salt"'s own mentions."""
    assert found(["salt", "salt intake limit"], "Too much salt is bad") == {"salt"}


def test_the_full_name_always_finds_the_target() -> None:
    assert found(["Partai Karya Rakyat"], "Partai Karya Rakyat menang") == {"Partai Karya Rakyat"}


def test_every_word_is_the_shipped_training() -> None:
    """The shipped artefacts were trained with every word of four letters or more, and a name
    needs two such words for any of them to count."""
    assert name_words(["Partai Karya Rakyat", "Budi Ali"], "every") == {
        "Partai Karya Rakyat": ("Partai", "Karya", "Rakyat"),
        "Budi Ali": (),
    }
    assert name_words(["Budi Ali"], "distinct") == {"Budi Ali": ()}


_WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=9).map(str.capitalize)


def test_a_surname_finds_a_person_whose_given_name_is_short() -> None:
    """ "Brannigan" is how posts name Tom Brannigan; a title or a given name alone stays no name."""
    assert found(["Tom Brannigan"], "Brannigan lost the primary!!!") == {"Tom Brannigan"}
    assert found(["Joe Biden", "Ayu Ningsih"], "Biden and Bu Ningsih") == {"Joe Biden", "Ayu Ningsih"}
    assert found(["Pak Budi"], "Budi kalah") == set()
    assert found(["Budi Ali"], "Budi kalah") == set()
    assert found(["Tom Brannigan", "Liz Brannigan"], "Brannigan lost") == set()
    assert found(["Dr. Lee Hong"], "Hong wins") == set()
    # Not a law, a party's acronym or a common word before a word that names no one.
    assert found(["UU Kesehatan", "PDI Perjuangan", "The Greens"], "kesehatan perjuangan greens") == set()


def test_a_party_or_a_bill_is_found_by_its_initials_in_capitals() -> None:
    names = ["Partai Obor Rakyat", "Forward Union Party", "Tom Brannigan"]
    assert found(names, "Salut sama POR yg berani pecat kadernya") == {"Partai Obor Rakyat"}
    assert found(names, "Election night and FUP is getting wiped out") == {"Forward Union Party"}
    assert found(names, "por favor, FUPs everywhere") == set()  # not in capitals, not the word
    assert name_initials("Tom Brannigan") is None and name_initials("Dewi Putri Rahayu") is None  # people
    assert name_initials("Clean Rivers Act") == "CRA"
    assert name_initials("Partai Persatuan dan Pembangunan") == "PPP"  # as acronyms leave "dan" out
    assert name_initials("Dewan Adat Nasional") is None  # "DAN" is a word first


def test_initials_two_names_share_find_neither() -> None:
    names = ["Partai Akar Bangsa", "Partai Amanat Bangsa"]
    assert found(names, "PAB menang") == set()
    assert all(not any(w.isupper() for w in words) for words in name_words(names, "distinct").values())


def test_training_finds_no_one_by_initials() -> None:
    assert name_words(["Partai Obor Rakyat"], "every") == {"Partai Obor Rakyat": ("Partai", "Obor", "Rakyat")}


def test_the_shipped_training_finds_no_one_by_a_surname_alone() -> None:
    """Training's spans ("every" word) are as the shipped artefact was trained with."""
    names = ["Tom Brannigan", "Benediktus Wea"]
    assert name_words(names, "every") == {"Tom Brannigan": (), "Benediktus Wea": ()}


# A word of a name: random letters, or one saying what kind of thing it is, so that some names
# have initials (`name_initials`).
_NAME_WORD = st.one_of(_WORD, st.sampled_from(["Partai", "Party", "Program", "Act", "Bangsa"]))


@given(
    st.lists(st.lists(_NAME_WORD, min_size=1, max_size=4).map(" ".join), min_size=1, max_size=6, unique=True)
)
def test_distinct_words_are_among_every_word_and_unshared(names: list[str]) -> None:
    every, distinct = name_words(names, "every"), name_words(names, "distinct")
    initials = {name: name_initials(name) for name in names}
    for name in names:
        letters = initials[name]
        words = [w for w in distinct[name] if w != letters]
        if letters in distinct[name]:
            assert list(initials.values()).count(letters) == 1
        surname = surname_alone(name)
        if surname is None:
            assert set(words) <= set(every[name])
        else:
            assert words in ([surname], [])
        for word in words:
            others = [n for n in names if n != name]
            assert all(word.lower() not in (w.lower() for w in other.split()) for other in others)


def test_training_rows_find_mentions_by_the_recipes_words() -> None:
    """`Recipe.name_words` picks the words training's spans are found by: "every" for the shipped
    artefact, so its rebuild is unchanged; "distinct" for a run that tries the eval's watchlist."""
    rows = [
        {"target": "Partai Karya Rakyat", "text": "Partai lain menang, Karya Rakyat kalah", "label": "favor"}
    ]
    (every,) = with_spans(rows, "examples", words="every")
    (distinct,) = with_spans(rows, "examples", words="distinct")
    text = every.text
    assert [text[a:b] for a, b in every.spans] == ["Partai", "Karya Rakyat"]
    assert [text[a:b] for a, b in distinct.spans] == ["Karya Rakyat"]
    assert Recipe().name_words == "every"
