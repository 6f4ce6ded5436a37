"""One alert per issue: what an issue's events (opened, updated, merged, closed) do to its alert.

The alert's fingerprint is the issue's id, so an issue has at most one live alert whatever its
signals; `key_kind` is "issue" and `key` the issue id. Its `kind` is the issue's leading facet
(coordinated posting, then stance and sentiment shifts, then a target's burst, an emerging topic,
other bursts), so routes and silences written for kinds keep working; the `kinds` label lists
every kind the issue holds. A new facet or a larger size updates the alert (severity only rises);
a merge or a quiet issue resolves it, by Pantau. An issue that is back after Pantau resolved its
alert reopens that alert; after a person resolved it, it opens a new alert (a new id, the same
fingerprint): the desk hears it is back either way.
Pure: the clock is passed in.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from alerts.config import SeverityRules
from alerts.lifecycle import MAX_EVIDENCE, PANTAU, resolve, signal_size
from config.watchlist import Priority, Watchlist
from pantau.domain import Alert, AlertStatus, Issue, IssueFacet, Severity, Signal, SignalKind

ISSUE = "issue"
# Which facet names the issue's kind, most telling first.
LEADING = (
    SignalKind.coordinated_posting,
    SignalKind.stance_shift,
    SignalKind.sentiment_shift,
    SignalKind.volume_burst,
    SignalKind.emerging_topic,
)


def alert_id_for(issue_id: str) -> str:
    """The id of an issue's first alert."""
    return hashlib.blake2b(issue_id.encode(), digest_size=10).hexdigest()


def leading_kind(issue: Issue) -> SignalKind:
    kinds = {f.kind for f in issue.facets}
    return next((k for k in LEADING if k in kinds), SignalKind.volume_burst)


def _as_signal(facet: IssueFacet) -> Signal:
    return Signal(
        id=facet.signal_id,
        kind=facet.kind,
        key_kind=facet.key_kind,
        key=facet.key,
        target=facet.target,
        window_start=facet.window_start,
        window_end=facet.window_end,
        numbers=facet.numbers,
        detected_at=facet.window_end,
    )


def issue_severity(issue: Issue, watchlist: Watchlist, rules: SeverityRules | None = None) -> Severity:
    """Its largest facet's size (each kind by its own measure), raised by its targets' priority and
    by its own size (posts against `topic_posts`)."""
    rules = rules or SeverityRules()
    size = max((signal_size(_as_signal(f), rules) for f in issue.facets), default=0)
    medium, large = rules.topic_posts
    size = max(size, 2 if issue.posts >= large else 1 if issue.posts >= medium else 0)
    priority = max(
        (t.priority_rank for t in (watchlist.get(i) for i in issue.targets) if t is not None),
        default=Priority.normal,
    )
    rank = size + (1 if priority >= Priority.high else 0) + (1 if priority == Priority.critical else 0)
    return Severity.critical if rank >= 3 else Severity.warning if rank >= 1 else Severity.info


def issue_title(issue: Issue, watchlist: Watchlist) -> str:
    names = [t.name for t in (watchlist.get(i) for i in issue.targets) if t is not None]
    what = " · ".join(issue.label) or "an emerging issue"
    about = f" (about {', '.join(names)})" if names else ""
    return f"Issue: {what}{about}: {issue.posts} posts from {issue.voices} accounts"


def issue_summary(issue: Issue) -> str:
    parts = [f"growth {issue.growth:g}x", f"{issue.rate_per_hour:g} posts/h now"]
    if issue.reposts:
        parts.append(f"{issue.reposts} reposts")
    kinds = sorted({f.kind.value.replace("_", " ") for f in issue.facets})
    parts.append("signals: " + ", ".join(kinds))
    for share in issue.shares[:3]:
        against = share.stance.get("against", 0.0)
        usual = share.baseline_stance.get("against", 0.0)
        parts.append(f"{share.target}: against {against:.0%} (usually {usual:.0%})")
    if issue.coordination:
        parts.append(f"{len(issue.coordination)} accounts in coordinated waves")
    return "; ".join(parts)


def issue_details(issue: Issue) -> dict[str, str]:
    details = {
        "issue": issue.id,
        "label": ", ".join(issue.label),
        "sample": issue.samples[0][:280] if issue.samples else "",
        "amplifiers": ", ".join(list(issue.amplifiers)[:10]),
        "accounts": ",".join(issue.coordination[:50]),
        "merged_from": ",".join(issue.merged_from),
        "merged_into": issue.merged_into,
    }
    drivers = [f.details["drivers"] for f in issue.facets if f.details.get("drivers")]
    if drivers:
        details["drivers"] = drivers[-1]
    return {name: value[:500] for name, value in details.items() if value}


def issue_labels(issue: Issue, severity: Severity, watchlist: Watchlist) -> dict[str, str]:
    target = issue.targets[0] if issue.targets else ""
    known = watchlist.get(target) if target else None
    labels = {
        "kind": leading_kind(issue).value,
        "kinds": ",".join(sorted({f.kind.value for f in issue.facets})),
        "key_kind": ISSUE,
        "key": issue.id,
        "issue": issue.id,
        "target": target,
        "target_name": known.name if known else "",
        "severity": severity.value,
        "priority": known.priority_rank.name if known else "",
    }
    return {name: value for name, value in labels.items() if value}


def apply_issue(
    current: Alert | None,
    kind: str,
    issue: Issue,
    *,
    now: datetime,
    watchlist: Watchlist,
    rules: SeverityRules | None = None,
) -> Alert | None:
    """The issue's alert after one of its events; None when there is nothing to store (a closing
    or merge for an issue that has no alert)."""
    if kind in ("merged", "closed"):
        if current is None or current.status == AlertStatus.resolved:
            return None
        closing = current.model_copy(update={"details": {**current.details, **issue_details(issue)}})
        return resolve(closing, by=PANTAU, now=now)
    severity = issue_severity(issue, watchlist, rules)
    evidence = tuple(dict.fromkeys((*issue.representatives, *issue.first_posts)))[:MAX_EVIDENCE]
    fresh = {
        "kind": leading_kind(issue),
        "title": issue_title(issue, watchlist),
        "summary": issue_summary(issue),
        "numbers": {
            "posts": float(issue.posts),
            "accounts": float(issue.accounts),
            "voices": float(issue.voices),
            "reposts": float(issue.reposts),
            "growth": issue.growth,
            "rate_per_hour": issue.rate_per_hour,
            "scale_seconds": float(issue.scale_seconds),
        },
        "evidence": evidence,
        "signal_ids": tuple(f.signal_id for f in issue.facets),
        "details": issue_details(issue),
        "target": issue.targets[0] if issue.targets else "",
        "last_seen": issue.last_activity,
        "updated_at": now,
        "renewed_at": now,
    }
    if current is not None and (current.status != AlertStatus.resolved or current.resolved_by == PANTAU):
        severities = list(Severity)
        highest = max(current.severity, severity, key=severities.index)
        update = {
            **fresh,
            "severity": highest,
            "labels": issue_labels(issue, highest, watchlist),
            "last_seen": max(current.last_seen, issue.last_activity),
        }
        if current.status == AlertStatus.resolved:
            # Pantau closed it when the issue went quiet; the issue is back: the same alert
            # reopens, with its history (a person's resolution stands: a new alert, below).
            update |= {"status": AlertStatus.open, "resolved_by": "", "resolved_at": None}
        return current.model_copy(update=update)
    reopened = current is not None
    return Alert(
        id=alert_id_for(f"{issue.id}|{now.isoformat()}" if reopened else issue.id),
        fingerprint=issue.id,
        key_kind=ISSUE,
        key=issue.id,
        severity=severity,
        first_seen=issue.first_post_at,
        created_at=now,
        labels=issue_labels(issue, severity, watchlist),
        **fresh,  # type: ignore[arg-type]
    )
