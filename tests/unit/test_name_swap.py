"""Training's name swap: a person target renamed in the text and as the target, so stance is
learnt from what a post says of a name and not from the name."""

from __future__ import annotations

import random

import numpy as np
import numpy.typing as npt
from hypothesis import example, given
from hypothesis import strategies as st

from nlp.tuned import STANCE_ORDER
from nlp.tuning import (
    PROBE_NAMES,
    SWAP_FIRST,
    SWAP_LAST,
    StanceRow,
    is_person_target,
    name_probe_figures,
    swap_name,
    with_spans,
)


def row(target: str, text: str, source: str = "examples", label: str = "favor") -> StanceRow:
    (found,) = with_spans([{"target": target, "text": text, "label": label}], source)
    return found


def test_each_mention_gets_the_new_name_or_the_word_of_it_that_was_used() -> None:
    before = row("Dimas Prakoso", "Pak Dimas jauh lebih baik dari Bu Wulan. Dimas Prakoso pilihan kami!")
    after = swap_name(before, random.Random(3))
    first, last = after.target.split()
    assert first in SWAP_FIRST and last in SWAP_LAST
    assert after.text == f"Pak {first} jauh lebih baik dari Bu Wulan. {first} {last} pilihan kami!"
    assert [after.text[s:e] for s, e in after.spans] == [first, f"{first} {last}"]
    assert (after.label, after.source) == (before.label, before.source)


def test_only_the_name_inside_a_hashtag_or_handle_changes() -> None:
    before = row("hillary", "@HillaryClinton lies again #StopHillary2016 #WakeUp", source="tweeteval")
    after = swap_name(before, random.Random(5))
    first, last = after.target.split()
    assert after.text == f"@{first}{last} lies again #Stop{first}2016 #WakeUp"


def test_person_targets_are_the_hand_written_sets_names_and_hillary_not_parties_or_programmes() -> None:
    assert is_person_target(row("Sari Lestari", "Bu Sari hebat"))
    assert is_person_target(row("hillary", "Hillary again", source="tweeteval"))
    assert is_person_target(row("Laras Kinanti", "Sedih Bu Laras kalah", source="outcomes"))
    assert is_person_target(row("Yanti Kusnadi", "Bu Yanti, kami kecewa", source="political"))
    assert not is_person_target(row("RUU Harga Pangan Wajar", "RUU Harga Pangan Wajar", source="political"))
    assert not is_person_target(row("Partai Nusantara Maju", "Partai Nusantara Maju menang"))
    assert not is_person_target(row("program makan gratis", "program makan gratis bagus"))
    assert not is_person_target(row("abortion", "abortion is", source="tweeteval"))
    assert not is_person_target(row("Budi Santoso", "Budi Santoso", source="vast"))


words = st.text(alphabet="abcdefghij ,.!", max_size=30)


@given(before=words, between=words, after=words, seed=st.integers(0, 1000))
@example(before="", between="", after="", seed=0)
def test_the_text_around_the_mentions_is_kept(before: str, between: str, after: str, seed: int) -> None:
    text = f"{before} Raka Wibisana {between} Pak Raka {after}"
    original = row("Raka Wibisana", text)
    swapped = swap_name(original, random.Random(seed))
    assert len(swapped.spans) == len(original.spans) == 2

    def outside(r: StanceRow) -> list[str]:
        edges = [0, *[i for span in r.spans for i in span], len(r.text)]
        return [r.text[edges[i] : edges[i + 1]] for i in range(0, len(edges), 2)]

    assert outside(swapped) == outside(original)


def test_the_name_probes_reward_a_stance_read_from_the_post_not_from_the_name() -> None:
    def truth(rows: list[StanceRow]) -> npt.NDArray[np.float32]:
        return np.eye(len(STANCE_ORDER), dtype=np.float32)[[r.label for r in rows]]

    def by_name(rows: list[StanceRow]) -> npt.NDArray[np.float32]:
        # "against" for the first names, "favor" for the rest, whatever the post says
        picks = [1 if PROBE_NAMES.index(r.target) < 4 else 0 for r in rows]
        return np.eye(len(STANCE_ORDER), dtype=np.float32)[picks]

    right = name_probe_figures(truth)  # type: ignore[arg-type]
    assert right["accuracy"] == 1.0 and right["same_for_every_name"] == 1.0
    assert set(right["by_name_accuracy"]) == set(PROBE_NAMES)
    wrong = name_probe_figures(by_name)  # type: ignore[arg-type]
    assert wrong["same_for_every_name"] == 0.0 and wrong["accuracy"] < 0.6


def test_a_one_letter_name_word_never_replaces_letters_inside_other_words() -> None:
    before = row("I Ketut Wirasana", "Pak Wirasana paham subak. I Ketut Wirasana cagub kami #WirasanaBisa")
    after = swap_name(before, random.Random(7))
    first, last = after.target.split()
    assert after.text == f"Pak {last} paham subak. {first} {last} cagub kami #{last}Bisa"
