"""From signals to alerts, and what people do with them: pure decisions, the clock passed in.

A signal on a key that already has a live alert (same fingerprint, seen within `regroup_seconds`)
updates that alert; otherwise it opens a new one. An alert no signal renews for its kind's
`resolve_after` has cleared and resolves itself; staff acknowledge, assign and resolve by hand.
Which alerts notify whom, and when, is `alerts.routing`.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from alerts.config import SeverityRules
from config.watchlist import Priority, Watchlist
from pantau.domain import Alert, AlertStatus, Severity, Signal, SignalKind

PANTAU = "pantau"  # the actor for what Pantau does by itself
MAX_EVIDENCE = 50
MAX_SIGNAL_IDS = 200


def fingerprint(kind: SignalKind, key_kind: str, key: str) -> str:
    return hashlib.blake2b(f"{kind}|{key_kind}|{key}".encode(), digest_size=8).hexdigest()


def signal_size(signal: Signal, rules: SeverityRules) -> int:
    """0, 1 or 2: how large the change is by its kind's own measure and the configured thresholds."""
    n = signal.numbers
    if signal.kind == SignalKind.volume_burst:
        measure, (medium, large) = n.get("ratio", 1.0), rules.burst_ratio
    elif signal.kind in (SignalKind.sentiment_shift, SignalKind.stance_shift):
        measure = abs(n.get("share_after", 0.0) - n.get("share_before", 0.0))
        medium, large = rules.shift_change
    elif signal.kind == SignalKind.coordinated_posting:
        measure = n.get("accounts", 0.0) / max(n.get("threshold_accounts", 1.0), 1.0)
        medium, large = rules.coordinated_accounts
    else:
        measure, (medium, large) = n.get("posts", 0.0), rules.topic_posts
    return 2 if measure >= large else 1 if measure >= medium else 0


def severity_for(signal: Signal, priority: Priority, rules: SeverityRules | None = None) -> Severity:
    """Bigger changes and more important targets rank higher."""
    size = signal_size(signal, rules or SeverityRules())
    rank = size + (1 if priority >= Priority.high else 0) + (1 if priority == Priority.critical else 0)
    return Severity.critical if rank >= 3 else Severity.warning if rank >= 1 else Severity.info


def labels_for(
    signal: Signal, severity: Severity, priority: Priority, target_name: str = ""
) -> dict[str, str]:
    """What routes, groups, inhibition rules and silences match on. Empty values are left out."""
    labels = {
        "kind": signal.kind.value,
        "key_kind": signal.key_kind,
        "key": signal.key,
        "target": signal.target,
        "target_name": target_name,
        "severity": severity.value,
        "priority": priority.name if signal.target else "",
    }
    return {name: value for name, value in labels.items() if value}


def title_for(signal: Signal, target_name: str) -> str:
    what = target_name or (f"#{signal.key}" if signal.key_kind == "hashtag" else signal.key)
    if signal.kind == SignalKind.volume_burst:
        count = int(signal.numbers.get("count", 0))
        ratio = signal.numbers.get("ratio", 0.0)
        minutes = int(signal.numbers.get("window_seconds", 60) // 60) or 1
        return f"Volume burst on {what}: {count} posts in {minutes} min ({ratio:.1f}x baseline)"
    n = signal.numbers
    if signal.kind in (SignalKind.sentiment_shift, SignalKind.stance_shift):
        share = "negative" if signal.kind == SignalKind.sentiment_shift else "against"
        return (
            f"{'Sentiment' if signal.kind == SignalKind.sentiment_shift else 'Stance'} shift on {what}: "
            f"{share} share {n.get('share_before', 0):.0%} -> {n.get('share_after', 0):.0%}"
        )
    if signal.kind == SignalKind.emerging_topic:
        terms = signal.details.get("terms", "") or signal.key
        return (
            f"Emerging topic: {terms} ({int(n.get('posts', 0))} posts, {int(n.get('authors', 0))} accounts)"
        )
    if signal.kind == SignalKind.coordinated_posting:
        about = f" about {what}" if signal.target else ""
        return (
            f"Coordinated posting{about}: {int(n.get('accounts', 0))} accounts posted near-identical text "
            f"within {int(n.get('window_seconds', 0) // 60) or 1} min"
        )
    return f"{signal.kind.value.replace('_', ' ').capitalize()} on {what}"


def apply_signal(
    current: Alert | None,
    signal: Signal,
    *,
    now: datetime,
    watchlist: Watchlist,
    regroup_seconds: float = 1800,
    rules: SeverityRules | None = None,
) -> Alert:
    """The alert this signal opens or updates."""
    target = watchlist.get(signal.target) if signal.target else None
    priority = target.priority_rank if target else Priority.normal
    severity = severity_for(signal, priority, rules)
    title = title_for(signal, target.name if target else "")
    live = (
        current is not None
        and current.status != AlertStatus.resolved
        and signal.window_start - current.last_seen <= timedelta(seconds=regroup_seconds)
    )
    if current is None or not live:
        fp = fingerprint(signal.kind, signal.key_kind, signal.key)
        return Alert(
            id=Signal.make_id(signal.kind, signal.key_kind, signal.key, signal.window_start),
            fingerprint=fp,
            kind=signal.kind,
            key_kind=signal.key_kind,
            key=signal.key,
            target=signal.target,
            severity=severity,
            title=title,
            summary=_summary(signal),
            numbers=dict(signal.numbers),
            evidence=signal.evidence[:MAX_EVIDENCE],
            signal_ids=(signal.id,),
            first_seen=signal.window_start,
            last_seen=signal.window_end,
            created_at=now,
            updated_at=now,
            renewed_at=now,
            labels=labels_for(signal, severity, priority, target.name if target else ""),
            details=_details(signal),
        )
    if signal.id in current.signal_ids:
        return current
    severities = list(Severity)
    highest = max(current.severity, severity, key=severities.index)
    return current.model_copy(
        update={
            "severity": highest,
            "labels": {**current.labels, "severity": highest.value},
            "details": _details(signal) or current.details,
            "title": title
            if signal.numbers.get("count", 0) >= current.numbers.get("count", 0)
            else current.title,
            "summary": _summary(signal),
            "numbers": {k: max(v, current.numbers.get(k, v)) for k, v in signal.numbers.items()},
            "evidence": tuple(dict.fromkeys((*current.evidence, *signal.evidence)))[:MAX_EVIDENCE],
            "signal_ids": (*current.signal_ids, signal.id)[-MAX_SIGNAL_IDS:],
            "last_seen": max(current.last_seen, signal.window_end),
            "updated_at": now,
            "renewed_at": now,
        }
    )


def acknowledge(alert: Alert, *, by: str, now: datetime) -> Alert:
    """Someone is on it: no more repeats or escalation. A resolved alert stays resolved."""
    if alert.status != AlertStatus.open:
        return alert
    at = _changed_at(alert, now)
    return alert.model_copy(
        update={"status": AlertStatus.acknowledged, "acked_by": by, "acked_at": at, "updated_at": at}
    )


def _changed_at(alert: Alert, now: datetime) -> datetime:
    # After the version it changes, even if the detector wrote one a moment ago: the history
    # keeps the newest version per alert.
    return max(now, alert.updated_at + timedelta(microseconds=1))


def resolve(alert: Alert, *, by: str, now: datetime) -> Alert:
    """Resolved by a person, or by Pantau (`by="pantau"`) when the condition cleared."""
    if alert.status == AlertStatus.resolved:
        return alert
    at = _changed_at(alert, now)
    return alert.model_copy(
        update={"status": AlertStatus.resolved, "resolved_by": by, "resolved_at": at, "updated_at": at}
    )


def resolve_if_cleared(alert: Alert, *, now: datetime, resolve_after: timedelta) -> Alert:
    """The alert resolved by Pantau when no signal has renewed it for `resolve_after`; else itself.

    Measured from the later of the posts' time and Pantau's own: a replayed or late stream (posts
    hours old) must not resolve its alerts the moment they open, before anyone was told."""
    renewed = max(alert.last_seen, alert.renewed_at or alert.created_at)
    if alert.status == AlertStatus.resolved or now - renewed < resolve_after:
        return alert
    return resolve(alert, by=PANTAU, now=now)


def assign(alert: Alert, *, assignee: str, by: str, now: datetime) -> Alert:
    """Hand the alert to someone ('' to take it back). A resolved alert can still be assigned:
    the follow-up (a statement, a correction) often comes after."""
    if alert.assignee == assignee:
        return alert
    at = _changed_at(alert, now)
    return alert.model_copy(
        update={"assignee": assignee, "assigned_by": by, "assigned_at": at, "updated_at": at}
    )


def mark_escalated(alert: Alert, *, now: datetime) -> Alert:
    """Record the escalation, unless someone acknowledged or resolved it meanwhile."""
    if alert.escalated_at is not None or alert.status != AlertStatus.open:
        return alert
    at = _changed_at(alert, now)
    return alert.model_copy(update={"escalated_at": at, "updated_at": at})


MAX_DETAIL_CHARS = 500


def _details(signal: Signal) -> dict[str, str]:
    return {name: value[:MAX_DETAIL_CHARS] for name, value in signal.details.items() if value}


def _summary(signal: Signal) -> str:
    n = signal.numbers
    numbers = ", ".join(f"{k}={v:g}" for k, v in sorted(n.items()))
    words = "; ".join(f"{k}: {v}" for k, v in sorted(signal.details.items()) if v)
    return f"{numbers}; {words}" if words else numbers
