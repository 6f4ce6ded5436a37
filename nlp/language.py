"""Language of a post: 'id' (Indonesian), 'en' (English) or 'other', by lingua.

lingua is accurate on short, informal text. It is built over the languages an Indonesian political
feed actually carries, not all 75: with all of them it needs 1.2 GB and ten times the time, and
short Indonesian posts get called Malay, Irish or Tagalog. Malay is left out on purpose: colloquial
Indonesian is scored as Malay about as often as real Malay appears, and the models treat them alike.

A language code the source already gives (X's `lang`) wins when it names a language; 'und',
'qme' (media only) and the like do not count as a hint.
"""

from __future__ import annotations

from collections.abc import Sequence

from lingua import Language, LanguageDetector, LanguageDetectorBuilder

INDONESIAN = "id"
ENGLISH = "en"
OTHER = "other"

CANDIDATES = (
    Language.INDONESIAN,
    Language.ENGLISH,
    Language.ARABIC,
    Language.CHINESE,
    Language.JAPANESE,
    Language.KOREAN,
    Language.TAGALOG,
    Language.DUTCH,
    Language.SPANISH,
    Language.FRENCH,
    Language.GERMAN,
    Language.PORTUGUESE,
    Language.HINDI,
    Language.THAI,
    Language.VIETNAMESE,
    Language.RUSSIAN,
    Language.TURKISH,
)
_HINTS = {"id": INDONESIAN, "in": INDONESIAN, "ind": INDONESIAN, "en": ENGLISH, "eng": ENGLISH}
# X marks posts with no language (media, hashtags, links only) with these codes.
_NOT_A_LANGUAGE = frozenset({"", "und", "qme", "qam", "qct", "qht", "qst", "zxx", "art"})


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
        todo = [i for i, h in enumerate(hinted) if h is None]
        detected = self._detector.detect_languages_in_parallel_of([texts[i] for i in todo]) if todo else []
        result = [h or OTHER for h in hinted]
        for i, language in zip(todo, detected, strict=True):
            if language == Language.INDONESIAN:
                result[i] = INDONESIAN
            elif language == Language.ENGLISH:
                result[i] = ENGLISH
        return result
