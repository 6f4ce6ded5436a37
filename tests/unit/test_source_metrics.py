"""pantau.metrics: per-source counts and times, bounded in how many sources they name."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pantau import metrics


@pytest.fixture(autouse=True)
def fresh_sources(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(metrics, "_sources", {})
    yield


def test_a_source_counts_its_posts_and_keeps_its_newest_times() -> None:
    counted = metrics.SOURCE_POSTS.labels("unit-a")._value.get()
    assert "unit-a" not in metrics.sources()
    metrics.observe_source("unit-a", received_at=2000.0, created_at=1900.0)
    metrics.observe_source("unit-a", received_at=1500.0, created_at=1950.0)  # late, but a newer post

    seen = metrics.sources()["unit-a"]
    assert seen.posts == 2 and metrics.SOURCE_POSTS.labels("unit-a")._value.get() == counted + 2
    assert seen.last_received == 2000.0 and seen.newest_post == 1950.0
    assert metrics.SOURCE_NEWEST_POST.labels("unit-a")._value.get() == 1950.0


def test_past_the_label_limit_new_sources_share_one_label(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics, "MAX_SOURCE_LABELS", 2)
    assert [metrics.source_label(n) for n in ("s1", "s2", "s3", "s1", "")] == [
        "s1",
        "s2",
        "other",
        "s1",
        "other",
    ]
    assert metrics.source_label("y" * 100) == "other"


def test_an_empty_or_long_name_becomes_a_bounded_label() -> None:
    assert metrics.source_label("") == "unknown"
    assert metrics.source_label("z" * 100) == "z" * 64
