"""A post's text as the stance rules (nlp.comparisons, nlp.outcomes) read it: lower case, each
target mention replaced by a numbered placeholder, so a pattern names "a target" without its
aliases."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from nlp.targets import Mention
from pantau.domain import Stance

OPEN, CLOSE = "\x01", "\x02"
# A sentence or a clause ended by ";" or a line break, with its closing marks.
CLAUSE = re.compile(r"[^.!?;\n]+[.!?;\n]*")
# Titles written before a name the alias does not include ("Pak", "capres").
TITLE = (
    r"(?:(?:pak|bu|bapak|ibu|mas|mbak|bang|bung|kak|cak|si|sang|capres|cawapres|paslon|calon|cagub|"
    r"mr\.?|mrs\.?|ms\.?|president|senator|governor|candidate)\s+)?"
)


def placeholdered(text: str, mentions: Sequence[Mention]) -> tuple[str, list[str]]:
    """The text in lower case with each mention replaced by a numbered placeholder, and the target
    each number stands for."""
    out: list[str] = []
    targets: list[str] = []
    at = 0
    for mention in sorted(mentions, key=lambda m: (m.start, -m.end)):
        if mention.start < at:
            continue  # inside the previous mention
        if targets and targets[-1] == mention.target and not text[at : mention.start].strip():
            at = mention.end  # the same target's next word ("Karya Rakyat" by its words): one mention
            continue
        out.append(text[at : mention.start].casefold())
        out.append(f" {OPEN}{len(targets)}{CLOSE} ")
        targets.append(mention.target)
        at = mention.end
    out.append(text[at:].casefold())
    return re.sub(r"[ \t]+", " ", "".join(out)), targets


def unanimous(placements: Iterable[tuple[str, Stance]]) -> dict[str, Stance]:
    """The stance of each target the rule placed one way only; a target placed both ways (in two
    clauses, or by two readings) is left to the model."""
    found: dict[str, set[Stance]] = {}
    for target, stance in placements:
        found.setdefault(target, set()).add(stance)
    return {target: stances.pop() for target, stances in found.items() if len(stances) == 1}
