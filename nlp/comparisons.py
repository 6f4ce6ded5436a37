"""Stance read from a comparison between watchlist targets, in Indonesian and English.

The fine-tuned model reads the post once per target, with that target's name, and in a comparison
("Mending Raka daripada Bima", "Bima is a far better choice than Raka") it mostly gives both names
one stance (issue 14; the README's stance figures). Training on generated comparisons did not move
that. The grammar of an explicit comparison is narrow and regular, so the classifier reads these
by rule and leaves every other post, and every target the rule does not place, to the model:

- a comparative between two sides: "X (jauh) lebih baik/jujur/... dari/daripada/ketimbang/dibanding
  Y", "X is a far better choice than Y", "X is less honest than Y";
- a preference: "mending/pilih X daripada Y", "I'd pick X over Y";
- "Y kalah (jauh) dibanding X", "Y gak ada apa-apanya dibanding X".

One side may be a target and the other not ("siapa pun lebih baik dari Raka": against Raka). A
wrong stance read with confidence is worse than the model's, so it abstains wherever the author
may not be asserting the comparison: a question anywhere in the post, or a word that asks without
one ("emang", "since when"); a condition, wish, obligation or past belief ("kalau", "semoga",
"harus", "dulu gue kira"); a negation within six words before it; someone else's claim ("orang
bilang", "menurut pengamat", "they think"); a dismissal anywhere ("kata buzzernya", "ngimpi",
"said no one ever"); polls and counts ("survei", "quick count"). It does not read a contest's
outcome ("sedih Raka kalah dari Bima" favours Raka), facts ("lebih tua dari"), advice ("Raka lebih
baik diam daripada bohong"), a role for the far side ("lebih cocok jadi pelawak daripada
presiden"), "no one is better than X" as against X, one target on both sides, or clauses that
disagree about a target.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from nlp.marked import CLAUSE, CLOSE, OPEN, TITLE, placeholdered, unanimous
from nlp.targets import Mention
from pantau.domain import Stance

# What puts the comparison in someone else's mouth before the comparative ("orang bilang X lebih
# baik dari Y", "menurut pengamat", "Bima's fans think he's better"). Polls, counts and "according
# to" are `_DISMISSED`, anywhere in the post.
_REPORTED = re.compile(
    r"\b(?:(?:di)?bilang|katanya|kata\s+orang|kata\s+mereka|konon|ceunah|cenah|ngaku|ngakunya|mengaku|"
    r"(?:di|meng?)?klaim|disebut(?:-sebut)?|menyebut|menilai|kupikir|kirain|(?:gue|gw|aku)\s+kira|"
    r"pengamat|"
    r"say|says|said|saying|claim|claims|claimed|claiming|supposedly|allegedly|think|thinks|believe|"
    r"believes|imagine|idea\s+that)\b|"
    # "menurut pengamat" (not "menurut saya"), and a speaker's label ("Pengamat: X lebih matang ...").
    r"\bmenurut\s+(?!saya|aku|gue|gw|gua|ku|kami|pribadi)\S+|:"
)
# What turns the sentence before the comparative into a question, a condition, a wish, an
# obligation or a past belief: "apa iya X lebih baik dari Y", "kalau X lebih jujur dari Y, kenapa",
# "X harus lebih berani dari Y", "X dulu lebih baik dari Y, sekarang sama aja", "if X is better".
_UNASSERTED = re.compile(
    r"\b(?:apa\s+iya|apa(?:kah)?|emang(?:nya)?|masa(?:k)?|sejak\s+kapan|gimana|bagaimana|dari\s+mana|"
    r"siapa(?!\s+pun)|kalau(?!\s+soal)|kalo(?!\s+soal)|klo|jika|jikalau|seandainya|andai(?:kan)?|"
    r"misal(?:nya)?|"
    r"biar|supaya|agar|semoga|harus|perlu|sebaiknya|seharusnya|mesti|kudu|(?<!dari\s)dulu|awalnya|if|"
    r"whether|since\s+when|how|why|explain|needs?\s+to|has\s+to|have\s+to|had|should|must|were|being|"
    r"hope|did|fared|performed|doing)\b"
)
# Anywhere in the post, what dismisses the comparison as untrue or a joke, or makes it a poll's or a
# count's: "X lebih jujur dari Y, kata buzzernya", "... Ngimpi.", "... said no one ever", "X kalah
# jauh dibanding Y di quick count".
_DISMISSED = re.compile(
    r"\bkata\s+(?:siapa|buzzer\w*)|\b(?:ngimpi|mimpi|ya\s*kali|dari\s+hongkong|pret|boong|bohong\s+deh|"
    r"hoa(?:x|ks)|said\s+no\s+one|in\s+your\s+dreams|yeah\s+right|sure\s+jan|cuma\s+di|ngibul|ngeles|"
    r"lying|making\s+excuses|doang|according\s+to|i'?m\s+the\s+pope|narasi|framing|"
    r"atau\s+(?:engga|enggak|nggak|gak|ga|tidak|bukan)|or\s+not|"
    r"survei|survey|polls?|polled|polling|responden|elektabilitas|quick\s+count|real\s+count|qc)\b|"
    # "X is better than Y. Not.", quotation marks, the clown face.
    r"(?:^|[.!;\n])\W*not\W*(?:$|[.!;\n])|[\"\u201c\u201d]|\U0001f921"
)
_NEGATION = re.compile(
    r"\b(?:tidak|tdk|tak|gak|ga|gk|nggak|ngga|enggak|engga|bukan|bkn|belum|blm|jangan|jgn|not|never|no|"
    r"nobody|no\s+one|none|neither|nor|hardly|gatau|gtau|entah|(?:ga|gak|nggak|tidak)\s+tau)\b|n't\b"
)
# Just before a comparative with only its second side: "(tidak ada) yang lebih jujur dari X",
# "who's better than X", "nobody is more qualified than X" praise X.
_NONE_BETTER = re.compile(r"\b(?:yang|yg|siapa|who|who's|whos|nobody|no\s+one|none)(?:\s+(?:is|'s))?\s*$")

_WORD = rf"[^\s{OPEN}{CLOSE},:]+"
_INTENSITY = (
    r"(?:\s+(?:jauh|jauuh|jauh2|jelas|sangat|amat|far|much|way|a\s+lot|clearly|so|even|definitely|"
    r"obviously|just|still|miles))*"
)


def _side(name: str) -> str:
    return rf"{TITLE}{OPEN}(?P<{name}>\d+){CLOSE}"


# Indonesian adjectives after "lebih", by what they say of the side before them.
_ID_GOOD = (
    r"baik|baek|bagus|hebat|pantas|layak|jujur|tegas|mampu|cocok|kompeten|berpengalaman|bersih|"
    r"peduli|pintar|pinter|cerdas|amanah|berintegritas|siap|matang|waras|beres|mantap|mantep|keren|"
    r"kuat|oke|ok|merakyat|dipercaya|terpercaya|realistis|becus|jago|berkualitas|visioner|tulus|"
    r"santun|sopan|dewasa|bijak|bijaksana|adil|transparan|konsisten|berprestasi|berani|sigap|"
    r"tanggap|menjanjikan|meyakinkan|berwibawa|cakap|handal|andal|rasional|masuk\s+akal|pro\s+rakyat"
)
_ID_BAD = (
    r"buruk|jelek|parah|korup|bodoh|lemah|payah|ngawur|bohong|munafik|arogan|sombong|kasar|licik|"
    r"busuk|goblok|tolol|bego|lambat|lelet|plin-?plan|otoriter|berbahaya|bahaya|gagal|ngaco|kacau|"
    r"curang|malas|bermasalah|mengecewakan|memalukan|zalim|dzalim|rakus|serakah"
)
_ID_THAN = r"dari(?:pada)?|drpd|dr|ketimbang|timbang|dibanding(?:kan|in)?|di\s?banding(?:kan)?"
# What a comparison may say between its adjective and "than": the respect compared, not a verb
# ("Raka lebih baik diam daripada bohong" is advice to Raka, not praise).
_ID_ASPECT = (
    r"(?:\s+(?:soal|dalam(?:\s+hal)?|untuk|buat|di\s+bidang|kalau\s+soal|secara|urusan|jadi|menjadi|"
    r"sebagai|memimpin|mimpin|dipilih|dipercaya)(?:\s+" + _WORD + r"){0,3})?"
)

_EN_GOOD = (
    r"better|stronger|smarter|wiser|braver|greater|fairer|kinder|cleaner|"
    r"more\s+(?:honest|capable|qualified|experienced|competent|trustworthy|reliable|effective|"
    r"intelligent|electable|principled|decent|presidential|sensible|reasonable)|"
    r"less\s+(?:corrupt|dangerous|divisive|extreme|incompetent|dishonest|reckless|radical)"
)
_EN_BAD = (
    r"worse|weaker|dumber|"
    r"more\s+(?:corrupt|dangerous|dishonest|incompetent|divisive|extreme|radical|reckless|arrogant|"
    r"unfit|unqualified)|"
    r"less\s+(?:honest|capable|qualified|experienced|competent|trustworthy|reliable|effective|"
    r"intelligent|electable|decent)"
)
_EN_BE = r"(?:\s+(?:is|was|would\s+be|will\s+be|seems|looks|remains)|\s*'s)"
_EN_NOUN = r"(?:\s+(?:choice|candidate|leader|option|pick|person|man|woman|president|governor|fit|bet))?"
_EN_ASPECT = r"(?:\s+(?:for|at|on|in)(?:\s+" + _WORD + r"){1,3})?"
# "Rather than": the preferences' one-sided forms take only these ("dukung program ini dari Raka"
# compares nothing).
_ID_RATHER = r"daripada|drpd|ketimbang|timbang"
# Roles, not rivals, on the far side of a comparison.
_ROLE = (
    r"presiden|capres|cawapres|gubernur|cagub|bupati|wali\s?kota|nyapres|nyalon|jadi|gabung|pejabat|"
    r"pemimpin|politisi|politikus"
)
_ID_PREFER = (
    r"mending|mendingan|mendinglah|lebih\s+baik|lbh\s+baik|pilih|milih|memilih|dukung|coblos|nyoblos|"
    r"(?:lebih|lbh)\s+(?:percaya|sreg|suka|senang|seneng|yakin|respek|condong|mantap|milih|pilih)"
    r"(?:\s+(?:sama|sm|ama|ke|dengan|dgn|pada|sama\s+si))?"
)
_EN_PREFER = r"prefer|prefers|preferred|pick|choose|chose|vote\s+for|back|support|rather\s+have"
# The one-sided English preference takes only these ("support the plan over Bima's" is not one).
_EN_PREFER_ANY = r"prefer|prefers|preferred|pick|choose|chose|vote\s+for"
_EN_OVER = r"over|to|than|rather\s+than|instead\s+of"
_EN_OVER_ANY = r"over|rather\s+than|instead\s+of"
_EN_OUTDO = (
    r"outclass(?:ed|es)?|outperform(?:ed|s)?|outshone|outshines|outdebated|"
    r"(?:runs|ran)\s+circles\s+around"
)
_EN_CANNOT = r"(?:can't|cannot|can\s+not|couldn't)\s+hold\s+a\s+candle\s+to"
_ID_NOT = r"gak|ga|gk|nggak|enggak|tidak|tak|ngga"
_ID_NOTHING = rf"(?:{_ID_NOT})\s+ada\s+apa-?\s?apanya\s+(?:{_ID_THAN}|sama|ama)"
# "kalah" with these compares; with "dari" or "sama" it reports a contest ("Raka kalah dari Bima").
_ID_LOSES = r"dibanding(?:kan|in)?|ketimbang|daripada|drpd"


@dataclass(frozen=True)
class _Rule:
    """A pattern whose `a` side is favoured over its `b` side when `good` (the reverse when not);
    a side may be missing from the pattern. `cue` marks where the comparison starts: a negation
    in the words before it makes the rule abstain."""

    pattern: re.Pattern[str]
    good: bool


def _rules() -> list[_Rule]:
    a, b = _side("a"), _side("b")
    gap = rf"(?:\s+{_WORD})"

    def rule(pattern: str, good: bool = True) -> _Rule:
        return _Rule(re.compile(pattern), good)

    def comparative(lead: str, more: str, good: bool, far_side: str = "") -> list[_Rule]:
        """A comparative read three ways: both sides targets, only the side before it (`far_side`
        may refuse what follows "than"), only the side after it."""
        return [
            rule(rf"{a}{lead}{more}\s+{b}", good),
            rule(rf"{a}{lead}{more}\b{far_side}", good),
            rule(rf"{more}\s+{b}", good),
        ]

    rules: list[_Rule] = []
    for adjectives, good in ((_ID_GOOD, True), (_ID_BAD, False)):
        adjective = rf"(?:{adjectives})(?:\s+(?:dan|&|serta)\s+(?:{adjectives}))?"
        more = rf"(?P<cue>lebih|lbh){_INTENSITY}\s+{adjective}{_ID_ASPECT}\s+(?:{_ID_THAN})"
        # Not against a role: "Raka lebih cocok jadi pelawak daripada presiden" mocks Raka.
        rules += comparative(rf"{gap}{{0,2}}?{_INTENSITY}\s+", more, good, rf"(?!\s+(?:{_ROLE})\b)")
    for adjectives, good in ((_EN_GOOD, True), (_EN_BAD, False)):
        than = rf"(?P<cue>(?:{adjectives})){_EN_NOUN}{_EN_ASPECT}\s+than"
        rules += comparative("", rf"{_EN_BE}{_INTENSITY}(?:\s+(?:a|an))?{_INTENSITY}\s+{than}", good)
    rules += [
        # A preference: "mending Raka daripada Bima", "pilih Raka ketimbang yang lain",
        # "mending golput daripada Raka", "I'd pick Raka over Bima".
        rule(rf"\b(?P<cue>{_ID_PREFER})\s+{a}\s+(?:{_ID_THAN})\s+{b}"),
        rule(rf"\b(?P<cue>{_ID_PREFER})\s+{a}\s+(?:{_ID_RATHER})\b"),
        rule(rf"\b(?P<cue>{_ID_PREFER}){gap}{{1,3}}?\s+(?:{_ID_RATHER})\s+{b}"),
        rule(rf"\b(?P<cue>{_EN_PREFER})\s+{a}\s+(?:{_EN_OVER})\s+{b}"),
        rule(rf"\b(?P<cue>{_EN_PREFER})\s+{a}\s+(?:{_EN_OVER_ANY})\b"),
        rule(rf"\b(?P<cue>{_EN_PREFER_ANY}){gap}{{1,2}}?\s+(?:{_EN_OVER_ANY})\s+{b}"),
        # "Raka outclassed Bima", "Bima can't hold a candle to Raka", "Raka > Bima".
        rule(rf"{a}\s+(?P<cue>{_EN_OUTDO})\s+{b}"),
        rule(rf"(?P<cue>){b}\s+{_EN_CANNOT}\s+{a}"),
        rule(rf"{a}\s*(?P<cue>>+)\s*{b}"),
        # "Bima kalah jauh dibanding Raka", "Bima gak ada apa-apanya dibanding Raka".
        rule(rf"{b}{gap}?\s+(?P<cue>kalah){_INTENSITY}\s+(?:{_ID_LOSES})\s+{a}"),
        rule(rf"{b}{gap}{{0,2}}?\s+(?P<cue>){_ID_NOTHING}\s+{a}"),
    ]
    return rules


_RULES = _rules()


def _unasserted(clause: str, start: int, cue: int) -> bool:
    """Whether the author does not assert the comparison: a negation in the six words before its
    comparative or between its start and the comparative ("Raka tidak lebih baik dari Bima", "Gue
    gak yakin kalau Raka lebih baik"), or a question, condition, wish, obligation, past belief or
    someone else's claim before it."""
    before = clause[:cue]
    return bool(
        _NEGATION.search(clause[start:cue])
        or _NEGATION.search(" ".join(before.split()[-6:]))
        or _REPORTED.search(before)
        or _UNASSERTED.search(before)
    )


def _placed(clause: str, targets: Sequence[str]) -> Iterable[tuple[str, Stance]]:
    for rule in _RULES:
        for match in rule.pattern.finditer(clause):
            if _unasserted(clause, match.start(), match.start("cue")):
                continue
            sides = match.groupdict()
            if sides.get("a") is None and _NONE_BETTER.search(clause[: match.start()]):
                continue
            better, worse = (
                (sides.get("a"), sides.get("b")) if rule.good else (sides.get("b"), sides.get("a"))
            )
            if better is not None and worse is not None and targets[int(better)] == targets[int(worse)]:
                continue
            if better is not None:
                yield targets[int(better)], Stance.favor
            if worse is not None:
                yield targets[int(worse)], Stance.against


def compared(text: str, mentions: Sequence[Mention]) -> dict[str, Stance]:
    """The stance of each target an explicit comparison in `text` places; targets it does not
    place (or places both ways) are left out."""
    # A question anywhere: asked ("lebih baik X atau Y?") or the rhetorical one that turns a
    # comparison into sarcasm ("X lebih jujur dari Y? Mimpi.", "... Pengalaman apa?").
    if not mentions or "?" in text or _DISMISSED.search(text.casefold()):
        return {}
    marked, targets = placeholdered(text, mentions)
    return unanimous(placed for clause in CLAUSE.findall(marked) for placed in _placed(clause, targets))
