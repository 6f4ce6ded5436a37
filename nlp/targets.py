"""Which watchlist targets a post names, by alias.

Aliases and text are folded (case, diacritics) and tokenised the same way. A multi-word alias
matches as a run of words ("Pak Raka") or squashed into one hashtag or handle ("#PakRaka",
"@rakawibisana"); a one-word alias matches a word, a hashtag or a handle.
"""

from __future__ import annotations

from collections import defaultdict

from config.watchlist import Watchlist
from nlp.text import bare, tokens


class TargetMatcher:
    def __init__(self, watchlist: Watchlist) -> None:
        self._by_first_word: dict[str, list[tuple[tuple[str, ...], str]]] = defaultdict(list)
        self._by_squashed: dict[str, str] = {}
        for target in watchlist.targets:
            for alias in target.all_aliases:
                words = tuple(bare(t) for t in tokens(alias))
                if not words:
                    continue
                self._by_first_word[words[0]].append((words, target.id))
                self._by_squashed.setdefault("".join(words), target.id)
        for runs in self._by_first_word.values():
            runs.sort(key=lambda run: -len(run[0]))  # longest alias first

    def match(self, text: str) -> tuple[str, ...]:
        """Target ids in order of first mention, each once."""
        words = tokens(text)
        plain = [bare(w) for w in words]
        found: dict[str, None] = {}
        for i, word in enumerate(words):
            if word[0] in "#@":
                target = self._by_squashed.get(plain[i])
                if target is not None:
                    found.setdefault(target)
                    continue
            for run, target in self._by_first_word.get(plain[i], ()):
                if tuple(plain[i : i + len(run)]) == run:
                    found.setdefault(target)
                    break
        return tuple(found)
