"""`pantau eval issues`: replay a labelled stream through the classifier, the detectors and the issue
layer, and score the alerts the desk would have had against the truth (`detectors.issue_eval`).

The same stream is scored twice in one run: as issues (one alert per issue) and as today's per-key
alerts (one alert per signal key, regrouped as the alert stage does), the baseline.

Posts are replayed in event time with their arrival time equal to their own time (a live stream):
each post's observations go through the detectors; the issue tracker gets them as the service's
issue stage does, in batches (`batch_posts`, or `batch_seconds` of event time): the batch's posts,
then the signals they completed in a shuffled order (seeded), since the detect stage's partitions
finish in no set order. Classifying is the slow part (minutes for tens of thousands of posts on a
CPU), so `cache` keeps the enrichments per text, model and watchlist.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from alerts.config import load_alerting
from alerts.lifecycle import apply_signal, fingerprint
from config.settings import Settings
from config.watchlist import Watchlist, load_watchlist
from detectors.base import Observation, observations
from detectors.ensemble import DetectorSet
from detectors.issue_eval import Page, delay_floor, delay_over_floor, score_pages
from detectors.issue_streams import read_issue_events, read_truth
from detectors.issues import IssueEvent, IssueInput, IssueTracker
from pantau.domain import Alert, EnrichedPost, Enrichment, Signal
from pantau.normalise import PostIn, post_from_input
from pantau.topic_bands import TopicBands

BATCH = 256


@dataclass(frozen=True)
class ClassifiedStream:
    posts: list[EnrichedPost]
    model: str  # the classifier's name, into the report
    bands: TopicBands  # its embedding's, for the detectors and the issue tracker


def read_stream(path: Path) -> list[PostIn]:
    items = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if line.strip():
                try:
                    items.append(PostIn.model_validate_json(line))
                except ValueError as exc:
                    raise ValueError(f"{path}:{number}: not a post: {exc}") from None
    return items


def enrich(
    settings: Settings,
    watchlist: Watchlist,
    stream: Path,
    cache: Path | None,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> ClassifiedStream:
    """The stream's posts, classified, with the model's name and its embedding's topic bands.

    With a `cache` folder, enrichments are kept per text (the classifier's own key), model and
    watchlist, so a stream rebuilt with other times or authors is not classified again."""
    from nlp.classifier import cache_key
    from nlp.models import build_classifier

    classifier = build_classifier(settings, watchlist)
    posts = [
        post_from_input(item, source="eval", received_at=item.created_at)  # live: arrives as written
        for item in read_stream(stream)
    ]
    targets = hashlib.blake2b(watchlist.model_dump_json().encode(), digest_size=6).hexdigest()
    known: dict[str, Enrichment] = {}
    cached = cache / f"enrichments-{_slug(classifier.name)}-{targets}.jsonl" if cache else None
    if cached is not None and cached.exists():
        with cached.open(encoding="utf-8") as lines:
            for line in lines:
                key, _, value = line.partition("\t")
                known[key] = Enrichment.model_validate_json(value)
    keys = [cache_key(post.text) for post in posts]
    missing = list({key: post for key, post in zip(keys, posts, strict=True) if key not in known}.items())
    for start in range(0, len(missing), BATCH):
        batch = missing[start : start + BATCH]
        fresh = classifier.classify([post for _, post in batch])
        new = {key: enrichment for (key, _), enrichment in zip(batch, fresh, strict=True)}
        known.update(new)
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            with cached.open("a", encoding="utf-8") as out:
                out.writelines(f"{key}\t{e.model_dump_json()}\n" for key, e in new.items())
        progress(start + len(batch), len(missing))
    enriched = [
        EnrichedPost(post=post, enrichment=known[key], enriched_at=post.received_at)
        for key, post in zip(keys, posts, strict=True)
    ]
    return ClassifiedStream(enriched, classifier.name, classifier.topic_bands)


def _slug(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()


@dataclass
class Replay:
    issue_pages: list[Page]
    key_pages: list[Page]
    signals: int
    issue_events: dict[str, int]


def replay(
    enriched: Iterable[EnrichedPost],
    detectors: DetectorSet,
    tracker: IssueTracker,
    watchlist: Watchlist,
    settings: Settings,
    *,
    batch_posts: int = 64,
    batch_seconds: float = 10.0,
    seed: int = 0,
    on_issue_event: Callable[[IssueEvent], None] = lambda event: None,
    after_batch: Callable[[], None] = lambda: None,
) -> Replay:
    window = timedelta(seconds=batch_seconds)
    rules = load_alerting(settings.alerting_path)
    alerts: dict[str, Alert] = {}
    key_evidence: dict[str, set[str]] = {}
    key_pages: dict[str, Page] = {}
    issue_pages: dict[str, Page] = {}
    issue_events: dict[str, int] = {}
    signals = 0
    rng = random.Random(seed)
    batch: list[Observation] = []
    batch_signals: list[Signal] = []

    def deliver() -> None:
        # As the detect stage sends them: the batch's posts first, then its signals, whose order
        # across keys (partitions) is not the order they were found in.
        events = tracker.read(IssueInput(posts=tuple(batch)))
        rng.shuffle(batch_signals)
        for signal in batch_signals:
            events += tracker.signal(signal)
        for event in events:
            on_issue_event(event)
            issue_events[event.kind] = issue_events.get(event.kind, 0) + 1
            if event.kind == "opened":
                issue = event.issue
                issue_pages[issue.id] = Page(issue.id, issue.paged_at or issue.opened_at, issue.label, ())
        batch.clear()
        batch_signals.clear()
        after_batch()

    for item in sorted(enriched, key=lambda e: e.post.created_at):
        for observation in observations(item):
            found = detectors.update(observation)
            if observation.key_kind == "stream":
                batch.append(observation)
            batch_signals.extend(found)
            for signal in found:
                signals += 1
                key = fingerprint(signal.kind, signal.key_kind, signal.key)
                alert = apply_signal(
                    alerts.get(key),
                    signal,
                    now=signal.window_end,
                    watchlist=watchlist,
                    regroup_seconds=rules.resolve_after_for(signal.kind).total_seconds(),
                    rules=rules.severity,
                )
                alerts[key] = alert
                key_evidence.setdefault(alert.id, set()).update(signal.evidence)
                if alert.id not in key_pages:
                    terms = signal.details.get("terms", "")
                    label = tuple(terms.split(", ")) if terms else (signal.key,)
                    key_pages[alert.id] = Page(alert.id, signal.window_end, label, tuple(signal.evidence))
        if len(batch) >= batch_posts or (batch and item.post.created_at - batch[0].at >= window):
            deliver()
    deliver()
    pages = []
    for page in issue_pages.values():
        final = tracker.get(page.id)
        label = final.label if final is not None else page.label
        pages.append(Page(page.id, page.at, label, tuple(tracker.members(page.id))))
    keys = [Page(p.id, p.at, p.label, tuple(key_evidence[p.id])) for p in key_pages.values()]
    return Replay(pages, keys, signals, issue_events)


def run_issue_eval(
    settings: Settings,
    stream: Path,
    truth_path: Path,
    events_path: Path,
    *,
    cache: Path | None = None,
    show: int = 0,
) -> dict[str, Any]:
    from service.runtime import make_detector, make_issue_tracker

    watchlist = load_watchlist(settings.watchlist_path)

    def progress(done: int, total: int) -> None:
        print(f"\rclassified {done}/{total}", end="", file=sys.stderr, flush=True)

    classified = enrich(settings, watchlist, stream, cache, progress)
    enriched = classified.posts
    print(file=sys.stderr)
    truth = read_truth(truth_path)
    events = read_issue_events(events_path)
    detectors = make_detector(settings, classified.bands)
    # The issue layer as the service builds it from the settings.
    tracker = make_issue_tracker(settings, classified.bands)
    result = replay(enriched, detectors, tracker, watchlist, settings)
    times = [e.post.created_at for e in enriched]
    first, last = min(times), max(times)
    issues = score_pages(result.issue_pages, truth, events, first=first, last=last)
    keys = score_pages(result.key_pages, truth, events, first=first, last=last)
    report: dict[str, Any] = {
        "posts": len(enriched),
        "days": round((last - first).total_seconds() / 86400, 2),
        "signals": result.signals,
        "issue_events": result.issue_events,
        "issues": issues,
        "per_key_alerts": keys,
        "model": classified.model,
    }
    # The stream's share of the delay: no layer that waits for the paging minimum is faster.
    floor = delay_floor(
        [(e.post.id, e.post.created_at, e.post.author_id) for e in enriched],
        truth,
        events,
        min_posts=settings.issue_min_posts,
        min_accounts=settings.issue_min_accounts,
    )
    report["floor"] = floor
    report["issues_over_floor"] = delay_over_floor(issues, floor)
    report["per_key_over_floor"] = delay_over_floor(keys, floor)
    if show:
        report["issue_labels"] = [
            {"at": p.at.isoformat(), "label": list(p.label), "posts": len(p.posts)}
            for p in sorted(result.issue_pages, key=lambda p: p.at)[:show]
        ]
    return report


def dumps(report: dict[str, Any]) -> str:
    return json.dumps(report, ensure_ascii=False, default=str)
