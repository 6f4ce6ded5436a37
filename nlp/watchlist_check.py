"""What in a watchlist makes Pantau find the wrong target, or every post: checked before the desk
relies on it (`pantau watchlist check`).

The matcher folds case and diacritics and reads hashtags and handles (`nlp.targets`), so an alias
two targets share goes to one of them only, a common word ("baru", "the") finds most posts, and a
lowercase word of two letters finds any post with that syllable written alone. An acronym written
in capitals is safe: it is found only in capitals.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Literal

from config.watchlist import Watchlist
from nlp.targets import is_acronym
from nlp.text import STOPWORDS, bare, tokens

Problem = Literal["shared", "common-word", "too-short"]


@dataclass(frozen=True)
class Finding:
    problem: Problem
    alias: str
    targets: tuple[str, ...]  # the ids of the targets listing it
    why: str


def _folded(alias: str) -> tuple[str, ...]:
    return tuple(bare(t) for t in tokens(alias))


def check_watchlist(watchlist: Watchlist) -> list[Finding]:
    """Each alias (a target's name counts as one) that two targets share, that is a common word,
    or that is a short lowercase word; in the watchlist's order, each alias once per problem."""
    listed_by: dict[tuple[str, ...], dict[str, str]] = defaultdict(dict)  # folded -> target id -> as written
    for target in watchlist.targets:
        for alias in target.all_aliases:
            words = _folded(alias)
            if words:
                listed_by[words].setdefault(target.id, alias)
    findings: list[Finding] = []
    for words, by_target in listed_by.items():
        alias = next(iter(by_target.values()))
        ids = tuple(by_target)
        if len(ids) > 1:
            findings.append(
                Finding(
                    "shared",
                    alias,
                    ids,
                    f"{alias!r} is an alias of {len(ids)} targets ({', '.join(ids)}): a post that says "
                    f"it is read as about {ids[0]} only; give each a name of its own",
                )
            )
        if len(words) == 1 and words[0] in STOPWORDS and not any(is_acronym(a) for a in by_target.values()):
            findings.append(
                Finding(
                    "common-word",
                    alias,
                    ids,
                    f"{alias!r} is a common word: it finds posts that are not about {ids[0]}; "
                    "use a longer alias (with a title or the full name)",
                )
            )
        elif len(words) == 1 and len(words[0]) <= 2 and not all(is_acronym(a) for a in by_target.values()):
            findings.append(
                Finding(
                    "too-short",
                    alias,
                    ids,
                    f"{alias!r} is {len(words[0])} letters in any case: it finds any post with that word; "
                    "write it in capitals if it is an acronym, found only so",
                )
            )
    return findings
