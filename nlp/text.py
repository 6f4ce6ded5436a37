"""Text keys shared by matching, terms and fingerprints: folding, tokens, fingerprints."""

from __future__ import annotations

import hashlib
import re

import stopwordsiso

from pantau.folding import fold

_TOKEN = re.compile(r"[#@]?\w+", re.UNICODE)
_LINK = re.compile(r"https?://\S+", re.IGNORECASE)

# Tweets and chat say these where prose has the maintained list's words: Indonesian slang and
# honorifics, and platform tokens ("RT", the "amp" of an escaped "&", link schemes). The
# maintained list has none of them, so they are kept here by name.
SOCIAL_STOPWORDS = frozenset(
    [
        "yg", "gak", "ga", "nggak", "ngga", "gk", "tdk", "aja", "udah", "udh", "sih", "deh",
        "banget", "bgt", "gimana", "nya", "bu", "mas", "mbak",
        "rt", "amp", "via", "https", "http",
    ]
)  # fmt: skip
# Words a team tracks that a general-purpose list may treat as filler: "naik" (prices rise) and
# "kasus" (a corruption case) carry Indonesian issues, "bill", "act", "state" and "gov" English
# ones. Subtracted by name even where the maintained list lacks them today, so that an update to
# it cannot silently stop counting them.
POLITICAL_TERMS = frozenset(
    [
        "pemerintah", "presiden", "partai", "menteri", "rakyat", "korupsi", "subsidi", "naik",
        "kasus", "memihak",
        "debate", "vote", "election", "government", "bill", "act", "state", "states", "gov",
    ]
)  # fmt: skip


# Folded like the tokens they are checked against; built once, at import.
STOPWORDS = frozenset(
    fold(word) for word in stopwordsiso.stopwords(["id", "en"]) | SOCIAL_STOPWORDS
) - frozenset(fold(word) for word in POLITICAL_TERMS)


def tokens(text: str) -> list[str]:
    """Folded word tokens, links removed; '#tag' and '@handle' keep their sign."""
    return _TOKEN.findall(fold(_LINK.sub(" ", text)))


def bare(token: str) -> str:
    return token.lstrip("#@")


def fingerprint(text: str) -> str:
    """Hash of the folded words, so copies that differ in case, spacing, links or accents collide."""
    basis = " ".join(bare(t) for t in tokens(text))
    return hashlib.blake2b(basis.encode(), digest_size=8).hexdigest()


def content_terms(words: list[str], *, min_len: int = 3) -> tuple[str, ...]:
    """Words worth counting as terms: no stop words, no numbers, no handles; hashtags as '#tag'."""
    terms = []
    for word in words:
        if word.startswith("@"):
            continue
        plain = bare(word)
        if len(plain) < min_len or plain.isdigit() or plain in STOPWORDS:
            continue
        terms.append(word if word.startswith("#") else plain)
    return tuple(dict.fromkeys(terms))
