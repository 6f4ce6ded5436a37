"""Volume burst per key: a window's count against an exponentially weighted baseline.

Windows are tumbling, in event time. Posts reach the detector out of order (stages run in
parallel over partitions, and a fast replay interleaves hours of event time), so nothing here
depends on arrival order within the `horizon_windows` a key remembers: each observation is counted
in its own window, and a window is judged against the baseline of the windows before it as they
stand at that moment. A window signals at most once, as soon as its count crosses the threshold,
so a burst is seen while it happens.

A detector that has just started knows nothing of the keys that were already busy: their first
window looks like a jump from zero. So a key first seen within `warmup_windows` of the earliest
post the detector has seen must have that much history before it can signal; a key that appears
later is new (a hashtag born in a burst) and may signal from its first window.

A post's time is clamped to its arrival time plus `max_future_seconds`, so one post with a wrong
clock far in the future cannot drag a key's horizon ahead and make every later post too old.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from detectors.base import Observation
from pantau.domain import Signal, SignalKind, utcnow

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class _Window:
    count: int = 0
    evidence: list[str] = field(default_factory=list)
    signalled: bool = False


@dataclass
class _KeyState:
    target: str
    first: int  # index of the key's first window: earlier emptiness is not history
    latest: int  # index of the newest window seen
    windows: dict[int, _Window] = field(default_factory=dict)
    recent_ids: OrderedDict[str, None] = field(default_factory=OrderedDict)
    # The baseline before `latest` as of `version`; any count change below `latest` bumps it.
    version: int = 0
    cached: tuple[int, int, float, float, int] | None = None  # (version, window, mean, var, n)


class VolumeBurst:
    def __init__(
        self,
        window_seconds: int = 60,
        min_count: int = 8,
        ratio: float = 3.0,
        z: float = 3.0,
        alpha: float = 0.1,
        horizon_windows: int = 180,
        warmup_windows: int = 10,
        max_future_seconds: int = 300,
        max_keys: int = 100_000,
        max_evidence: int = 20,
        dedup_ids_per_key: int = 5000,
    ) -> None:
        self.window_seconds = window_seconds
        self.min_count = min_count
        self.ratio = ratio
        self.z = z
        self.alpha = alpha
        self.horizon_windows = horizon_windows
        self.warmup_windows = warmup_windows
        self.max_future_seconds = max_future_seconds
        self.max_keys = max_keys
        self.max_evidence = max_evidence
        self.dedup_ids_per_key = dedup_ids_per_key
        # Least recently active key first, so the coldest key is evicted when state is full.
        self._keys: OrderedDict[tuple[str, str], _KeyState] = OrderedDict()
        # Windows that signalled recently, kept past an eviction so a window never signals twice.
        self._signalled: OrderedDict[str, None] = OrderedDict()
        # Where this detector's watch began: the window of its first post that was current when it
        # arrived. A backfilled post (much older than its arrival) does not count, or one stray
        # old post would end the warm-up before it began.
        self._watch_start: int | None = None
        self._unanchored = 0
        self.late = 0

    @property
    def keys(self) -> int:
        return len(self._keys)

    def _index(self, at: datetime) -> int:
        return int((at - _EPOCH).total_seconds() // self.window_seconds)

    def _start(self, index: int) -> datetime:
        return _EPOCH + timedelta(seconds=index * self.window_seconds)

    def update(self, observation: Observation) -> list[Signal]:
        at = observation.at
        if observation.received_at is not None:
            at = min(at, observation.received_at + timedelta(seconds=self.max_future_seconds))
        index = self._index(at)
        if self._watch_start is None:
            self._anchor(index, at, observation.received_at)
        key = (observation.key_kind, observation.key)
        state = self._keys.get(key)
        if state is None:
            if len(self._keys) >= self.max_keys:
                self._keys.popitem(last=False)
            state = _KeyState(target=observation.target, first=index, latest=index)
            self._keys[key] = state
        else:
            self._keys.move_to_end(key)
        if index <= state.latest - self.horizon_windows:
            self.late += 1
            return []
        if observation.post_id in state.recent_ids:
            return []  # a redelivered post counts once
        state.recent_ids[observation.post_id] = None
        if len(state.recent_ids) > self.dedup_ids_per_key:
            state.recent_ids.popitem(last=False)

        if index > state.latest:
            state.latest = index
            for old in [i for i in state.windows if i <= index - self.horizon_windows]:
                del state.windows[old]
        elif index < state.latest:
            state.version += 1
        state.first = min(state.first, index)
        window = state.windows.setdefault(index, _Window())
        window.count += 1
        if len(window.evidence) < self.max_evidence:
            window.evidence.append(observation.post_id)
        return self._check(key, state, index, window)

    def _anchor(self, index: int, at: datetime, received_at: datetime | None) -> None:
        current = received_at is None or at >= received_at - timedelta(
            seconds=self.horizon_windows * self.window_seconds
        )
        self._unanchored += 1
        # A replay of an old archive has nothing but "old" posts: then the first ones anchor anyway.
        if current or self._unanchored >= 100:
            self._watch_start = index

    def _baseline(self, state: _KeyState, index: int) -> tuple[float, float, int]:
        """EW mean and variance of the counts of the windows before `index` (within the horizon)."""
        if state.cached is not None:
            version, cached_index, mean, var, n = state.cached
            if version == state.version and cached_index == index:
                return mean, var, n
        mean = var = 0.0
        n = 0
        for i in range(max(state.first, index - self.horizon_windows + 1), index):
            window = state.windows.get(i)
            count = float(window.count) if window is not None else 0.0
            if n == 0:
                mean, var = count, 0.0
            else:
                # Exponentially weighted mean and variance (West's incremental form).
                diff = count - mean
                incr = self.alpha * diff
                mean += incr
                var = (1 - self.alpha) * (var + diff * incr)
            n += 1
        state.cached = (state.version, index, mean, var, n)
        return mean, var, n

    def _check(self, key: tuple[str, str], state: _KeyState, index: int, window: _Window) -> list[Signal]:
        if window.signalled or window.count < self.min_count:
            return []
        mean, var, n = self._baseline(state, index)
        during_warmup = self._watch_start is None or state.first < self._watch_start + self.warmup_windows
        if during_warmup and n < self.warmup_windows:
            return []  # busy before we started watching, as far as we know: learn it first
        std = math.sqrt(var)
        expected = max(mean, 1.0)
        if window.count < self.ratio * expected or window.count - mean < self.z * max(std, 1.0):
            return []
        window.signalled = True
        key_kind, key_value = key
        start = self._start(index)
        signal_id = Signal.make_id(SignalKind.volume_burst, key_kind, key_value, start)
        if signal_id in self._signalled:
            return []
        self._signalled[signal_id] = None
        if len(self._signalled) > self.max_keys:
            self._signalled.popitem(last=False)
        return [
            Signal(
                id=signal_id,
                kind=SignalKind.volume_burst,
                key_kind=key_kind,
                key=key_value,
                target=state.target,
                window_start=start,
                window_end=self._start(index + 1),
                numbers={
                    "count": float(window.count),
                    "baseline_mean": round(mean, 4),
                    "baseline_std": round(std, 4),
                    "ratio": round(window.count / expected, 4),
                    "window_seconds": float(self.window_seconds),
                    "history_windows": float(n),
                },
                evidence=tuple(window.evidence),
                detected_at=utcnow(),
            )
        ]
