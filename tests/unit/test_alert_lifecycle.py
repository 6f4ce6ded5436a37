"""alerts.lifecycle: signals open and update alerts; acknowledgement. Pure, with the clock passed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerts.lifecycle import MAX_EVIDENCE, acknowledge, apply_signal, fingerprint, severity_for, title_for
from config.settings import DEFAULT_WATCHLIST
from config.watchlist import Priority, load_watchlist
from pantau.domain import Alert, AlertStatus, Severity, Signal, SignalKind

WATCHLIST = load_watchlist(DEFAULT_WATCHLIST)
T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
NOW = datetime(2024, 5, 1, 10, 0, 30, tzinfo=UTC)


def signal(
    minute: int = 0,
    *,
    key: str = "raka-wibisana",
    key_kind: str = "target",
    target: str | None = None,
    ratio: float = 3.0,
    count: float = 9.0,
    evidence: tuple[str, ...] = ("x:1", "x:2"),
) -> Signal:
    start = T0 + timedelta(minutes=minute)
    return Signal(
        id=Signal.make_id(SignalKind.volume_burst, key_kind, key, start),
        kind=SignalKind.volume_burst,
        key_kind=key_kind,
        key=key,
        target=(key if key_kind == "target" else "") if target is None else target,
        window_start=start,
        window_end=start + timedelta(minutes=1),
        numbers={"count": count, "ratio": ratio, "baseline_mean": count / ratio, "window_seconds": 60.0},
        evidence=evidence,
        detected_at=start + timedelta(seconds=20),
    )


def open_alert(s: Signal | None = None) -> Alert:
    return apply_signal(None, s or signal(), now=NOW, watchlist=WATCHLIST)


def test_shipped_priorities_used_below() -> None:
    ranks = {t.id: t.priority_rank for t in WATCHLIST.targets}
    assert ranks["raka-wibisana"] == Priority.critical
    assert ranks["sari-lestari"] == Priority.high
    assert ranks["partai-nusantara-maju"] == Priority.normal


def test_first_signal_opens_an_alert() -> None:
    s = signal()
    alert = open_alert(s)
    assert alert.id == s.id == Signal.make_id(s.kind, s.key_kind, s.key, s.window_start)
    assert alert.fingerprint == fingerprint(SignalKind.volume_burst, "target", "raka-wibisana")
    assert alert.status == AlertStatus.open
    assert (alert.kind, alert.key_kind, alert.key, alert.target) == (s.kind, "target", s.key, s.key)
    assert alert.signal_ids == (s.id,)
    assert alert.evidence == s.evidence
    assert alert.numbers == s.numbers
    assert (alert.first_seen, alert.last_seen) == (s.window_start, s.window_end)
    assert alert.created_at == alert.updated_at == NOW
    assert (alert.acked_by, alert.acked_at) == ("", None)
    assert alert.title == "Volume burst on Raka Wibisana: 9 posts in 1 min (3.0x baseline)"
    assert "count=9" in alert.summary
    assert "ratio=3" in alert.summary


def test_ids_and_fingerprints_are_deterministic() -> None:
    assert open_alert().id == open_alert().id
    assert open_alert().fingerprint == open_alert(signal(7)).fingerprint
    assert open_alert().id != open_alert(signal(7)).id
    assert open_alert().fingerprint != open_alert(signal(key="sari-lestari")).fingerprint
    hashtag = signal(key="raka-wibisana", key_kind="hashtag")
    assert open_alert().fingerprint != open_alert(hashtag).fingerprint


@pytest.mark.parametrize(
    ("key", "key_kind", "ratio", "severity"),
    [
        ("raka-wibisana", "target", 3.0, Severity.warning),  # critical target: +2
        ("raka-wibisana", "target", 5.0, Severity.critical),
        ("raka-wibisana", "target", 12.0, Severity.critical),
        ("sari-lestari", "target", 3.0, Severity.warning),  # high target: +1
        ("sari-lestari", "target", 5.0, Severity.warning),
        ("sari-lestari", "target", 10.0, Severity.critical),
        ("partai-nusantara-maju", "target", 3.0, Severity.info),  # normal target: +0
        ("partai-nusantara-maju", "target", 5.0, Severity.warning),
        ("partai-nusantara-maju", "target", 50.0, Severity.warning),
        ("pemilu", "hashtag", 4.9, Severity.info),  # no target: normal
        ("pemilu", "hashtag", 10.0, Severity.warning),
        ("not-on-watchlist", "target", 10.0, Severity.warning),
    ],
)
def test_severity_from_ratio_and_target_priority(
    key: str, key_kind: str, ratio: float, severity: Severity
) -> None:
    assert open_alert(signal(key=key, key_kind=key_kind, ratio=ratio)).severity == severity


def test_severity_for_without_ratio_is_by_priority() -> None:
    s = signal().model_copy(update={"numbers": {"count": 9.0}})
    assert severity_for(s, Priority.low) == Severity.info
    assert severity_for(s, Priority.critical) == Severity.warning


def test_titles() -> None:
    assert title_for(signal(key="pemilu", key_kind="hashtag", count=12, ratio=4), "") == (
        "Volume burst on #pemilu: 12 posts in 1 min (4.0x baseline)"
    )
    shift = signal().model_copy(
        update={"kind": SignalKind.sentiment_shift, "numbers": {"share_before": 0.12, "share_after": 0.55}}
    )
    assert title_for(shift, "Raka Wibisana") == "Sentiment shift on Raka Wibisana: negative share 12% -> 55%"
    stance = shift.model_copy(update={"kind": SignalKind.stance_shift})
    assert title_for(stance, "Raka Wibisana") == "Stance shift on Raka Wibisana: against share 12% -> 55%"
    topic = signal().model_copy(
        update={
            "kind": SignalKind.emerging_topic,
            "key_kind": "topic",
            "numbers": {"posts": 14.0, "authors": 9.0},
            "details": {"terms": "banjir, tanggul, jebol"},
        }
    )
    assert title_for(topic, "") == "Emerging topic: banjir, tanggul, jebol (14 posts, 9 accounts)"
    campaign = signal().model_copy(
        update={
            "kind": SignalKind.coordinated_posting,
            "numbers": {"accounts": 15.0, "window_seconds": 240.0},
        }
    )
    assert title_for(campaign, "Bima Hartono") == (
        "Coordinated posting about Bima Hartono: 15 accounts posted near-identical text within 4 min"
    )


def test_same_signal_again_returns_the_same_alert_unchanged() -> None:
    s = signal()
    alert = open_alert(s)
    again = apply_signal(alert, s, now=NOW + timedelta(minutes=5), watchlist=WATCHLIST)
    assert again is alert
    acked = acknowledge(alert, by="ana", now=NOW)
    assert apply_signal(acked, s, now=NOW + timedelta(minutes=5), watchlist=WATCHLIST) is acked


def test_later_signal_within_regroup_window_updates() -> None:
    first = open_alert(signal(0, ratio=5.0, count=10, evidence=("x:1", "x:2")))
    assert first.severity == Severity.critical
    later = signal(20, ratio=3.0, count=30, evidence=("x:2", "x:3"))
    now = NOW + timedelta(minutes=20)
    updated = apply_signal(first, later, now=now, watchlist=WATCHLIST, regroup_seconds=1800)
    assert updated.id == first.id
    assert updated.fingerprint == first.fingerprint
    assert updated.signal_ids == (first.signal_ids[0], later.id)
    assert updated.evidence == ("x:1", "x:2", "x:3")
    assert updated.severity == Severity.critical  # never decreases (this signal alone: warning)
    assert updated.first_seen == first.first_seen
    assert updated.last_seen == later.window_end
    assert updated.created_at == first.created_at
    assert updated.updated_at == now
    assert updated.numbers["count"] == 30
    assert updated.numbers["ratio"] == 5.0  # each number keeps its maximum
    assert "30 posts" in updated.title
    assert updated.status == AlertStatus.open


def test_severity_rises_with_a_bigger_signal() -> None:
    first = open_alert(signal(0, key="partai-nusantara-maju", ratio=3.0))
    assert first.severity == Severity.info
    updated = apply_signal(
        first, signal(3, key="partai-nusantara-maju", ratio=6.0), now=NOW, watchlist=WATCHLIST
    )
    assert updated.severity == Severity.warning


def test_acknowledged_alert_is_still_updated_and_stays_acknowledged() -> None:
    acked = acknowledge(open_alert(), by="ana", now=NOW)
    updated = apply_signal(acked, signal(5), now=NOW + timedelta(minutes=5), watchlist=WATCHLIST)
    assert updated.id == acked.id
    assert updated.status == AlertStatus.acknowledged
    assert updated.acked_by == "ana"


def test_evidence_is_capped() -> None:
    first = open_alert(signal(0, evidence=tuple(f"x:{i}" for i in range(40))))
    updated = apply_signal(
        first, signal(1, evidence=tuple(f"x:{i}" for i in range(30, 80))), now=NOW, watchlist=WATCHLIST
    )
    assert len(updated.evidence) == MAX_EVIDENCE
    assert updated.evidence == tuple(f"x:{i}" for i in range(MAX_EVIDENCE))


def test_signal_after_regroup_window_opens_a_new_alert() -> None:
    first = open_alert(signal(0))
    # last_seen is 10:01; a window starting 10:32 is 31 minutes later.
    late = signal(32)
    new = apply_signal(
        first, late, now=NOW + timedelta(minutes=32), watchlist=WATCHLIST, regroup_seconds=1800
    )
    assert new.id == late.id != first.id
    assert new.fingerprint == first.fingerprint
    assert new.signal_ids == (late.id,)
    assert new.first_seen == late.window_start
    # Exactly at the edge it still regroups.
    edge = apply_signal(first, signal(31), now=NOW, watchlist=WATCHLIST, regroup_seconds=1800)
    assert edge.id == first.id


def test_signal_after_resolved_opens_a_new_alert() -> None:
    resolved = open_alert(signal(0)).model_copy(update={"status": AlertStatus.resolved})
    new = apply_signal(resolved, signal(2), now=NOW + timedelta(minutes=2), watchlist=WATCHLIST)
    assert new.id != resolved.id
    assert new.status == AlertStatus.open
    assert new.signal_ids == (signal(2).id,)


def test_acknowledge() -> None:
    alert = open_alert()
    at = NOW + timedelta(minutes=3)
    acked = acknowledge(alert, by="ana", now=at)
    assert acked.status == AlertStatus.acknowledged
    assert (acked.acked_by, acked.acked_at, acked.updated_at) == ("ana", at, at)
    assert acked.created_at == alert.created_at
    assert alert.status == AlertStatus.open  # the original is untouched (frozen)
    again = acknowledge(acked, by="budi", now=at + timedelta(minutes=1))
    assert again is acked


def test_an_alert_clears_after_resolve_after_without_signals_by_the_later_clock() -> None:
    from alerts.lifecycle import resolve_if_cleared

    alert = open_alert()  # posts of 10:00-10:01, handled at 10:00:30
    quiet = timedelta(minutes=20)
    assert (
        resolve_if_cleared(alert, now=alert.last_seen + quiet - timedelta(seconds=31), resolve_after=quiet)
        is alert
    )
    cleared = resolve_if_cleared(alert, now=alert.last_seen + quiet, resolve_after=quiet)
    assert (cleared.status, cleared.resolved_by) == (AlertStatus.resolved, "pantau")
    # A replayed stream: posts from hours ago, handled now. Pantau's clock keeps it open.
    replayed = apply_signal(None, signal(), now=NOW + timedelta(hours=3), watchlist=WATCHLIST)
    assert (
        resolve_if_cleared(replayed, now=NOW + timedelta(hours=3, minutes=5), resolve_after=quiet) is replayed
    )
    # A later signal renews it.
    renewed = apply_signal(alert, signal(2), now=NOW + timedelta(minutes=15), watchlist=WATCHLIST)
    assert resolve_if_cleared(renewed, now=NOW + quiet, resolve_after=quiet) is renewed


def test_labels_carry_the_target_name_and_the_alert_keeps_what_a_person_reads() -> None:
    alert = open_alert()
    assert alert.labels["target_name"] == "Raka Wibisana"
    assert alert.labels["priority"] == "critical"
    campaign = signal().model_copy(update={"details": {"text": "x" * 900, "accounts": ""}})
    kept = apply_signal(None, campaign, now=NOW, watchlist=WATCHLIST)
    assert kept.details == {"text": "x" * 500}  # bounded, empty values left out
