"""Training's generated comparisons: two random people filled into a template, one row per name
with the stance the template gives that name's place in the sentence."""

from __future__ import annotations

import random
import re

from hypothesis import given
from hypothesis import strategies as st

from nlp.training import read_labelled
from nlp.tuned import STANCE_ORDER
from nlp.tuning import COMPARISON_TEMPLATES, SWAP_FIRST, SWAP_LAST, StanceRow, comparison_rows

TEMPLATES = read_labelled(COMPARISON_TEMPLATES, ("template", "a", "b"))


def pattern(template: str) -> re.Pattern[str]:
    """The template as a regex whose groups `a` and `b` catch how each name was written."""
    out, seen = [], set()
    for piece in re.split(r"(\{[ab]\})", template):
        side = piece[1:-1] if piece in ("{a}", "{b}") else ""
        if not side:
            out.append(re.escape(piece))
        else:
            out.append(f"(?P={side})" if side in seen else f"(?P<{side}>.+?)")
            seen.add(side)
    return re.compile("".join(out) + r"\Z")


def written_forms(name: str) -> set[str]:
    first, last = name.split()
    return {name, first, last, f"Pak {first}", f"Bu {first}"}


def labels_from_template(a: StanceRow, b: StanceRow) -> set[tuple[str, str]]:
    """Every (template's label for `a`, for `b`) that a template filled with their names gives."""
    found = set()
    for template in TEMPLATES:
        for first, second in ((a, b), (b, a)):
            matched = pattern(template["template"]).match(first.text)
            if (
                matched
                and matched["a"] in written_forms(first.target)
                and matched["b"] in written_forms(second.target)
            ):
                labels = {first.target: template["a"], second.target: template["b"]}
                found.add((labels[a.target], labels[b.target]))
    return found


def test_the_templates_favour_the_first_and_the_second_name_about_as_often() -> None:
    # Otherwise "the name that comes first is favoured" would be a shortcut to the labels.
    places = [
        ("first" if t["template"].index("{a}") < t["template"].index("{b}") else "second")
        if t["a"] == "favor"
        else ("second" if t["template"].index("{a}") < t["template"].index("{b}") else "first")
        for t in TEMPLATES
        if {t["a"], t["b"]} == {"favor", "against"}
    ]
    assert abs(places.count("first") - places.count("second")) <= len(places) // 10
    # Posts where both names share a stance or are only reported on keep "a comparison means
    # opposite stances" from being a shortcut too.
    assert sum(1 for t in TEMPLATES if t["a"] == t["b"]) >= 10


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_each_post_gives_two_rows_each_naming_its_own_person_with_the_templates_label(seed: int) -> None:
    rows = comparison_rows(6, random.Random(seed))
    assert len(rows) == 12
    for a, b in zip(rows[::2], rows[1::2], strict=True):
        assert a.text == b.text and a.target != b.target
        assert (a.co_targets, b.co_targets) == ((b.target,), (a.target,))
        assert a.source == b.source == "comparisons"
        for row in (a, b):
            first, last = row.target.split()
            assert first in SWAP_FIRST and last in SWAP_LAST
            assert row.spans, row  # the name is found in the post as the service finds it
            for start, end in row.spans:
                assert row.text[start:end] in written_forms(row.target)
        assert (STANCE_ORDER[a.label], STANCE_ORDER[b.label]) in labels_from_template(a, b)


def test_the_rows_are_drawn_from_the_seed_alone() -> None:
    assert comparison_rows(20, random.Random(7)) == comparison_rows(20, random.Random(7))
    assert comparison_rows(20, random.Random(7)) != comparison_rows(20, random.Random(8))


def test_a_name_after_a_templates_own_title_gets_no_second_title() -> None:
    titled = [t for t in TEMPLATES if re.search(r"\b(?:Pak|Mas|Mr\.) \{[ab]\}", t["template"])]
    assert titled  # else this test would pass for want of a case
    rows = comparison_rows(400, random.Random(3))
    doubled = [
        r.text for r in rows if re.search(r"\b(?:Pak|Bu|Ibu|Mas|Mbak|Bang|Mr\.|Ms\.) (?:Pak|Bu) ", r.text)
    ]
    assert doubled == []
