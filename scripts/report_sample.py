"""Build a sample daily brief from the bundled demo stream as the service would store it: the stream
backfilled (`pantau backfill`: the real models, detectors and issue tracker) into a scratch ClickHouse
(chdb) database, then the brief over the stream's hours rendered, and page 1 of its PDF drawn.

    python scripts/report_sample.py                 # docs/images/report.png: page 1 of the PDF
    python scripts/report_sample.py --out DIR       # also the HTML, PDF and Markdown briefs

Page 1 is drawn with poppler's `pdftoppm` (Debian: poppler-utils).

`load_demo` is a quick stand-in without the models, for tests that need the demo's posts and
issues in the warehouse but not the models' verdicts (the scheduled brief's delivery test): a
rule-based enrichment (the watchlist's target matcher; sentiment from a small word list, and from
the planted happenings' ground truth), the three happenings as issues and the buzzer wave as a
coordinated-posting alert.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from clickhouse_connect.driver.client import Client
from PIL import Image

from config.settings import DEFAULT_WATCHLIST
from config.watchlist import Watchlist, load_watchlist
from nlp.targets import TargetMatcher
from pantau.domain import (
    EnrichedPost,
    Enrichment,
    Post,
    Sentiment,
    SignalKind,
    Stance,
    TargetStance,
)
from pantau.normalise import PostIn, post_from_input
from streams.sources import read_rows

DEMO = Path(__file__).resolve().parent.parent / "service" / "demo"
SAMPLE_IMAGE = Path(__file__).resolve().parent.parent / "docs" / "images" / "report.png"
# The planted happenings' tone, from service/demo/README.md.
EVENT_SENTIMENT = {
    "kpd_leak": Sentiment.negative,
    "sari_debate": Sentiment.positive,
    "bima_buzzer": Sentiment.positive,
}
NEGATIVE_WORDS = (
    "bocor",
    "gagal",
    "kecewa",
    "parah",
    "ribet",
    "macet",
    "mahal",
    "leak",
    "worst",
    "bad",
    "angry",
)
POSITIVE_WORDS = ("mantap", "bagus", "keren", "hebat", "setuju", "great", "good", "love", "proud", "bangga")
ISSUE_COLUMNS = (
    "id", "status", "label", "targets", "first_post_at", "opened_at", "paged_at", "last_activity", "posts",
    "accounts", "voices", "reposts", "rate_per_hour", "baseline_per_hour", "growth", "scale_seconds",
    "signal_kinds", "amplifiers", "coordination", "representatives", "first_posts", "merged_from",
    "merged_into", "record", "updated_at",
)  # fmt: skip


@dataclass(frozen=True)
class DemoLoaded:
    posts: list[EnrichedPost]
    events: dict[str, list[EnrichedPost]]  # event -> its posts, in time order
    first: datetime
    last: datetime


def _sentiment(text: str, event: str) -> Sentiment:
    if event in EVENT_SENTIMENT:
        return EVENT_SENTIMENT[event]
    folded = text.casefold()
    negative = sum(word in folded for word in NEGATIVE_WORDS)
    positive = sum(word in folded for word in POSITIVE_WORDS)
    if negative > positive:
        return Sentiment.negative
    return Sentiment.positive if positive > negative else Sentiment.neutral


_STANCE = {
    Sentiment.negative: Stance.against,
    Sentiment.positive: Stance.favor,
    Sentiment.neutral: Stance.none,
}


def enrich(post: Post, matcher: TargetMatcher, event: str) -> EnrichedPost:
    sentiment = _sentiment(post.text, event)
    targets = tuple(
        TargetStance(target=t, stance=_STANCE[sentiment], score=0.9) for t in matcher.match(post.text)
    )
    enrichment = Enrichment(
        lang=post.lang or "id",
        sentiment=sentiment,
        sentiment_score=0.9,
        targets=targets,
        terms=tuple(f"#{tag}" for tag in post.hashtags),
        fingerprint=hashlib.blake2b(post.text.casefold().encode(), digest_size=8).hexdigest(),
        model="rules",
    )
    return EnrichedPost(post=post, enrichment=enrichment, enriched_at=post.received_at)


def _issue_row(event: str, keywords: list[str], posts: list[EnrichedPost], *, coordinated: bool) -> list[Any]:
    first, last = posts[0].post.created_at, posts[-1].post.created_at
    targets = Counter(t.target for p in posts for t in p.enrichment.targets)
    authors = [p.post.author_id for p in posts]
    voices = {p.post.author_id for p in posts if not p.post.repost_of}
    amplifiers = Counter(authors).most_common(5)
    hours = max((last - first) / timedelta(hours=1), 1 / 60)
    return [
        f"issue-{event}", "closed", keywords[:3], [t for t, _ in targets.most_common(3)], first,
        first + timedelta(minutes=2), first + timedelta(minutes=3), last, len(posts), len(set(authors)),
        len(voices), sum(bool(p.post.repost_of) for p in posts), len(posts) / hours, 2.0,
        round(len(posts) / hours / 2.0, 1), 900,
        [SignalKind.coordinated_posting.value if coordinated else SignalKind.volume_burst.value],
        dict(amplifiers), sorted({p.post.author_handle for p in posts}) if coordinated else [],
        [p.post.id for p in posts[:3]], [p.post.id for p in posts[:5]], [], "", "{}", last,
    ]  # fmt: skip


def load_demo(client: Client, watchlist: Watchlist, *, shift: timedelta = timedelta(0)) -> DemoLoaded:
    """Store the demo stream (times moved by `shift`) with its issues in `client`'s database."""
    from storage.repository import ClickHouseStore

    with (DEMO / "truth.csv").open(encoding="utf-8") as file:
        truth = {row["post_id"]: row["event"] for row in csv.DictReader(file)}
    with (DEMO / "events.csv").open(encoding="utf-8") as file:
        keywords = {row["event"]: row["keywords"].split("|") for row in csv.DictReader(file)}
    matcher = TargetMatcher(watchlist)
    posts: list[EnrichedPost] = []
    for row in read_rows(DEMO / "posts.jsonl"):
        assert isinstance(row, dict)
        item = PostIn.model_validate(row)
        post = post_from_input(item, source="demo", received_at=item.created_at, raw="{}")
        post = post.model_copy(
            update={"created_at": post.created_at + shift, "received_at": post.received_at + shift}
        )
        posts.append(enrich(post, matcher, truth.get(post.id, "")))
    ClickHouseStore(client).insert_new_posts(posts)
    events: dict[str, list[EnrichedPost]] = {}
    for stored in posts:
        event = truth.get(stored.post.id, "")
        if event:
            events.setdefault(event, []).append(stored)
    issues = [
        _issue_row(event, keywords[event], members, coordinated=event == "bima_buzzer")
        for event, members in sorted(events.items())
    ]
    client.insert("issues", issues, column_names=list(ISSUE_COLUMNS))
    memberships = [
        [f"issue-{event}", p.post.id, p.post.created_at, p.post.created_at]
        for event, members in events.items()
        for p in members
    ]
    client.insert("issue_posts", memberships, column_names=["issue_id", "post_id", "created_at", "joined_at"])
    buzz = events.get("bima_buzzer", [])
    if buzz:
        _insert_coordination_alert(client, buzz)
    times = [p.post.created_at for p in posts]
    return DemoLoaded(posts=posts, events=events, first=min(times), last=max(times))


def _insert_coordination_alert(client: Client, wave: list[EnrichedPost]) -> None:
    """A coordinated-posting alert on the wave's text, as the per-key detector raises it."""
    from pantau.domain import Alert, Severity
    from storage.repository import ClickHouseStore

    first, last = wave[0].post.created_at, wave[-1].post.created_at
    alert = Alert(
        id="alert-buzzer-wave",
        fingerprint="buzzer-wave",
        kind=SignalKind.coordinated_posting,
        key_kind="text",
        key=wave[0].enrichment.fingerprint,
        target="bima-hartono",
        severity=Severity.warning,
        title=f"Coordinated posting: {len(wave)} near-identical posts",
        numbers={"accounts": float(len({p.post.author_id for p in wave})), "posts": float(len(wave))},
        evidence=tuple(p.post.id for p in wave[:10]),
        first_seen=first,
        last_seen=last,
        created_at=last,
        updated_at=last,
        details={"text": wave[0].post.text, "accounts": ",".join(p.post.author_handle for p in wave)},
    )
    ClickHouseStore(client).upsert_alerts([alert], event="created")


def first_page_png(pdf: Path, out: Path, *, dpi: int = 60) -> Path:
    """Page 1 of `pdf` as a PNG at `out` (poppler's pdftoppm)."""
    executable = shutil.which("pdftoppm")
    if executable is None:
        raise RuntimeError("pdftoppm is not on PATH (Debian: apt-get install poppler-utils)")
    prefix = out.with_suffix("")
    subprocess.run(
        [executable, "-png", "-r", str(dpi), "-f", "1", "-l", "1", "-singlefile", str(pdf), str(prefix)],
        check=True,
        capture_output=True,
    )
    return prefix.with_suffix(".png")


def backfilled_demo(scratch: Path) -> Client:
    """A chdb database under `scratch` holding the demo stream backfilled through the real pipeline."""
    from config.settings import load_settings
    from service.backfill import backfill
    from storage.client import open_client
    from storage.migrate import Migrator
    from storage.repository import ClickHouseStore

    dsn = f"chdb://{(scratch / 'clickhouse').resolve()}"
    client = open_client(dsn, database="sample")
    Migrator(client).up()
    settings = load_settings(clickhouse_dsn=dsn, data_dir=scratch / "data")

    def progress(done: int, total: int) -> None:
        print(f"\rclassifying the demo posts: {done}/{total}", end="", file=sys.stderr, flush=True)

    report = backfill(settings, DEMO / "posts.jsonl", ClickHouseStore(client), progress=progress)
    print(
        f"\nbackfilled {report.posts} posts ({report.model}): {report.issues} issues, {report.alerts} alerts",
        file=sys.stderr,
    )
    return client


def main(argv: list[str] | None = None) -> int:
    from service.report import Period, build_report, write_report

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="Also keep the HTML, PDF and Markdown briefs here.")
    parser.add_argument("--lang", choices=("id", "en"), default="en")
    parser.add_argument("--image", type=Path, default=SAMPLE_IMAGE)
    args = parser.parse_args(argv)
    watchlist = load_watchlist(DEFAULT_WATCHLIST)
    zone = timezone(timedelta(hours=7), "WIB")
    with tempfile.TemporaryDirectory() as scratch:
        client = backfilled_demo(Path(scratch))
        [(first, last)] = client.query("SELECT min(created_at), max(created_at) FROM posts").result_rows
        # The stream's hours in whole minutes: from the hour of its first post to just after its last.
        period = Period(
            since=first.replace(minute=0, second=0, microsecond=0, tzinfo=UTC),
            until=last.replace(second=0, microsecond=0, tzinfo=UTC) + timedelta(minutes=1),
        )
        document = build_report(client, period, watchlist, args.lang, zone)
        folder = args.out or Path(scratch) / "out"
        for fmt in ("html", "pdf", "md"):
            write_report(document, fmt, folder / f"brief-{args.lang}.{fmt}")
        args.image.parent.mkdir(parents=True, exist_ok=True)
        page = first_page_png(folder / f"brief-{args.lang}.pdf", Path(scratch) / "page")
        # A palette of 64 colours keeps the docs image small; text and charts stay legible.
        Image.open(page).convert("RGB").quantize(colors=64).save(args.image, optimize=True)
    print(f"wrote {args.image}" + (f" and the briefs in {args.out}" if args.out else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
