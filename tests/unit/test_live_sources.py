"""The live sources inside a worker: one that crashes is counted, logged and started again."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from pantau import metrics
from service import runtime
from storage.positions import Positions


class CrashingOnce:
    name = "flaky"

    def __init__(self) -> None:
        self.runs = 0
        self.closed = False
        self.running = asyncio.Event()

    async def run(self) -> None:
        self.runs += 1
        if self.runs == 1:
            raise RuntimeError("a bug in the parser")
        self.running.set()
        await asyncio.sleep(3600)

    async def aclose(self) -> None:
        self.closed = True


async def test_a_crashed_source_is_started_again_and_its_failure_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime, "backoff_seconds", lambda failures: 0.01)
    monkeypatch.setattr(metrics, "_health", {})
    connector = CrashingOnce()
    positions = Positions(tmp_path / "positions.sqlite3")
    live = runtime.LiveSources([connector], positions)  # type: ignore[list-item]
    await live.start()
    await asyncio.wait_for(connector.running.wait(), 5)
    health = metrics.source_health()["flaky"]
    assert connector.runs == 2 and health.errors == 1 and health.last_error == "RuntimeError"
    await live.stop()
    assert connector.closed


def test_positions_survive_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "positions.sqlite3"
    first = Positions(path)
    first.put_now("berita", "https://x/feed.xml", {"etag": '"v1"', "seen": ["a", "b"]})
    first.put_now("berita", "https://x/feed.xml", {"etag": '"v2"', "seen": ["a", "b", "c"]})
    first.close()
    again = Positions(path)
    assert again.get_now("berita", "https://x/feed.xml") == {"etag": '"v2"', "seen": ["a", "b", "c"]}
    assert again.get_now("berita", "other") is None
    again.close()


def test_damaged_positions_are_set_aside_and_the_sources_start_afresh(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "positions.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    positions = Positions(path)
    assert positions.get_now("berita", "x") is None
    assert "source positions" in caplog.text and "damaged" in caplog.text
    assert list(tmp_path.glob("positions.sqlite3.damaged-*"))
    positions.close()
