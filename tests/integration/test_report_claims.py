"""Several workers run the brief schedule: each fire time is built and sent by one of them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client
from redis.asyncio import Redis

from config.settings import load_settings
from service.engines import ValkeyServer
from service.report_schedule import run_report_schedule
from service.runtime import ReportScheduleService
from storage.repository import ClickHouseStore

REPORTS = """
reports:
  - name: evening
    cron: "5 21 * * *"
    since: 4h
    formats: [md]
    receivers: [desk]
"""


async def run_until_past(
    clickhouse: Client,
    tmp_path: Path,
    claim: Callable[[str], Awaitable[bool]],
    until: datetime,
    *,
    least_sleep: float = 1.0,
) -> None:
    reports = tmp_path / "reports.yaml"
    reports.write_text(REPORTS, encoding="utf-8")
    settings = load_settings(data_dir=tmp_path, reports_path=reports)
    now = [datetime(2026, 11, 20, 14, 0, tzinfo=UTC)]  # 21:00 WIB
    stop = asyncio.Event()

    async def sleep(seconds: float) -> None:
        now[0] += timedelta(seconds=max(seconds, least_sleep))
        if now[0] > until:
            stop.set()
        await asyncio.sleep(0)

    await asyncio.wait_for(
        run_report_schedule(
            settings,
            client=clickhouse,
            reports_path=reports,
            clock=lambda: now[0],
            sleep=sleep,
            stop=stop,
            claim=claim,
        ),
        timeout=60,
    )


async def test_a_fire_time_another_worker_claimed_is_not_built_here(
    clickhouse: Client, tmp_path: Path
) -> None:
    asked: list[str] = []

    async def refuse(fire: str) -> bool:
        asked.append(fire)
        return False

    await run_until_past(clickhouse, tmp_path, refuse, datetime(2026, 11, 20, 14, 10, tzinfo=UTC))
    assert asked == ["evening@2026-11-20T14:05:00+00:00"]  # 21:05 WIB, asked once
    assert not (tmp_path / "reports").exists()  # nothing built, nothing archived


async def test_the_worker_whose_claim_succeeds_builds_it(clickhouse: Client, tmp_path: Path) -> None:
    async def accept(fire: str) -> bool:
        return True

    await run_until_past(clickhouse, tmp_path, accept, datetime(2026, 11, 20, 14, 10, tzinfo=UTC))
    assert [p.name for p in (tmp_path / "reports").iterdir()] == ["evening-20261120-2105.md"]


async def test_a_fire_time_is_claimed_once_across_workers(
    clickhouse: Client, valkey: ValkeyServer, tmp_path: Path
) -> None:
    settings = load_settings(data_dir=tmp_path, app_id="claims-test")
    redis = Redis.from_url(valkey.url)
    try:
        workers = [ReportScheduleService(settings, ClickHouseStore(clickhouse), redis) for _ in range(3)]
        fire = "evening@2026-11-20T14:05:00+00:00"
        claims = await asyncio.gather(*(w.claim(fire) for w in workers))
        assert sorted(claims) == [False, False, True]
        assert await workers[0].claim("evening@2026-11-21T14:05:00+00:00")  # the next day's is free
        assert 0 < await redis.ttl(f"pantau:claims-test:report-fired:{fire}") <= 7 * 24 * 3600
    finally:
        await redis.aclose()


async def test_a_claim_that_fails_is_tried_again_and_the_period_ends_at_the_fire_time(
    clickhouse: Client, tmp_path: Path
) -> None:
    asked: list[str] = []

    async def flaky(fire: str) -> bool:
        asked.append(fire)
        if len(asked) == 1:
            raise ConnectionError("Redis is restarting")
        return True

    # A slow loop: it wakes at 21:07 (the claim fails) and again at 21:14.
    await run_until_past(
        clickhouse, tmp_path, flaky, datetime(2026, 11, 20, 14, 20, tzinfo=UTC), least_sleep=420.0
    )
    assert asked == ["evening@2026-11-20T14:05:00+00:00"] * 2  # the same fire time, once more
    # Built for 21:05 WIB, not for the minute the loop got to it.
    assert [p.name for p in (tmp_path / "reports").iterdir()] == ["evening-20261120-2105.md"]


async def test_the_worker_restarts_a_schedule_that_stopped(
    clickhouse: Client, valkey: ValkeyServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import service.report_schedule as schedule
    import service.runtime as runtime

    runs: list[int] = []

    async def stops_once(*args: object, **kwargs: object) -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise RuntimeError("the schedule's loop failed")
        await asyncio.Event().wait()  # then runs until stopped

    monkeypatch.setattr(schedule, "run_report_schedule", stops_once)
    monkeypatch.setattr(runtime, "REPORT_RESTART_SECONDS", 0.01)
    redis = Redis.from_url(valkey.url)
    service = ReportScheduleService(load_settings(data_dir=tmp_path), ClickHouseStore(clickhouse), redis)
    try:
        await service.on_start()
        for _ in range(200):
            if len(runs) >= 2:
                break
            await asyncio.sleep(0.01)
        assert runs == [0, 1]
    finally:
        await service.on_stop()
        await redis.aclose()
