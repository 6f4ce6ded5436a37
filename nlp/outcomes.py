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
- a second target's outcome joined to the first: "senang X menang dan Y tersingkir";
- an interjection after the outcome, with at most a few of the outcome's own words and symbols
  between and nothing after it in its clause: "X dicopot 🎉 alhamdulillah, lega bgt", "X divonis
  8 tahun 👏 syukurlah", "X kalah. Innalillahi".

An outcome is good for its target (menang, terpilih, lolos, disahkan; won, elected, passed) or
bad (kalah, tersingkir, dicopot, mundur, ditolak; lost, ousted, resigned, rejected), turned by a
negation just before it ("gak lolos", "gagal terpilih", "won't be governor"). A negation just
before the feeling turns it too ("gak sedih sama sekali X kalah").

A wrong stance read with confidence is worse than the model's, so it reads only the author's own
feeling about the target's own outcome, and abstains on:

- whose feeling: someone else's ("pendukungnya sedih", "Jubir PSN: kecewa", "..., says his
  campaign manager", quotations); a feeling with other words between it and the target than the
  few that link them ("sedih hujan terus, X menang"); a later feeling that goes on about something
  else ("X menang. Males banget besok Senin") or may be the target's own ("X kalah dan kecewa
  berat", "X kalah, kesel, terus nuduh KPU curang");
- whose outcome: someone beside the target ("lawannya X menang", "kota X"); the target acting on
  something ("Raka fired the police chief", "X gagal nepatin janji", "X mundur dari rencana");
  what befell the target's own sanction or case ("X dicabut status tersangkanya"); an outcome
  undone ("kekalahan X dibatalkan MK"); words in another sense ("passed away", "lost his mother",
  "X's fall tour"); games and contests that share a name ("PSN kalah 0-3");
- what the feeling is about: the margin or manner ("kalah tipis doang", "conceded with grace");
  pride or gladness for the target at a bad outcome ("bangga X kalah dengan terhormat", "ikut
  seneng X pensiun"); anger or dismay at an arrest beside the wrongdoing ("miris X ditangkap
  karena korupsi");
- whether it is asserted: a question anywhere; a condition ("kalau X kalah, aku sedih"); a
  contrast after the outcome ("..., tapi mungkin memang waktunya"); mixed feelings, or a negated
  feeling beside one that disagrees ("tidak senang, tidak sedih"); a hope after the outcome (about
  what comes next); laughter beside anything but gloating, celebration beside sadness, the faces
  of irony (🙃, 🙄) and retractions ("ga deng", "/s", "NOT."); feigned feelings; rumours.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from nlp.marked import CLAUSE, CLOSE, OPEN, TITLE, placeholdered, unanimous
from nlp.targets import Mention
from pantau.domain import Stance

_NOT = (
    r"tidak|tdk|tak|gak|ga|gk|nggak|ngga|enggak|engga|ndak|nda|bukan|bkn|not|isn't|aren't|wasn't|"
    r"ain't|didn't|doesn't|am\s+not|i'm\s+not|im\s+not"
)
# Feelings the author states, by sign. Gloating ("syukurin", "good riddance") is glad of what
# befell the target.
_GLAD = (
    r"senang|seneng|senengnya|bahagia|gembira|girang|lega|leganya|bersyukur|syukur|syukurlah|"
    r"couldn't\s+be\s+happier|never\s+been\s+happier|(?:what\s+a\s+)?relief|"
    r"(?:brilliant|great|good|best)\s+news|alhamdulillah|alhamdulilah|hamdalah|puji\s+tuhan|"
    r"untung(?:lah)?|puas|bangga|mantap|mantul|mantep|asik|asyik|yeay|yey|yay|hore+|horee|"
    r"syukurin|sukurin|rasain|rasakan|mampus|modyar|hepi|plong|"
    r"karma(?:\s+(?:is\s+real|itu\s+nyata|dibayar\s+(?:lunas|tunai)|does\s+exist))?|"
    r"glad|happy|happier|delighted|thrilled|relieved|pleased|proud|overjoyed|ecstatic|excited|"
    r"elated|grateful|thankful|thank\s+god|thank\s+goodness|thankfully|hooray|hurray|woohoo|"
    r"good\s+riddance|love\s+that|great\s+that|great\s+to\s+see|good\s+to\s+see|over\s+the\s+moon|"
    r"well\s+deserved|best\s+day|ngakak|ketawa|terharu|nangis\s+haru|tears\s+of\s+joy"
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
    r"ambyar|berduka|miris|prihatin|sayang\s+(?:sekali|banget|bgt)|sayangnya|cemas|khawatir|"
    r"kuatir|takut|lemes|lemas|terpukul|innalillahi|capek\s+hati|"
    r"hati\s+(?:ini\s+|gue\s+|aku\s+)?(?:hancur|remuk)|ikut\s+berduka|kesal|kesel|sebel|sebal|males|"
    r"malas|muak|eneg|marah|geram|murka|nangis|menangis|pilu|galau|bete|ancur|hancur|ngeri|"
    r"hari\s+berkabung|sick\s+to\s+my\s+stomach|"
    r"(?:gak|ga|nggak|tidak|tak)\s+(?:rela|terima|ikhlas)|"
    r"sad|saddened|sadly|disappointed|disappointing|gutted|heartbroken|heartbreaking|devastated|"
    r"devastating|depressing|dismayed|it\s+hurts|sorry\s+to\s+(?:see|hear)|upset|angry|furious|"
    r"outraged|disgusted|worried|afraid|scared|terrified|unhappy|crushed|depressed|horrified|"
    r"appalled|such\s+a\s+shame|what\s+a\s+shame|a\s+shame"
)
# Pride in the target, or gladness for it, favours it whatever befell it ("bangga Pak X kalah
# dengan terhormat"): with a bad outcome the rule does not read it.
_FOR_THEM = re.compile(
    r"bangga|proud|terharu|nangis\s+haru|tears\s+of\s+joy|happy\s+for|(?:ikut|turut)\s+(?:senang|seneng|bahagia)"
)
# The feelings that may be sympathy with the target when it is arrested or charged; anger or
# dismay there may be at what it did ("miris X ditangkap karena korupsi").
_SYMPATHY = re.compile(
    r"sedih|nyesek|patah\s+hati|hancur\s+hati|nangis|menangis|sad|saddened|heartbroken|devastated|"
    r"gutted|crushed"
)
# The author, in the first person.
_ME = r"aku|aq|gue|gua|gw|saya|kami|kita|i|i'm|im|we|we're"
# What may come before the author's feeling in its clause: the author, an interjection, a degree,
# a negation ("Aku ikut senang", "Duh, sedih", "I'm so glad", "Jujur gak sedih").
_LEAD = (
    rf"(?:\b(?:{_ME}|sy|i\s+am|we\s+are|am|so|very|"
    rf"really|truly|honestly|literally|lowkey|just|feeling|feel|jujur|duh|aduh|yah|wah|ah|oh|"
    rf"ya\s+allah|sungguh|sangat|amat|ikut|turut|jadi|asli|beneran|bener|rasanya|{_NOT})\b|"
    rf"[^\w\s{OPEN}{CLOSE}:])"
)
# A negation in the two words before a feeling.
_NEGATED = re.compile(rf"\b(?:{_NOT})\s+(?:\S+\s+)?$")
# What makes a feeling after a comma the author's ("X ditolak, honestly relieved, drafnya kacau").
_AUTHOR_MARK = re.compile(rf"\b(?:{_ME}|honestly|jujur|sumpah|asli|literally)\b")
_FIRST_PERSON = re.compile(rf"\b(?:{_ME})\b")
# Words of degree, of the author and of mood that may sit beside a feeling.
_DEGREE = (
    r"banget|bgt|bngt|bener|sekali|sama\s+sekali|amat|berat|parah|sih|deh|dong|loh|lho|nih|ya|lah|"
    r"rasanya|hati|aku|aq|gue|gua|gw|saya|kami|kita|so|very|really|truly|honestly|af|indeed"
)
# Besides degrees, what may close a clause whose feeling comes after the outcome: seeing it,
# addressing the target or the reader, an interjection ("senang banget liatnya", "mampus lo",
# "hepi banget gaes", "alhamdulillah ya Allah").
_CLOSING = (
    rf"{_DEGREE}|liat\w*|lihat\w*|denger\w*|kalian(?:\s+berdua)?|lo|lu|elo|you(?:\s+guys|\s+all)?|u|"
    r"y'all|(?:of|for)\s+(?:you|u|them|him|her)(?:\s+guys|\s+all)?|sumpah|gaes|guys|bro|sis|cuy|"
    r"anjir|jir|gan|rn|right\s+now|now|tbh|literally|ya\s+allah|ya\s+tuhan|alhamdulillah|hari\s+ini|"
    r"malam\s+ini|tonight|today|day|night|news|moment|hari|malam|berita"
)
# What may come between the feeling and the target: a degree, seeing or hearing, "that", "about".
_LINK = (
    rf"(?:\s*[,!]*\s*(?:{_DEGREE}|dan|and|berita|kabar|"
    r"liat|lihat|ngeliat|melihat|denger|dengar|mendengar|tau|tahu|baca|membaca|karena|krn|"
    r"soalnya|atas|akan|bahwa|akhirnya|ternyata|"
    r"all|day|night|hari\s+ini|malam\s+ini|tonight|today|that|to\s+see|to\s+hear|to\s+learn|"
    r"to\s+read|about|over|at|by|for|seeing|hearing|watching|watch|see|hear|finally|the|news|"
    r"news\s+that)\b)*"
    rf"[^\w{OPEN}{CLOSE}.?;:\n]*"
)
# What may follow a feeling to the end of its clause when it comes after the outcome ("X kalah,
# sedih banget 😭"): the feeling is then about nothing else ("X menang. Males banget besok Senin").
_TAIL = re.compile(rf"(?:\s*(?:{_CLOSING}|dan|and|&)\b|\s*[^\w\s{OPEN}{CLOSE}])*\s*")
_SIDE = rf"{TITLE}{OPEN}(?P<t>\d+){CLOSE}"
_SIDE_NOUN = rf"{TITLE}{OPEN}(?P<tn>\d+){CLOSE}"
_SIDE_POSSESSIVE = rf"{TITLE}{OPEN}(?P<tp>\d+){CLOSE}"
# Between the target and its outcome.
_AUX = (
    r"akhirnya|resmi|benar-benar|bener-bener|beneran|udah|udh|sudah|sdh|telah|baru|barusan|malah|"
    r"justru|tetap|tetep|kembali|juga|pun|tuh|beliau|dia|harus|mesti|terpaksa|akan|bakal|bisa|"
    r"dinyatakan|finally|officially|actually|just|has|have|had|been|was|is|got|gets|get|did|does|"
    r"really|be|will|would|might|may|to|indeed|ultimately|eventually|going|gonna|must|had\s+to|"
    r"has\s+to"
)
_OUTCOME_NOT = (
    r"(?:gak|ga|nggak|tidak|tak)\s+jadi|gagal|batal|belum|gak|ga|gk|nggak|ngga|enggak|engga|tidak|"
    r"tdk|tak|not|didn't|did\s+not|failed\s+to|fails\s+to|won't|will\s+not|wasn't|was\s+not|isn't|"
    r"is\s+not|never|couldn't|could\s+not|can't|cannot"
)
_ROLE = (
    r"presiden|wapres|gubernur|wagub|bupati|wali\s?kota|walkot|menteri|anggota\s+dewan|dprd?|"
    r"ketua\w*|pemimpin|president|vice\s+president|governor|mayor|minister|senator|regent|speaker|"
    r"chair\w*|leader|in\s+office"
)
# Places a race leads to: "gagal ke Senayan", "masuk DPR".
_SEAT = (
    r"senayan|dpr|dprd|parlemen|parliament|kabinet|istana|putaran\s+(?:kedua|dua|2)|runoff|run-off|"
    r"paripurna|ambang\s+batas|pt"
)
# Good for the target: it wins, is chosen, passes, takes office.
_GOOD_ID = (
    rf"menang|menangin|memenangkan|memenangi|terpilih|kepilih|lolos(?!\s+dari)|dilantik|disahkan|"
    rf"diloloskan|unggul|berlaku|sah|lolos\s+(?:{_SEAT})|dipertahankan|tetap\s+di\s+(?:{_SEAT})|"
    rf"dinyatakan\s+(?:tdk|tidak|ga|gak|nggak)\s+bersalah|presiden\s+terpilih|tembus\s+\d+\s+besar|"
    rf"ketok\s+palu|(?:jadi|menjadi)\s+pemenang|masuk\s+(?:{_SEAT})|"
    rf"(?:ditunjuk|diangkat)\s+(?:jadi|menjadi|sebagai)\s+(?:{_ROLE})|dibebaskan|divonis\s+bebas|"
    rf"bebas|melaju|(?:jadi|jd|menjadi)\s+(?:{_ROLE})|(?:dapat|dapet|dpt|meraih)\s+(?:kursi|jabatan|tiket)|"
    rf"dilanjutkan|berlanjut|diteruskan|diperpanjang|diangkat|nyalon|mencalonkan\s+diri|"
    rf"maju(?:\s+(?:ke\s+)?putaran\s+\w+)?"
)
_GOOD_EN = (
    rf"won|wins|win|winning|elected|re-?elected|passed|passes|pass|sworn\s+in|acquitted|cleared|"
    rf"approved|in\s+force|made\s+it|makes?\s+it|advances|advanced|extended|renewed|re-?appointed|"
    rf"appointed|reinstated|released|signed\s+into\s+law|go(?:es|ing)?\s+ahead|made\s+the\s+runoff|"
    rf"making\s+the\s+runoff|leading\s+the\s+count|"
    rf"(?:got|gets|get|won|wins|win|secured|keeps|kept|retains|retained)\s+(?:his|her|their|the)\s+"
    rf"(?:\w+\s+)?(?:seat|nomination|ministry|portfolio|job|post|majority)|"
    rf"(?:gets|got|get|won|wins|win)\s+(?:\w+\s+)?seats|"
    rf"(?:became|becomes|become|be)\s+(?:the\s+)?(?:{_ROLE})"
)
# Bad for the target: it loses, is removed, withdraws, is rejected, is arrested.
_BAD_ID = (
    r"kalah|keok|tumbang|tersingkir|tersingkirkan|disingkirkan|terdepak|didepak|dicopot|dipecat|"
    r"diberhentikan|dilengserkan|lengser|mundur|didiskualifikasi|gugur|ditangkap|ditahan|dipenjara|"
    r"dibui|divonis(?!\s+bebas)|dihukum|(?:jadi|jd)\s+tersangka|ditolak|"
    r"dibatalkan|digagalkan|dicabut|kandas|gagal|batal|dihentikan|ditunda|ditangguhkan|dipotong|"
    r"dipangkas|dihapus|dihapuskan|ditarik|mandek|anjlok|nyungsep|jeblok|pensiun|"
    r"kehilangan\s+(?:\S+\s+){0,2}kursi\w*|digugurkan|dicoret|dibubarkan|mengundurkan\s+diri|"
    r"kena\s+reshuffle|direshuffle|dibuang|tereliminasi|ambles|ambruk|dianulir|dibatalin|"
    r"(?:dipanggil|diperiksa)\s+kpk|ditetapkan\s+(?:jadi\s+|sebagai\s+)?tersangka|bubar|distop|disetop|"
    r"diganti|dinonaktifkan"
)
_BAD_EN = (
    r"lost|loses|lose|losing|defeated|beaten|eliminated|knocked\s+out|ousted|removed|sacked|fired|"
    r"dismissed|impeached|resigned|resigns|resign|stepped\s+down|steps\s+down|step\s+down|withdrew|"
    r"withdraws|dropped\s+out|drops\s+out|disqualified|arrested|jailed|convicted|indicted|rejected|"
    r"out\s+of\s+the\s+(?:race|running)|out\s+(?:dari|from)\s+(?:the\s+)?(?:bursa|race|pencalonan|"
    r"kontestasi|running|ballot)|kicked\s+off|out\s+(?:di|in)\s+(?:round|babak|putaran)\s+\w+|"
    r"out(?=\s*(?:$|[.!,;\n]))|struck\s+down|scrapped|repealed|"
    r"vetoed|voted\s+out|kicked\s+out|booted|conceded|concedes|finish(?:ed|es)?\s+last|pushed\s+out|"
    r"crashed\s+out|wiped\s+out|fell\s+short|falls\s+short|thrown\s+out|voted\s+down|withdrawn|"
    r"miss(?:ed|es)?\s+the\s+threshold|retired|retires|cancel+ed|halted|suspended|postponed|"
    r"delayed|shelved|axed|collapsed|reshuffled\s+out|out\s+of\s+the\s+cabinet|eliminated|"
    r"deregistered|censured|banned"
)
# The outcome as a noun before the target ("kekalahan X") or after its possessive ("X's defeat").
_GOOD_NOUN_ID = r"kemenangan|terpilihnya|lolosnya|dilantiknya|pelantikan|disahkannya|pengesahan"
_BAD_NOUN_ID = (
    r"kekalahan|tersingkirnya|dicopotnya|pencopotan|pemecatan|mundurnya|ditangkapnya|penangkapan|"
    r"lengsernya|ditolaknya|pembatalan"
)
_GOOD_NOUN_EN = r"win|victory|election|re-?election|comeback|acquittal|passage|swearing-in"
_BAD_NOUN_EN = r"defeat|ouster|resignation|arrest|disqualification|elimination|downfall|rejection|repeal"
# Arrests and charges: read only with sympathy, and not beside the wrongdoing.
_CRIME = re.compile(
    r"ditangkap|ditahan|dipenjara|dibui|divonis|dihukum|tersangka|penangkapan|kpk|arrest\w*|jailed|"
    r"convicted|indicted"
)
_RETIREMENT = re.compile(r"pensiun|retire\w*")
_WRONGDOING = re.compile(
    r"\b(?:korupsi|koruptor|korup|suap|disuap|gratifikasi|maling|mencuri|curi|narkoba|penipuan|"
    r"pencucian|bribe\w*|brib\w+|embezzl\w*|fraud|corrupt\w*|stole|steal\w*|theft|laundering)\b"
)

_FEELING = re.compile(rf"\b(?:(?P<glad>{_GLAD}|(?P<hope>{_HOPE}))|(?P<sad>{_SAD}|(?P<dread>{_DREAD})))\b")
_EVENT = re.compile(
    rf"{_SIDE}(?:\s*'s)?(?:\s+(?:{_AUX}))*(?:\s+(?P<not>{_OUTCOME_NOT}))?(?:\s+(?:{_AUX}))*"
    rf"\s+(?:(?P<good_id>{_GOOD_ID})|(?P<good_en>{_GOOD_EN})|(?P<bad_id>{_BAD_ID})|"
    rf"(?P<bad_en>{_BAD_EN}))\b(?!['-])"
    rf"|(?:(?P<good_noun>{_GOOD_NOUN_ID})|(?P<bad_noun>{_BAD_NOUN_ID}))\s+{_SIDE_NOUN}"
    rf"|{_SIDE_POSSESSIVE}\s*'s\s+(?:(?P<good_poss>{_GOOD_NOUN_EN})|(?P<bad_poss>{_BAD_NOUN_EN}))\b"
)
# What an English outcome verb may have after it: nothing, when, where, by how much, or the race;
# anything else is likely its object, and then the target did it to something ("Raka fired the
# police chief", "Raka passed away", "Raka lost his dad").
_EN_AFTER = re.compile(
    rf"(?:\s*$|\s*[^\w\s{OPEN}]|\s+(?:by|to|in|on|at|from|after|again|today|tonight|yesterday|finally|already|"
    r"too|lol|and|with|as|for|over|last|below|above|behind|ahead|before|past|through|into|"
    r"despite|amid|following|because|since|tomorrow|next|narrowly|badly|big|easily|decisively|"
    r"officially|parliament|parlemen|congress|committee|dpr)\b|"
    # A count of the race, not of something else ("lost 10 kg").
    r"\s+\d[\d.,]*\s*(?:%|percent|persen|votes?|seats?|points?|suara|kursi)|"
    # An adverb closing the clause: "delayed indefinitely.", "knocked out so early,".
    r"\s+(?:so\s+|very\s+|too\s+)?\w+ly(?=\s*(?:$|[^\w\s]))|"
    r"\s+this\s+(?:time|week|year|morning|evening)\b|"
    r"\s+(?:of\s+)?(?:the|his|her|their|its|a|an|every|all|so\s+many|many|most|half\s+(?:of\s+)?(?:its|their|the)|"
    r"some|several)\s+(?:\w+\s+)?(?:elections?|race|seats?|"
    r"votes?|primary|runoff|nomination|majority|recount|ballot|contest|debate|district|province|"
    r"state|case|appeal|threshold|round|bid|re-?election|post|job|ministry|portfolio|"
    r"governorship|presidency|running|coalition|cabinet|parliament|house|senate)\b)"
)
# After a bare "gagal"/"batal" ("RUU gagal lagi", "gagal ke Senayan"): anything else is what failed
# ("gagal nepatin janji", "batal naikin tarif").
_FAILED_AFTER = re.compile(
    rf"(?:\s*$|\s*[^\w\s{OPEN}]|\s+(?:lagi|lg|juga|total|maning)\s*(?:$|[^\w\s{OPEN}])|\s+ke\s+(?:{_SEAT})\b|\s+di[a-z]{{3,}})"
)
# After "mundur": the race or office it leaves, or why; not a plan ("mundur dari rencana").
_WITHDREW_AFTER = re.compile(
    rf"(?:\s*$|\s*[^\w\s{OPEN}]|\s+(?:karena|krn|sebagai|hari|tadi|juga|akhirnya|(?:dari|dr)\s+(?:pencalonan|pilkada|"
    r"pilpres|pileg|pemilu|kontestasi|bursa|jabatan\w*|kursi|partai|kabinet|dpr\w*|posisi\w*|"
    r"politik)))\b"
)
# After "dapat kursi": where the seat is, if anywhere ("dapat kursi di DPR", not "di KRL").
_SEATED_AFTER = re.compile(
    rf"(?:\s*$|\s*[^\w\s{OPEN}]|\s+(?:di\s+(?:{_SEAT}|dewan)|menteri|ketua\w*|lagi|baru|satu\s*pun|sama\s+sekali|\d))"
)
# A word of the target's own right after an Indonesian outcome: what befell was its sanction, its
# case, its article ("dicabut sanksinya", "dihentikan penyidikannya"), not the target.
_PREPOSITION = r"di|dari|ke|oleh|sama|karena|krn|dengan|dgn|yang|yg|buat|untuk|dan|atas|sebagai"
_ITS = re.compile(
    rf"^\s+(?:(?!(?:{_PREPOSITION})\b)[\w-]+\s+)?"
    r"(?!(?:akhir|sepert|rupa|tampak|kayak|kata|sebenar|sepertinya)nya\b)[\w-]+nya\b"
)
# After an outcome noun, what undoes or qualifies it ("kekalahan X dibatalkan MK", "Raka's defeat
# of Bima").
_NOUN_UNDONE = re.compile(
    r"^\s*(?:(?:was|were|is|being|got|gets|has\s+been|had\s+been)\s+)?(?:dibatalkan|dianulir|digugat|"
    r"dicabut|batal|overturned|annulled|quashed|reversed|cancel+ed|rescinded|revoked|lifted|"
    r"dropped)\b|^\s*of\b|^\s*(?:\w+\s+)?di[a-z]{4,}\b|"
    r"^\s*(?:is|was|keeps)?\s*(?:being|getting)?\s*(?:questioned|disputed|challenged|smeared|attacked|doubted)\b"
)
# Right after the outcome, what makes the feeling about its margin or manner ("kecewa X kalah
# tipis doang", "bangga X kalah dengan terhormat", "proud X stepped down rather than cling on").
_MARGIN_OR_MANNER = re.compile(
    r"\b(?:doang|cuma|hanya|only|barely|narrowly|by\s+so\s+little|not\s+by\s+much|"
    r"(?:gak|ga|nggak|tidak|tak)\s+telak|dengan\s+(?:terhormat|kepala\s+tegak|elegan|legowo|"
    r"ksatria)|with\s+(?:grace|dignity|hono(?:u)?r|class)|gracefully|rather\s+than|demi|deserves?|"
    r"semangat)\b"
)
# What joins a second outcome to the first, under the same feeling.
_AND = re.compile(rf"\s*[,;]?\s*(?:(?:dan|and|&|serta)\s*)?{TITLE}")
# In a sentence with two joined outcomes, what makes the second a consolation or indifferent
# ("sedih X kalah, Y lolos sih, lumayan").
_CONSOLATION = re.compile(
    r"\b(?:at\s+least|setidaknya|minimal|lumayan|gapapa|gpp|gak\s+apa|sih|untungnya|masih\s+ada\s+harapan)\b"
)
# After the outcome, what may turn or weigh the feeling ("sedih X kalah, tapi mungkin memang
# waktunya ganti"): the rule leaves such posts to the model.
_CONTRAST = re.compile(
    r"\b(?:tapi|tapii|tp|tpi|tetapi|namun|meski(?:pun)?|walau(?:pun)?|but|however|though|although|"
    r"yet)\b"
)
# The words an outcome may take after it before the clause with the feeling ("X kalah tipis,
# sedih banget").
_OUTCOME_TAIL = 7
# A clause of its own before the outcome that says it was awaited ("Finally! X passed").
_AT_LAST = re.compile(r"\W*(?:finally|akhirnya|at\s+last|yes+|yeay|yay|hore+)\s*!+\W*")
# Laughter: beside a sad feeling, or gladness at a good outcome, sarcasm ("sedih banget ya X kalah
# 🤣", "senang sekali ya X menang, negara auto maju 🤣"); beside gladness at a bad one, gloating.
_LAUGHTER = re.compile(
    r"wk(?:wk)+|kwk|haha|hehe|hihi|wa?ka(?:ka)+|awok|xixi|ngakak|\blol(?:ol)*z?\b|\blmf?ao+\b|\brofl\b|"
    r"[\U0001f923\U0001f602\U0001f606\U0001f639]"
)
# Celebration beside a sad feeling is sarcasm too ("turut berduka atas kekalahan X 🥳").
_CELEBRATION = re.compile(r"[\U0001f973\U0001f389\U0001f38a]")
# The faces and phrases of irony, and retractions: beside any feeling ("Great, X delayed again.
# Love that for us 🙃", "Sedih banget X kalah. Ga deng.", "Sad X lost /s").
_IRONY = re.compile(
    r"[\U0001f643\U0001f644\U0001f60f\U0001f92d\U0001f612\U0001f921]|"
    r"\blove\s+that\s+for\s+(?:us|me)\b|\b(?:ga|gak|nggak|enggak|engga)\s+deng\b|\benggak\s+lah\b|"
    r"\bjk\b|/s\b|\bnot\s*[.!]+(?:\s|$)|\bnot\s+really\b|said\s+no\s+one|\bjust\s+kidding\b|"
    r"\b(?:be)?r?canda\b|\byakali\b|\b(?:boong|bohong|bo'ong)\b|\b(?:ya\s+)?(?:ga|gak|nggak|ngga|enggak)\s+lah\b|"
    r"sarkas\w*|\bsarcasm\b|\bpsych\b|\bsike\b|\banyway\b|(?:^|[.!]\s+)sad\s*!|"
    r"[\U0001f5ff\U0001f480\U0001f61c\U0001f61d\U0001f61b\U0001f92a]"
)
_CONDITION = re.compile(
    r"\b(?:kalau|kalo|klo|kl|jika|jikalau|seandainya|andai(?:kan)?|misal(?:nya)?|kalaupun|bila|"
    r"apabila|if|unless|when|whether|in\s+case|should|harusnya|seharusnya|mestinya|semestinya|"
    r"sepatutnya|sehrsnya|hrsnya)\b"
)
# Anywhere in the post: feigned feelings, rumours, quotations, someone else's words, and games and
# contests that share a target's name (a club called PSN, a child called Raka).
_ABSTAIN = re.compile(
    r"\b(?:pura-?pura|sok\s+(?:sedih|senang|seneng|kecewa|bahagia|peduli)|seolah|katanya|kabarnya|"
    r"konon|rumor|rumour|isu|hoa(?:x|ks)|reportedly|allegedly|supposedly|pretend\w*|fake|feigned|"
    r"kata\s+\w+|tulis|ujar|ucap|tutur|says|said|tweeted|wrote|writes|posted|"
    r"liga|league|imbang|porprov|lomba|juara\s+umum|fc|pertandingan|match|skor|score|gol|goal|"
    r"turnamen|tournament|snbp|snbt|cpns|osis|o2sn|olimpiade|pelatnas|semifinal|"
    r"tells|told|according\s+to|rest\s+in\s+peace|rip|r\.i\.p|berpulang|meninggal|wafat|passed\s+away|"
    r"died)\b|,\s*(?:ungkap|jelas|tegas|imbuh|sebut|terang)\s+\w|"
    r"(?:^|\s)'[^']{3,}'(?=[\s,.!]|$)|\b\d+\s*[-\u2013]\s*\d+\b|\u26bd|[\"\u201c\u201d\u2018\u2019]"
)
# Someone or something beside the target whose outcome it is ("lawannya X menang", "kota X").
_BESIDE = re.compile(
    r"\b(?:lawan\w*|saingan\w*|musuh\w*|rival\w*|pesaing\w*|penantang\w*|opponent\w*|"
    r"challenger\w*|pendukung\w*|fans?|timses|kubu|staf\w*|anak\w*|istri\w*|suami\w*|adik\w*|"
    r"kakak\w*|kota|kabupaten|kab|city\s+of|town\s+of|jubir|juru\s+bicara|wakil\w*|kader\w*|"
    r"menantu\w*|keponakan\w*|ayah\w*|proyek)(?:\s+\w+)?\s*$"
)


# Right after the outcome, what the target did next, which the feeling may be about ("kecewa X
# kalah malah nyalahin KPU", "disgusted X lost and refused to concede").
_RUNS_ON = re.compile(
    r"\s*(?:\w+\s+)?(?:malah|terus|trus|lalu|kemudian|(?:gak|ga|nggak|tidak|tak)\s+mau)\b|"
    r"\s+and\s+(?:then|refused|refuses|blamed|blames|immediately)\b"
)
# A civic hope for whoever won ("X kalah, ya sudah. Semoga Y dilantik lancar dan amanah").
_CIVIC = re.compile(r"\b(?:lancar|damai|amanah|peaceful\w*|smooth\w*)\b")
# A narrow result: a feeling may be about the margin, so only the reading it cannot be about stays
# ("Pak X kalah tipis, sedih banget" favours X; "syukurlah X kalah tipis, masih ada peluang" not).
_NARROW = re.compile(r"\b(?:tipis|by\s+just|small\s+margin|narrow\w*)\b")
# Leaving for a reason, or conceding in peace: gladness at it may be for the target.
_EXIT_FOR_A_REASON = re.compile(
    r"\b(?:mundur|resign\w*|stepped\s+down|steps\s+down|withdr[ae]w\w*|mengundurkan\s+diri)\b.*"
    r"\b(?:in\s+protest|to\s+run|fokus|demi|dari\s+(?:kabinet|koalisi)|from\s+the\s+(?:coalition|cabinet))\b|"
    r"\bconced\w*\b.*\b(?:peaceful\w*|quickly|no\s+drama|damai)\b"
)
# After a negated outcome, the claim that it was taken by cheating ("X gak menang, dia beli suara").
_CHEATED = re.compile(
    rf"\s*,\s*(?:dia|he|she|they|beliau|{OPEN}\d+{CLOSE})\s+"
    r"(?:beli|membeli|curi|mencuri|nyolong|bought|stole|rigged|curang)\b"
)
# Gladness at a win followed by what it will cost, or at a setback that recurs: sarcasm
# ("senang sekali X menang, siap-siap harga naik semua", "mantap, RUU ditunda lagi").
_GLAD_BUT_COSTLY = re.compile(
    r"\b(?:siap-siap|get\s+ready|can't\s+wait\s+to|enjoy\s+the\s+next|kasi?an\s+rakyat|"
    r"(?:makin|semakin)\s+(?:sengsara|susah|hancur|parah|rusak|kreatif|lancar)|who\s+will\s+protect|"
    r"the\s+best\s+this\s+\w+\s+could\s+do|rekor)\b"
)
_AGAIN = re.compile(r"^\s*(?:\w+\s+)?(?:lagi|lg|again|terus)\b")
# Gladness at a loss for the target's own sake ("lega X kalah, sekarang beliau bisa istirahat",
# "relieved X lost, he deserves a break").
_FOR_THEIR_SAKE = re.compile(
    r"\b(?:istirahat|rest|a\s+break|terlalu\s+baik|too\s+good|deserves?|layak|pantas\s+dapat)\b"
)
# Now feeling otherwise ("seneng X menang 2019. Sekarang nyesel").
_NOW = re.compile(r"\b(?:sekarang|skrg|kini|now|nowadays)\b")
# Words of indifference: beside a negated feeling, no feeling ("gak sedih X kalah, biasa aja").
_INDIFFERENT = re.compile(
    r"\b(?:biasa\s+(?:aja|saja)|yang\s+penting|ketebak|diduga|expected|golput|whatever|santai)\b"
)
# A feeling after the outcome in a sentence addressed to others is theirs ("X kalah. Puas
# kalian!", "Raka resigned. Happy now, haters."); but for gloats and "proud of you".
_ADDRESSED = re.compile(r"(?<!of )(?<!for )\b(?:kalian|lo|lu|elo|you|y'all|u|haters|buzzer\w*|now)\b")
_GLOAT = re.compile(r"syukurin|sukurin|rasain|rasakan|mampus|modyar")
# Tears, and "sayang banget" (love or pity): read only at a bad outcome.
_CRYING = re.compile(r"nangis|menangis|sayang\s+(?:sekali|banget|bgt)")
# Interjections of the author's feeling, which only the author can be saying when they follow an
# outcome with at most three of its own words ("8 tahun") and symbols between, nothing after them
# in their clause ("X dicopot 🎉 alhamdulillah", "X kalah. Innalillahi", "X resigned. Good
# riddance"): the target does not say "alhamdulillah" of its own fall. Not across a colon ("Tetangga:
# alhamdulillah"), not after a comma's words ("X kalah, kubu sebelah teriak alhamdulillah").
_INTERJECTION_AFTER = re.compile(
    rf"(?:\s+\w+){{0,3}}?[^\w?:;{OPEN}]*"
    r"(?P<word>alhamdulillah|alhamdulilah|hamdalah|puji\s+tuhan|syukurlah|syukurin|sukurin|rasain|"
    r"thank\s+god|thank\s+goodness|thankfully|good\s+riddance|hooray|hurray|woohoo|innalillahi)\b"
)
# A clickbait hook ("SEDIH! Pak X kalah ...").
_HOOK = re.compile(r"\W*[A-Z]{4,}\s*!")


@dataclass(frozen=True)
class _Event:
    target: int
    good: bool
    start: int
    end: int
    crime: bool
    negated: bool
    retirement: bool  # may be glad for the target ("senang X akhirnya pensiun, bisa istirahat")


@dataclass(frozen=True)
class _Feeling:
    glad: bool
    # Pride or gladness for the target, which a bad outcome does not turn.
    for_them: bool
    sympathy: bool
    crying: bool = False
    hope: bool = False


@dataclass(frozen=True)
class _Context:
    """What the whole post says about how to read its feelings."""

    laughing: bool
    indifferent: bool
    costly: bool  # gladness followed by what it will cost: sarcasm
    for_their_sake: bool
    now: bool
    celebrating: bool
    wrongdoing: bool  # a word for what an arrested target did
    # Each feeling word in the post: whether it is glad, and whether a negation comes just before it.
    feelings: tuple[tuple[bool, bool], ...]


def _events(clause: str) -> list[_Event]:
    found = []
    for match in _EVENT.finditer(clause):
        groups = match.groupdict()
        side = groups["t"] or groups["tn"] or groups["tp"]
        assert side is not None
        after = clause[match.end() :]
        if groups["good_en"] or groups["bad_en"]:
            if not _EN_AFTER.match(after):
                continue
        elif groups["good_id"] or groups["bad_id"]:
            outcome = groups["good_id"] or groups["bad_id"]
            if _ITS.match(after):
                continue
            if outcome in ("gagal", "batal") and not _FAILED_AFTER.match(after):
                continue
            if outcome == "mundur" and not _WITHDREW_AFTER.match(after):
                continue
            if outcome.startswith(("dapat", "dapet", "meraih")) and not _SEATED_AFTER.match(after):
                continue
        elif _NOUN_UNDONE.match(after):
            continue
        if _MARGIN_OR_MANNER.search(re.split(r"[.!?,;\n]", after, maxsplit=1)[0]):
            continue
        good = bool(groups["good_id"] or groups["good_en"] or groups["good_noun"] or groups["good_poss"])
        if groups["not"]:
            good = not good
        found.append(
            _Event(
                int(side),
                good,
                match.start(),
                match.end(),
                negated=bool(groups["not"]),
                crime=_CRIME.search(match.group()) is not None,
                retirement=_RETIREMENT.search(match.group()) is not None,
            )
        )
    return found


def _feeling_before(prev: str, clause: str, event: _Event, context: _Context) -> _Feeling | None:
    """The author's feeling right before the event, if there is one: in its clause, or as the
    whole clause before it ("Alhamdulillah! X terpilih")."""
    before = clause[: event.start]
    if _BESIDE.search(before):
        return None
    feelings = list(_FEELING.finditer(before))
    if feelings:
        feeling = feelings[-1]
        linked = re.fullmatch(_LINK, before[feeling.end() :]) is not None
        return _authors(clause, feeling, context) if linked else None
    if before.strip() or not prev:
        return None
    if _AT_LAST.fullmatch(prev) and all(glad and not negated for glad, negated in context.feelings):
        return _Feeling(glad=True, for_them=False, sympathy=False)
    feelings = list(_FEELING.finditer(prev))
    tail = prev[feelings[0].end() :] if len(feelings) == 1 else ""
    # "Sorry to hear that! X won": the feeling is about something before it.
    if len(feelings) != 1 or re.search(r"\b(?:that|this|itu|ini)\W*$", tail):
        return None
    if re.fullmatch(rf"{_LINK}[.!;\n]*\s*", tail) is None:
        return None
    return _authors(prev, feelings[0], context)


def _feeling_after(rest: str, context: _Context) -> _Feeling | None:
    """A feeling opening the clause after an outcome and a few words of its own, about nothing else,
    if there is one ("X kalah tipis, sedih banget"; "X lost. Gutted."; "X resigned and I'm
    devastated"); or an interjection after the outcome ("X dicopot 🎉 alhamdulillah, lega bgt"),
    which only the author can be saying."""
    interjection = _INTERJECTION_AFTER.match(rest)
    interjected = (
        None
        if interjection is None
        else _interjected(interjection.group("word"), rest[interjection.end() :], context)
    )
    if interjected is not None:
        return interjected
    boundary = re.search(r"[.!,;\n]+|\s(?:and|dan)\s", rest)
    if boundary is None:
        return None
    gap = rest[: boundary.start()]
    if OPEN in gap or len(gap.split()) > _OUTCOME_TAIL:
        return None
    after = rest[boundary.end() :]
    clause_end = re.search(r"[.!?,;\n]", after)
    feeling_clause = after[: clause_end.start()] if clause_end else after
    feelings = list(_FEELING.finditer(feeling_clause))
    # More than one sign ("Gak seneng, gak sedih"): mixed or indifferent, left to the model.
    if not feelings or len({f.group("glad") is not None for f in feelings}) > 1:
        return None
    feeling = feelings[0]
    if OPEN in after[: feeling.start()] or feeling.group("hope") or feeling.group("dread"):
        return None
    # After "and"/"dan" the subject may be the target's own ("X kalah dan kecewa berat"): only the
    # author's ("X resigned and I'm devastated").
    if boundary.group().strip() in ("and", "dan") and not _FIRST_PERSON.search(after[: feeling.start()]):
        return None
    # The feeling is about nothing else ("X menang. Males banget besok Senin"), and a feeling after
    # a comma ends its sentence ("X kalah, kesel, terus nuduh KPU curang" is the target's).
    if not _TAIL.fullmatch(_FEELING.sub(" ", feeling_clause[feeling.end() :])):
        return None
    if _MARGIN_OR_MANNER.search(feeling_clause):
        return None
    if (
        boundary.group().strip(" ") == ","
        and clause_end
        and after[clause_end.start()] == ","
        and not _AUTHOR_MARK.search(after[: feeling.start()])
    ):
        return None
    sentence = re.split(r"[.!?;\n]", after[feeling.end() :], maxsplit=1)[0]
    if not _GLOAT.fullmatch(feeling.group()) and _ADDRESSED.search(sentence):
        return None
    return _authors(after, feeling, context)


def _interjected(word: str, after: str, context: _Context) -> _Feeling | None:
    """The author's feeling in an interjection, unless another feeling in the post disagrees or
    something other than closing words follows it in its clause ("thankfully not by much",
    "syukurin kalian")."""
    feeling = _FEELING.fullmatch(word)
    if feeling is None:  # every interjection is a feeling of _FEELING's; none is read as sad by default
        return None
    glad = feeling.group("glad") is not None
    if any(other_glad != glad and not negated for other_glad, negated in context.feelings):
        return None
    # Nothing but closing words after it in its clause: "alhamdulillah hari ini gajian" is about
    # payday, "syukurlah bukan karena curang" about the manner, "thank god nobody got hurt" not
    # about the outcome at all.
    clause = re.split(r"[.!?,;\n]", after, maxsplit=1)[0]
    if not _TAIL.fullmatch(clause) or _ADDRESSED.search(clause):
        return None
    return _Feeling(glad=glad, for_them=False, sympathy=False)


def _authors(clause: str, feeling: re.Match[str], context: _Context) -> _Feeling | None:
    """`feeling` if nothing but the author, an interjection, a degree or a negation comes before it
    in its clause; None if it is someone else's ("pendukungnya sedih", "Jubir PSN: kecewa")."""
    start = max(clause.rfind(mark, 0, feeling.start()) for mark in ",:.!;\n")
    if start >= 0 and clause[start] == ":" and re.search(r"\w", clause[:start].split(".")[-1]):
        return None
    lead = clause[start + 1 : feeling.start()]
    glad = feeling.group("glad") is not None
    # "Sedih dan marah, ...": feelings of one sign joined.
    others = list(_FEELING.finditer(lead))
    if any((other.group("glad") is not None) != glad for other in others):
        return None
    lead = _FEELING.sub(" ", lead)
    if re.fullmatch(rf"\s*(?:(?:{_LEAD}|dan|and|&)\s*)*", lead) is None:
        return None
    if re.search(r"\b(?:not\s+just|bukan\s+(?:cuma|hanya|sekadar)|don't|jangan)\b", lead):
        return None
    negated = re.search(rf"\b(?:{_NOT})\b", lead) is not None
    # A negated feeling says what the author does not feel; beside another feeling it must agree
    # ("Gak sedih sama sekali X kalah. Malah lega."), not say what it is instead ("Gak sedih X
    # kalah. Marah!", "Tidak senang, tidak sedih X kalah").
    if negated and any(
        other_negated != (other_glad == glad) for other_glad, other_negated in context.feelings
    ):
        return None
    if negated and context.indifferent:
        return None
    words = feeling.group()
    # "Ikut senang X pensiun", "happy for X": gladness for the target.
    for_them = (
        _FOR_THEM.fullmatch(words) is not None
        or re.search(r"\b(?:ikut|turut)\s*$", lead) is not None
        or re.match(r"\s+for\b", clause[feeling.end() :]) is not None
    )
    return _Feeling(
        glad=glad != negated,
        for_them=not negated and for_them,
        sympathy=not negated and _SYMPATHY.fullmatch(words) is not None,
        crying=_CRYING.fullmatch(words) is not None,
        hope=bool(feeling.group("hope") or feeling.group("dread")),
    )


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


def _placed(prev: str, clause: str, after: str, context: _Context) -> Iterable[tuple[int, Stance]]:
    chains = _chains(clause)
    for chain in chains:
        first, last = chain[0], chain[-1]
        rest = clause[last.end :] + after
        if _CONDITION.search(clause[: first.start]) or _CONTRAST.search(rest):
            continue
        if len(chain) > 1 and _CONSOLATION.search(clause[first.start :] + after):
            continue
        feeling = _feeling_before(prev, clause, first, context)
        if feeling is None and chain is chains[-1]:
            feeling = _feeling_after(rest, context)
        if feeling is None:
            continue
        tail = re.split(r"[.!?;\n]", clause[last.end :], maxsplit=1)[0]
        if _RUNS_ON.match(tail) or (feeling.hope and _CIVIC.search(clause + after)):
            continue
        narrow = _NARROW.search(tail) is not None
        exit_for_a_reason = _EXIT_FOR_A_REASON.search(clause) is not None
        rhetorical = _CHEATED.match(tail) is not None
        for event in chain:
            if feeling.crying and event.good:
                continue  # tears at a win are of joy
            if narrow and feeling.glad != event.good:
                continue  # glad it was only narrow, or sad it was not wider
            if exit_for_a_reason and not event.good and feeling.glad:
                continue
            if rhetorical and event.negated:
                continue  # "X gak menang, dia beli suara": it did, by cheating
            if feeling.glad and (context.costly or (not event.good and _AGAIN.match(tail))):
                continue
            if feeling.glad and not event.good and context.for_their_sake:
                continue
            if context.now and any(
                glad != feeling.glad and not negated for glad, negated in context.feelings
            ):
                continue
            if context.laughing and not (feeling.glad and not event.good):
                continue  # laughter: sarcasm, but for gloating
            if context.celebrating and not feeling.glad:
                continue
            if (feeling.for_them or event.retirement) and feeling.glad != event.good:
                continue
            if event.crime and not feeling.glad and (context.wrongdoing or not feeling.sympathy):
                continue
            yield event.target, Stance.favor if feeling.glad == event.good else Stance.against


def _headline(text: str, mentions: Sequence[Mention]) -> bool:
    """Five words or more, seven in ten capitalised, the targets' names aside: news, whose feeling
    is the outlet's or its source's ("Innalillahi, PSN Gagal Lolos Parlemen Setelah 20 Tahun")."""
    bare = "".join(" " if any(m.start <= i < m.end for m in mentions) else c for i, c in enumerate(text))
    words = re.findall(r"[^\W\d_][\w'-]*", bare)
    return len(words) >= 5 and sum(w[0].isupper() for w in words) >= 0.7 * len(words)


def reacted(text: str, mentions: Sequence[Mention]) -> dict[str, Stance]:
    """The stance of each target whose outcome the author plainly feels glad or sad about in
    `text`; targets it does not place (or places both ways) are left out."""
    folded = text.casefold()
    if not mentions or "?" in text or _ABSTAIN.search(folded) or _IRONY.search(folded):
        return {}
    if _headline(text, mentions) or _HOOK.match(text):
        return {}
    marked, targets = placeholdered(text, mentions)
    context = _Context(
        laughing=_LAUGHTER.search(marked) is not None,
        celebrating=_CELEBRATION.search(marked) is not None,
        wrongdoing=_WRONGDOING.search(marked) is not None,
        indifferent=_INDIFFERENT.search(marked) is not None,
        costly=_GLAD_BUT_COSTLY.search(marked) is not None,
        for_their_sake=_FOR_THEIR_SAKE.search(marked) is not None,
        now=_NOW.search(marked) is not None,
        feelings=tuple(
            (f.group("glad") is not None, bool(_NEGATED.search(marked[: f.start()])))
            for f in _FEELING.finditer(marked)
        ),
    )
    clauses = CLAUSE.findall(marked)
    return unanimous(
        (targets[side], stance)
        for i, clause in enumerate(clauses)
        for side, stance in _placed(
            clauses[i - 1] if i else "", clause, clauses[i + 1] if i + 1 < len(clauses) else "", context
        )
    )
