"""What the browser tests put on the desk: issues published the way the worker's issue stage does it
(`streams.app.handle_issue_event`: the issue, then its one alert, atomically in Redis, then the
ClickHouse history, its posts' memberships included), with the posts behind them stored as the store
stage stores them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from alerts.issue_store import IssueStore
from alerts.issues import apply_issue
from alerts.state import AlertState
from config.watchlist import load_watchlist
from pantau.domain import (
    Alert,
    EnrichedPost,
    Enrichment,
    Issue,
    IssueFacet,
    IssueStatus,
    Post,
    Sentiment,
    SignalKind,
    TargetShares,
    utcnow,
)
from tests.integration.harness import Harness

# Posts per ten minutes in the issue's last four signal windows: the chart's rising line.
RISING = (6.0, 14.0, 31.0, 63.0)


@dataclass(frozen=True)
class Story:
    """One happening as the desk should see it: its words, targets, size and a few of its posts."""

    id: str
    label: tuple[str, ...]
    posts: int
    growth: float
    targets: tuple[str, ...] = ()
    kind: SignalKind = SignalKind.volume_burst
    # (handle, text, url) of its representative posts.
    voices: tuple[tuple[str, str, str], ...] = ()
    amplifiers: dict[str, int] = field(default_factory=dict)
    coordination: tuple[str, ...] = ()


def facets(story: Story, now: datetime) -> tuple[IssueFacet, ...]:
    width = timedelta(minutes=10)
    steps = [(now - width * (len(RISING) - i), count) for i, count in enumerate(window_counts(story))]
    return tuple(
        IssueFacet(
            signal_id=f"{story.id}-s{i}",
            kind=story.kind,
            key_kind="target" if story.targets else "hashtag",
            key=story.targets[0] if story.targets else story.label[0],
            target=story.targets[0] if story.targets else "",
            window_start=start,
            window_end=start + width,
            numbers={
                "count": count,
                "ratio": story.growth,
                "window_seconds": width.total_seconds(),
                "accounts": float(len(story.coordination)),
                "threshold_accounts": 3.0,
            },
        )
        for i, (start, count) in enumerate(steps)
    )


def window_counts(story: Story) -> list[float]:
    """Its posts per ten minutes, rising to the rate it has now (bigger stories, more posts)."""
    return [round(count * story.posts / 100, 1) for count in RISING]


def issue_of(story: Story, now: datetime | None = None) -> Issue:
    now = now or utcnow()
    rate = window_counts(story)[-1] * 6  # the last ten minutes, per hour
    return Issue(
        id=story.id,
        status=IssueStatus.live,
        label=story.label,
        targets=story.targets,
        first_post_at=now - timedelta(minutes=55),
        first_posts=tuple(post_id(story, i) for i in range(len(story.voices))),
        opened_at=now - timedelta(minutes=40),
        paged_at=now - timedelta(minutes=5),
        last_activity=now,
        posts=story.posts,
        accounts=int(story.posts * 0.8),
        voices=int(story.posts * 0.6),
        reposts=int(story.posts * 0.4),
        rate_per_hour=round(rate, 1),
        baseline_per_hour=round(rate / story.growth, 1),
        growth=story.growth,
        scale_seconds=600,
        shares=tuple(
            TargetShares(
                target=target,
                posts=int(story.posts * 0.7),
                sentiment={"negative": 0.64, "neutral": 0.28, "positive": 0.08},
                stance={"against": 0.58, "favor": 0.1, "none": 0.32},
                baseline_sentiment={"negative": 0.31, "neutral": 0.52, "positive": 0.17},
                baseline_stance={"against": 0.22, "favor": 0.2, "none": 0.58},
            )
            for target in story.targets
        ),
        amplifiers=story.amplifiers,
        representatives=tuple(post_id(story, i) for i in range(len(story.voices))),
        samples=tuple(text for _, text, _ in story.voices),
        coordination=story.coordination,
        facets=facets(story, now),
    )


def post_id(story: Story, n: int) -> str:
    return f"x:{story.id}-{n}"


def evidence_posts(story: Story, now: datetime | None = None) -> list[EnrichedPost]:
    now = now or utcnow()
    posts = []
    for n, (handle, text, url) in enumerate(story.voices):
        at = now - timedelta(minutes=50 - 7 * n)
        post = Post(
            id=post_id(story, n), platform="x", native_id=f"{story.id}-{n}", author_id=handle,
            author_handle=handle, text=text, lang="id", created_at=at, url=url, source="test", received_at=at,
        )  # fmt: skip
        enrichment = Enrichment(lang="id", sentiment=Sentiment.negative, sentiment_score=0.8)
        posts.append(EnrichedPost(post=post, enrichment=enrichment, enriched_at=at))
    return posts


def memberships(story: Story, now: datetime) -> list[tuple[str, str, datetime, datetime]]:
    """issue_posts rows for all the story's posts: its representative posts at their own times, the
    others from its first post to now, coming faster as it grows (the n-th of N at the square root
    of n/N of the way: a rate rising in a straight line)."""
    issue = issue_of(story, now)
    shown = evidence_posts(story, now)
    span = issue.last_activity - issue.first_post_at
    others = story.posts - len(shown)
    times = [item.post.created_at for item in shown]
    times += [issue.first_post_at + span * (n / max(others - 1, 1)) ** 0.5 for n in range(others)]
    return [(story.id, post_id(story, n), at, at) for n, at in enumerate(times)]


async def publish(harness: Harness, story: Story, *, with_timeline: bool = True) -> Alert:
    """The story's posts, its issue and its alert, stored as the worker stores them; the alert
    reaches the live feed on the way. Without its timeline no issue_posts rows are stored (an issue
    whose memberships have not reached the warehouse yet). Returns the alert."""
    now = utcnow()
    issue = issue_of(story, now)
    await asyncio.to_thread(harness.store.insert_new_posts, evidence_posts(story, now))
    watchlist = load_watchlist(harness.settings.watchlist_path)

    def decide(current: Alert | None) -> Alert | None:
        return apply_issue(current, "opened", issue, now=utcnow(), watchlist=watchlist)

    await IssueStore(harness.redis, harness.settings.app_id).save(None, [issue])
    await asyncio.to_thread(harness.store.upsert_issues, [issue], at=now)
    if with_timeline:
        await asyncio.to_thread(harness.store.insert_issue_posts, memberships(story, now))
    alert, change = await AlertState(harness.redis).apply(issue.id, decide, update_event="updated")
    assert alert is not None and change is not None
    await asyncio.to_thread(harness.store.upsert_alerts, [alert], event=change)
    return alert


# The desk of a busy evening, for the tests and the screenshots (names from the sample watchlist).
FOOD_CARD_LEAK = Story(
    id="kartu-pangan-bocor",
    label=("#KartuPanganBocor", "data penerima", "NIK"),
    posts=412,
    growth=9.4,
    targets=("kartu-pangan-digital", "raka-wibisana"),
    voices=(
        (
            "warga_cianjur",
            "Data penerima #KartuPanganBocor beredar di grup WA, lengkap dengan NIK. "
            "Siapa yang tanggung jawab?",
            "https://x.com/warga_cianjur/status/1850000000000000001",
        ),
        (
            "infokotabdg",
            "Pemda belum klarifikasi soal data penerima kartu pangan yang bocor.",
            "https://x.com/infokotabdg/status/1850000000000000002",
        ),
        ("ibu_rt05", "Tetangga saya ditelepon orang asing yang tahu NIK-nya. #KartuPanganBocor", ""),
    ),
    amplifiers={"kabarcepat_id": 31, "suara_netizen": 24, "warga_cianjur": 12, "infokotabdg": 9},
)
DEBATE = Story(
    id="debat-cagub",
    label=("#DebatCagub", "Sari Lestari", "subsidi"),
    posts=168,
    growth=4.2,
    targets=("sari-lestari",),
    voices=(
        (
            "pemilih_muda",
            "Jawaban Sari Lestari soal subsidi di #DebatCagub paling konkret malam ini.",
            "https://x.com/pemilih_muda/status/1850000000000000003",
        ),
    ),
    amplifiers={"pemilih_muda": 6, "debatwatch": 5},
)
POWER_PRICES = Story(
    id="tarif-listrik",
    label=("tarif listrik", "token", "naik"),
    posts=95,
    growth=3.1,
    targets=("subsidi-listrik",),
    voices=(
        ("anak_kos_jkt", "Token listrik naik lagi, katanya subsidi direformasi. Kos-kosan menjerit.", ""),
    ),
)
FLOOD = Story(
    id="banjir-demak",
    label=("#BanjirDemak", "posko", "pengungsi"),
    posts=41,
    growth=2.0,
    voices=(("relawan_demak", "Posko #BanjirDemak butuh selimut dan air bersih, kirim ke balai desa.", ""),),
)
HOAX_WAVE = Story(
    id="hoaks-prb",
    label=("#PRBCurang", "surat suara", "video lama"),
    posts=230,
    growth=6.5,
    targets=("partai-rakyat-bersatu",),
    kind=SignalKind.coordinated_posting,
    voices=(("akun_baru_8812", "VIDEO! Surat suara sudah dicoblos #PRBCurang sebarkan sebelum dihapus", ""),),
    coordination=tuple(f"akun_baru_{n}" for n in range(8800, 8814)),
)
EVENING = (FOOD_CARD_LEAK, DEBATE, POWER_PRICES, FLOOD)
