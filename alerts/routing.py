"""Who hears about which alerts, and when: pure decisions over alerts, silences and `now`.

Alertmanager's semantics, on Pantau's alerts:
- an alert goes to the routes its labels match (`alerts.config.routes_for`);
- per route, alerts with the same values of `group_by` labels form a group, notified together:
  first after `group_wait` (more alerts of the same storm join the first message), then at most
  every `group_interval` while the group changes, and every `repeat_interval` while it still fires
  and nobody has acknowledged it;
- an alert a silence matches, or an inhibition rule hushes, is left out of its groups;
- an alert still open (unacknowledged) `escalate.after` after it opened goes, once, to the route's
  escalation receiver.
The dispatcher (`alerts.dispatcher`) loads the state, calls these, delivers and saves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from alerts.config import InhibitRule, Matcher, ResolvedRoute, matches_all
from alerts.messages import Language, Notification, NotificationReason
from pantau.domain import Alert, AlertStatus, UtcDatetime

ESCALATION_PREFIX = "escalation|"  # group keys of escalations (one alert, one receiver each)


class SilenceState(StrEnum):
    pending = "pending"
    active = "active"
    expired = "expired"


class Silence(BaseModel):
    """Hush the alerts its matchers match from `starts_at` until `ends_at`; it lapses by itself."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    matchers: tuple[Matcher, ...] = Field(min_length=1)
    starts_at: UtcDatetime
    ends_at: UtcDatetime
    created_by: str
    created_at: UtcDatetime
    comment: str = ""
    expired_by: str = Field(default="", description="Who ended it early, if anyone.")

    def state(self, now: datetime) -> SilenceState:
        if now >= self.ends_at:
            return SilenceState.expired
        return SilenceState.active if now >= self.starts_at else SilenceState.pending

    def silences(self, labels: dict[str, str], now: datetime) -> bool:
        return self.state(now) == SilenceState.active and matches_all(self.matchers, labels)


def silenced_by(labels: dict[str, str], silences: Sequence[Silence], now: datetime) -> list[str]:
    return [s.id for s in silences if s.silences(labels, now)]


def inhibited_by(alert: Alert, firing: Sequence[Alert], rules: Sequence[InhibitRule]) -> str | None:
    """The id of a firing alert that hushes this one under some rule, if any."""
    for rule in rules:
        if not matches_all(rule.target_matchers, alert.labels):
            continue
        for source in firing:
            if source.id == alert.id or source.status == AlertStatus.resolved:
                continue
            if not matches_all(rule.source_matchers, source.labels):
                continue
            if all(alert.labels.get(name) and alert.labels.get(name) == source.labels.get(name)
                   for name in rule.equal):  # fmt: skip
                return source.id
    return None


def group_key(route: ResolvedRoute, labels: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The group an alert joins on a route, and the labels the group shares."""
    shared = {name: labels.get(name, "") for name in route.group_by}
    body = ",".join(f"{name}={value}" for name, value in sorted(shared.items()))
    return f"{route.path}|{route.receiver}|{body}", shared


class GroupState(BaseModel):
    """What a group's receiver has been told: kept between decisions (in Redis)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    receiver: str
    labels: dict[str, str]
    first_firing_at: UtcDatetime
    last_sent_at: UtcDatetime | None = None
    notified: dict[str, str] = Field(default_factory=dict, description="Alert id -> version last sent.")


def notified_version(alert: Alert) -> str:
    """What counts as news about a firing alert: its arrival, and a rise in severity. New numbers on
    the same alert wait for the repeat (a desk does not want a message per minute of a burst)."""
    return f"firing:{alert.severity.value}"


@dataclass(frozen=True)
class GroupDecision:
    state: GroupState | None  # None: the group is done, forget it
    notification: Notification | None
    wake_at: datetime | None  # when this group next needs a look, if nothing else changes


def plan_group(
    state: GroupState | None,
    *,
    key: str,
    route: ResolvedRoute,
    labels: dict[str, str],
    members: Sequence[Alert],
    now: datetime,
    language: Language = "en",
    link: str = "",
) -> GroupDecision:
    """Decide whether the group's receiver is told something now.

    `members` are the group's alerts that may notify: not silenced or inhibited; firing ones, and
    resolved ones the receiver may have been told about."""
    firing = sorted((a for a in members if a.status != AlertStatus.resolved), key=lambda a: a.created_at)
    told = state.notified if state is not None else {}
    resolved = sorted(
        (a for a in members if a.status == AlertStatus.resolved and a.id in told), key=lambda a: a.created_at
    )
    if state is None:
        if not firing:
            return GroupDecision(None, None, None)
        state = GroupState(key=key, receiver=route.receiver, labels=labels, first_firing_at=now)
    changed = bool(resolved) or any(told.get(a.id) != notified_version(a) for a in firing)
    if state.last_sent_at is None:
        due: datetime | None = state.first_firing_at + route.group_wait
    elif changed:
        due = state.last_sent_at + route.group_interval
    elif any(a.status == AlertStatus.open for a in firing):
        due = state.last_sent_at + route.repeat_interval
    else:
        due = None  # everything firing is acknowledged: no repeats
    if not firing and not resolved:
        return GroupDecision(None, None, None)  # resolved before anyone was told, or hushed
    if due is None or now < due:
        return GroupDecision(state, None, due)
    reason = (
        NotificationReason.resolved
        if not firing
        else NotificationReason.firing
        if changed
        else NotificationReason.repeat
    )
    notification = Notification(
        id=notification_id(route.receiver, key, reason, [*firing, *resolved], now),
        receiver=route.receiver,
        language=language,
        reason=reason,
        group_key=key,
        group_labels=labels,
        firing=tuple(firing),
        resolved=tuple(resolved),
        created_at=now,
        link=link,
    )
    if not firing:
        return GroupDecision(None, notification, None)
    sent = state.model_copy(
        update={"last_sent_at": now, "notified": {a.id: notified_version(a) for a in firing}}
    )
    return GroupDecision(sent, notification, now + route.repeat_interval)


def notification_id(receiver: str, key: str, reason: str, alerts: Sequence[Alert], now: datetime) -> str:
    versions = [f"{a.id}@{a.updated_at.isoformat()}" for a in alerts]
    return Notification.make_id(receiver, key, f"{reason}@{now.isoformat()}", versions)


def escalation_due(alert: Alert, routes: Sequence[ResolvedRoute], now: datetime) -> list[str]:
    """The escalation receivers an open, never-escalated alert is due to reach now."""
    if alert.status != AlertStatus.open or alert.escalated_at is not None:
        return []
    due = [
        route.escalate.receiver
        for route in routes
        if route.escalate is not None and now - alert.created_at >= route.escalate.after
    ]
    return list(dict.fromkeys(due))


def escalation_notification(
    alert: Alert, receiver: str, *, now: datetime, language: Language = "en", link: str = ""
) -> Notification:
    key = f"{ESCALATION_PREFIX}{receiver}|{alert.id}"
    return Notification(
        id=Notification.make_id(receiver, key, NotificationReason.escalation, [alert.id]),  # once each
        receiver=receiver,
        language=language,
        reason=NotificationReason.escalation,
        group_key=key,
        group_labels=dict(alert.labels),
        firing=(alert,),
        created_at=now,
        link=link,
    )
