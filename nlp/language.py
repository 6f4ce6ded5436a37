"""Language of a post: 'id' (Indonesian), 'en' (English) or 'other', by lingua.

lingua is accurate on short, informal text. It is built over the languages an Indonesian political
feed actually carries, not all 75: with all of them it needs 1.2 GB and ten times the time, and
short Indonesian posts get called Malay, Irish or Tagalog. Malay is left out on purpose: colloquial
Indonesian is scored as Malay about as often as real Malay appears, and the models treat them alike.

Languages with a script of their own (Arabic, Chinese, Japanese, Korean, Hindi, Thai, Russian)
are told by their script, not by lingua's models: a text whose letters are mostly of such a script
is neither Indonesian nor English whatever its language, and their models cost 145 MiB of memory.

A language code the source already gives (X's `lang`) wins when it names a language; 'und',
'qme' (media only) and the like do not count as a hint.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from lingua import Language, LanguageDetector, LanguageDetectorBuilder

INDONESIAN = "id"
ENGLISH = "en"
OTHER = "other"

# Languages in the Latin script that an Indonesian political feed carries besides its own two.
# Each costs 25-35 MiB of models, and their only job is to be "other": German, Portuguese,
# Vietnamese and Turkish are read as Dutch, Spanish, Tagalog or French, still "other", so they
# are left out (100 MiB less, the same accuracy on 1,000 SmSA, 1,000 airline and 500 Catalan posts:
# id 0.996, en 0.995, other 0.966 against 0.976). Tagalog and Dutch stay: without them, Tagalog
# and Dutch posts are read as Indonesian.
CANDIDATES = (
    Language.INDONESIAN,
    Language.ENGLISH,
    Language.TAGALOG,
    Language.DUTCH,
    Language.SPANISH,
    Language.FRENCH,
)
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f\u1e00-\u1eff]")
# Arabic, Cyrillic, Devanagari, Thai, Hangul, kana and CJK ideographs.
_OTHER_SCRIPT = re.compile(
    r"[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff\u0400-\u04ff\u0900-\u097f"
    r"\u0e00-\u0e7f\u1100-\u11ff\u3130-\u318f\uac00-\ud7af\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]"
)
_HINTS = {"id": INDONESIAN, "in": INDONESIAN, "ind": INDONESIAN, "en": ENGLISH, "eng": ENGLISH}
# X marks posts with no language (media, hashtags, links only) with these codes.
_NOT_A_LANGUAGE = frozenset({"", "und", "qme", "qam", "qct", "qht", "qst", "zxx", "art"})


def in_another_script(text: str) -> bool:
    """Mostly written in a script neither Indonesian nor English is. A letter of those counts twice:
    an ideograph is a word, and a Chinese post naming "Prabowo" is still Chinese."""
    return 2 * len(_OTHER_SCRIPT.findall(text)) > len(_LATIN.findall(text))


def from_hint(hint: str) -> str | None:
    code = hint.strip().lower().split("-")[0].split("_")[0]
    if code in _NOT_A_LANGUAGE:
        return None
    return _HINTS.get(code, OTHER)


class LanguageIdentifier:
    def __init__(self) -> None:
        self._detector: LanguageDetector = (
            LanguageDetectorBuilder.from_languages(*CANDIDATES).with_preloaded_language_models().build()
        )

    def identify(self, texts: Sequence[str], hints: Sequence[str] | None = None) -> list[str]:
        hinted = [from_hint(h) for h in hints] if hints is not None else [None] * len(texts)
        todo = [i for i, h in enumerate(hinted) if h is None and not in_another_script(texts[i])]
        detected = self._detector.detect_languages_in_parallel_of([texts[i] for i in todo]) if todo else []
        result = [h or OTHER for h in hinted]
        for i, language in zip(todo, detected, strict=True):
            if language == Language.INDONESIAN:
                result[i] = INDONESIAN
            elif language == Language.ENGLISH:
                result[i] = ENGLISH
        return result
