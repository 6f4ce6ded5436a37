"""All detectors behind the one `Detector` interface, each fed the observations it reads.

- volume bursts at five minutes, an hour and a day, each against its own seasonal baseline
  (`detectors.timescales`): targets and hashtags; terms with a higher bar of their own (`terms`),
  since one issue lifts a dozen of its words at once;
- sentiment and stance shifts: targets;
- emerging topics and coordinated posting: the `stream` observation (one per post).

The set is one picklable object: the detect stage keeps one per partition and checkpoints it, so a
restarted worker resumes with its baselines, topics and campaigns instead of relearning them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from detectors.base import Observation
from detectors.coordination import CoordinatedPosting
from detectors.shifts import ShareShift
from detectors.timescales import DAY, HOURS, MINUTES, SeasonalBurst
from detectors.topics import EmergingTopics
from pantau.checkpoints import dump_state, load_state
from pantau.domain import Signal

# Bumped when a detector's state changes shape: an old checkpoint is then ignored, not misread.
STATE_VERSION = 2
BURST_KEYS = frozenset({"target", "hashtag"})
# Words burst together when anything happens: they need more, at every scale.
TERM_SCALES = (
    replace(MINUTES, min_count=20, ratio=5.0, z=4.0),
    replace(HOURS, min_count=2 * HOURS.min_count, ratio=2 * HOURS.ratio),
    replace(DAY, min_count=2 * DAY.min_count, ratio=2 * DAY.ratio),
)


@dataclass
class DetectorSet:
    volume: SeasonalBurst = field(default_factory=SeasonalBurst)
    terms: SeasonalBurst = field(default_factory=lambda: SeasonalBurst(scales=TERM_SCALES))
    sentiment: ShareShift = field(default_factory=lambda: ShareShift("sentiment"))
    stance: ShareShift = field(default_factory=lambda: ShareShift("stance"))
    topics: EmergingTopics = field(default_factory=EmergingTopics)
    coordination: CoordinatedPosting = field(default_factory=CoordinatedPosting)
    observations: int = 0

    def update(self, observation: Observation) -> list[Signal]:
        self.observations += 1
        kind = observation.key_kind
        if kind == "stream":
            return [*self.topics.update(observation), *self.coordination.update(observation)]
        signals: list[Signal] = []
        if kind in BURST_KEYS:
            signals += self.volume.update(observation)
        elif kind == "term":
            signals += self.terms.update(observation)
        if kind == "target":
            signals += self.sentiment.update(observation)
            signals += self.stance.update(observation)
        return signals

    def dumps(self) -> bytes:
        return dump_state(self, STATE_VERSION)

    @staticmethod
    def loads(data: bytes) -> DetectorSet | None:
        """The checkpointed set, or None when it was written by another state version."""
        return load_state(data, STATE_VERSION, DetectorSet)


def describe(detectors: DetectorSet) -> dict[str, Any]:
    return {
        "observations": detectors.observations,
        "volume_keys": detectors.volume.keys,
        "term_keys": detectors.terms.keys,
        "topics": detectors.topics.topics,
    }
