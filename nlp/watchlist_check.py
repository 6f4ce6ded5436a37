"""What in a watchlist makes Pantau find the wrong target, or every post: checked before the desk
relies on it (`pantau watchlist check`).

The matcher folds case and diacritics and reads hashtags and handles (`nlp.targets`), so an alias
two targets share (or that joins into the same hashtag) goes to one of them only, a common word
("baru", "the") finds most posts, and a lowercase word of two letters finds any post with that
syllable written alone. Each spelling is judged on its own: an acronym in capitals ("PNM") is found
as a plain word only in capitals (as a whole tag, or in an all-capitals post, in any case), but the
same letters listed in lowercase ("pnm") are found everywhere; an acronym that is also a common word
("DAN") still finds all-capitals posts and tags that are not about it.
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
    or that is a short lowercase word; in the watchlist's order, each spelling once per problem."""
    # Folded words -> target id -> each spelling the target lists; and the hashtag the words join into.
    listed_by: dict[tuple[str, ...], dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    tagged_by: dict[str, dict[str, str]] = defaultdict(dict)
    for target in watchlist.targets:
        for alias in target.all_aliases:
            words = _folded(alias)
            if words:
                spellings = listed_by[words][target.id]
                if alias not in spellings:
                    spellings.append(alias)
                tagged_by["".join(words)].setdefault(target.id, alias)
    findings: list[Finding] = []
    for joined in tagged_by.values():
        if len(joined) > 1:
            ids = tuple(joined)
            first = joined[ids[0]]
            spelt = ", ".join(f"{alias!r} ({target_id})" for target_id, alias in joined.items())
            findings.append(
                Finding(
                    "shared",
                    first,
                    ids,
                    f"{spelt} are one alias once case, marks, spaces, '#' and '@' are folded: a post "
                    f"that says it is read as about one of them only ({ids[0]}, listed first); give "
                    "each a name of its own",
                )
            )
    for words, by_target in listed_by.items():
        if len(words) != 1:
            continue
        for target_id, spellings in by_target.items():
            for alias in spellings:
                acronym = is_acronym(alias)  # found as a plain word only in capitals
                if words[0] in STOPWORDS:
                    where = (
                        f"in capitals it is still found in all-capitals posts and in hashtags "
                        f"('#{words[0]}') not about {target_id}; use a longer alias"
                        if acronym  # "DAN", "US"
                        else f"it finds posts that are not about {target_id}; use a longer alias "
                        "(with a title or the full name)"
                    )
                    also = " also" if acronym else ""
                    findings.append(
                        Finding(
                            "common-word", alias, (target_id,), f"{alias!r} is{also} a common word: {where}"
                        )
                    )
                elif not acronym and len(words[0]) <= 2:
                    findings.append(
                        Finding(
                            "too-short",
                            alias,
                            (target_id,),
                            f"{alias!r} is that short and found in any case: it finds any post with "
                            "that word; use a longer alias, or capitals for an acronym of two letters "
                            "or more, found only so",
                        )
                    )
    return findings
