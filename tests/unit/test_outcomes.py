"""Stance read from the author's feeling about a target's outcome (nlp.outcomes): pure logic, no
models."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config.watchlist import Target, Watchlist
from nlp.outcomes import reacted
from nlp.targets import TargetMatcher
from nlp.training import target_watchlist
from nlp.tuning import OUTCOME_EXAMPLES, OUTCOME_REVIEWED
from pantau.domain import Stance

TARGETS: dict[str, tuple[Literal["candidate", "party", "issue"], str, str]] = {
    "raka": ("candidate", "Raka Wibisana", "Raka"),
    "bima": ("candidate", "Bima Hartono", "Bima"),
    "psn": ("party", "Partai Surya Nusantara", "PSN"),
    "ruu": ("issue", "RUU Transportasi Publik", "RUU Transportasi Publik"),
}
MATCHER = TargetMatcher(
    Watchlist(
        targets=tuple(
            Target(id=key, kind=kind, name=name, aliases=(name, short))
            for key, (kind, name, short) in TARGETS.items()
        )
    )
)
FAVOR, AGAINST = Stance.favor, Stance.against


def read(text: str) -> dict[str, Stance]:
    return reacted(text, MATCHER.mentions(text))


@pytest.mark.parametrize(
    ("text", "placed"),
    [
        # The two sentences: the feeling turned by what the outcome does to the target.
        ("Sedih banget Pak Raka kalah, padahal programnya paling bagus.", {"raka": FAVOR}),
        ("Senang Bima akhirnya tersingkir, negara selamat.", {"bima": AGAINST}),
        # A feeling before the outcome, in both languages, good and bad outcomes.
        ("Alhamdulillah Bu Raka terpilih lagi!", {"raka": FAVOR}),
        ("Kecewa berat Pak Bima dapat kursi menteri.", {"bima": AGAINST}),
        ("So glad to see Raka win tonight.", {"raka": FAVOR}),
        ("Heartbroken that Bima was disqualified on a technicality.", {"bima": FAVOR}),
        ("Relieved that Raka won't be governor.", {"raka": AGAINST}),
        ("Nangis baca berita Pak Bima kalah.", {"bima": FAVOR}),
        ("Sedih dan marah, Raka kalah karena politik uang.", {"raka": FAVOR}),
        # The outcome negated turns it.
        ("Cemas Pak Raka gagal lolos, padahal cuma dia yang bela buruh.", {"raka": FAVOR}),
        ("Glad PSN didn't make it past the threshold.", {"psn": AGAINST}),
        ("Alhamdulillah RUU Transportasi Publik gak jadi dibatalkan.", {"ruu": FAVOR}),
        # The feeling negated turns it; "couldn't be happier" is glad.
        ("Gak sedih sama sekali Bima kalah.", {"bima": AGAINST}),
        ("Bima sacked from the ministry, couldn't be happier.", {"bima": AGAINST}),
        # A negated feeling beside what the author feels instead: the latter is read.
        ("Gak sedih Raka kalah. Marah!", {"raka": FAVOR}),
        ("I'm not sad Raka lost, I'm furious.", {"raka": FAVOR}),
        ("Gak sedih sama sekali Bima kalah. Malah lega.", {"bima": AGAINST}),
        # The outcome as a noun.
        ("Kecewa atas kekalahan Pak Raka.", {"raka": FAVOR}),
        ("Thrilled about Bima's defeat.", {"bima": AGAINST}),
        # A feeling in the clause after the outcome, or as the clause before it.
        ("Pak Raka kalah tipis, sedih banget.", {"raka": FAVOR}),
        ("Bima lost. Good riddance.", {"bima": AGAINST}),
        ("Raka resigned and I'm honestly devastated.", {"raka": FAVOR}),
        ("Alhamdulillah! Bu Raka terpilih.", {"raka": FAVOR}),
        # Bills and parties.
        ("Lega RUU Transportasi Publik ditolak.", {"ruu": AGAINST}),
        ("Nyesek RUU Transportasi Publik ditunda lagi.", {"ruu": FAVOR}),
        ("Patah hati PSN menang lagi di dapil gue.", {"psn": AGAINST}),
        # A hope or a dread of an outcome to come, before it.
        ("Semoga Pak Raka menang besok.", {"raka": FAVOR}),
        ("I really hope Bima loses on Sunday.", {"bima": AGAINST}),
        ("Jangan sampai PSN masuk Senayan.", {"psn": AGAINST}),
        # "Finally!" as a clause of its own; a party named by its words.
        ("Finally! RUU Transportasi Publik passed.", {"ruu": FAVOR}),
        ("Puas lihat Partai Surya Nusantara kehilangan separuh kursinya.", {"psn": AGAINST}),
        # Two outcomes joined under one feeling, before or after.
        ("Senang Raka menang, Bima tersingkir.", {"raka": FAVOR, "bima": AGAINST}),
        ("Raka menang, Bima kalah. Lega aku.", {"raka": FAVOR, "bima": AGAINST}),
        # An interjection right after the outcome, a few words of the outcome's own between.
        ("Raka akhirnya dicopot 🎉 alhamdulillah, lega bgt jadi guru.", {"raka": AGAINST}),
        ("Pak Bima divonis 8 tahun 👏 alhamdulillah, rakyat menang!", {"bima": AGAINST}),
        ("Bima kalah. Innalillahi, padahal programnya bagus.", {"bima": FAVOR}),
        # Outcomes of a party or a programme wound up.
        ("PSN resmi bubar. Syukurlah.", {"psn": AGAINST}),
        ("PSN got deregistered over the donation scandal. Good riddance.", {"psn": AGAINST}),
        # A feeling closing a later clause of the outcome's sentence, or the next sentence.
        ("Raka dicopot 🎉 udah lama nunggu kabar ini, lega banget", {"raka": AGAINST}),
        ("Bima kalah di pilkada. Sedih banget 😭", {"bima": FAVOR}),
    ],
)
def test_the_authors_feeling_about_a_targets_outcome_places_it(text: str, placed: dict[str, Stance]) -> None:
    assert read(text) == placed


@pytest.mark.parametrize(
    "text",
    [
        # Plain reports: no feeling.
        "Raka kalah 3 persen menurut hitung cepat.",
        "Results are in: Bima loses the district by 4,000 votes.",
        # A question, asked or rhetorical.
        "Sedih gak sih kalau Raka kalah?",
        "Bima acquitted?? Disgusted.",
        # A condition.
        "Kalau Raka kalah, aku bakal sedih banget.",
        "If Bima loses tomorrow I'll be heartbroken.",
        # Someone else's feeling.
        "Pendukungnya sedih Raka kalah.",
        "His fans are heartbroken that Bima lost.",
        # A feeling about something else.
        "Sedih hujan terus, btw Raka menang.",
        "Capek banget jaga TPS, Bima menang.",
        # Someone beside the target had the outcome.
        "Sedih lawannya Raka menang di dapil ini.",
        "Saingan Raka menang, alhamdulillah.",
        "Lawan Pak Bima didiskualifikasi! Alhamdulillah.",
        # The target did it to someone else.
        "Raka mecat menteri itu, mantap.",
        # Sarcasm: a sad feeling with laughter.
        "Wah sedih banget ya koruptor kesayangan kita Pak Bima kalah 🤣",
        "Aduh sedih sekali RUU Transportasi Publik ditolak 😭😂",
        # The faces of irony, with any feeling.
        "Great, RUU Transportasi Publik delayed again. Love that for us 🙃",
        "Yeay RUU Transportasi Publik ditunda lagi 🎉🙃",
        # A hope after the outcome is about what comes next.
        "Raka gagal lolos. Semoga lima tahun lagi balik.",
        "Selamat ya PSN udah lolos, semoga makin pinter bagi-bagi amplop.",
        # Weighed or mixed.
        "Sedih sih Raka kalah, tapi mungkin memang waktunya ganti pemimpin.",
        "PSN lolos. Gak seneng, gak sedih. Biasa aja.",
        # Feigned, rumoured or quoted.
        "Pura-pura sedih Bima kalah, padahal senang.",
        "Katanya Raka mundur, sedih banget.",
        '"Sedih banget Bima kalah" kata timsesnya.',
        # "won't" is not "won".
        "Bima won't concede tonight, sad.",
        # A later feeling about something else, or the target's own.
        "Raka menang. Males banget besok Senin",
        "Raka kalah. Btw seneng banget nasi padang enak hari ini",
        "Raka kalah. Besok ujian, sedih banget",
        "Raka kalah 😭 besok ujian sedih bgt",
        # An interjection about something else, someone else's, or about the margin or manner.
        "Raka dicopot. Alhamdulillah hari ini gajian",
        "Raka kalah. Alhamdulillah pemilu berjalan damai",
        "Raka kalah, syukurlah bukan karena curang",
        "Raka lost, thank god nobody got hurt at the rally",
        "Raka won. Thank god that's over, no more campaign ads",
        "Raka kalah di Jakarta, alhamdulillah menang di Surabaya",
        "Raka kalah, kubu sebelah teriak alhamdulillah",
        "Raka kalah. Tetangga: alhamdulillah",
        "Raka kalah. Ibu saya bilang innalillahi",
        "Raka kalah mampus gue",
        # A feeling in a later sentence about something else.
        "Raka menang. Tadi pagi ketinggalan kereta. Kesel banget",
        "Raka won. My cat is sick. Heartbroken.",
        "Raka kalah di putaran pertama. Masih ada putaran kedua. Lega banget",
        "Raka dicopot. Ternyata selama ini dia korupsi. Sedih banget",
        # Someone else's feeling in the outcome's own sentence.
        "Raka kalah, pendukungnya: kecewa berat",
        "Raka kalah, timsesnya 😭 sedih bgt",
        "Raka resigned. So happy for him",
        "Raka kalah dan kecewa berat",
        "Raka kalah, kesel, terus nuduh KPU curang",
        "Raka dicopot. Pendukungnya sedih banget",
        # Two outcomes, or feelings of both signs: which feeling answers which is not plain.
        "Raka menang, Bima kalah. Campur aduk, senang dan sedih.",
        "Raka kalah. Lega sih, tapi sedih juga.",
    ],
)
def test_what_is_not_the_authors_own_feeling_about_the_targets_outcome_is_left_out(text: str) -> None:
    assert read(text) == {}


def test_a_name_matched_by_its_words_is_one_mention() -> None:
    """A watchlist built from a data set's names finds "Jangkar Samudra" as two words of one
    target; the rule reads them as one name."""
    watchlist = target_watchlist(["Partai Jangkar Samudra"])
    text = "Gutted that Jangkar Samudra got wiped out in my province."
    mentions = TargetMatcher(watchlist).mentions(text)
    assert len(mentions) == 2
    assert reacted(text, mentions) == {watchlist.targets[0].id: FAVOR}


# An adversarial review's traps, one or two per way the first version read them wrong; each is
# left to the model now.
REVIEW_TRAPS = [
    # The target did it to something else: an English outcome verb with an object.
    "So glad Raka fired the corrupt police chief.",
    "Furious Bima cut school meal funding.",
    "Outraged that Bima fired the whistleblower.",
    "So happy Raka defeated Bima in the debate.",
    "Thrilled Raka kicked off his campaign in Medan.",
    # "gagal", "batal", "mundur" of a plan or a promise.
    "Kecewa berat Raka gagal nepatin janji kampanye.",
    "Lega Raka batal naikin tarif KRL.",
    "Seneng bgt Bima mundur dari rencana penggusuran.",
    # Pride in, or gladness for, the target about a bad outcome.
    "Bangga Pak Raka kalah dengan terhormat.",
    "So proud Raka conceded with grace.",
    "Ikut seneng Pak Raka akhirnya pensiun, bisa istirahat sama cucu.",
    "Happy Raka finally retired, he deserves the rest.",
    # The outcome undone, or what befell was the target's own sanction or case.
    "Senang kekalahan Raka dibatalkan MK.",
    "Glad Bima's win was overturned.",
    "Lega Raka dicabut status tersangkanya.",
    "Alhamdulillah Raka dihentikan penyidikannya.",
    # Nouns and verbs in another sense.
    "So excited for Raka's fall tour.",
    "Thrilled about Raka's defeat of Bima.",
    "Great to see Raka out on the streets.",
    "Sad to hear Raka passed away.",
    "So sad Bima lost his mother.",
    "Hope Raka loses a few kilos before the marathon.",
    "Seneng Raka dapet kursi di KRL, kasian dari tadi berdiri.",
    # Games and contests that share a name.
    "Sedih PSN kalah 0-3 semalam.",
    "Kesel PSN ditahan imbang.",
    "Seneng Bima menang juara umum Porprov NTB.",
    # Sarcasm and retractions.
    "So sad Bima lost lmaooo",
    "sedih bgt bima kalah xixixi",
    "Turut berduka atas kekalahan Bima 🥳🎉",
    "Sedih banget Bima kalah. Ga deng.",
    "Sad Bima lost /s",
    "Senang sekali ya Raka menang, negara auto maju 🤣🤣",
    "So happy Bima won. NOT.",
    # A negated feeling beside one that disagrees with it, or neither felt.
    "Tidak senang, tidak sedih Bima kalah.",
    "Don't feel sad Raka lost, he'll be back stronger.",
    # The feeling is about the margin.
    "Kecewa Bima kalah tipis doang.",
    "Raka lost, thankfully not by much.",
    # A later feeling about something else, or the target's own.
    "Raka kalah. Sedih banget hari ini hujan terus.",
    "Bima kalah dan kecewa berat, langsung walk out.",
    "Raka kalah, kesel, terus nuduh KPU curang.",
    # Annoyed at the target; anger at what an arrested target did.
    "Kesel sama Bima kalah debat malah nyalahin moderator.",
    "Miris, Bima ditangkap KPK karena korupsi.",
    "Disgusted Bima was arrested for taking bribes.",
    # Someone else's words.
    "Jubir PSN: kecewa Raka menang.",
    "So sad Bima lost, says his campaign manager.",
    "Sorry to hear that! Bima won the district btw.",
    # A past feeling; a consolation in a chain; "Finally." without gladness.
    "Sedih waktu Bima menang 2019, sekarang gue pendukung beratnya.",
    "Sedih Pak Raka kalah, PSN lolos parlemen sih, lumayan.",
    "Finally. Bima got re-elected. I give up on this city.",
    # A second review's: headlines and hooks, tears at a win, feelings addressed to others.
    "Innalillahi, PSN Gagal Lolos Parlemen Setelah 20 Tahun",
    "SEDIH! Pak Raka Kalah di TPS Sendiri",
    "Sedih Pak Raka kalah, ungkap seorang relawan.",
    "Nangis liat Pak Raka dilantik jadi gubernur.",
    "Bima kalah. Puas kalian!",
    "Raka resigned. Happy now, haters.",
    # Irony without a face; sarcasm read from what the win will cost; a setback again.
    "Sedih banget Raka kalah, yakali.",
    "Senang sekali Bima menang, siap-siap harga naik semua.",
    "So glad Bima won. Enjoy the next five years of potholes.",
    "Mantap, RUU Transportasi Publik ditunda lagi.",
    # What the target did next; a plan failed again; leaving for a reason; a civic hope.
    "Kecewa Bima kalah malah nyalahin KPU.",
    "Muak Bima gagal lagi nepatin janji.",
    "Glad Raka resigned in protest over the bill.",
    "Raka kalah, ya sudah. Semoga Bima dilantik lancar dan amanah.",
    # A narrow margin; indifference; a rival named by two words; a counterfactual.
    "Syukurlah Raka kalah tipis, masih ada peluang putaran kedua.",
    "Gak sedih Raka kalah, biasa aja.",
    "Lawan politik Raka tumbang, alhamdulillah.",
    "Harusnya Raka menang, kesel banget!",
    # For the target's own sake; a death; "lost 10 kg"; a feeling since reversed.
    "Lega Raka kalah, sekarang beliau bisa istirahat sama keluarga.",
    "Devastated. Pak Raka passed this morning, rest in peace.",
    "So happy Raka lost 10 kg this year.",
    "Seneng banget Bima menang 2019. Sekarang nyesel setengah mati.",
]


@pytest.mark.parametrize("text", REVIEW_TRAPS)
def test_a_review_trap_is_left_to_the_model(text: str) -> None:
    assert read(text) == {}


def test_one_target_placed_both_ways_is_left_out() -> None:
    assert read("Senang Raka menang. Sedih Raka menang.") == {}


def test_no_mentions_no_placement() -> None:
    assert reacted("Sedih banget kalah.", []) == {}


@pytest.mark.parametrize("data", [OUTCOME_EXAMPLES, OUTCOME_REVIEWED], ids=lambda p: p.name)
def test_wherever_the_rule_places_a_labelled_post_it_agrees_with_the_label(data: Path) -> None:
    with data.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    watchlist = target_watchlist(r["target"] for r in rows)
    matcher = TargetMatcher(watchlist)
    ids = {t.name: t.id for t in watchlist.targets}
    placed = [(r, reacted(r["text"], matcher.mentions(r["text"])).get(ids[r["target"]])) for r in rows]
    wrong = [(r["text"], r["label"], p.value) for r, p in placed if p is not None and p.value != r["label"]]
    assert wrong == []
    # It places a good share of the posts with a stance, so it cannot pass by abstaining.
    with_stance = [p for r, p in placed if r["label"] != "none"]
    assert sum(p is not None for p in with_stance) >= 0.4 * len(with_stance)


NAMES = st.sampled_from(["Raka", "Bima", "PSN", "RUU Transportasi Publik"])
WORDS = st.sampled_from(
    [
        "sedih",
        "senang",
        "kalah",
        "menang",
        "tersingkir",
        "lost",
        "won",
        "glad",
        "not",
        "gak",
        ",",
        ".",
        "?",
        "wkwk",
        "tapi",
        "kalau",
        "lawannya",
        "'s",
        "defeat",
        "dan",
        "sad",
        "Pak",
        "🤣",
        "lega",
        "ditolak",
    ]
)


@given(st.lists(st.one_of(NAMES, WORDS, st.text(max_size=6)), max_size=14))
def test_any_text_gives_a_stance_only_to_targets_it_names(words: list[str]) -> None:
    text = " ".join(words)
    mentions = MATCHER.mentions(text)
    placed = reacted(text, mentions)
    assert set(placed) <= {m.target for m in mentions}
    assert set(placed.values()) <= {FAVOR, AGAINST}
