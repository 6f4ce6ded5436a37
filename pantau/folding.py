"""The one way Pantau folds text for matching and counting, shared by the classifier's terms and
the detectors that read them (a word counted by one must be the same word to the other)."""

from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    """Case-fold and strip diacritics: 'Pák ÁNIES' -> 'pak anies'."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
