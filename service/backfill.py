"""`pantau backfill`: load a recorded stream into the warehouse through the models, the detectors and
the issue layer, without the broker.

For an archive a team brings in (last month's posts, another team's export) and for a warehouse
that shows the product's flow on a known stream (the dashboards', the analysts' guide's and the
daily brief's tests load the demo this way). The posts are classified as the enrich stage does
(with `cache`, enrichments are kept per text, model and watchlist), replayed in event time through
the detectors and the issue tracker as `pantau eval issues` does, and stored with the writes the
worker makes: posts once each, every issue's latest version, the posts of each paged issue, and
each issue's one alert with its history of changes.

The alerts are history, dated in the stream's time: they go to ClickHouse only, not to the live
state in Redis, so nobody is paged for last month. When the archive ends, time passes for the issue
layer (a day of stream time), so every issue closes and its alert is resolved: nothing else could
resolve an alert that only the warehouse holds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from alerts.config import load_alerting
from alerts.issues import apply_issue
from config.settings import Settings
from config.watchlist import load_watchlist
from detectors.issues import IssueEvent
from pantau.domain import Alert, AlertStatus, Issue, utcnow
from service.issue_eval import enrich, replay
from service.runtime import make_detector, make_issue_tracker
from storage.repository import ClickHouseStore

POST_BATCH = 2_000
MEMBERS_PER_INSERT = 50_000
# Longer than any issue's quiet time (6 h, or its time scale: a day at most), so every issue closes.
CLOSE_AFTER = timedelta(days=1, minutes=10)


@dataclass(frozen=True)
class BackfillReport:
    posts: int
    stored: int  # new to the warehouse (a second backfill of the same stream stores none)
    issues: int
    alerts: int
    issue_posts: int
    model: str


def backfill(
    settings: Settings,
    stream: Path,
    store: ClickHouseStore,
    *,
    cache: Path | None = None,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> BackfillReport:
    watchlist = load_watchlist(settings.watchlist_path)
    classified = enrich(settings, watchlist, stream, cache, progress)
    enriched = classified.posts
    stored = sum(
        len(store.insert_new_posts(enriched[start : start + POST_BATCH]))
        for start in range(0, len(enriched), POST_BATCH)
    )
    severity = load_alerting(settings.alerting_path).severity
    detector_set = make_detector(settings, classified.bands)
    tracker = make_issue_tracker(settings, classified.bands)
    alerts: dict[str, Alert] = {}
    changes: dict[str, list[Alert]] = {"opened": [], "updated": [], "resolved": []}
    issues: dict[str, Issue] = {}
    stored_members = 0

    def on_issue_event(event: IssueEvent) -> None:
        issue = event.issue
        issues[issue.id] = issue
        current = alerts.get(issue.id)
        # In the stream's time: the alert's timeline is the issue's, not the hour of the backfill.
        alert = apply_issue(
            current, event.kind, issue, now=issue.last_activity, watchlist=watchlist, rules=severity
        )
        if alert is None or alert == current:
            return
        alerts[issue.id] = alert
        if current is None:
            changes["opened"].append(alert)
        elif alert.status == AlertStatus.resolved and current.status != AlertStatus.resolved:
            changes["resolved"].append(alert)
        else:
            changes["updated"].append(alert)

    def store_members(at_least: int) -> None:
        nonlocal stored_members
        if tracker.unsaved_count >= at_least:
            joined = tracker.unsaved_members()
            store.insert_issue_posts(joined)
            tracker.members_saved(joined)
            stored_members += len(joined)

    replay(
        enriched,
        detector_set,
        tracker,
        watchlist,
        settings,
        on_issue_event=on_issue_event,
        # Stored as they come, in large inserts, so the tracker's cap on unsaved posts never bites.
        after_batch=lambda: store_members(MEMBERS_PER_INSERT),
    )
    if enriched:
        # The archive is over: time passes, so its issues close and their alerts resolve (these
        # alerts are only in the warehouse: nothing else would ever resolve them).
        last = max(e.post.received_at for e in enriched)
        for event in tracker.idle(last + CLOSE_AFTER):
            on_issue_event(event)
    store_members(1)
    # Each issue's latest version: the tracker's, where it still holds the issue.
    latest = [tracker.get(issue_id) or issue for issue_id, issue in issues.items()]
    store.upsert_issues(latest, at=utcnow())
    # One insert per kind of change: each version carries its own updated_at, the latest wins.
    for change, versions in changes.items():
        store.upsert_alerts(versions, event=change)
    return BackfillReport(
        posts=len(enriched),
        stored=stored,
        issues=len(latest),
        alerts=len(alerts),
        issue_posts=stored_members,
        model=classified.model,
    )
