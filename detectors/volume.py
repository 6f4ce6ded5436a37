"""Volume burst per key: this window's count against an exponentially weighted baseline.

Windows are tumbling, in event time. A key signals at most once per window, as soon as its count
crosses the threshold (not when the window closes), so a burst is seen while it happens. A window
closes when the watermark (latest event time seen minus the allowed lateness) passes its end; its
count, and a zero for every empty window since, then update the key's baseline.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from detectors.base import Observation
from pantau.domain import Signal, SignalKind, utcnow

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class _KeyState:
    target: str
    window_start: datetime
    post_ids: set[str] = field(default_factory=set)
    evidence: list[str] = field(default_factory=list)
    mean: float = 0.0
    var: float = 0.0
    windows_seen: int = 0
    signalled: bool = False


class VolumeBurst:
    def __init__(
        self,
        window_seconds: int = 60,
        min_count: int = 8,
        ratio: float = 3.0,
        z: float = 3.0,
        alpha: float = 0.1,
        allowed_lateness_seconds: int = 30,
        max_keys: int = 100_000,
        max_evidence: int = 20,
    ) -> None:
        self.window_seconds = window_seconds
        self.min_count = min_count
        self.ratio = ratio
        self.z = z
        self.alpha = alpha
        self.allowed_lateness_seconds = allowed_lateness_seconds
        self.max_keys = max_keys
        self.max_evidence = max_evidence
        self._keys: dict[tuple[str, str], _KeyState] = {}
        self._closing: list[tuple[datetime, tuple[str, str]]] = []  # (window end, key) heap
        self._watermark = _EPOCH

    @property
    def _window(self) -> timedelta:
        return timedelta(seconds=self.window_seconds)

    def _window_start(self, at: datetime) -> datetime:
        seconds = (at - _EPOCH).total_seconds()
        return _EPOCH + timedelta(seconds=seconds - seconds % self.window_seconds)

    def update(self, observation: Observation) -> list[Signal]:
        lateness = timedelta(seconds=self.allowed_lateness_seconds)
        self._watermark = max(self._watermark, observation.at - lateness)
        self._close_due_windows()
        start = self._window_start(observation.at)
        if start + self._window <= self._watermark:
            return []  # too late: its window has closed and been learned
        key = (observation.key_kind, observation.key)
        state = self._keys.get(key)
        if state is None:
            if len(self._keys) >= self.max_keys:
                self._evict_coldest()
            state = self._keys[key] = _KeyState(target=observation.target, window_start=start)
            heapq.heappush(self._closing, (start + self._window, key))
        elif start > state.window_start:
            # The watermark lags event time, so a key can move to a new window before the old one
            # is due; learn the old one now.
            self._learn_window(state, until=start)
            heapq.heappush(self._closing, (start + self._window, key))
        elif start < state.window_start:
            return []  # belongs to a window this key has already learned
        if observation.post_id in state.post_ids:
            return []  # a redelivered post counts once
        state.post_ids.add(observation.post_id)
        if len(state.evidence) < self.max_evidence:
            state.evidence.append(observation.post_id)
        return self._check(key, state)

    def _check(self, key: tuple[str, str], state: _KeyState) -> list[Signal]:
        count = len(state.post_ids)
        if state.signalled or count < self.min_count:
            return []
        std = math.sqrt(state.var)
        expected = max(state.mean, 1.0)
        if count < self.ratio * expected or count - state.mean < self.z * max(std, 1.0):
            return []
        state.signalled = True
        key_kind, key_value = key
        return [
            Signal(
                id=Signal.make_id(SignalKind.volume_burst, key_kind, key_value, state.window_start),
                kind=SignalKind.volume_burst,
                key_kind=key_kind,
                key=key_value,
                target=state.target,
                window_start=state.window_start,
                window_end=state.window_start + self._window,
                numbers={
                    "count": float(count),
                    "baseline_mean": round(state.mean, 4),
                    "baseline_std": round(std, 4),
                    "ratio": round(count / expected, 4),
                    "window_seconds": float(self.window_seconds),
                    "history_windows": float(state.windows_seen),
                },
                evidence=tuple(state.evidence),
                detected_at=utcnow(),
            )
        ]

    def _observe_count(self, state: _KeyState, count: float) -> None:
        # Exponentially weighted mean and variance (West's incremental form).
        if state.windows_seen == 0:
            state.mean, state.var = count, 0.0
        else:
            diff = count - state.mean
            incr = self.alpha * diff
            state.mean += incr
            state.var = (1 - self.alpha) * (state.var + diff * incr)
        state.windows_seen += 1

    def _learn_window(self, state: _KeyState, until: datetime) -> None:
        """Learn the current window's count, then a zero for each empty window before `until`."""
        self._observe_count(state, float(len(state.post_ids)))
        empty = int((until - state.window_start) / self._window) - 1
        # After ~1/alpha * 10 empty windows the baseline is ~0 anyway; skip the rest.
        for _ in range(min(max(empty, 0), int(10 / self.alpha))):
            self._observe_count(state, 0.0)
        state.window_start = until
        state.post_ids = set()
        state.evidence = []
        state.signalled = False

    def _close_due_windows(self) -> None:
        while self._closing and self._closing[0][0] <= self._watermark:
            end, key = heapq.heappop(self._closing)
            state = self._keys.get(key)
            if state is None or state.window_start + self._window != end:
                continue  # stale heap entry
            if not state.post_ids:
                continue
            next_start = self._window_start(self._watermark)
            self._learn_window(state, until=max(next_start, end))
            heapq.heappush(self._closing, (state.window_start + self._window, key))

    def _evict_coldest(self) -> None:
        coldest = min(self._keys, key=lambda k: (self._keys[k].mean, self._keys[k].window_start))
        del self._keys[coldest]

    @property
    def keys(self) -> int:
        return len(self._keys)
