"""Stance read from the author's feeling about an outcome for a target, in Indonesian and English.

"Sedih banget Pak Raka kalah" favours Raka and "Senang Bima akhirnya tersingkir" opposes Bima:
the feeling is the post's sentiment, and the stance is that feeling turned by what the outcome does
to the target. The fine-tuned model learns the turn from few examples and reads it on the line
(issue 14: the second sentence flips with the runtime's rounding). Where the post says it
plainly, the classifier reads it by rule and leaves every other post, and every target the rule
does not place, to the model:

- a feeling, then the target and its outcome: "sedih (banget) (liat) Pak X kalah", "alhamdulillah
  X terpilih", "so glad (to see) X lost", "kecewa atas kekalahan X", "heartbroken over X's defeat";
  the feeling may be the clause before ("Alhamdulillah! X terpilih", "Finally! X passed"), or a
  hope or dread of an outcome to come ("semoga X menang", "jangan sampai X menang");
- the target and its outcome, then a feeling in the clause after it: "X kalah, sedih banget",
  "X lost. Good riddance.", "X resigned and I'm devastated";
- a second target's outcome joined to the first: "senang X menang dan Y tersingkir".

An outcome is good for its target (menang, terpilih, lolos, disahkan; won, elected, passed) or
bad (kalah, tersingkir, dicopot, mundur, ditolak; lost, ousted, resigned, rejected), turned by a
negation just before it ("gak lolos", "gagal terpilih", "won't be governor"). A negation just
before the feeling turns it too ("gak sedih sama sekali X kalah").

A wrong stance read with confidence is worse than the model's, so it reads only the author's own
feeling about the target's own outcome, and abstains on: a question anywhere; a condition before
the outcome ("kalau X kalah, aku sedih"); a feeling with a subject other than the author
("pendukungnya sedih", "his fans are heartbroken"); a feeling about something else, or with words
between it and the target that are not the few that link them ("sedih hujan terus, X menang");
the outcome of someone beside the target ("lawannya X menang"); a sad feeling beside laughter
(sarcasm: "sedih banget ya X kalah 🤣"), any feeling beside the faces of irony (🙃, 🙄); a
contrast after the outcome ("..., tapi mungkin memang waktunya"); mixed feelings; a hope after the
outcome (about what comes next); feigned feelings ("pura-pura sedih"); rumours; quotation marks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from nlp.marked import CLAUSE, CLOSE, OPEN, TITLE, placeholdered
from nlp.targets import Mention
from pantau.domain import Stance

_NOT = (
    r"tidak|tdk|tak|gak|ga|gk|nggak|ngga|enggak|engga|ndak|nda|bukan|bkn|not|isn't|aren't|wasn't|"
    r"ain't|don't|didn't|doesn't|am\s+not|i'm\s+not|im\s+not"
)
# Feelings the author states, by sign. Gloating ("syukurin", "good riddance") is glad of what
# befell the target.
_GLAD = (
    r"senang|seneng|senengnya|bahagia|gembira|girang|lega|leganya|bersyukur|syukur|syukurlah|"
    r"couldn't\s+be\s+happier|never\s+been\s+happier|(?:what\s+a\s+)?relief|(?:brilliant|great|good|best)\s+news|"
    r"alhamdulillah|alhamdulilah|hamdalah|puji\s+tuhan|untung(?:lah)?|puas|bangga|mantap|mantul|mantep|asik|asyik|yes+|yeay|"
    r"yey|yay|hore+|horee|syukurin|sukurin|rasain|rasakan|mampus|modyar|"
    r"glad|happy|happier|delighted|thrilled|relieved|pleased|proud|overjoyed|ecstatic|excited|"
    r"elated|grateful|thankful|thank\s+god|thank\s+goodness|thankfully|hooray|hurray|woohoo|"
    r"good\s+riddance|love\s+that|great\s+that|great\s+to\s+see|good\s+to\s+see|best\s+news|"
    r"hepi|plong|over\s+the\s+moon|well\s+deserved|karma"
)
# A hope for an outcome to come is gladness at it ("semoga X menang" favours X), a dread of it
# sadness ("jangan sampai X menang"); read only before the outcome: after it, a hope is about what
# comes next ("X gagal lolos. Semoga lima tahun lagi balik").
_HOPE = (
    r"semoga|moga(?:-moga|2)?|mudah-mudahan|mudah2an|hopefully|hope|hoping|praying|fingers\s+crossed|"
    r"please\s+let"
)
_DREAD = r"jangan\s+sampai|amit-amit|god\s+forbid|please\s+don't\s+let|dreading"
_SAD = (
    r"sedih|sedihnya|kecewa|kecewanya|nyesek|nyesel|patah\s+hati|sakit\s+hati|hancur\s+hati|"
    r"ambyar|berduka|miris|prihatin|sayang\s+(?:sekali|banget|bgt)|sayangnya|cemas|khawatir|kuatir|"
    r"takut|lemes|lemas|terpukul|innalillahi|capek\s+hati|hati\s+(?:ini\s+|gue\s+|aku\s+)?(?:hancur|remuk)|"
    r"ikut\s+berduka|kesal|kesel|sebel|sebal|males|malas|muak|eneg|marah|geram|murka|nangis|menangis|pilu|galau|"
    r"(?:gak|ga|nggak|tidak|tak)\s+(?:rela|terima|ikhlas)|"
    r"sad|saddened|sadly|disappointed|disappointing|gutted|heartbroken|heartbreaking|devastated|"
    r"devastating|depressing|dismayed|it\s+hurts|sorry\s+to\s+(?:see|hear)|upset|angry|furious|outraged|disgusted|sick|worried|afraid|scared|terrified|"
    r"unhappy|crushed|depressed|horrified|appalled|such\s+a\s+shame|what\s+a\s+shame|a\s+shame"
)
# What may come before the author's feeling in its clause: the author, an interjection, a degree,
# a negation ("Aku ikut senang", "Duh, sedih", "I'm so glad", "Jujur gak sedih").
_LEAD = (
    rf"(?:\b(?:aku|aq|gue|gua|gw|saya|sy|kami|kita|i|i'm|im|i\s+am|we|we're|we\s+are|am|so|very|"
    rf"really|truly|honestly|literally|lowkey|just|feeling|feel|jujur|duh|aduh|yah|wah|ah|oh|ya\s+allah|sungguh|"
    rf"sangat|amat|ikut|turut|jadi|asli|beneran|bener|rasanya|{_NOT})\b|[^\w\s{OPEN}{CLOSE}])"
)
# What may come between the feeling and the target: a degree, seeing or hearing, "that", "about".
_LINK = (
    r"(?:\s*[,!]*\s*(?:banget|bgt|bngt|bener|sekali|amat|sih|deh|dong|loh|lho|nih|ya|rasanya|"
    r"aku|aq|gue|gua|gw|saya|kami|kita|"
    r"berat|hati|dan|and|berita|kabar|"
    r"liat|lihat|ngeliat|melihat|denger|dengar|mendengar|tau|tahu|baca|membaca|karena|krn|"
    r"soalnya|atas|akan|dengan|dgn|sama|bahwa|pas|waktu|akhirnya|ternyata|"
    r"all|day|night|hari\s+ini|malam\s+ini|tonight|today|so|very|really|af|that|to\s+see|to\s+hear|to\s+learn|to\s+read|about|over|at|by|for|seeing|"
    r"hearing|watching|watch|see|hear|finally|the|news|news\s+that)\b)*"
    rf"[^\w{OPEN}{CLOSE}.?;\n]*"
)
_SIDE = rf"{TITLE}{OPEN}(?P<t>\d+){CLOSE}"
_SIDE_NOUN = rf"{TITLE}{OPEN}(?P<tn>\d+){CLOSE}"
_SIDE_POSSESSIVE = rf"{TITLE}{OPEN}(?P<tp>\d+){CLOSE}"
# Between the target and its outcome.
_AUX = (
    r"akhirnya|resmi|benar-benar|bener-bener|beneran|udah|udh|sudah|sdh|telah|baru|barusan|malah|"
    r"justru|tetap|tetep|kembali|juga|pun|tuh|beliau|dia|harus|mesti|terpaksa|akan|bakal|bisa|dinyatakan|"
    r"finally|officially|actually|just|has|have|had|been|was|is|got|gets|get|did|does|really|be|"
    r"will|would|might|may|to|indeed|ultimately|eventually|going|gonna|must|had\s+to|has\s+to"
)
_OUTCOME_NOT = (
    r"(?:gak|ga|nggak|tidak|tak)\s+jadi|gagal|batal|belum|gak|ga|gk|nggak|ngga|enggak|engga|tidak|tdk|tak|"
    r"not|didn't|did\s+not|failed\s+to|fails\s+to|won't|will\s+not|wasn't|was\s+not|isn't|is\s+not|"
    r"never|couldn't|could\s+not|can't|cannot"
)
_ROLE = (
    r"presiden|wapres|gubernur|wagub|bupati|wali\s?kota|walkot|menteri|anggota\s+dewan|dprd?|"
    r"ketua\w*|pemimpin|president|vice\s+president|governor|mayor|minister|senator|regent|speaker|"
    r"chair\w*|leader|in\s+office"
)
# Good for the target: it wins, is chosen, passes, takes office.
_GOOD = (
    rf"menang|menangin|memenangkan|memenangi|terpilih|kepilih|lolos(?!\s+dari)|dilantik|disahkan|diloloskan|unggul|"
    rf"juara|berlaku|sah|ketok\s+palu|(?:jadi|menjadi)\s+(?:pemenang|juara)|"
    rf"masuk\s+(?:senayan|dpr|dprd|parlemen|parliament|kabinet|putaran\s+kedua)|"
    rf"(?:ditunjuk|diangkat)\s+(?:jadi|menjadi|sebagai)\s+(?:{_ROLE})|"
    rf"dibebaskan|divonis\s+bebas|bebas|melaju|(?:jadi|menjadi)\s+(?:{_ROLE})|"
    rf"(?:dapat|dapet|meraih)\s+(?:kursi|jabatan|tiket)|dilanjutkan|berlanjut|diteruskan|diperpanjang|"
    rf"diangkat|"
    rf"won|wins|win|winning|elected|re-?elected|passed|passes|pass|sworn\s+in|acquitted|cleared|"
    rf"confirmed|approved|in\s+force|made\s+it|makes?\s+it|advances|advanced|extended|renewed|"
    rf"re-?appointed|appointed|reinstated|released|signed\s+into\s+law|go(?:es|ing)?\s+ahead|"
    rf"(?:got|gets|get|won|wins|win|secured|keeps|kept|retains|retained)\s+(?:his|her|their|the)\s+(?:\w+\s+)?"
    rf"(?:seat|nomination|ministry|portfolio|job|post|majority)|(?:gets|got|get|won|wins|win)\s+(?:\w+\s+)?seats|(?:became|becomes|become|be)\s+(?:the\s+)?(?:{_ROLE})"
)
# Bad for the target: it loses, is removed, withdraws, is rejected, is arrested.
_BAD = (
    r"kalah|keok|tumbang|tersingkir|tersingkirkan|disingkirkan|terdepak|didepak|dicopot|dipecat|"
    r"diberhentikan|dilengserkan|lengser|mundur|didiskualifikasi|gugur|ditangkap|ditahan|dipenjara|"
    r"dibui|divonis(?!\s+bebas)|dihukum|(?:jadi|ditetapkan\s+(?:jadi|sebagai))\s+tersangka|ditolak|dibatalkan|"
    r"digagalkan|dicabut|kandas|out(?!\s+of)|gagal|batal|dihentikan|ditunda|ditangguhkan|dipotong|dipangkas|"
    r"dihapus|dihapuskan|ditarik|mandek|anjlok|nyungsep|jeblok|pensiun|kehilangan\s+(?:\S+\s+){0,2}kursi\w*|"
    r"digugurkan|dicoret|dibubarkan|mengundurkan\s+diri|"
    r"lost|loses|lose|losing|defeated|beaten|eliminated|knocked\s+out|ousted|removed|sacked|fired|"
    r"dismissed|impeached|resigned|resigns|resign|stepped\s+down|steps\s+down|step\s+down|withdrew|"
    r"withdraws|dropped\s+out|drops\s+out|disqualified|arrested|jailed|convicted|indicted|rejected|"
    r"out\s+of\s+the\s+race|struck\s+down|scrapped|repealed|vetoed|voted\s+out|kicked\s+out|booted|conceded|concedes|"
    r"finish(?:ed|es)?\s+last|pushed\s+out|crashed\s+out|wiped\s+out|fell\s+short|falls\s+short|gone|"
    r"kicked\s+off|thrown\s+out|voted\s+down|withdrawn|miss(?:ed|es)?\s+the\s+threshold|retired|retires|cut|cancel+ed|halted|suspended|postponed|delayed|shelved|axed"
)
# The outcome as a noun before the target ("kekalahan X") or after its possessive ("X's defeat").
_GOOD_NOUN_ID = r"kemenangan|terpilihnya|lolosnya|dilantiknya|pelantikan|disahkannya|pengesahan"
_BAD_NOUN_ID = (
    r"kekalahan|tersingkirnya|dicopotnya|pencopotan|pemecatan|mundurnya|ditangkapnya|penangkapan|"
    r"lengsernya|ditolaknya|pembatalan"
)
_GOOD_NOUN_EN = r"win|victory|election|re-?election|comeback|acquittal|passage|swearing-in"
_BAD_NOUN_EN = (
    r"defeat|loss|ouster|resignation|arrest|conviction|disqualification|elimination|exit|downfall|fall|"
    r"rejection|repeal"
)

_FEELING = re.compile(rf"\b(?:(?P<glad>{_GLAD}|(?P<hope>{_HOPE}))|(?P<sad>{_SAD}|(?P<dread>{_DREAD})))\b")
_EVENT = re.compile(
    rf"{_SIDE}(?:\s*'s)?(?:\s+(?:{_AUX}))*(?:\s+(?P<not>{_OUTCOME_NOT}))?(?:\s+(?:{_AUX}))*"
    rf"\s+(?:(?P<good>{_GOOD})|(?P<bad>{_BAD}))\b(?!')"
    rf"|(?:(?P<good_noun>{_GOOD_NOUN_ID})|(?P<bad_noun>{_BAD_NOUN_ID}))\s+{_SIDE_NOUN}"
    rf"|{_SIDE_POSSESSIVE}\s*'s\s+(?:(?P<good_poss>{_GOOD_NOUN_EN})|(?P<bad_poss>{_BAD_NOUN_EN}))\b"
)
# What joins a second outcome to the first, under the same feeling.
_AND = re.compile(rf"\s*[,;]?\s*(?:(?:dan|and|&|serta)\s*)?{TITLE}")
# After the outcome, what may turn or weigh the feeling ("sedih X kalah, tapi mungkin memang
# waktunya ganti"): the rule leaves such posts to the model.
_CONTRAST = re.compile(
    r"\b(?:tapi|tetapi|namun|meski(?:pun)?|walau(?:pun)?|but|however|though|although|yet)\b"
)
# The words an outcome may take after it before the clause with the feeling ("X kalah tipis,
# sedih banget").
_OUTCOME_TAIL = 5
# A clause of its own before the outcome that says it was awaited ("Finally! X passed").
_AT_LAST = re.compile(r"\W*(?:finally|akhirnya|at\s+last)\W*")
# Laughter: beside a sad feeling, sarcasm ("sedih banget ya X kalah 🤣").
_SAD_JOKE = re.compile(
    r"wk(?:wk)+|kwk|haha|hehe|awok|\blol\b|\blmao\b|\brofl\b|[\U0001f923\U0001f602\U0001f606\U0001f639]"
)
# The faces and phrases of irony: beside any feeling ("Great, X delayed again. Love that for us 🙃").
_IRONY = re.compile(r"[\U0001f643\U0001f644\U0001f60f\U0001f92d\U0001f612]|\blove\s+that\s+for\s+(?:us|me)\b")
_CONDITION = re.compile(
    r"\b(?:kalau|kalo|klo|kl|jika|jikalau|seandainya|andai(?:kan)?|misal(?:nya)?|kalaupun|bila|"
    r"apabila|if|unless|when|whether|in\s+case|should)\b"
)
_ABSTAIN = re.compile(
    r"\b(?:pura-?pura|sok\s+(?:sedih|senang|seneng|kecewa|bahagia|peduli)|seolah|katanya|kabarnya|konon|rumor|rumour|isu|hoa(?:x|ks)|reportedly|"
    r"allegedly|supposedly|pretend\w*|fake|feigned)\b|[\"\u201c\u201d]"
)
# Someone beside the target whose outcome it is ("lawannya X menang", "X's rival won").
_BESIDE = re.compile(
    r"\b(?:lawan\w*|saingan\w*|musuh\w*|rival\w*|pesaing\w*|penantang\w*|opponent\w*|challenger\w*|pendukung\w*|fans?|"
    r"timses|kubu|staf\w*|anak\w*|istri\w*|suami\w*|adik\w*|kakak\w*)\s*$"
)


@dataclass(frozen=True)
class _Event:
    target: int
    good: bool
    start: int
    end: int


def _events(clause: str) -> list[_Event]:
    found = []
    for match in _EVENT.finditer(clause):
        groups = match.groupdict()
        side = groups["t"] or groups["tn"] or groups["tp"]
        assert side is not None
        good = bool(groups["good"] or groups["good_noun"] or groups["good_poss"])
        if groups["not"]:
            good = not good
        found.append(_Event(int(side), good, match.start(), match.end()))
    return found


def _feeling_before(prev: str, clause: str, event: _Event) -> bool | None:
    """The sign of the author's feeling right before the event (True: glad), if there is one: in
    its clause, or as the whole clause before it ("Alhamdulillah! X terpilih")."""
    before = clause[: event.start]
    if _BESIDE.search(before):
        return None
    feelings = list(_FEELING.finditer(before))
    if feelings:
        feeling = feelings[-1]
        linked = re.fullmatch(_LINK, before[feeling.end() :]) is not None
        return _authors(clause, feeling) if linked else None
    if before.strip() or not prev:
        return None
    if _AT_LAST.fullmatch(prev):
        return True
    feelings = list(_FEELING.finditer(prev))
    if len(feelings) != 1 or re.fullmatch(rf"{_LINK}[.!;\n]*\s*", prev[feelings[0].end() :]) is None:
        return None
    return _authors(prev, feelings[0])


def _feeling_after(rest: str) -> bool | None:
    """The sign of a feeling opening the clause after an outcome and a few words of its own, if
    there is one ("X kalah tipis, sedih banget"; "X lost. Gutted.")."""
    boundary = re.search(r"[.!,;\n]+|\s(?:and|dan)\s", rest)
    if boundary is None:
        return None
    gap = rest[: boundary.start()]
    if OPEN in gap or len(gap.split()) > _OUTCOME_TAIL:
        return None
    after = rest[boundary.end() :]
    feelings = list(_FEELING.finditer(after))
    # More than one ("Gak seneng, gak sedih"): mixed or indifferent, left to the model.
    if len(feelings) != 1 or OPEN in after[: feelings[0].start()]:
        return None
    if feelings[0].group("hope") or feelings[0].group("dread"):
        return None
    return _authors(after, feelings[0])


def _authors(clause: str, feeling: re.Match[str]) -> bool | None:
    """The sign of `feeling` if nothing but the author, an interjection, a degree or a negation
    comes before it in its clause: True glad, False sad, None someone else's."""
    start = max(clause.rfind(mark, 0, feeling.start()) for mark in ",:.!;\n")
    lead = clause[start + 1 : feeling.start()]
    glad = feeling.group("glad") is not None
    # "Sedih dan marah, ...": feelings of one sign joined.
    others = list(_FEELING.finditer(lead))
    if any((other.group("glad") is not None) != glad for other in others):
        return None
    lead = _FEELING.sub(" ", lead)
    if re.fullmatch(rf"\s*(?:(?:{_LEAD}|dan|and|&)\s*)*", lead) is None:
        return None
    negated = re.search(rf"\b(?:{_NOT})\b", lead) is not None
    return glad != negated


def _chains(clause: str) -> list[list[_Event]]:
    """The clause's outcomes, those joined by a comma or "dan"/"and" in one chain ("X menang, Y
    kalah"); an outcome of someone beside its target ("lawannya X menang") is left out."""
    chains: list[list[_Event]] = []
    for event in _events(clause):
        if _BESIDE.search(clause[: event.start]):
            continue
        if chains and _AND.fullmatch(clause[chains[-1][-1].end : event.start]):
            chains[-1].append(event)
        else:
            chains.append([event])
    return chains


def _placed(prev: str, clause: str, after: str, laughing: bool) -> Iterable[tuple[int, Stance]]:
    chains = _chains(clause)
    for chain in chains:
        first, last = chain[0], chain[-1]
        rest = clause[last.end :] + after
        if _CONDITION.search(clause[: first.start]) or _CONTRAST.search(rest):
            continue
        feeling = _feeling_before(prev, clause, first)
        if feeling is None and chain is chains[-1]:
            feeling = _feeling_after(rest)
        if feeling is None or (laughing and not feeling):
            continue
        for event in chain:
            yield event.target, Stance.favor if feeling == event.good else Stance.against


def reacted(text: str, mentions: Sequence[Mention]) -> dict[str, Stance]:
    """The stance of each target whose outcome the author plainly feels glad or sad about in
    `text`; targets it does not place (or places both ways) are left out."""
    folded = text.casefold()
    if not mentions or "?" in text or _ABSTAIN.search(folded) or _IRONY.search(folded):
        return {}
    marked, targets = placeholdered(text, mentions)
    laughing = _SAD_JOKE.search(marked) is not None
    clauses = CLAUSE.findall(marked)
    found: dict[str, set[Stance]] = {}
    for i, clause in enumerate(clauses):
        prev = clauses[i - 1] if i else ""
        after = clauses[i + 1] if i + 1 < len(clauses) else ""
        for side, stance in _placed(prev, clause, after, laughing):
            found.setdefault(targets[side], set()).add(stance)
    return {target: stances.pop() for target, stances in found.items() if len(stances) == 1}
