"""Text keys shared by matching, terms and fingerprints: folding, tokens, fingerprints."""

from __future__ import annotations

import hashlib
import re
import unicodedata

_TOKEN = re.compile(r"[#@]?\w+", re.UNICODE)
_LINK = re.compile(r"https?://\S+", re.IGNORECASE)

STOPWORDS_ID = frozenset(
    [
        "yang",
        "dan",
        "di",
        "ke",
        "dari",
        "ini",
        "itu",
        "untuk",
        "dengan",
        "tidak",
        "ada",
        "akan",
        "juga",
        "sudah",
        "saya",
        "kita",
        "kami",
        "mereka",
        "dia",
        "atau",
        "pada",
        "dalam",
        "bisa",
        "karena",
        "jadi",
        "kalau",
        "lagi",
        "aja",
        "gak",
        "nggak",
        "ga",
        "tapi",
        "yg",
        "udah",
        "sih",
        "deh",
        "dong",
        "kok",
        "banget",
        "bgt",
        "sama",
        "lebih",
        "masih",
        "harus",
        "buat",
        "apa",
        "siapa",
        "kenapa",
        "gimana",
        "mau",
        "nya",
        "pak",
        "bu",
        "ibu",
        "mas",
        "mbak",
    ]
)
STOPWORDS_EN = frozenset(
    [
        "the",
        "a",
        "an",
        "and",
        "or",
        "of",
        "to",
        "in",
        "on",
        "for",
        "with",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "it",
        "this",
        "that",
        "these",
        "those",
        "i",
        "you",
        "he",
        "she",
        "we",
        "they",
        "not",
        "no",
        "but",
        "if",
        "so",
        "at",
        "by",
        "from",
        "as",
        "about",
        "just",
        "have",
        "has",
        "had",
        "do",
        "does",
        "did",
        "will",
        "would",
        "can",
        "could",
        "should",
        "my",
        "your",
        "our",
        "their",
        "his",
        "her",
        "its",
        "than",
        "then",
        "there",
        "here",
        "what",
        "who",
        "why",
        "how",
    ]
)


def fold(text: str) -> str:
    """Case-fold and strip diacritics: 'Pák ÁNIES' -> 'pak anies'."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


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
        if len(plain) < min_len or plain.isdigit() or plain in STOPWORDS_ID or plain in STOPWORDS_EN:
            continue
        terms.append(word if word.startswith("#") else plain)
    return tuple(dict.fromkeys(terms))
