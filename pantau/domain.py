"""Pantau's own language: the records that travel between stages and land in storage.

Every stage boundary carries one of these types, serialised as JSON (`encode` / `decode`).
Adding a field touches, in order: this module, a new migration, the API schema.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Naive datetimes are taken as UTC; aware ones are converted to UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00-05:00: a bad input, not a crash
        raise ValueError(f"{value.isoformat()} is out of range in UTC") from None


# Every time in Pantau is timezone-aware UTC, whatever the input said.
UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# Bounded by the ClickHouse columns (UInt32, and UInt64 for views): a count out of range is bad
# input, refused where it enters, not a row that fails to insert later.
_UINT32 = 2**32 - 1
_UINT64 = 2**64 - 1


class Metrics(_Record):
    likes: int = Field(default=0, ge=0, le=_UINT32)
    reposts: int = Field(default=0, ge=0, le=_UINT32)
    replies: int = Field(default=0, ge=0, le=_UINT32)
    quotes: int = Field(default=0, ge=0, le=_UINT32)
    views: int = Field(default=0, ge=0, le=_UINT64)


class Post(_Record):
    """A post in canonical form, whatever platform or collector it came from."""

    id: str = Field(description="Platform-scoped, stable: '<platform>:<native id>'.")
    platform: str
    native_id: str
    author_id: str
    author_handle: str
    text: str
    lang: str = Field(default="", description="Language hint from the source ('' when unknown).")
    created_at: UtcDatetime
    url: str = ""
    reply_to: str = Field(default="", description="Platform-scoped id of the post this replies to.")
    repost_of: str = ""
    quote_of: str = ""
    hashtags: tuple[str, ...] = ()
    mentions: tuple[str, ...] = ()
    links: tuple[str, ...] = ()
    metrics: Metrics = Metrics()
    source: str = Field(default="", description="Which source brought it: replay, api, a collector name.")
    received_at: UtcDatetime
    raw: str = Field(default="", description="The payload as received (JSON text), for audits.")


class Sentiment(StrEnum):
    negative = "negative"
    neutral = "neutral"
    positive = "positive"


class Stance(StrEnum):
    favor = "favor"
    against = "against"
    none = "none"


class TargetStance(_Record):
    target: str
    stance: Stance
    score: float = Field(ge=0.0, le=1.0)


class Enrichment(_Record):
    """What the classifier adds to a post."""

    lang: str
    sentiment: Sentiment
    sentiment_score: float = Field(ge=0.0, le=1.0)
    targets: tuple[TargetStance, ...] = ()
    terms: tuple[str, ...] = ()
    fingerprint: str = Field(default="", description="Hash of the normalised text (near-duplicates).")
    embedding: str = Field(
        default="", description="The encoder's unit vector, float16 little-endian, base64 (detection key)."
    )
    model: str = ""


class EnrichedPost(_Record):
    post: Post
    enrichment: Enrichment
    enriched_at: UtcDatetime


class SignalKind(StrEnum):
    volume_burst = "volume_burst"
    emerging_topic = "emerging_topic"
    sentiment_shift = "sentiment_shift"
    stance_shift = "stance_shift"
    coordinated_posting = "coordinated_posting"


class Signal(_Record):
    """A detector's finding: something changed on a key, with the numbers and the posts behind it."""

    id: str
    kind: SignalKind
    key_kind: str = Field(description="What the key is: target, hashtag, term, topic.")
    key: str
    target: str = Field(default="", description="Watchlist target id when the key names one.")
    window_start: UtcDatetime
    window_end: UtcDatetime
    numbers: dict[str, float]
    evidence: tuple[str, ...] = Field(default=(), description="Post ids.")
    details: dict[str, str] = Field(
        default_factory=dict,
        description="What a person reads: a topic's terms, a campaign's text and accounts.",
    )
    detected_at: UtcDatetime

    @staticmethod
    def make_id(kind: str, key_kind: str, key: str, window_start: datetime) -> str:
        """Deterministic, so that a signal found twice (redelivery, restart) is one signal."""
        basis = f"{kind}|{key_kind}|{key}|{as_utc(window_start).isoformat()}"
        return hashlib.blake2b(basis.encode(), digest_size=10).hexdigest()


class IssueStatus(StrEnum):
    candidate = "candidate"  # signals gathered, not yet a nameable issue worth a page
    live = "live"  # paged: the desk has an alert for it
    closed = "closed"  # quiet for its time scale, or merged into another issue


class IssueFacet(_Record):
    """One signal that joined an issue: what it adds (a burst, a shift, a coordinated wave)."""

    signal_id: str
    kind: SignalKind
    key_kind: str
    key: str
    target: str = ""
    window_start: UtcDatetime
    window_end: UtcDatetime
    numbers: dict[str, float] = Field(default_factory=dict)
    details: dict[str, str] = Field(default_factory=dict)


class TargetShares(_Record):
    """Sentiment and stance toward one target among an issue's posts, and the target's baseline."""

    target: str
    posts: int
    sentiment: dict[str, float]
    stance: dict[str, float]
    baseline_sentiment: dict[str, float]
    baseline_stance: dict[str, float]


class Issue(_Record):
    """One real-world happening as the stream shows it: its signals, posts, people and words."""

    id: str
    status: IssueStatus
    label: tuple[str, ...] = Field(description="Hashtags, phrases and words that set its posts apart.")
    targets: tuple[str, ...] = ()
    first_post_at: UtcDatetime
    first_posts: tuple[str, ...] = Field(default=(), description="Its earliest post ids: the origin.")
    opened_at: UtcDatetime = Field(description="Event time of its first signal.")
    paged_at: UtcDatetime | None = Field(default=None, description="Event time it became an alert.")
    last_activity: UtcDatetime
    posts: int
    accounts: int = Field(description="Distinct accounts that posted or reposted.")
    voices: int = Field(description="Distinct accounts that wrote a post of their own (not a repost).")
    reposts: int
    rate_per_hour: float = Field(description="Posts in the last `scale_seconds`, per hour.")
    baseline_per_hour: float = Field(description="Its rate in the `scale_seconds` before that, per hour.")
    growth: float = Field(description="The strongest member signal's ratio to its own baseline.")
    scale_seconds: int = Field(description="The longest window among its signals: its time scale.")
    shares: tuple[TargetShares, ...] = ()
    amplifiers: dict[str, int] = Field(default_factory=dict, description="Account -> posts and reposts.")
    representatives: tuple[str, ...] = Field(default=(), description="Post ids closest to its centre.")
    samples: tuple[str, ...] = Field(default=(), description="The representatives' texts.")
    coordination: tuple[str, ...] = Field(default=(), description="Accounts in coordinated waves.")
    facets: tuple[IssueFacet, ...] = ()
    merged_from: tuple[str, ...] = ()
    merged_into: str = ""


class Severity(StrEnum):
    info = "info"
    warning = "warning"
    critical = "critical"


class AlertStatus(StrEnum):
    open = "open"
    acknowledged = "acknowledged"
    resolved = "resolved"


class Alert(_Record):
    id: str
    fingerprint: str
    kind: SignalKind
    key_kind: str
    key: str
    target: str = ""
    severity: Severity
    status: AlertStatus = AlertStatus.open
    title: str
    summary: str = ""
    numbers: dict[str, float] = Field(default_factory=dict)
    evidence: tuple[str, ...] = ()
    signal_ids: tuple[str, ...] = ()
    first_seen: UtcDatetime
    last_seen: UtcDatetime
    created_at: UtcDatetime
    updated_at: UtcDatetime
    acked_by: str = ""
    acked_at: UtcDatetime | None = None
    labels: dict[str, str] = Field(
        default_factory=dict,
        description="What routing, grouping, inhibition and silences match on: kind, key_kind, key, "
        "target, target_name, severity, priority.",
    )
    details: dict[str, str] = Field(
        default_factory=dict,
        description="What a person reads, from the latest signal: a topic's terms, a campaign's text.",
    )
    assignee: str = ""
    assigned_by: str = ""
    assigned_at: UtcDatetime | None = None
    renewed_at: UtcDatetime | None = Field(
        default=None,
        description="When the last signal opened or updated it (Pantau's clock, not the posts').",
    )
    resolved_by: str = Field(default="", description="Who resolved it; 'pantau' when its condition cleared.")
    resolved_at: UtcDatetime | None = None
    escalated_at: UtcDatetime | None = Field(
        default=None, description="When it went to the escalation route, unacknowledged too long."
    )


class DeadLetter(_Record):
    """A message a stage could not use, with the reason, so nothing is silently lost."""

    stage: str
    reason: str
    topic: str = ""
    partition: int = -1
    offset: int = -1
    raw: str
    failed_at: UtcDatetime


R = TypeVar("R", bound=BaseModel)


def encode(record: BaseModel) -> bytes:
    return record.model_dump_json().encode()


def decode(model: type[R], data: bytes | str) -> R:
    return model.model_validate_json(data)
