"""Sentiment and stance shifts per target: the negative share (or the against share) moves.

Each target's posts are a stream of 0/1 outcomes (negative or not; against or not), watched by
River's ADWIN: it keeps the longest recent window whose mean is consistent, and cuts it when two
parts of it differ more than chance allows (`delta`). A cut is a shift, reported when it is large
enough to matter (`min_change`, in share points, between the part ADWIN dropped and the latest
`min_posts` posts) and rests on enough posts on both sides; a target signals again only after
`cooldown_seconds` of event time.

Posts reach a key roughly in event-time order (the key's partition keeps arrival order), which is
all ADWIN needs; a redelivered post counts once.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from river import drift

from detectors.base import Observation
from pantau.domain import Signal, SignalKind, utcnow


@dataclass
class _TargetState:
    adwin: drift.ADWIN
    recent: deque[tuple[datetime, str, int]]  # (time, post id, outcome), newest last
    seen: OrderedDict[str, None] = field(default_factory=OrderedDict)
    posts: int = 0
    last_signal: datetime | None = None


class ShareShift:
    def __init__(
        self,
        measure: Literal["sentiment", "stance"] = "sentiment",
        delta: float = 0.002,
        min_posts: int = 30,
        min_change: float = 0.15,
        cooldown_seconds: int = 1800,
        max_keys: int = 10_000,
        max_evidence: int = 20,
        dedup_ids_per_key: int = 5000,
    ) -> None:
        self.measure = measure
        self.delta = delta
        self.min_posts = min_posts
        self.min_change = min_change
        self.cooldown_seconds = cooldown_seconds
        self.max_keys = max_keys
        self.max_evidence = max_evidence
        self.dedup_ids_per_key = dedup_ids_per_key
        self._keys: OrderedDict[str, _TargetState] = OrderedDict()

    @property
    def kind(self) -> SignalKind:
        return SignalKind.sentiment_shift if self.measure == "sentiment" else SignalKind.stance_shift

    def _outcome(self, observation: Observation) -> int:
        if self.measure == "sentiment":
            return int(observation.sentiment == "negative")
        return int(observation.stance == "against")

    def update(self, observation: Observation) -> list[Signal]:
        if observation.key_kind != "target":
            return []
        key = observation.key
        state = self._keys.get(key)
        if state is None:
            if len(self._keys) >= self.max_keys:
                self._keys.popitem(last=False)  # the coldest target
            state = _TargetState(
                adwin=drift.ADWIN(delta=self.delta),  # type: ignore[no-untyped-call]
                recent=deque(maxlen=4 * self.min_posts),
            )
            self._keys[key] = state
        else:
            self._keys.move_to_end(key)
        if observation.post_id in state.seen:
            return []
        state.seen[observation.post_id] = None
        if len(state.seen) > self.dedup_ids_per_key:
            state.seen.popitem(last=False)

        outcome = self._outcome(observation)
        before = state.adwin.estimation
        width_before = state.adwin.width
        state.adwin.update(outcome)  # type: ignore[no-untyped-call]
        state.recent.append((observation.at, observation.post_id, outcome))
        state.posts += 1
        if not state.adwin.drift_detected:
            return []
        recent_width = int(state.adwin.width)
        older_width = int(width_before) + 1 - recent_width
        if older_width < self.min_posts or len(state.recent) < self.min_posts:
            return []
        # ADWIN cuts conservatively: what it keeps still holds posts from before the change. The
        # share before is that of the part it dropped; the share after, that of the latest posts.
        before = (before * width_before + outcome - state.adwin.estimation * recent_width) / older_width
        latest = list(state.recent)[-self.min_posts :]
        after = sum(o for _, _, o in latest) / len(latest)
        change = after - before
        if abs(change) < self.min_change:
            return []
        at = observation.at
        if state.last_signal is not None and at - state.last_signal < timedelta(
            seconds=self.cooldown_seconds
        ):
            return []
        state.last_signal = at
        window = latest
        start = window[0][0]
        # The posts that carry the new share: the recent ones with the outcome that grew.
        moved = 1 if change > 0 else 0
        evidence = tuple(pid for _, pid, o in reversed(window) if o == moved)[: self.max_evidence]
        return [
            Signal(
                id=Signal.make_id(self.kind, "target", key, start),
                kind=self.kind,
                key_kind="target",
                key=key,
                target=observation.target or key,
                window_start=start,
                window_end=at,
                numbers={
                    "share_before": round(before, 4),
                    "share_after": round(after, 4),
                    "change": round(change, 4),
                    "posts_before": float(older_width),
                    "posts_after": float(len(latest)),
                },
                evidence=evidence,
                detected_at=utcnow(),
            )
        ]
