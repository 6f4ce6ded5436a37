"""The thin HTTP API: alerts for rapid-response staff, ingestion for collectors, health for operators.

It never imports the streams package: it meets the worker in ClickHouse (history, posts) and Redis
(live alert state and feed), and writes incoming posts to the `posts.raw` topic like any source.
Each resource has its router in `api.routes`; this module assembles them with the middleware and
the clients' lifetime.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from redis.asyncio import Redis

from api.deps import ApiContext, make_context
from api.middleware import BodySizeLimit
from api.routes import alerts, ingest, issues, keys, me, operations, silences, summaries
from config.settings import Settings
from pantau.bus import RawProducer, ensure_topics
from pantau.metrics import StageRates
from storage.client import open_client
from storage.repository import ClickHouseStore
from storage.spool import SpoolWriter, assemble

__all__ = ["ApiContext", "create_app", "make_context"]

# In this order: the OpenAPI document lists paths as they are included.
ROUTERS = (
    operations.router,
    ingest.router,
    alerts.router,
    issues.router,
    silences.router,
    summaries.router,
    keys.router,
    me.router,
)

# The desk page: plain HTML, CSS and JavaScript modules shipped in the package, no build step.
STATIC_DIR = Path(__file__).resolve().parent / "static"
# The page loads nothing from elsewhere and never runs inline code: post text cannot become script.
DESK_PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"
)


@asynccontextmanager
async def sampling(rates: StageRates, every_seconds: float = 5.0) -> AsyncIterator[None]:
    """Sample the stage counters while the app runs, for the throughput GET /status reports."""

    async def sample() -> None:
        while True:
            rates.sample(time.monotonic())
            await asyncio.sleep(every_seconds)

    task = asyncio.create_task(sample(), name="stage-rates")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@asynccontextmanager
async def spooling(
    settings: Settings, store: ClickHouseStore, producer: RawProducer
) -> AsyncIterator[SpoolWriter | None]:
    """With `PANTAU_SPOOL=on`, a `pantau api` of its own keeps what it accepts in a spool in its data
    directory, forwards it, and trims it once ClickHouse holds it (`pantau up` runs this itself)."""
    if not settings.spool_enabled(memory_broker=False):
        yield None
        return
    parts = assemble(settings, store, producer.send_many)
    loops = [asyncio.create_task(parts.forwarder.run()), asyncio.create_task(parts.keeper.run())]
    try:
        yield parts.writer
    finally:
        for task in loops:
            task.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        parts.spool.close()


def create_app(settings: Settings, context: ApiContext | None = None) -> FastAPI:
    """The API. With `context` given (`pantau up`, tests) it shares the caller's clients; without, it
    opens its own from the settings (`pantau api`, a separate process)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if context is not None:
            async with sampling(context.rates):
                try:
                    yield
                finally:
                    await context.feed.aclose()
            return
        # An early POST /ingest must not let the broker auto-create posts.raw with its own defaults.
        await ensure_topics(settings.kafka_brokers, settings.topic_partitions, settings.topic_replication)
        client = await asyncio.to_thread(open_client, settings.resolved_clickhouse_dsn)
        redis = Redis.from_url(settings.redis_url)
        producer = RawProducer(settings.kafka_brokers)
        await producer.start()
        store = ClickHouseStore(client)
        async with spooling(settings, store, producer) as writer:
            app.state.context = make_context(settings, store, redis, producer, writer)
            app.state.authenticator = app.state.context.authenticator
            async with sampling(app.state.context.rates):
                try:
                    yield
                finally:
                    await app.state.context.feed.aclose()
        await producer.stop()
        await redis.aclose()
        await asyncio.to_thread(client.close)

    app = FastAPI(
        title="Pantau",
        version="0.1.0",
        description="Alerts, live feed, summaries and ingestion for a political social-media war room. "
        "Every route but /healthz, /readyz and /metrics needs `Authorization: Bearer <API key>`.",
        lifespan=lifespan,
    )
    app.add_middleware(BodySizeLimit, max_bytes=settings.api_max_body_bytes)
    if settings.api_cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.api_cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
        )
    if context is not None:
        app.state.context = context
        app.state.authenticator = context.authenticator
    for router in ROUTERS:
        app.include_router(router)
    mount_desk_page(app)
    return app


def mount_desk_page(app: FastAPI) -> None:
    """The desk page at `/` and its files under `/static/`, open to all: the page asks for a key and
    sends it with every data call, which is where access is checked."""

    @app.get("/", include_in_schema=False)
    async def desk_page() -> FileResponse:
        return FileResponse(
            STATIC_DIR / "index.html",
            headers={
                "Content-Security-Policy": DESK_PAGE_POLICY,
                "Cache-Control": "no-cache",
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
            },
        )

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
