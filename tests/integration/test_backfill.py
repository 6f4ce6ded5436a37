"""`pantau backfill` stores a recorded stream as the service would have: each post once, its
issues with their posts, and one alert per issue with its history, in the stream's time."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from clickhouse_connect.driver.client import Client

from config.settings import load_settings
from service.backfill import backfill
from storage.repository import ClickHouseStore
from tests.integration.conftest import DEMO_STREAM, ReplayedWarehouse

DEMO_POSTS = sum(1 for line in DEMO_STREAM.read_text(encoding="utf-8").splitlines() if line.strip())


def test_the_demo_is_stored_with_its_three_issues_their_posts_and_one_alert_each(
    replayed_demo: ReplayedWarehouse,
) -> None:
    client, report = replayed_demo.client, replayed_demo.report
    assert report.posts == report.stored == DEMO_POSTS
    assert client.command("SELECT uniqExact(id) FROM posts") == DEMO_POSTS
    paged = client.query(
        "SELECT id, label, posts FROM issues FINAL WHERE paged_at IS NOT NULL AND merged_into = ''"
    ).result_rows
    assert len(paged) == 3, paged  # the demo's three planted happenings, one issue each
    alerts = client.query(
        "SELECT fingerprint, key_kind, created_at FROM alerts FINAL WHERE key_kind = 'issue'"
    ).result_rows
    assert sorted(a[0] for a in alerts) == sorted(i[0] for i in paged)
    # Dated in the stream's time (November 2026 in the demo), not at the hour of the backfill.
    assert all(a[2].replace(tzinfo=None) < datetime(2026, 11, 21) for a in alerts)
    for issue_id, label, posts in paged:
        members = client.command(
            "SELECT uniqExact(post_id) FROM issue_posts WHERE issue_id = {id:String}",
            parameters={"id": issue_id},
        )
        assert label and members == posts, (label, members, posts)
    orphans = client.command("SELECT count() FROM issue_posts WHERE post_id NOT IN (SELECT id FROM posts)")
    assert orphans == 0
    history = client.query("SELECT countIf(event = 'opened'), countIf(event = 'resolved') FROM alert_events")
    assert history.result_rows == [(3, 3)]
    # The archive is over: its issues closed and their alerts resolved (nothing else could).
    assert client.command("SELECT countIf(status != 'resolved') FROM alerts FINAL") == 0
    assert client.command("SELECT countIf(status = 'live') FROM issues FINAL") == 0


def test_a_second_backfill_of_the_same_stream_stores_no_post_twice(
    clickhouse: Client, tmp_path: Path
) -> None:
    store = ClickHouseStore(clickhouse)
    settings = load_settings(data_dir=tmp_path)
    lines = DEMO_STREAM.read_text(encoding="utf-8").splitlines()
    part = tmp_path / "first-third.jsonl"
    part.write_text("\n".join(lines[: DEMO_POSTS // 3]) + "\n", encoding="utf-8")
    cache = tmp_path / "cache"  # the second run reads the first's enrichments instead of classifying
    assert backfill(settings, part, store, cache=cache).stored == DEMO_POSTS // 3
    again = backfill(settings, DEMO_STREAM, store, cache=cache)
    assert (again.posts, again.stored) == (DEMO_POSTS, DEMO_POSTS - DEMO_POSTS // 3)
    assert clickhouse.command("SELECT count() FROM posts") == DEMO_POSTS
