"""The key under which the spellings of one hashtag are counted together.

"#GOPDebate", "#gopdebate", "#GOP_Debate" and "#GOPDebates" are one conversation; counted apart,
each variant reaches an alert threshold on its own, or none of them does. The key is for grouping,
not for display: show people a spelling that was posted.
"""

from __future__ import annotations

import re
import unicodedata

# A plural "s" is taken off only where what it would leave is at least this long, so that short
# tags keep their "s" ("#cbs", "#news", "#dprs").
_MIN_LEN_FOR_PLURAL = 5
# Endings where a final "s" is seldom a plural: "#boss", "#status", "#paris", and Indonesian, which
# has no "s" plural but many words in "-as" ("#bebas", "#tuntas", "#jelas"), as do names
# ("#hamas", "#texas"). English plural tags in "-as" ("#ideas") are the rarer loss.
_SINGULAR_ENDINGS = ("ss", "us", "is", "as")
_LEADING_SIGNS = re.compile(r"^[#\s]+")
_TRAILING_SPACE = re.compile(r"\s+$")


def fold_hashtag(tag: str) -> str:
    """The counting key of a hashtag: no leading '#', case-folded, without diacritics, zero-width
    characters or underscores, and without a plural 's' ("#GOP_Débates" -> "gopdebate").

    The plural rule: one final "s" is removed when the key is at least five characters long, the
    "s" follows a letter, and the key does not end in "ss", "us", "is" or "as". Any string gives
    a key, and a key folds to itself."""
    text = _fold_letters(tag).replace("_", "")
    text = _TRAILING_SPACE.sub("", _LEADING_SIGNS.sub("", text))
    if _looks_plural(text):
        text = text[:-1]
    return text


def _fold_letters(text: str) -> str:
    # Decomposed before case-folding, so that compatibility forms ("ＧＯＰ", "ℌ") fold too; marks are
    # dropped after it, so that none it brings back stays (case-folding "İ" gives "i" and a dot).
    text = unicodedata.normalize("NFKD", text).casefold()
    return "".join(ch for ch in text if not _is_mark_or_invisible(ch))


def _is_mark_or_invisible(ch: str) -> bool:
    """Diacritics, and format characters such as zero-width spaces and joiners, which change how a
    tag is spelled without changing how it reads."""
    return unicodedata.combining(ch) != 0 or unicodedata.category(ch) == "Cf"


def _looks_plural(text: str) -> bool:
    return (
        len(text) >= _MIN_LEN_FOR_PLURAL
        and text.endswith("s")
        and text[-2].isalpha()
        and not text.endswith(_SINGULAR_ENDINGS)
    )
