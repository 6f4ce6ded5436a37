"""What detectors see and the interface they implement.

Detectors are pure: no I/O, no faust, time comes from the observations (event time), so a
replay at any speed gives the same signals.
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict

from pantau.domain import EnrichedPost, Signal, UtcDatetime
from pantau.hashtags import fold_hashtag


class Observation(BaseModel):
    """One post seen under one detection key (a target, a hashtag...)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key_kind: str
    key: str
    target: str = ""
    post_id: str
    author_id: str
    at: UtcDatetime
    received_at: UtcDatetime | None = None
    sentiment: str = "neutral"
    stance: str = "none"
    fingerprint: str = ""
    # Only on the stream observation (one per post, for the detectors that need the whole stream):
    text: str = ""
    terms: tuple[str, ...] = ()
    embedding: str = ""
    repost_of: str = ""
    hashtags: tuple[str, ...] = ()
    # Every target the post names with its stance, (target, stance): the issue layer's shares.
    target_stances: tuple[tuple[str, str], ...] = ()

    @property
    def routing_key(self) -> str:
        return f"{self.key_kind}:{self.key}"


class ObservationBatch(BaseModel):
    """Observations of one key, sent together (the `posts.by_key` record)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    observations: tuple[Observation, ...]


STREAM_KEY = "all"
# A post's content terms become keys too, so an issue without a hashtag or a target is seen. The
# first few are enough: long posts would multiply the keys, not the signal.
MAX_TERM_KEYS = 6


def observations(item: EnrichedPost) -> list[Observation]:
    """The keys a post is detected under: every target it names, every hashtag it carries, its
    first content terms; and one `stream` observation with the text and embedding, for the
    detectors that look across all posts (emerging topics, coordinated posting)."""
    post, enrichment = item.post, item.enrichment
    base = Observation(
        key_kind="",
        key="",
        post_id=post.id,
        author_id=post.author_id,
        at=post.created_at,
        received_at=post.received_at,
        sentiment=enrichment.sentiment.value,
        fingerprint=enrichment.fingerprint,
    )
    found = [
        base.model_copy(
            update={"key_kind": "target", "key": t.target, "target": t.target, "stance": t.stance.value}
        )
        for t in enrichment.targets
    ]
    # Variants of one hashtag (#GOPDebate, #GOPDebates, #GOP_Debate) are one key.
    tags = dict.fromkeys(key for key in map(fold_hashtag, post.hashtags) if key)
    found += [base.model_copy(update={"key_kind": "hashtag", "key": tag}) for tag in tags]
    hashtags = {tag.lower() for tag in post.hashtags} | set(tags)
    terms = [t for t in enrichment.terms if not t.startswith("#") and t not in hashtags][:MAX_TERM_KEYS]
    found += [base.model_copy(update={"key_kind": "term", "key": term}) for term in terms]
    first_target = enrichment.targets[0].target if enrichment.targets else ""
    found.append(
        base.model_copy(
            update={
                "key_kind": "stream",
                "key": STREAM_KEY,
                "target": first_target,
                "text": post.text[:1000],
                "terms": enrichment.terms[:20],
                "embedding": enrichment.embedding,
                "repost_of": post.repost_of,
                "hashtags": post.hashtags,
                "target_stances": tuple((t.target, t.stance.value) for t in enrichment.targets),
            }
        )
    )
    return found


class Detector(Protocol):
    def update(self, observation: Observation) -> list[Signal]:
        """Learn from one observation; return the signals it completes (often none)."""
        ...
