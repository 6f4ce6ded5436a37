"""Emerging topics: posts that fit no known topic and grow together.

Online clustering of the posts' embeddings (the encoder's unit vectors, targets masked): a post
joins the topic whose centroid it is most similar to, if the cosine reaches `similarity`, or starts
a new topic. A topic is *emerging* while it is young (`novelty_seconds` since its first post) and
signals once when, within `window_seconds`, it gathers `min_posts` posts from `min_authors`
distinct accounts. Old topics are known: their growth is not news of a new issue.

River's DBSTREAM does the same kind of micro-clustering on dict features, in pure Python; with
384-dimensional embeddings one numpy product against all centroids is about fifty times faster,
so the clusters here are numpy arrays, with River's conventions kept (hyperparameters as
arguments, no randomness, picklable).

The topic's label is its top terms, ranked by how much more often they occur in the topic than in
the whole stream, and its representative posts are those closest to the centroid.

Warm-up: when the detector starts, every topic looks new. Topics born in the first
`warmup_seconds` of watching may have been running for hours, so they never signal as emerging.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from detectors.base import Observation
from pantau.domain import Signal, SignalKind, utcnow

FloatArray = npt.NDArray[np.float32]


@dataclass
class _Topic:
    key: str
    created: datetime
    last: datetime
    size: int = 0
    recent: deque[tuple[datetime, str, str]] = field(default_factory=deque)  # (time, author, post id)
    terms: Counter[str] = field(default_factory=Counter)
    representatives: list[tuple[float, str, str]] = field(default_factory=list)  # (similarity, id, text)
    signalled: bool = False


class EmergingTopics:
    def __init__(
        self,
        similarity: float = 0.88,
        window_seconds: int = 900,
        min_posts: int = 10,
        min_authors: int = 6,
        novelty_seconds: int = 3 * 3600,
        warmup_seconds: int = 1800,
        ttl_seconds: int = 6 * 3600,
        max_topics: int = 2000,
        max_terms_per_topic: int = 200,
        representatives: int = 5,
        max_evidence: int = 20,
    ) -> None:
        self.similarity = similarity
        self.window_seconds = window_seconds
        self.min_posts = min_posts
        self.min_authors = min_authors
        self.novelty_seconds = novelty_seconds
        self.warmup_seconds = warmup_seconds
        self.ttl_seconds = ttl_seconds
        self.max_topics = max_topics
        self.max_terms_per_topic = max_terms_per_topic
        self.representatives = representatives
        self.max_evidence = max_evidence
        self._topics: list[_Topic] = []
        self._sums: FloatArray = np.zeros((0, 0), dtype=np.float32)  # unnormalised centroid sums
        self._centroids: FloatArray = np.zeros((0, 0), dtype=np.float32)
        self._watch_start: datetime | None = None
        self._clock: datetime | None = None
        self._next_expiry: datetime | None = None
        self._created = 0
        self._stream_terms: Counter[str] = Counter()
        self._stream_posts = 0
        self._seen: dict[str, None] = {}

    @property
    def topics(self) -> int:
        return len(self._topics)

    def update(self, observation: Observation) -> list[Signal]:
        if observation.key_kind != "stream" or not observation.embedding:
            return []
        if observation.post_id in self._seen:
            return []  # redelivered
        self._seen[observation.post_id] = None
        if len(self._seen) > 100_000:
            for old in list(self._seen)[:50_000]:
                del self._seen[old]
        try:
            vector = np.frombuffer(_b64(observation.embedding), dtype="<f2").astype(np.float32)
        except ValueError:
            return []  # not an embedding: nothing to cluster
        if self._centroids.shape[1] != vector.shape[0]:
            # Another encoder (a configuration change): its vectors and the old centroids do not mix.
            self._topics = []
            self._sums = np.zeros((0, vector.shape[0]), dtype=np.float32)
            self._centroids = np.zeros((0, vector.shape[0]), dtype=np.float32)
        at = observation.at
        if self._watch_start is None:
            self._watch_start = at
        if self._clock is None or at > self._clock:
            self._clock = at
            if self._next_expiry is None or at >= self._next_expiry:
                self._expire()
                self._next_expiry = at + timedelta(seconds=60)
        self._count_terms(observation.terms)

        topic_index = self._nearest(vector)
        if topic_index is None:
            topic_index = self._new_topic(vector, at)
        else:
            self._sums[topic_index] += vector
            norm = float(np.linalg.norm(self._sums[topic_index])) or 1.0
            self._centroids[topic_index] = self._sums[topic_index] / norm
        topic = self._topics[topic_index]
        topic.size += 1
        topic.last = max(topic.last, at)
        topic.recent.append((at, observation.author_id, observation.post_id))
        for term in observation.terms:
            if term in topic.terms or len(topic.terms) < self.max_terms_per_topic:
                topic.terms[term] += 1
        closeness = float(self._centroids[topic_index] @ vector)
        topic.representatives.append((closeness, observation.post_id, observation.text[:280]))
        topic.representatives.sort(key=lambda r: -r[0])
        del topic.representatives[self.representatives :]
        return self._check(topic, at)

    def _nearest(self, vector: FloatArray) -> int | None:
        if not self._topics:
            return None
        similarities = self._centroids[: len(self._topics)] @ vector
        best = int(similarities.argmax())
        return best if similarities[best] >= self.similarity else None

    def _new_topic(self, vector: FloatArray, at: datetime) -> int:
        if len(self._topics) >= self.max_topics:
            coldest = min(range(len(self._topics)), key=lambda i: self._topics[i].last)
            self._drop([coldest])
        self._created += 1
        topic = _Topic(key=f"t{int(at.timestamp())}-{self._created}", created=at, last=at)
        row = len(self._topics)
        if row == self._sums.shape[0]:
            # Rows are allocated ahead, doubling: a new topic must not copy every centroid.
            grown = max(16, 2 * row)
            for name in ("_sums", "_centroids"):
                old = getattr(self, name)
                bigger = np.zeros((grown, vector.shape[0]), dtype=np.float32)
                bigger[:row] = old[:row]
                setattr(self, name, bigger)
        self._sums[row] = vector
        self._centroids[row] = vector
        self._topics.append(topic)
        return row

    def _drop(self, indexes: list[int]) -> None:
        """Remove topics by moving the last live row into each freed one (no copy of the rest)."""
        for index in sorted(set(indexes), reverse=True):
            last = len(self._topics) - 1
            if index != last:
                self._topics[index] = self._topics[last]
                self._sums[index] = self._sums[last]
                self._centroids[index] = self._centroids[last]
            self._topics.pop()

    def _expire(self) -> None:
        assert self._clock is not None
        horizon = self._clock - timedelta(seconds=self.ttl_seconds)
        stale = [i for i, t in enumerate(self._topics) if t.last < horizon]
        if stale:
            self._drop(stale)

    def _count_terms(self, terms: tuple[str, ...]) -> None:
        self._stream_posts += 1
        self._stream_terms.update(set(terms))
        if self._stream_posts >= 20_000:  # forget slowly: halve every 20,000 posts
            self._stream_posts //= 2
            self._stream_terms = Counter({t: c // 2 for t, c in self._stream_terms.items() if c >= 2})

    def _label(self, topic: _Topic) -> list[str]:
        total = max(1, self._stream_posts)

        def lift(term: str) -> float:
            return topic.terms[term] * math.log(1 + total / (1 + self._stream_terms.get(term, 0)))

        return sorted(topic.terms, key=lambda t: (-lift(t), t))[:5]

    def _check(self, topic: _Topic, at: datetime) -> list[Signal]:
        cutoff = at - timedelta(seconds=self.window_seconds)
        while topic.recent and topic.recent[0][0] < cutoff:
            topic.recent.popleft()
        if topic.signalled or len(topic.recent) < self.min_posts:
            return []
        assert self._watch_start is not None
        if topic.created < self._watch_start + timedelta(seconds=self.warmup_seconds):
            return []  # may have been running before we watched
        if at - topic.created > timedelta(seconds=self.novelty_seconds):
            return []  # a known topic
        authors = {author for _, author, _ in topic.recent}
        if len(authors) < self.min_authors:
            return []
        topic.signalled = True
        start = topic.recent[0][0]
        terms = self._label(topic)
        return [
            Signal(
                id=Signal.make_id(SignalKind.emerging_topic, "topic", topic.key, topic.created),
                kind=SignalKind.emerging_topic,
                key_kind="topic",
                key=topic.key,
                window_start=start,
                window_end=at,
                numbers={
                    "posts": float(len(topic.recent)),
                    "authors": float(len(authors)),
                    "topic_posts": float(topic.size),
                    "age_seconds": (at - topic.created).total_seconds(),
                    "window_seconds": float(self.window_seconds),
                },
                evidence=tuple(pid for _, pid, _ in topic.representatives)
                + tuple(
                    pid for _, _, pid in topic.recent if pid not in {r[1] for r in topic.representatives}
                )[: max(0, self.max_evidence - len(topic.representatives))],
                details={
                    "terms": ", ".join(terms),
                    "sample": topic.representatives[0][2] if topic.representatives else "",
                },
                detected_at=utcnow(),
            )
        ]


def _b64(value: str) -> bytes:
    import base64
    import binascii

    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise ValueError(str(exc)) from None
