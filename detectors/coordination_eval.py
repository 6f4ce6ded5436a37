"""How well `CoordinatedPosting` finds campaigns planted in a real stream, and what else it flags.

Into a real stream (for instance the CrisisLex T26 labelled tweets, `bench/coordination_eval.py`)
go two kinds of synthetic posts, each placed at the time of a randomly chosen real post, so that
it lands among real traffic:

- campaigns: a base text (Indonesian or English political messaging) posted by
  `accounts_per_campaign` fresh accounts within `minutes`, each copy with small edits: a swapped
  or changed or extra word, an added hashtag or emoji, other casing, a mention or a link;
- organic waves: a popular text of the real stream (one that was retweeted most) shared over hours
  by unrelated accounts: half as native reposts (`repost_of` set), in a burst, and half as
  copy-paste posts of the text, at least ten minutes apart.

The detector then reads the merged stream in event-time order. A campaign is found when one
signal's evidence holds at least half of its posts; a signal is a true positive when at least half
of its evidence is campaign posts. The real stream is also run alone, to see what it flags by itself.

Pure: the caller loads the stream; everything random comes from `seed`.
"""

from __future__ import annotations

import inspect
import random
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from detectors.coordination import CoordinatedPosting, is_repost_text, normalise
from pantau.domain import Signal

RealPost = tuple[datetime, str, str]  # (created_at, author id, text)

CAMPAIGN_TEXTS = (
    "Pak Budi sudah terbukti bekerja untuk rakyat kecil, lanjutkan pembangunan di daerah kita",
    "Jangan percaya hoaks soal kenaikan harga beras, pemerintah sudah menjamin stok aman sampai lebaran",
    "Kami warga Jawa Barat mendukung penuh program makan siang gratis untuk semua anak sekolah",
    "Tolak revisi undang-undang pilkada yang hanya menguntungkan segelintir elite politik di Jakarta",
    "Gubernur kita terbukti bersih dari korupsi, fitnah dari lawan politik tidak akan mempan",
    "Harga BBM naik lagi gara-gara kebijakan menteri yang tidak pro rakyat, saatnya ganti pemimpin",
    "Terima kasih bapak presiden atas bantuan sosial yang sangat membantu keluarga kami di kampung",
    "Partai ini satu-satunya yang konsisten membela petani dan nelayan sejak awal reformasi",
    "Mahasiswa harus kritis, demo kemarin ditunggangi kepentingan asing yang ingin Indonesia kacau",
    "Ibu kota baru adalah masa depan bangsa, yang menolak berarti tidak paham visi besar kita",
    "Debat semalam membuktikan calon nomor dua paling siap memimpin dengan data dan program jelas",
    "Lapangan kerja terbuka lebar berkat investasi yang masuk, pengangguran turun drastis tahun ini",
    "The senator has always stood with working families and will keep fighting for lower prices",
    "Do not believe the fake news about the election results, every vote was counted fairly and openly",
    "Our governor brought thousands of new jobs to the state, four more years of real progress",
    "The new tax plan is a disaster for small businesses and everyone in our community knows it",
    "Proud to support the only candidate who has a real plan for affordable healthcare for all",
    "The protesters were paid by foreign groups who want to divide our country before the vote",
    "Thank you mayor for fixing our roads and schools, this city has never looked better than now",
    "Stop the corrupt land deal that will destroy the forest and hurt local farmers for decades",
    "Last night's debate proved that our candidate is the only one ready to lead from day one",
    "The opposition keeps spreading lies about the budget because they have no ideas of their own",
    "Independent experts agree the new transit line will cut commute times in half for workers",
    "Vote yes on the school funding measure, our kids deserve smaller classes and better teachers",
)
HASHTAGS = ("#2024GantiPresiden", "#LanjutkanPak", "#SaveDemokrasi", "#Vote", "#Indonesia", "#TolakRUU")
EMOJI = ("🔥", "💪", "🇮🇩", "👍", "🙏", "‼️", "😡", "❤️")
SWAP_WORDS = ("sangat", "benar", "memang", "pasti", "really", "truly", "indeed", "sudah", "kita", "now")


@dataclass(frozen=True, slots=True)
class StreamPost:
    """One post of the evaluation stream, with the attributes the detector reads."""

    post_id: str
    author_id: str
    at: datetime
    text: str
    repost_of: str = ""
    target: str = ""
    key_kind: str = "stream"
    key: str = "all"


def edit_copy(text: str, rng: random.Random, max_word_edits: int = 2) -> str:
    """A copy of a campaign text as an account posts it: up to `max_word_edits` changes of words
    (most often one), and some changes that do not touch the words (case, emoji, a mention, a link)."""
    words = text.split()
    weights = (3, 5, *([2] * max(max_word_edits - 1, 0)))[: max_word_edits + 1]
    for _ in range(rng.choices(range(max_word_edits + 1), weights=weights)[0]):
        if len(words) < 2:
            break
        edit = rng.choice(("swap", "change", "insert", "delete", "hashtag"))
        i = rng.randrange(len(words) - 1)
        if edit == "swap":
            words[i], words[i + 1] = words[i + 1], words[i]
        elif edit == "change":
            words[i] = rng.choice(SWAP_WORDS)
        elif edit == "insert":
            words.insert(i, rng.choice(SWAP_WORDS))
        elif edit == "delete":
            del words[i]
        else:
            words.append(rng.choice(HASHTAGS))
    copy = " ".join(words)
    if rng.random() < 0.3:
        copy = rng.choice((str.upper, str.lower, str.title))(copy)
    if rng.random() < 0.5:
        copy += " " + rng.choice(EMOJI) * rng.randint(1, 3)
    if rng.random() < 0.2:
        copy = f"@user{rng.randrange(10_000)} {copy}"
    if rng.random() < 0.2:
        copy += f" https://t.co/{rng.randrange(16**8):08x}"
    return copy


def _popular_texts(real_posts: Sequence[RealPost], min_words: int) -> list[str]:
    """The texts most retweeted in the real stream (the tweet behind "RT @x: ..."), most first."""
    counts: Counter[str] = Counter()
    for _, _, text in real_posts:
        if is_repost_text(text):
            original = text.split(":", 1)[-1].strip()
            if len(normalise(original)) >= min_words:
                counts[original] += 1
    return [text for text, _ in counts.most_common()]


def _run(detector: CoordinatedPosting, stream: Sequence[StreamPost]) -> tuple[list[Signal], float]:
    signals: list[Signal] = []
    started = time.perf_counter()
    for post in stream:
        signals.extend(detector.update(post))
    return signals, time.perf_counter() - started


def _describe(detector: CoordinatedPosting, signal: Signal) -> dict[str, Any]:
    details = signal.details
    return {
        "accounts": int(signal.numbers["accounts"]),
        "posts": int(signal.numbers["posts"]),
        "window_seconds": signal.numbers["window_seconds"],
        "similarity": signal.numbers["similarity"],
        "window_start": signal.window_start.isoformat(),
        "text": details.get("text", ""),
    }


def evaluate_coordination(
    real_posts: Sequence[RealPost],
    *,
    campaigns: int = 20,
    accounts_per_campaign: int = 20,
    minutes: float = 5.0,
    max_word_edits: int = 2,
    organic_waves: int = 10,
    posts_per_wave: int = 30,
    wave_hours: float = 4.0,
    seed: int = 0,
    detector_params: Mapping[str, Any] | None = None,
    examples: int = 10,
) -> dict[str, Any]:
    """Precision and recall on planted campaigns, false signals on organic waves and on the real
    stream, and the detector's throughput (events per second over the merged stream)."""
    if not real_posts:
        raise ValueError("the real stream is empty")
    # The detector's own seed (its MinHash permutations) follows the run's unless given.
    params = {"seed": seed, **(detector_params or {})}
    rng = random.Random(seed)
    real = [
        StreamPost(post_id=f"real:{i}", author_id=author, at=at, text=text)
        for i, (at, author, text) in enumerate(real_posts)
    ]
    min_words = int(params.get("min_words", 5))

    campaign_posts: list[set[str]] = []
    planted: list[StreamPost] = []
    for c in range(campaigns):
        base = CAMPAIGN_TEXTS[c % len(CAMPAIGN_TEXTS)]
        start = rng.choice(real).at
        ids: set[str] = set()
        for a in range(accounts_per_campaign):
            post_id = f"campaign{c}:{a}"
            at = start + timedelta(seconds=rng.uniform(0, minutes * 60))
            planted.append(
                StreamPost(post_id, f"campaign{c}-account{a}", at, edit_copy(base, rng, max_word_edits))
            )
            ids.add(post_id)
        campaign_posts.append(ids)

    popular = _popular_texts(real_posts, min_words)
    organic_ids: set[str] = set()
    for w in range(min(organic_waves, len(popular))):
        text = popular[w]
        start = rng.choice(real).at
        original = f"organic{w}:original"
        reposts = posts_per_wave // 2
        for r in range(reposts):
            # Native reposts come in a burst: most within the first quarter of an hour.
            at = start + timedelta(seconds=rng.expovariate(1 / 300))
            planted.append(StreamPost(f"organic{w}:repost{r}", f"organic{w}-reposter{r}", at, text, original))
            organic_ids.add(f"organic{w}:repost{r}")
        copies = posts_per_wave - reposts
        # Copies at least ten minutes apart, `wave_hours` in all on average.
        longest_gap = max(600.0, 2 * wave_hours * 3600 / max(copies, 1) - 600)
        at = start
        for q in range(copies):
            at += timedelta(seconds=rng.uniform(600, longest_gap))
            copy = text if rng.random() < 0.5 else f"{text} {rng.choice(EMOJI)}"
            planted.append(StreamPost(f"organic{w}:copy{q}", f"organic{w}-copier{q}", at, copy))
            organic_ids.add(f"organic{w}:copy{q}")

    merged = sorted([*real, *planted], key=lambda post: (post.at, post.post_id))
    detector = CoordinatedPosting(**params)
    signals, seconds = _run(detector, merged)

    campaign_of = {post_id: c for c, ids in enumerate(campaign_posts) for post_id in ids}
    true_positives = 0
    false_organic: list[dict[str, Any]] = []
    false_real: list[dict[str, Any]] = []
    found: set[int] = set()
    flagged: set[int] = set()
    for signal in signals:
        evidence = signal.evidence
        on_campaigns = sum(post_id in campaign_of for post_id in evidence)
        if on_campaigns * 2 >= len(evidence):
            true_positives += 1
            flagged.add(Counter(campaign_of[p] for p in evidence if p in campaign_of).most_common(1)[0][0])
        elif sum(post_id in organic_ids for post_id in evidence) * 2 >= len(evidence):
            false_organic.append(_describe(detector, signal))
        else:
            false_real.append(_describe(detector, signal))
        for c, ids in enumerate(campaign_posts):
            if len(ids.intersection(evidence)) * 2 >= len(ids):
                found.add(c)

    real_only = sorted(real, key=lambda post: (post.at, post.post_id))
    real_detector = CoordinatedPosting(**params)
    real_signals, _ = _run(real_detector, real_only)

    return {
        "seed": seed,
        "detector": {
            name: getattr(detector, name) for name in inspect.signature(CoordinatedPosting).parameters
        },
        "events": len(merged),
        "real_posts": len(real),
        "campaigns": campaigns,
        "campaign_posts": sum(len(ids) for ids in campaign_posts),
        "organic_waves": min(organic_waves, len(popular)),
        "organic_posts": len(organic_ids),
        "signals": len(signals),
        "true_positive_signals": true_positives,
        "precision": true_positives / len(signals) if signals else None,
        "recall": len(found) / campaigns if campaigns else None,
        "missed_campaigns": sorted(set(range(campaigns)) - found),
        # Looser than recall: some signal is mostly this campaign's posts, however few of them it holds.
        "campaigns_flagged": len(flagged),
        "false_signals_organic": len(false_organic),
        "false_signals_real": len(false_real),
        "false_signal_examples": (false_organic + false_real)[:examples],
        "real_stream_alone": {
            "signals": len(real_signals),
            "examples": [_describe(real_detector, signal) for signal in real_signals[:examples]],
        },
        "ignored": detector.ignored,
        "seconds": round(seconds, 3),
        "events_per_second": round(len(merged) / seconds) if seconds else None,
    }
