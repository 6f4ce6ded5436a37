"""Stance read from explicit comparisons between targets (nlp.comparisons): pure logic, no models."""

from __future__ import annotations

import csv

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config.watchlist import Target, Watchlist
from nlp.comparisons import compared
from nlp.targets import TargetMatcher
from nlp.tuning import COMPARISON_TEMPLATES
from pantau.domain import Stance

PEOPLE = {
    "raka": ("Raka Wibisana", "Raka"),
    "bima": ("Bima Hartono", "Bima"),
    "sari": ("Sari Lestari", "Sari"),
    "dimas": ("Dimas Prakoso", "Dimas"),
}
MATCHER = TargetMatcher(
    Watchlist(
        targets=tuple(
            Target(id=key, kind="candidate", name=name, aliases=(name, short))
            for key, (name, short) in PEOPLE.items()
        )
    )
)
FAVOR, AGAINST = Stance.favor, Stance.against


def read(text: str) -> dict[str, Stance]:
    return compared(text, MATCHER.mentions(text))


# Sentences in which {a} is favoured over {b}, one per construction the rule reads.
FAVOURING_A = [
    "Pak {a} jauh lebih baik dari Pak {b}, programnya jelas.",
    "{a} lebih jujur dan tegas ketimbang {b}.",
    "{a} lebih pantas jadi gubernur daripada {b}.",
    "{b} lebih korup dibanding {a}.",
    "Mending {a} daripada {b} yang cuma janji.",
    "Saya lebih percaya sama {a} ketimbang {b} soal anggaran.",
    "{b} kalah jauh dibanding {a} soal pengalaman.",
    "{b} gak ada apa-apanya dibanding {a} kalau soal kerja nyata.",
    "{a} is a far better choice than {b}.",
    "{b} is less honest than {a}.",
    "{b} is worse than {a} on every issue that matters.",
    "I'd pick {a} over {b} any day.",
    "{a} outclassed {b} in every exchange.",
    "{b} can't hold a candle to {a} on foreign policy.",
    "{a} > {b} soal puskesmas.",
]


@pytest.mark.parametrize("sentence", FAVOURING_A)
def test_each_construction_favours_one_side_and_opposes_the_other(sentence: str) -> None:
    assert read(sentence.format(a="Raka", b="Bima")) == {"raka": FAVOR, "bima": AGAINST}
    assert read(sentence.format(a="Bima", b="Raka")) == {"bima": FAVOR, "raka": AGAINST}


@given(
    sentence=st.sampled_from(FAVOURING_A),
    names=st.lists(st.sampled_from(sorted(PEOPLE)), min_size=2, max_size=2, unique=True),
    full=st.booleans(),
    prefix=st.sampled_from(["", "Menurut saya, ", "Jujur aja, ", "Honestly, "]),
)
def test_whoever_the_names_and_however_written_the_favoured_one_is_favoured(
    sentence: str, names: list[str], full: bool, prefix: str
) -> None:
    first, second = (PEOPLE[n][0 if full else 1] for n in names)
    assert read(prefix + sentence.format(a=first, b=second)) == {names[0]: FAVOR, names[1]: AGAINST}


@pytest.mark.parametrize(
    ("sentence", "placed"),
    [
        # One side a target: the other is anyone.
        ("Siapa pun lebih baik daripada {b}.", {"bima": AGAINST}),
        ("{a} lebih baik dari calon-calon yang lain.", {"raka": FAVOR}),
        ("Mending golput daripada {b}.", {"bima": AGAINST}),
        ("Anyone would be better than {b}.", {"bima": AGAINST}),
        # Only the target the comparison places: the third name is left to the model.
        ("Mending {a} daripada {b}. Sari juga datang tadi.", {"raka": FAVOR, "bima": AGAINST}),
    ],
)
def test_a_target_on_one_side_is_placed_alone(sentence: str, placed: dict[str, Stance]) -> None:
    assert read(sentence.format(a="Raka", b="Bima")) == placed


@pytest.mark.parametrize(
    "sentence",
    [
        # Negated, asked, sarcastic through a question, or someone else's claim.
        "{a} tidak lebih baik dari {b}.",
        "{a} gak jauh lebih baik dari {b}.",
        "{a} isn't a better choice than {b}.",
        "Siapa yang lebih baik, {a} atau {b}?",
        "{a} lebih jujur dari {b}? Mimpi.",
        "Orang bilang {a} lebih berpengalaman dari {b}. Pengalaman apa? Pengalaman gagal?",
        "People say {a} is a better bet than {b}.",
        # A contest's result, a poll and a fact are not comparisons of merit.
        "Sedih banget {a} kalah dari {b}.",
        "{a} kalah tipis sama {b} di quick count.",
        "{a} unggul atas {b} dalam survei terbaru.",
        "{a} lebih tua tiga tahun dari {b}.",
        "{a} lebih banyak dapat sumbangan daripada {b} bulan ini.",
        # Advice, not praise.
        "{a} lebih baik diam daripada bohong terus.",
        # No comparison at all.
        "{a} dan {b} dijadwalkan debat hari Sabtu.",
        "Dukung terus {a}! Tadi {b} juga hadir.",
    ],
)
def test_what_is_not_an_explicit_comparison_of_the_two_is_left_to_the_model(sentence: str) -> None:
    assert read(sentence.format(a="Raka", b="Bima")) == {}


def test_one_target_on_both_sides_or_placed_both_ways_is_left_out() -> None:
    assert read("Raka Wibisana lebih baik dari Raka yang dulu.") == {}
    assert read("Raka lebih baik dari Bima. Bima lebih baik dari Raka.") == {}


def test_no_mentions_no_placement() -> None:
    assert compared("Mending dia daripada yang lain.", []) == {}


def test_wherever_the_rule_places_a_comparison_template_it_agrees_with_the_templates_labels() -> None:
    """The templates train `--comparison-share`; 12 had their labels the wrong way round until the
    rule's first run over them, which this keeps from happening again unseen."""
    with COMPARISON_TEMPLATES.open(encoding="utf-8") as handle:
        templates = list(csv.DictReader(handle))
    placed = disagreeing = 0
    for template in templates:
        for a, b in (("raka", "bima"), ("bima", "raka")):
            text = template["template"].format(a=PEOPLE[a][1], b=PEOPLE[b][1])
            for person, stance in read(text).items():
                placed += 1
                side = "a" if person == a else "b"
                disagreeing += stance.value != template[side]
    assert placed >= 40
    assert disagreeing == 0
