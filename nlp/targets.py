"""Which watchlist targets a post names, by alias, and where.

Aliases and text are folded (case, diacritics) and tokenised the same way. A multi-word alias
matches as a run of words ("Pak Raka") or squashed into one hashtag or handle ("#PakRaka",
"@rakawibisana"); a one-word alias matches a word, a hashtag or a handle. A hashtag that joins
several names ("#RakaSari", "#rakasari2029") names each of them: CamelCase parts are matched like
words, and an all-lowercase tag is matched by the aliases it starts or ends with.

An alias written as an acronym in capitals ("PNM", "PAN", "HRC": `is_acronym`) finds a plain word,
or a part of a CamelCase hashtag, only where the post writes it in capitals too: folded, "PAN" would
find "pan" (a frying pan), "#BeliPanBaru" and the slang "pks" for "PKS". A whole hashtag or handle
folds as any alias does ("#pnm"), as tags are written in any case and name something on purpose; and
a post written all in capitals ("BELI PAN BARU") still finds it. A desk that wants lowercase "pks"
lists it too.

Mentions carry their character span in the original text, so the stance model can mask them.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from dataclasses import dataclass

from config.watchlist import Watchlist
from nlp.text import bare, tokens
from pantau.folding import fold

_WORD = re.compile(r"[#@]?\w+", re.UNICODE)
_LINK = re.compile(r"https?://\S+", re.IGNORECASE)
_CAMEL_PART = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
# An alias must be this long to be found as the start or end of an all-lowercase hashtag; shorter
# ones ("pnm") would match inside unrelated tags.
_MIN_AFFIX_ALIAS = 5
MASK = "X"
# An acronym alias: one word of two to six capitals and digits, at least two of them letters.
_ACRONYM = re.compile(r"(?=(?:\d*[A-Z]){2})[A-Z\d]{2,6}")


def is_acronym(alias: str) -> bool:
    return _ACRONYM.fullmatch(alias.strip()) is not None


@dataclass(frozen=True)
class Mention:
    target: str
    start: int
    end: int


# One character folded as `fold` folds text, cached: posts repeat few distinct characters.
_fold_char = functools.lru_cache(maxsize=4096)(fold)


def _fold_with_offsets(text: str) -> tuple[str, list[int]]:
    """The folded text, and for each of its characters the index of the original it came from."""
    if text.isascii():
        # Most posts: ASCII folds one character for one, by fold's own fast path.
        return fold(text), list(range(len(text)))
    out: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        folded = _fold_char(char)
        out.append(folded)
        origin.extend([index] * len(folded))
    return "".join(out), origin


class TargetMatcher:
    def __init__(self, watchlist: Watchlist) -> None:
        # Per first word: (the alias's words, its target, whether it is an acronym found only in capitals).
        self._by_first_word: dict[str, list[tuple[tuple[str, ...], str, bool]]] = defaultdict(list)
        self._by_squashed: dict[str, str] = {}
        for target in watchlist.targets:
            for alias in target.all_aliases:
                words = tuple(bare(t) for t in tokens(alias))
                if not words:
                    continue
                self._by_first_word[words[0]].append((words, target.id, is_acronym(alias)))
                self._by_squashed.setdefault("".join(words), target.id)
        for runs in self._by_first_word.values():
            runs.sort(key=lambda run: -len(run[0]))  # longest alias first
        self._affixes = sorted(
            (
                (alias, target)
                for alias, target in self._by_squashed.items()
                if len(alias) >= _MIN_AFFIX_ALIAS
            ),
            key=lambda item: -len(item[0]),
        )

    def match(self, text: str) -> tuple[str, ...]:
        """Target ids in order of first mention, each once."""
        return tuple(dict.fromkeys(m.target for m in self.mentions(text)))

    def mentions(self, text: str) -> list[Mention]:
        """Every mention, in text order; a hashtag naming two targets gives two mentions of its span."""
        without_links = _LINK.sub(lambda m: " " * len(m.group()), text)
        folded, origin = _fold_with_offsets(without_links)
        words = [(m.group(), m.start(), m.end()) for m in _WORD.finditer(folded)]
        plain = [bare(w) for w, _, _ in words]
        found: list[Mention] = []
        i = 0
        while i < len(words):
            word, start, end = words[i]
            span = (origin[start], origin[end - 1] + 1)
            if word[0] in "#@":
                tagged = self._tag_targets(plain[i], without_links[span[0] + 1 : span[1]], word[0] == "#")
                if tagged:
                    found.extend(Mention(t, *span) for t in tagged)
                    i += 1
                    continue
            for run, target, acronym in self._by_first_word.get(plain[i], ()):
                if acronym and not without_links[span[0] : span[1]].isupper():
                    continue
                if tuple(plain[i : i + len(run)]) == run:
                    last_end = words[i + len(run) - 1][2]
                    found.append(Mention(target, span[0], origin[last_end - 1] + 1))
                    i += len(run)
                    break
            else:
                i += 1
        return found

    def _tag_targets(self, squashed: str, original: str, is_hashtag: bool) -> list[str]:
        whole = self._by_squashed.get(squashed)
        if whole is not None:
            return [whole]
        if not is_hashtag:
            return []  # a handle names one account: only the whole handle counts
        targets: dict[str, None] = {}
        # Each CamelCase part folded, beside it as written: an acronym is found in capitals only
        # ("#KPDBocor" names KPD, "#BeliPanBaru" does not name PAN).
        # A tag written all in lowercase ("#pnm2029") says nothing by its case: found as before.
        mixed_case = original != original.lower()
        parts: list[str] = []
        written: list[str] = []
        for part in _CAMEL_PART.findall(original):
            for token in tokens(part):
                parts.append(bare(token))
                written.append(part)
        if len(parts) > 1:
            j = 0
            while j < len(parts):
                for run, target, acronym in self._by_first_word.get(parts[j], ()):
                    if acronym and mixed_case and not written[j].isupper():
                        continue
                    if tuple(parts[j : j + len(run)]) == run:
                        targets.setdefault(target)
                        j += len(run) - 1
                        break
                j += 1
        if not targets:
            for alias, target in self._affixes:
                if squashed.startswith(alias) or squashed.rstrip("0123456789").endswith(alias):
                    targets.setdefault(target)
        return list(targets)


def mask_mentions(text: str, mentions: list[Mention], mask: str = MASK) -> str:
    """The text with every mention replaced by `mask`, so a model judges the stance toward "X",
    whoever X is: the stance head then works for targets it never saw in training."""
    if not mentions:
        return text
    spans = sorted({(m.start, m.end) for m in mentions})
    out: list[str] = []
    at = 0
    for start, end in spans:
        if start < at:  # overlapping spans (a tag naming two targets): masked once
            continue
        out.append(text[at:start])
        out.append(mask)
        at = end
    out.append(text[at:])
    return "".join(out)
