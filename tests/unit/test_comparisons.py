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


# An adversarial review's sentences the first rule placed wrongly (a stance, or the opposite one):
# sarcasm after the comparison, claims and quotes, polls and counts, conditions, questions without a
# question mark, obligations, past beliefs, a negation further back, "nobody is better than X".
REVIEWED = [
    "{a} lebih jujur dari {b}, kata buzzernya.",
    "{a} lebih jujur dari {b}. Ngimpi.",
    "{a} lebih merakyat daripada {b}, mimpi kali ye",
    "{a} lebih jujur dari {b}, pret",
    "{a} lbh baik dr {b}, tp boong",
    "Halah, {a} lebih bersih dari {b} cuma di baliho",
    "{a} lebih hebat dari {b} soal ngibul",
    "{a} lebih baik dari {b} dalam hal pencitraan doang",
    "{a} lebih cocok jadi pelawak daripada presiden",
    "{b} lebih pantas jadi tersangka daripada capres",
    "{a} lebih jujur dibanding {b}, said no one ever",
    "Apa iya {a} lebih baik dari {b}",
    "Emang {a} lebih jujur dari {b}",
    "Sejak kapan {a} lebih jujur dari {b}",
    "Dari mana {a} lebih baik dari {b}",
    "Kalau {a} lebih baik dari {b}, kenapa elektabilitasnya jeblok terus",
    "Seandainya {a} lebih tegas dari {b}, gue pasti pilih dia",
    "Biar {a} kelihatan lebih baik dari {b}, buzzernya kerja lembur",
    "{a} dulu lebih baik dari {b}, sekarang sama aja",
    "Dulu gue kira {a} lebih baik dari {b}, ternyata salah besar",
    "{a} sebaiknya lebih tegas dari {b} kalau mau menang",
    "{a} harus lebih berani dari {b} di debat nanti",
    "{b} lebih baik jadi oposisi daripada gabung {a}",
    "Bukan berarti {a} lebih baik dari {b} ya",
    "Gue gak yakin sih kalau {a} lebih baik dari {b}",
    "Jangan percaya {a} lebih baik dari {b}",
    "Ceunah {a} lebih baik dari {b}",
    "Ngakunya {a} lebih bersih dari {b}",
    "Diklaim lebih jujur dari {b}, {a} ternyata punya rekening gendut",
    "{a}: 'Saya lebih berpengalaman dari {b}'",
    "Menurut {a}, {b} lebih berbahaya dari virus",
    "Pengamat: {a} lebih matang dibanding {b}",
    '"{a} lebih baik dari {b}" - buzzer 2029',
    "Narasi {a} lebih bersih dari {b} itu hoax",
    "Menurut survei LSI, {a} lebih dipercaya daripada {b}",
    "Elektabilitas {a} lebih baik dari {b} di survei Indikator",
    "{a} kalah jauh dibanding {b} di quick count",
    "Sayang banget {a} kalah jauh dibanding {b} di survei",
    "{a} is a better choice than {b}. Not.",
    "If {a} is better than {b}, why is he losing every poll",
    "{a} had better be more honest than {b} this time",
    "{a} is stronger than ever in the polls",
    "Polls show {a} is more electable than {b}",
    "{b} supporters think he's better than {a} lol",
    "Imagine thinking {b} is more competent than {a}",
    "{a} is better than {b}... in your dreams",
    "{a} is a better choice than {b}, according to the editorial board",
    "{a} is better than {b} at lying",
    "Sure, {a} is more honest than {b}. And I'm the Pope.",
    "I don't think {a} is better than {b}",
    "Nobody thinks {a} is better than {b}",
    "How is {a} better than {b} lmao",
    "Explain to me how {b} is more qualified than {a}",
    "{a} polled better than {b} among young voters",
    "{a} fared worse than {b} in Java",
    "Susah cari calon yang lebih jujur dari {a}.",
    "Belum ada capres yang lebih bersih daripada {a}.",
    "Nobody is more corrupt than {b}.",
    "Who's better than {a}, honestly.",
    # A second, independent review (its 200 posts were measured before these were mended).
    "My uncle keeps saying {a} is better than {b}. I've stopped arguing.",
    "Neither {a} nor {b} is better than the other, both are trash",
    "Gw gatau {a} lebih baik dari {b} atau engga, yg jelas dua2nya lebih baik dari calon periode lalu",
    "Narasi '{a} lebih baik dari {b}' itu cuma framing media",
]


@pytest.mark.parametrize("sentence", REVIEWED)
def test_a_comparison_the_author_does_not_assert_is_left_to_the_model(sentence: str) -> None:
    assert read(sentence.format(a="Raka", b="Bima")) == {}
    assert read(sentence.format(a="Bima", b="Raka")) == {}


def test_a_comparison_stressed_with_yang_is_still_read() -> None:
    # "yang" before the comparative is "the one who", not "(no one) who".
    assert read("Pak Raka yang jauh lebih baik dari Bima.") == {"raka": FAVOR, "bima": AGAINST}


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
