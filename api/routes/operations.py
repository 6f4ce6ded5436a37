"""Health, readiness and metrics for operators: open, no key needed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import Context

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
