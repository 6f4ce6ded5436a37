"""What a notification is: one message to one receiver about one group of alerts.

The dispatcher decides when a group is due (group_wait, group_interval, repeat_interval,
escalation) and builds a `Notification`; the notifiers render it in the receiver's language and
deliver it on each of the receiver's channels.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pantau.domain import Alert, UtcDatetime

Language = Literal["id", "en"]


class NotificationReason(StrEnum):
    firing = "firing"  # new alerts in the group, or alerts that changed
    repeat = "repeat"  # nothing changed, but repeat_interval passed with alerts still firing
    resolved = "resolved"  # every alert of the group has resolved
    escalation = "escalation"  # unacknowledged for too long: sent to the escalation receiver


class Notification(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(description="Deterministic: a retried delivery carries the same id (receivers dedup).")
    receiver: str
    language: Language = "en"
    reason: NotificationReason
    group_key: str
    group_labels: dict[str, str] = Field(default_factory=dict)
    firing: tuple[Alert, ...] = ()
    resolved: tuple[Alert, ...] = ()
    created_at: UtcDatetime
    link: str = Field(default="", description="Base URL of the war room, for links to alerts ('' = none).")

    @staticmethod
    def make_id(receiver: str, group_key: str, reason: str, alert_versions: list[str]) -> str:
        basis = "|".join([receiver, group_key, reason, *sorted(alert_versions)])
        return hashlib.blake2b(basis.encode(), digest_size=10).hexdigest()
