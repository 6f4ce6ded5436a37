"""From signals to alerts: pure decisions, the clock passed in.

A signal on a key that already has a live alert (same fingerprint, seen within `regroup_seconds`)
updates that alert; otherwise it opens a new one. The skeleton keeps to this; grouping, inhibition,
silences and escalation build on the same functions.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from config.watchlist import Priority, Watchlist
from pantau.domain import Alert, AlertStatus, Severity, Signal, SignalKind

MAX_EVIDENCE = 50
MAX_SIGNAL_IDS = 200


def fingerprint(kind: SignalKind, key_kind: str, key: str) -> str:
    return hashlib.blake2b(f"{kind}|{key_kind}|{key}".encode(), digest_size=8).hexdigest()


def severity_for(signal: Signal, priority: Priority) -> Severity:
    """Bigger jumps and more important targets rank higher."""
    ratio = signal.numbers.get("ratio", 1.0)
    size = 2 if ratio >= 10 else 1 if ratio >= 5 else 0
    rank = size + (1 if priority >= Priority.high else 0) + (1 if priority == Priority.critical else 0)
    return Severity.critical if rank >= 3 else Severity.warning if rank >= 1 else Severity.info


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
    regroup_seconds: int = 1800,
) -> Alert:
    """The alert this signal opens or updates."""
    target = watchlist.get(signal.target) if signal.target else None
    priority = target.priority_rank if target else Priority.normal
    severity = severity_for(signal, priority)
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
        )
    if signal.id in current.signal_ids:
        return current
    severities = list(Severity)
    return current.model_copy(
        update={
            "severity": max(current.severity, severity, key=severities.index),
            "title": title
            if signal.numbers.get("count", 0) >= current.numbers.get("count", 0)
            else current.title,
            "summary": _summary(signal),
            "numbers": {k: max(v, current.numbers.get(k, v)) for k, v in signal.numbers.items()},
            "evidence": tuple(dict.fromkeys((*current.evidence, *signal.evidence)))[:MAX_EVIDENCE],
            "signal_ids": (*current.signal_ids, signal.id)[-MAX_SIGNAL_IDS:],
            "last_seen": max(current.last_seen, signal.window_end),
            "updated_at": now,
        }
    )


def acknowledge(alert: Alert, *, by: str, now: datetime) -> Alert:
    if alert.status == AlertStatus.acknowledged:
        return alert
    return alert.model_copy(
        update={"status": AlertStatus.acknowledged, "acked_by": by, "acked_at": now, "updated_at": now}
    )


def _summary(signal: Signal) -> str:
    n = signal.numbers
    numbers = ", ".join(f"{k}={v:g}" for k, v in sorted(n.items()))
    words = "; ".join(f"{k}: {v}" for k, v in sorted(signal.details.items()) if v)
    return f"{numbers}; {words}" if words else numbers
