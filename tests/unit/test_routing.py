"""alerts.routing: grouping timers, silences, inhibition and escalation, on timelines (clock injected)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from alerts.config import Escalation, InhibitRule, Matcher, ResolvedRoute
from alerts.lifecycle import acknowledge, resolve
from alerts.messages import NotificationReason
from alerts.routing import (
    GroupDecision,
    GroupState,
    Silence,
    SilenceState,
    escalation_due,
    group_key,
    inhibited_by,
    plan_group,
    silenced_by,
)
from pantau.domain import Alert, Severity, SignalKind

T0 = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)
ROUTE = ResolvedRoute(
    path="0",
    receiver="desk",
    group_by=("kind", "target"),
    group_wait=timedelta(seconds=30),
    group_interval=timedelta(minutes=5),
    repeat_interval=timedelta(hours=1),
    escalate=Escalation(after=timedelta(minutes=10), receiver="leads"),
)


def alert(
    name: str,
    *,
    at: datetime = T0,
    kind: SignalKind = SignalKind.volume_burst,
    target: str = "raka",
    severity: Severity = Severity.warning,
) -> Alert:
    labels = {"kind": kind.value, "target": target, "severity": severity.value, "key": name}
    return Alert(
        id=name, fingerprint=name, kind=kind, key_kind="target", key=name, target=target, severity=severity,
        title=name, first_seen=at, last_seen=at, created_at=at, updated_at=at,
        labels={k: v for k, v in labels.items() if v},
    )  # fmt: skip


class Timeline:
    """Runs `plan_group` for one group the way the dispatcher does, keeping its state."""

    def __init__(self, route: ResolvedRoute = ROUTE) -> None:
        self.route = route
        self.state: GroupState | None = None
        self.sent: list[tuple[datetime, NotificationReason, list[str], list[str]]] = []

    def at(self, now: datetime, members: Sequence[Alert]) -> GroupDecision:
        key, labels = group_key(self.route, dict(members[0].labels) if members else {})
        decision = plan_group(
            self.state, key=key, route=self.route, labels=labels, members=members, now=now, link="http://x"
        )
        self.state = decision.state
        if decision.notification is not None:
            n = decision.notification
            self.sent.append((now, n.reason, [a.id for a in n.firing], [a.id for a in n.resolved]))
        return decision


def seconds(n: float) -> datetime:
    return T0 + timedelta(seconds=n)


def test_group_waits_then_sends_everything_that_arrived_together() -> None:
    line = Timeline()
    a, b = alert("a"), alert("b", at=seconds(10))
    assert line.at(seconds(0), [a]).wake_at == seconds(30)
    line.at(seconds(10), [a, b])
    line.at(seconds(29), [a, b])
    assert line.sent == []
    line.at(seconds(0), [a, b])
    line.at(seconds(30), [a, b])
    assert line.sent == [(seconds(30), NotificationReason.firing, ["a", "b"], [])]


def test_changes_wait_for_group_interval_and_unchanged_groups_repeat() -> None:
    line = Timeline()
    a = alert("a")
    line.at(seconds(0), [a])
    line.at(seconds(30), [a])
    line.at(seconds(60), [a])  # nothing new: no message
    c = alert("c", at=seconds(90))
    line.at(seconds(90), [a, c])  # new alert, but the last message was 60 s ago
    assert len(line.sent) == 1
    line.at(seconds(330), [a, c])  # 5 min after the first message
    assert line.sent[-1] == (seconds(330), NotificationReason.firing, ["a", "c"], [])
    line.at(seconds(330 + 3599), [a, c])
    assert len(line.sent) == 2
    line.at(seconds(330 + 3600), [a, c])
    assert line.sent[-1][:2] == (seconds(3930), NotificationReason.repeat)


def test_numbers_changing_are_not_news_but_a_severity_rise_is() -> None:
    line = Timeline()
    a = alert("a")
    line.at(seconds(0), [a])
    line.at(seconds(30), [a])
    bigger = a.model_copy(update={"numbers": {"count": 99.0}, "updated_at": seconds(40)})
    line.at(seconds(400), [bigger])
    assert len(line.sent) == 1
    critical = bigger.model_copy(update={"severity": Severity.critical})
    line.at(seconds(401), [critical])
    assert line.sent[-1][1] == NotificationReason.firing


def test_acknowledged_alerts_do_not_repeat() -> None:
    line = Timeline()
    a = alert("a")
    line.at(seconds(0), [a])
    line.at(seconds(30), [a])
    acked = acknowledge(a, by="ana", now=seconds(60))
    decision = line.at(seconds(30 + 7200), [acked])
    assert len(line.sent) == 1 and decision.wake_at is None


def test_resolution_is_sent_once_and_the_group_is_forgotten() -> None:
    line = Timeline()
    a, b = alert("a"), alert("b")
    line.at(seconds(0), [a, b])
    line.at(seconds(30), [a, b])
    done = resolve(a, by="pantau", now=seconds(100))
    line.at(seconds(100), [done, b])  # b still fires: a's resolution waits for the interval
    assert len(line.sent) == 1
    line.at(seconds(330), [done, b])
    assert line.sent[-1] == (seconds(330), NotificationReason.firing, ["b"], ["a"])
    # a was reported resolved: it is not reported again.
    line.at(seconds(630), [done, b])
    assert len(line.sent) == 2
    b_done = resolve(b, by="ana", now=seconds(700))
    line.at(seconds(930), [done, b_done])
    assert line.sent[-1] == (seconds(930), NotificationReason.resolved, [], ["b"])
    assert line.state is None


def test_an_alert_resolved_before_group_wait_is_never_sent() -> None:
    line = Timeline()
    a = alert("a")
    line.at(seconds(0), [a])
    line.at(seconds(20), [resolve(a, by="pantau", now=seconds(20))])
    assert line.sent == [] and line.state is None


def test_notification_ids_are_stable_for_the_same_decision() -> None:
    a = alert("a")
    key, labels = group_key(ROUTE, a.labels)
    first = plan_group(None, key=key, route=ROUTE, labels=labels, members=[a], now=seconds(0))
    again = plan_group(first.state, key=key, route=ROUTE, labels=labels, members=[a], now=seconds(30))
    replay = plan_group(first.state, key=key, route=ROUTE, labels=labels, members=[a], now=seconds(30))
    assert again.notification is not None and replay.notification is not None
    assert again.notification.id == replay.notification.id


def test_groups_are_split_by_the_group_by_labels() -> None:
    raka, sari = alert("a", target="raka"), alert("b", target="sari")
    assert group_key(ROUTE, raka.labels)[0] != group_key(ROUTE, sari.labels)[0]
    assert group_key(ROUTE, raka.labels)[1] == {"kind": "volume_burst", "target": "raka"}


def test_silences_match_labels_within_their_window() -> None:
    silence = Silence(
        id="s1", matchers=(Matcher.model_validate('target="raka"'),), starts_at=seconds(60),
        ends_at=seconds(600), created_by="ana", created_at=T0, comment="known rally",
    )  # fmt: skip
    labels = alert("a").labels
    assert silence.state(seconds(0)) == SilenceState.pending
    assert silenced_by(labels, [silence], seconds(0)) == []
    assert silenced_by(labels, [silence], seconds(60)) == ["s1"]
    assert silenced_by(alert("b", target="sari").labels, [silence], seconds(60)) == []
    assert silenced_by(labels, [silence], seconds(600)) == []  # expires by itself
    assert silence.state(seconds(600)) == SilenceState.expired


INHIBIT = InhibitRule(
    source_matchers=(Matcher.model_validate('kind="coordinated_posting"'),),
    target_matchers=(Matcher.model_validate('kind="volume_burst"'),),
    equal=("target",),
)


def test_a_campaign_inhibits_the_burst_on_the_same_target_only() -> None:
    campaign = alert("camp", kind=SignalKind.coordinated_posting, target="raka")
    burst, other = alert("burst", target="raka"), alert("other", target="sari")
    firing = [campaign, burst, other]
    assert inhibited_by(burst, firing, [INHIBIT]) == "camp"
    assert inhibited_by(other, firing, [INHIBIT]) is None
    assert inhibited_by(campaign, firing, [INHIBIT]) is None
    # Once the campaign resolves, the burst speaks again.
    assert inhibited_by(burst, [resolve(campaign, by="pantau", now=T0), burst], [INHIBIT]) is None


def test_an_empty_equal_label_never_pairs() -> None:
    campaign = alert("camp", kind=SignalKind.coordinated_posting, target="")
    burst = alert("burst", target="")
    assert inhibited_by(burst, [campaign, burst], [INHIBIT]) is None


def test_escalation_once_after_the_delay_while_unacknowledged() -> None:
    a = alert("a")
    assert escalation_due(a, [ROUTE], seconds(599)) == []
    assert escalation_due(a, [ROUTE], seconds(600)) == ["leads"]
    assert escalation_due(acknowledge(a, by="ana", now=seconds(300)), [ROUTE], seconds(900)) == []
    escalated = a.model_copy(update={"escalated_at": seconds(600)})
    assert escalation_due(escalated, [ROUTE], seconds(1200)) == []
    no_escalation = ResolvedRoute(**{**vars(ROUTE), "escalate": None})
    assert escalation_due(a, [no_escalation], seconds(9999)) == []
