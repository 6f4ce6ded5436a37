"""What the live-source connector tests share: a sink that records what a connector hands on."""

from __future__ import annotations

from collections.abc import Iterable

from pantau.normalise import normalise


class RecordingSink:
    """Takes every envelope, as the spool would, and keeps it for the test to read."""

    def __init__(self) -> None:
        self.envelopes: list[bytes] = []

    async def send_many(self, values: Iterable[bytes]) -> int:
        batch = list(values)
        self.envelopes += batch
        return len(batch)

    def texts(self) -> list[str]:
        """Each post's text, as the pipeline normalises it."""
        return [normalise(e).text for e in self.envelopes]
