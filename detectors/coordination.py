"""Coordinated posting ("buzzers"): many accounts posting near-copies of one text within minutes.

A campaign hands out a text and its accounts post it with small edits (a swapped or changed word,
an extra hashtag or emoji, other casing) so that exact-duplicate filters miss it. Organic sharing
looks different: people repost natively (the platform's repost button), or copy a popular text
over hours. So this detector looks for clusters of near-duplicate *authored* posts by at least
`min_accounts` distinct accounts inside `window_seconds` of event time.

How:
- Text is normalised (casefolded; URLs, @handles, "RT @x:" markers, HTML entities, punctuation and
  emoji removed; whitespace collapsed) and cut into word shingles: every run of 1 to
  `shingle_words` words. The single words keep a swapped pair of words from costing more than a
  little similarity.
- Each post gets a MinHash (`num_perm` permutations from `seed`); a MinHashLSH index finds earlier
  live posts that may be near-duplicates, and the estimated Jaccard similarity of the signatures
  must reach `threshold` to confirm them. The index's bands are tuned with false negatives weighing
  `lsh_false_negative_weight` (0.8: 14 bands of 4 at 64 permutations), so that it misses few pairs
  at or above the threshold (pairs at 0.7 are found 98% of the time, against 71% with equal
  weights); the extra candidates cost one vectorised comparison.
- A post joins the cluster of the posts it matches; a post that matches several clusters merges
  them (the one that has signalled most survives, else the oldest, so a campaign keeps the key its
  alert already has).
- A cluster signals when its live posts come from `min_accounts` distinct accounts, and again each
  time that number doubles (8, 16, 32...): the desk hears that a campaign is growing, but a large
  campaign costs a handful of signals, not one per account. Each step has its own signal id (the
  id's basis includes the step), while the key stays the cluster's, so the alert layer groups the
  steps into one alert. (Two parts of a campaign that meet only later merge into a cluster that
  may cross a step with a few more accounts than the step.) Only accounts live at the same time
  count: a campaign slower than the window signals with the accounts of its busiest window.

What is ignored, and why:
- Native reposts (`repost_of` set), and texts that start with "RT @user" (a retweet written as text,
  as in old Twitter data such as CrisisLex: it is the platform's repost, not a copy-paste). Reposts
  are organic amplification, and a popular post gets hundreds within minutes.
- Texts with fewer than `min_words` words after normalisation ("mantap!", "setuju bang"): too many
  innocent people write them at the same time.
- A post more than `window_seconds` older than the newest post seen (it can no longer be within the
  window of the posts that are live) and a post id seen already (a redelivery).
- The same account posting the same text again adds a post but not an account.

State is bounded. The clock is the newest event time seen (clamped to arrival time plus
`max_future_seconds` when the observation carries `received_at`, so one post with a wrong clock
cannot expire everything). Posts older than `window_seconds` leave the index and their cluster;
a cluster with no live posts is gone. At most `max_posts` posts are live: beyond that the oldest
goes first. Near-identical copies do not each enter the LSH index: a post at least
`representative_similarity` similar to an indexed post of its cluster that is less than half a window
old is covered by it. Thousands of accounts posting one text would otherwise make every query return
thousands of keys (3,000 live near-copies of one campaign: about 700 posts/s with every copy indexed,
5,400 with 0.8, and accounts counted as before within 1%). When an indexed post expires, the newest
post it covered takes its place, so the copies still live stay findable.

Everything random comes from `seed` (the MinHash permutations); the text hash is SHA-1, so two
processes agree and a pickled detector goes on exactly as the original would.
"""

from __future__ import annotations

import hashlib
import heapq
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import numpy as np
import numpy.typing as npt
from datasketch import MinHash, MinHashLSH  # type: ignore[import-untyped]

from pantau.domain import Signal, SignalKind, utcnow

Signature = npt.NDArray[np.uint32]

# A retweet written as text ("RT @user: ..."), as old Twitter exports and many scrapers give them.
_REPOST_TEXT = re.compile(r"^\s*RT\s*@\w+", re.IGNORECASE)
_URL = re.compile(r"(?:https?://|www\.)\S*")
_REPOST_MARKER = re.compile(r"\brt\s*@\w+:?")
_HANDLE = re.compile(r"@\w+")
_HTML_ENTITY = re.compile(r"&(?:#\d+|\w+);")
# Everything but letters and digits, in any script: punctuation, emoji, symbols, the '#' of tags.
_NOT_A_WORD = re.compile(r"[\W_]+")

MAX_EVIDENCE = 50
MAX_DETAIL_TEXT = 280
MAX_DETAIL_ACCOUNTS = 50


class CoordinationObservation(Protocol):
    """What the detector reads from an observation (`detectors.base.Observation` carries it)."""

    @property
    def post_id(self) -> str: ...
    @property
    def author_id(self) -> str: ...
    @property
    def at(self) -> datetime: ...
    @property
    def text(self) -> str: ...
    @property
    def repost_of(self) -> str: ...
    @property
    def target(self) -> str: ...


def is_repost_text(text: str) -> bool:
    """A retweet written as text: "RT @user: ..." at the start."""
    return _REPOST_TEXT.match(text) is not None


def normalise(text: str) -> list[str]:
    """The words of a text, without what changes between copies of it (case, links, handles, emoji)."""
    folded = text.casefold()
    folded = _URL.sub(" ", folded)
    folded = _REPOST_MARKER.sub(" ", folded)
    folded = _HANDLE.sub(" ", folded)
    folded = _HTML_ENTITY.sub(" ", folded)
    return _NOT_A_WORD.sub(" ", folded).split()


def shingles(words: list[str], size: int) -> set[bytes]:
    """Every run of 1 to `size` consecutive words."""
    return {
        " ".join(words[start : start + n]).encode()
        for n in range(1, size + 1)
        for start in range(len(words) - n + 1)
    }


def text_key(words: list[str]) -> str:
    """A short, stable id of a normalised text: the same campaign text gets the same key in any process."""
    return hashlib.blake2b(" ".join(words).encode(), digest_size=8).hexdigest()


def _similarity(a: Signature, b: Signature) -> float:
    """Estimated Jaccard similarity of two MinHash signatures."""
    return float(np.count_nonzero(a == b)) / len(a)


@dataclass(slots=True)
class _LivePost:
    post_id: str
    author_id: str
    at: datetime
    ts: float
    target: str
    signature: Signature
    cluster: int
    similarity: float  # to the first post of its cluster
    indexed: bool  # in the LSH index
    covered: list[str] = field(default_factory=list)  # posts not indexed because this one is


@dataclass(slots=True)
class _Cluster:
    key: str
    text: str
    first_signature: Signature
    next_level: int  # distinct live accounts at which it signals next
    posts: dict[str, None] = field(default_factory=dict)  # live post ids
    authors: Counter[str] = field(default_factory=Counter)  # live posts per account
    targets: Counter[str] = field(default_factory=Counter)  # live posts per non-empty target
    similarity_sum: float = 0.0


class CoordinatedPosting:
    def __init__(
        self,
        window_seconds: float = 600.0,
        min_accounts: int = 8,
        threshold: float = 0.6,
        num_perm: int = 64,
        lsh_false_negative_weight: float = 0.8,
        shingle_words: int = 2,
        min_words: int = 5,
        representative_similarity: float = 0.8,
        max_posts: int = 200_000,
        max_future_seconds: float = 300.0,
        seed: int = 1,
    ) -> None:
        if min_accounts < 2:
            raise ValueError("min_accounts must be at least 2: one account is not coordination")
        self.window_seconds = window_seconds
        self.min_accounts = min_accounts
        self.threshold = threshold
        self.num_perm = num_perm
        self.lsh_false_negative_weight = lsh_false_negative_weight
        self.shingle_words = shingle_words
        self.min_words = min_words
        self.representative_similarity = representative_similarity
        self.max_posts = max_posts
        self.max_future_seconds = max_future_seconds
        self.seed = seed

        # Computing the permutations is most of a fresh MinHash's cost; copies share them.
        self._empty_minhash = MinHash(num_perm=num_perm, seed=seed)
        # Every candidate is checked against `threshold` anyway, so the bands are chosen to miss few
        # near-duplicates rather than to return few candidates.
        self._lsh = MinHashLSH(
            threshold=threshold,
            num_perm=num_perm,
            weights=(1 - lsh_false_negative_weight, lsh_false_negative_weight),
        )
        self._live: dict[str, _LivePost] = {}
        self._expiry: list[tuple[float, int, str]] = []  # (event time, arrival number, post id)
        self._clusters: dict[int, _Cluster] = {}
        self._arrivals = 0
        self._cluster_serial = 0
        self._clock: float | None = None
        # The text and accounts behind each recent signal, by signal id, for the desk's alert view.
        self.late = 0
        self.ignored = 0

    @property
    def live_posts(self) -> int:
        return len(self._live)

    @property
    def clusters(self) -> int:
        return len(self._clusters)

    def update(self, observation: CoordinationObservation) -> list[Signal]:
        if observation.repost_of or is_repost_text(observation.text):
            self.ignored += 1
            return []
        words = normalise(observation.text)
        if len(words) < self.min_words:
            self.ignored += 1
            return []
        if observation.post_id in self._live:
            return []  # a redelivered post counts once

        at = observation.at
        received_at: datetime | None = getattr(observation, "received_at", None)
        if received_at is not None:
            at = min(at, received_at + timedelta(seconds=self.max_future_seconds))
        ts = at.timestamp()
        if self._clock is not None and ts <= self._clock - self.window_seconds:
            self.late += 1
            return []
        if self._clock is None or ts > self._clock:
            self._clock = ts
            self._expire_before(ts - self.window_seconds)
        if len(self._live) >= self.max_posts:
            # Room for this post before it is matched, so that it cannot be the one evicted.
            _, _, oldest = heapq.heappop(self._expiry)
            self._remove(self._live[oldest])

        minhash = self._empty_minhash.copy()
        minhash.update_batch(shingles(words, self.shingle_words))
        signature: Signature = minhash.hashvalues

        matches = self._confirmed(signature, self._lsh.query(minhash))

        if matches:
            cluster_id = self._merge({candidate.cluster for candidate, _ in matches})
        else:
            cluster_id = self._new_cluster(words, observation.text, signature)
        cluster = self._clusters[cluster_id]

        covering = self._covering(ts, matches)
        post = _LivePost(
            post_id=observation.post_id,
            author_id=observation.author_id,
            at=at,
            ts=ts,
            target=observation.target,
            signature=signature,
            cluster=cluster_id,
            similarity=_similarity(signature, cluster.first_signature),
            indexed=covering is None,
        )
        if covering is None:
            self._lsh.insert(post.post_id, minhash, check_duplication=False)
        else:
            covering.covered.append(post.post_id)
        self._add(post, cluster)
        heapq.heappush(self._expiry, (ts, self._arrivals, post.post_id))
        self._arrivals += 1

        if len(cluster.authors) < cluster.next_level:
            return []
        level = cluster.next_level
        cluster.next_level *= 2
        return [self._signal(cluster, level)]

    def _confirmed(self, signature: Signature, candidate_ids: list[str]) -> list[tuple[_LivePost, float]]:
        """The LSH candidates whose estimated similarity reaches the threshold, with it."""
        if not candidate_ids:
            return []
        candidates = [self._live[candidate_id] for candidate_id in candidate_ids]
        # One comparison for all: a large campaign can bring hundreds of candidates.
        agreeing = np.count_nonzero(np.array([c.signature for c in candidates]) == signature, axis=1)
        similarities = agreeing / self.num_perm
        return [
            (candidate, float(similarity))
            for candidate, similarity in zip(candidates, similarities, strict=True)
            if similarity >= self.threshold
        ]

    def _covering(self, ts: float, matches: list[tuple[_LivePost, float]]) -> _LivePost | None:
        """An indexed, fresh, near-identical post that can stand in for this one in the index."""
        best: _LivePost | None = None
        for candidate, similarity in matches:
            if (
                candidate.indexed
                and similarity >= self.representative_similarity
                and ts - candidate.ts < self.window_seconds / 2
                and (best is None or (candidate.ts, candidate.post_id) > (best.ts, best.post_id))
            ):
                best = candidate
        return best

    def _new_cluster(self, words: list[str], text: str, signature: Signature) -> int:
        self._cluster_serial += 1
        self._clusters[self._cluster_serial] = _Cluster(
            key=text_key(words),
            text=text[:MAX_DETAIL_TEXT],
            first_signature=signature,
            next_level=self.min_accounts,
        )
        return self._cluster_serial

    def _merge(self, cluster_ids: set[int]) -> int:
        """One cluster out of several: the one that has signalled most keeps its key (the desk knows
        the campaign by it), the oldest of those if several, and takes the others' posts."""
        survivor_id = min(cluster_ids, key=lambda c: (-self._clusters[c].next_level, c))
        survivor = self._clusters[survivor_id]
        oldest = self._clusters[min(cluster_ids)]
        if oldest is not survivor:
            # Its text and similarities are the campaign's first post's, whichever part signalled.
            survivor.text, survivor.first_signature = oldest.text, oldest.first_signature
            survivor.similarity_sum = 0.0
            for post_id in survivor.posts:
                post = self._live[post_id]
                post.similarity = _similarity(post.signature, survivor.first_signature)
                survivor.similarity_sum += post.similarity
        for absorbed_id in sorted(cluster_ids - {survivor_id}):
            absorbed = self._clusters.pop(absorbed_id)
            for post_id in absorbed.posts:
                post = self._live[post_id]
                post.cluster = survivor_id
                post.similarity = _similarity(post.signature, survivor.first_signature)
                survivor.similarity_sum += post.similarity
                survivor.posts[post_id] = None
            survivor.authors.update(absorbed.authors)
            survivor.targets.update(absorbed.targets)
            survivor.next_level = max(survivor.next_level, absorbed.next_level)
        return survivor_id

    def _add(self, post: _LivePost, cluster: _Cluster) -> None:
        self._live[post.post_id] = post
        cluster.posts[post.post_id] = None
        cluster.authors[post.author_id] += 1
        if post.target:
            cluster.targets[post.target] += 1
        cluster.similarity_sum += post.similarity

    def _expire_before(self, horizon: float) -> None:
        while self._expiry and self._expiry[0][0] <= horizon:
            _, _, post_id = heapq.heappop(self._expiry)
            self._remove(self._live[post_id])

    def _remove(self, post: _LivePost) -> None:
        del self._live[post.post_id]
        cluster = self._clusters[post.cluster]
        del cluster.posts[post.post_id]
        _decrement(cluster.authors, post.author_id)
        if post.target:
            _decrement(cluster.targets, post.target)
        cluster.similarity_sum -= post.similarity
        if not cluster.posts:
            del self._clusters[post.cluster]
        if post.indexed:
            self._lsh.remove(post.post_id)
            self._promote_successor(post)

    def _promote_successor(self, expired: _LivePost) -> None:
        """The newest post the expired one covered takes its place in the index, so that later copies
        still find the live ones. The others it covered are older than that one and expire first."""
        covered = [
            post
            for post_id in expired.covered
            if (post := self._live.get(post_id)) is not None and not post.indexed
        ]
        if not covered:
            return
        successor = max(covered, key=lambda post: (post.ts, post.post_id))
        minhash = MinHash(
            num_perm=self.num_perm,
            seed=self.seed,
            hashvalues=successor.signature,
            permutations=self._empty_minhash.permutations,
            scheme=self._empty_minhash.scheme,
        )
        self._lsh.insert(successor.post_id, minhash, check_duplication=False)
        successor.indexed = True

    def _signal(self, cluster: _Cluster, level: int) -> Signal:
        posts = sorted((self._live[post_id] for post_id in cluster.posts), key=lambda p: (p.ts, p.post_id))
        start, end = posts[0].at, posts[-1].at
        accounts = list(dict.fromkeys(post.author_id for post in posts))
        target = (
            min(cluster.targets.items(), key=lambda item: (-item[1], item[0]))[0] if cluster.targets else ""
        )
        kind = SignalKind.coordinated_posting
        signal = Signal(
            # The step is part of the id's basis: a cluster that doubles within the window signals
            # again with the same window start, and must not look like a redelivery of its first signal.
            id=Signal.make_id(kind, "text", f"{cluster.key}/{level}", start),
            kind=kind,
            key_kind="text",
            key=cluster.key,
            target=target,
            window_start=start,
            window_end=end,
            numbers={
                "accounts": float(len(cluster.authors)),
                "posts": float(len(posts)),
                "window_seconds": (end - start).total_seconds(),
                "similarity": round(cluster.similarity_sum / len(posts), 4),
                "threshold_accounts": float(self.min_accounts),
            },
            evidence=tuple(post.post_id for post in posts[:MAX_EVIDENCE]),
            details={"text": cluster.text, "accounts": ",".join(accounts[:MAX_DETAIL_ACCOUNTS])},
            detected_at=utcnow(),
        )
        return signal


def _decrement(counter: Counter[str], key: str) -> None:
    counter[key] -= 1
    if counter[key] <= 0:
        del counter[key]
