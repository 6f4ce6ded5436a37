"""Assembling processes: the worker, the API, and `pantau up` (both, on embedded engines).

chdb allows one process per data directory and no fork after it is open, so `pantau up` runs the
Faust worker and the API in one process and one event loop, sharing one ClickHouse client; the
broker and Valkey are child processes started before the engine opens.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import faulthandler
import functools
import io
import logging
import signal
import socket
import sys
import time
from collections.abc import Iterator
from importlib import resources
from typing import Any

import faust
import mode
import uvicorn
from prometheus_client import start_http_server
from redis.asyncio import Redis
from sse_starlette.sse import AppStatus

from alerts.dispatcher import AlertingSource, Dispatcher, SilenceStore
from alerts.issue_store import IssueStore
from alerts.notifiers import Notifier
from alerts.state import AlertState
from config.settings import Settings
from config.sources import load_sources
from config.watchlist import Watchlist, load_watchlist
from detectors.coordination import CoordinatedPosting
from detectors.ensemble import DetectorSet
from detectors.issues import IssueTracker
from detectors.shifts import ShareShift
from detectors.timescales import DAY, HOURS, MINUTES, SeasonalBurst
from detectors.topics import EmergingTopics
from nlp.models import build_classifier
from nlp.watchlist_check import check_watchlist
from pantau import bus, metrics
from pantau.bus import RawSink
from pantau.topic_bands import E5_SMALL_BANDS, TopicBands
from service.engines import running_engines
from service.process import release_freed_memory
from storage.client import describe, open_client
from storage.migrate import Migrator, apply_posts_ttl
from storage.positions import Positions
from storage.repository import ClickHouseStore
from storage.source_board import SourceReport
from storage.source_board import publish as publish_health
from storage.spool import SpoolParts, assemble
from streams.app import Pipeline, build_agents, faust_app
from streams.connectors import Connector, build_connector
from streams.connectors.retry import backoff_seconds
from streams.detection import CheckpointStore, DetectionState
from streams.issues import IssueState
from streams.rollover import BrokerRollover, GenerationFollower, Generations, drain_pipeline
from streams.sources import read_rows, rebase, replay

log = logging.getLogger("pantau")
# Requests in flight get this long to finish when the API stops; live feeds are closed at once.
GRACEFUL_SHUTDOWN_SECONDS = 5
# A stop normally takes 2-3 s after the drain; one still going this long says where it waits.
SLOW_STOP_SECONDS = 10.0
# A fire time of a scheduled brief, once claimed by a worker, stays claimed this long.
REPORT_CLAIM_SECONDS = 7 * 24 * 3600
REPORT_RESTART_SECONDS = 30.0


def report_slow_stop(seconds: float) -> None:
    """Log every pending asyncio task with its stack: what a stop that has not finished waits on."""
    tasks = [task for task in asyncio.all_tasks() if not task.done()]
    stacks = io.StringIO()
    for task in tasks:
        task.print_stack(limit=8, file=stacks)
    log.warning("still stopping after %.0f s; %d tasks pending:\n%s", seconds, len(tasks), stacks.getvalue())


def topic_bands(settings: Settings, encoder: TopicBands = E5_SMALL_BANDS) -> TopicBands:
    """The encoder's bands, unless the settings fix a similarity: that derives its own band."""
    return TopicBands.derived(settings.topic_similarity) if settings.topic_similarity else encoder


def make_detector(settings: Settings, bands: TopicBands = E5_SMALL_BANDS) -> DetectorSet:
    """The detectors from the settings and the encoder's `bands` (`topic_bands`)."""
    # Targets, hashtags and terms are judged at five minutes, an hour and a day, each against its
    # own seasonal baseline; the minute scale is the settings' (PANTAU_BURST_*). Terms need more
    # to count as a burst at every scale: one issue lifts a dozen of its words at once.
    minutes = dataclasses.replace(
        MINUTES,
        window_seconds=settings.burst_window_seconds,
        min_count=settings.burst_min_count,
        ratio=settings.burst_ratio,
        z=settings.burst_z,
        alpha=settings.burst_alpha,
        min_history_windows=settings.burst_warmup_windows,
    )
    term_scales = (
        dataclasses.replace(
            minutes,
            min_count=settings.burst_term_min_count,
            ratio=settings.burst_term_ratio,
            z=settings.burst_z + 1,
        ),
        dataclasses.replace(HOURS, min_count=2 * HOURS.min_count, ratio=2 * HOURS.ratio),
        dataclasses.replace(DAY, min_count=2 * DAY.min_count, ratio=2 * DAY.ratio),
    )
    burst = functools.partial(
        SeasonalBurst,
        horizon_seconds=settings.burst_window_seconds * settings.burst_horizon_windows,
        utc_offset_seconds=int(settings.local_utc_offset_hours * 3600),
    )
    return DetectorSet(
        volume=burst(scales=(minutes, HOURS, DAY)),
        terms=burst(scales=term_scales),
        sentiment=ShareShift(
            "sentiment", min_posts=settings.shift_min_posts, min_change=settings.shift_min_change
        ),
        stance=ShareShift("stance", min_posts=settings.shift_min_posts, min_change=settings.shift_min_change),
        topics=EmergingTopics(
            similarity=topic_bands(settings, bands).similarity,
            window_seconds=settings.topic_window_seconds,
            min_posts=settings.topic_min_posts,
            min_authors=settings.topic_min_authors,
        ),
        coordination=CoordinatedPosting(
            window_seconds=settings.coordination_window_seconds,
            min_accounts=settings.coordination_min_accounts,
        ),
    )


def make_issue_tracker(settings: Settings, bands: TopicBands = E5_SMALL_BANDS) -> IssueTracker:
    """The issue layer from the settings, near and far measured on the encoder's own bands
    (`topic_bands`)."""
    bands = topic_bands(settings, bands)
    return IssueTracker(
        bands.similarity,
        very_close=bands.very_close,
        min_posts=settings.issue_min_posts,
        min_voices=settings.issue_min_accounts,
        quiet_seconds=settings.issue_quiet_seconds,
        settle_seconds=settings.issue_settle_seconds,
    )


def warn_about_watchlist(watchlist: Watchlist) -> int:
    """Log each alias that would find the wrong target or most posts (`pantau watchlist check`);
    the service still starts: a desk mid-campaign must not lose its watch over an alias."""
    findings = check_watchlist(watchlist)
    for finding in findings:
        log.warning("watchlist %s: %s", finding.problem, finding.why)
    return len(findings)


def make_pipeline(settings: Settings, store: ClickHouseStore, redis: Redis) -> Pipeline:
    """What the agents work with, from the settings: the one place the models are chosen."""
    watchlist = load_watchlist(settings.watchlist_path)
    warn_about_watchlist(watchlist)
    classifier = build_classifier(settings, watchlist)
    release_freed_memory()  # the model's load-time copies
    return Pipeline(
        settings=settings,
        store=store,
        alert_state=AlertState(
            redis, dedup_ttl_seconds=settings.alert_dedup_ttl_seconds, feed_maxlen=settings.alert_feed_maxlen
        ),
        classifier=classifier,
        detection=DetectionState(
            factory=lambda: make_detector(settings, classifier.topic_bands),
            checkpoints=CheckpointStore(redis, settings.app_id),
            interval_seconds=settings.detector_checkpoint_seconds,
        ),
        issues=IssueState(
            factory=lambda: make_issue_tracker(settings, classifier.topic_bands),
            store=IssueStore(redis, settings.app_id, retention_seconds=settings.alert_dedup_ttl_seconds),
            warehouse=store,
            interval_seconds=settings.detector_checkpoint_seconds,
        ),
        watchlist=watchlist,
        alerting=AlertingSource(settings.alerting_path),
    )


def open_store(settings: Settings, *, migrate: bool) -> ClickHouseStore:
    client = open_client(settings.resolved_clickhouse_dsn)
    migrator = Migrator(client)
    if migrate:
        applied = migrator.up()
        if applied:
            log.info("applied migrations: %s", ", ".join(f"{m.version:04d}_{m.name}" for m in applied))
        apply_posts_ttl(client, settings.posts_ttl_days)
    else:
        latest = migrator.migrations[-1].version
        current = migrator.current_version()
        if current < latest:
            raise SystemExit(
                f"ClickHouse schema is at version {current}, this Pantau needs {latest}: "
                "run `pantau migrate up`"
            )
    log.info("ClickHouse at %s", describe(settings.resolved_clickhouse_dsn))
    return ClickHouseStore(client)


class ApiServer(mode.Service):
    """Uvicorn inside the worker's event loop; the worker owns signal handling."""

    def __init__(self, app: Any, host: str, port: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.server = _QuietSignalsServer(
            uvicorn.Config(
                app, host=host, port=port, log_level="warning", lifespan="on", access_log=False,
                timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
            )
        )  # fmt: skip
        self._task: asyncio.Task[None] | None = None

    async def on_start(self) -> None:
        AppStatus.should_exit = False  # process-global in sse-starlette: a stopped server set it
        self._task = asyncio.ensure_future(self.server.serve())
        while not self.server.started:
            if self._task.done():
                self._task.result()  # raises the reason it could not start
                raise RuntimeError("API server exited during start-up")
            await asyncio.sleep(0.05)
        host, port = self.server.config.host, self.server.config.port
        log.info("API listening on http://%s:%d (docs at /docs)", host, port)

    async def on_stop(self) -> None:
        # handle_exit, not should_exit: sse-starlette hooks it to end open event streams, which
        # would otherwise hold the shutdown for as long as a war-room screen stays connected.
        self.server.handle_exit(signal.SIGTERM, None)
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class _QuietSignalsServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def serve_api(settings: Settings) -> None:
    """`pantau api`: the API alone; SIGINT and SIGTERM finish in-flight requests and exit 0."""
    from api.app import create_app

    server = _QuietSignalsServer(
        uvicorn.Config(
            create_app(settings), host=settings.api_host, port=settings.api_port, log_level="info",
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        )
    )  # fmt: skip

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, server.handle_exit, signum, None)
        await server.serve()

    asyncio.run(serve())


class DispatcherService(mode.Service):
    """The alert dispatcher inside the worker's event loop (one worker at a time leads it)."""

    def __init__(self, dispatcher: Dispatcher, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dispatcher = dispatcher
        self._running: asyncio.Task[None] | None = None

    async def on_start(self) -> None:
        self._running = asyncio.create_task(self.dispatcher.run(), name="alert-dispatcher")

    async def on_stop(self) -> None:
        # The loop first (its exit waits for deliveries in flight), then the HTTP client they use.
        if self._running is not None:
            self._running.cancel()
            await asyncio.gather(self._running, return_exceptions=True)
        await self.dispatcher.notifier.aclose()


class ReportScheduleService(mode.Service):
    """The scheduled briefs (config/reports.yaml) inside the worker's event loop; with several
    workers, each fire time is claimed in Redis and sent once."""

    def __init__(self, settings: Settings, store: ClickHouseStore, redis: Redis, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings, self.store, self.redis = settings, store, redis
        self._running: asyncio.Task[None] | None = None

    async def claim(self, fire: str) -> bool:
        key = f"pantau:{self.settings.app_id}:report-fired:{fire}"
        return bool(await self.redis.set(key, socket.gethostname(), nx=True, ex=REPORT_CLAIM_SECONDS))

    async def on_start(self) -> None:
        # Here, not at the top: charts and PDF are loaded only by a process that builds briefs.
        from service.report_schedule import run_report_schedule

        async def keep_running() -> None:
            while True:
                try:
                    await run_report_schedule(
                        self.settings,
                        client=self.store.client,
                        reports_path=self.settings.reports_path,
                        claim=self.claim,
                    )
                    return
                except asyncio.CancelledError:
                    raise
                except Exception:
                    # A schedule that stopped would stay stopped, silently: say so, and start again.
                    log.exception(
                        "reports: the schedule stopped; it starts again in %.0f s", REPORT_RESTART_SECONDS
                    )
                    await asyncio.sleep(REPORT_RESTART_SECONDS)

        self._running = asyncio.create_task(keep_running(), name="report-schedule")

    async def on_stop(self) -> None:
        if self._running is not None:
            self._running.cancel()
            await asyncio.gather(self._running, return_exceptions=True)


def make_dispatcher(settings: Settings, pipeline: Pipeline) -> Dispatcher:
    return Dispatcher(
        alert_state=pipeline.alert_state,
        silences=SilenceStore(pipeline.alert_state.redis),
        store=pipeline.store,
        notifier=Notifier(max_attempts=settings.notify_max_attempts),
        source=pipeline.alerting,
        tick_seconds=settings.notify_tick_seconds,
    )


class SpoolService(mode.Service):
    """The spool of accepted posts: at start, what a lost memory broker had is sent again; while
    running, the forwarder sends new posts on and the keeper removes what ClickHouse holds."""

    def __init__(self, parts: SpoolParts, *, recover: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.parts = parts
        self.spool, self.forwarder, self.keeper = parts.spool, parts.forwarder, parts.keeper
        self.recover = recover
        self._loops: list[asyncio.Task[None]] = []

    async def on_start(self) -> None:
        depth = await self.spool.depth()
        log.info("spool %s: %d posts waiting for ClickHouse", self.spool.path, depth.posts)
        if self.recover and depth.posts:
            await self.keeper.recover()
        self._loops = [
            asyncio.create_task(self.forwarder.run(), name="spool-forwarder"),
            asyncio.create_task(self.keeper.run(), name="spool-keeper"),
        ]

    async def on_stop(self) -> None:
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        # No final trim: the next start checks what ClickHouse holds before it sends anything again.
        self.spool.close()


def make_spool(
    settings: Settings, store: ClickHouseStore, producer: bus.RawProducer, *, memory_broker: bool
) -> SpoolService:
    # With the memory broker, whatever it held before this start is gone: send it again.
    return SpoolService(assemble(settings, store, producer.send_many), recover=memory_broker)


class DemoReplay(mode.Service):
    """Replays the bundled demo stream once the worker's agents are running."""

    def __init__(
        self, app: faust.App, settings: Settings, speed: float | None, sink: RawSink | None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.app = app
        self.settings = settings
        self.speed = speed
        self.sink = sink

    @mode.Service.task
    async def _replay(self) -> None:
        rows = demo_rows()
        log.info("demo: replaying %d posts at %sx", len(rows), self.speed or "max")
        if self.sink is not None:  # through the spool
            sent = await replay(self.sink, rows, speed=self.speed, source="demo")
            log.info("demo: %d posts accepted", sent)
            return
        producer = bus.RawProducer(self.settings.kafka_brokers)
        await producer.start()
        try:
            sent = await replay(producer, rows, speed=self.speed, source="demo")
            log.info("demo: %d posts sent", sent)
        finally:
            await producer.stop()


class LiveSources(mode.Service):
    """The configured live sources, each an async task; one that fails unexpectedly is logged,
    counted and started again after a pause, never taking the worker down."""

    def __init__(
        self, connectors: list[Connector], positions: Positions, redis: Redis | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.connectors = connectors
        self.positions = positions
        self.redis = redis
        self._running_sources: list[asyncio.Task[None]] = []

    async def on_start(self) -> None:
        for connector in self.connectors:
            self._running_sources.append(
                asyncio.create_task(self._supervise(connector), name=f"source-{connector.name}")
            )
        if self.redis is not None:
            self._running_sources.append(asyncio.create_task(self._publish(), name="source-health"))
        log.info("live sources: %s", ", ".join(c.name for c in self.connectors))

    async def _publish(self, every_seconds: float = 10.0) -> None:
        """Health to Redis, for an API in another process (`GET /sources`)."""
        assert self.redis is not None
        while True:
            health, seen = metrics.source_health(), metrics.sources()
            reports = {}
            for connector in self.connectors:
                live, brought = health.get(connector.name), seen.get(connector.name)
                reports[connector.name] = SourceReport(
                    kind=live.kind if live else "",
                    up=live.up if live else None,
                    errors=live.errors if live else 0,
                    reconnects=live.reconnects if live else 0,
                    last_error=live.last_error if live else "",
                    retry_in=live.retry_in if live else 0.0,
                    # Normalised here (pantau up, pantau worker) or, in a collector, handed on.
                    posts=brought.posts if brought else float(live.sent if live else 0),
                    last_received=brought.last_received if brought else 0.0,
                    newest_post=brought.newest_post if brought else 0.0,
                    at=time.time(),
                )
            try:
                await publish_health(self.redis, reports)
            except Exception as exc:  # Redis away: the next round tries again
                log.debug("source health not published: %s", exc)
            await asyncio.sleep(every_seconds)

    async def _supervise(self, connector: Connector) -> None:
        failures = 0
        while True:
            started = time.monotonic()
            try:
                await connector.run()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # A source that ran a while before failing starts the back-off afresh.
                failures = 1 if time.monotonic() - started > 300 else failures + 1
                wait = backoff_seconds(failures)
                # Only the exception's type where the open status shows it: a message may hold a URL.
                metrics.source_failed(connector.name, "crash", type(exc).__name__, retry_in=wait)
                log.exception("source %s failed; starting it again in %.0f s", connector.name, wait)
                await asyncio.sleep(wait)

    async def on_stop(self) -> None:
        for task in self._running_sources:
            task.cancel()
        await asyncio.gather(*self._running_sources, return_exceptions=True)
        for connector in self.connectors:
            with contextlib.suppress(Exception):
                await connector.aclose()
        self.positions.close()


def make_live_sources(
    settings: Settings, sink: RawSink, only: str | None = None, redis: Redis | None = None
) -> LiveSources | None:
    """The enabled sources (or the one named `only`, enabled or not), or None when there are none."""
    config = load_sources(settings.sources_path)
    chosen = [s for s in config.sources if s.name == only] if only else list(config.enabled)
    if not chosen:
        return None
    watchlist = load_watchlist(settings.watchlist_path)
    positions = Positions(settings.data_dir / "sources" / "positions.sqlite3")
    return LiveSources([build_connector(s, sink, positions, watchlist) for s in chosen], positions, redis)


class PantauWorker(faust.Worker):
    """The Faust worker, stopping in the order Pantau needs: sources first (demo, API), then,
    with `drain`, the pipeline is given time to empty, and only then do the consumers stop.

    mode stops a worker's children after its own `on_stop`, and the Faust app first of them, so
    this is the one place where the consumers are still running and the sources are not. The
    embedded broker keeps messages in memory only: whatever is in flight at exit would be gone."""

    def __init__(
        self,
        app: faust.App,
        *sources: mode.Service,
        drain_seconds: float,
        detection: DetectionState | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(app, *sources, **kwargs)
        self.sources = sources
        self.drain_seconds = drain_seconds
        self.detection = detection

    async def on_stop(self) -> None:
        started = time.monotonic()
        deadline = SLOW_STOP_SECONDS + self.drain_seconds
        # The tasks for a stop that waits in the event loop; every thread's stack for one that
        # waits outside it (an executor thread the interpreter joins at exit, say).
        asyncio.get_running_loop().call_later(deadline, report_slow_stop, deadline)
        faulthandler.dump_traceback_later(2 * deadline, file=sys.stderr)
        for source in reversed(self.sources):
            await source.stop()
        if self.drain_seconds:
            await drain_pipeline(max_seconds=self.drain_seconds)
        if self.detection is not None:
            # The detectors' state survives the stop (and, with the embedded broker, the messages).
            try:
                await self.detection.checkpoint()
            except Exception:
                log.exception(
                    "final detector checkpoint failed; the next start resumes from the previous one"
                )
        log.info(
            "sources stopped and state saved in %.1f s; stopping the consumers", time.monotonic() - started
        )
        await super().on_stop()

    async def on_shutdown(self) -> None:
        await super().on_shutdown()
        log.info("worker stopped")


def demo_rows() -> list[dict[str, Any] | str]:
    from pantau.domain import utcnow

    with resources.as_file(resources.files("service.demo") / "posts.jsonl") as path:
        return rebase(list(read_rows(path)), utcnow())


def run(
    settings: Settings, *, api: bool, demo: bool, demo_speed: float | None, migrate: bool, drain: bool = False
) -> int:
    """Run the worker (and optionally the API and the demo) until SIGINT/SIGTERM; return the exit code."""
    from api.app import create_app, make_context

    asyncio.run(
        bus.ensure_topics(settings.kafka_brokers, settings.topic_partitions, settings.topic_replication)
    )
    store = open_store(settings, migrate=migrate)
    pipeline = make_pipeline(settings, store, Redis.from_url(settings.redis_url))
    alert_state = pipeline.alert_state
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # Faust keeps its own files under it
    app = faust_app(settings)
    build_agents(app, pipeline)
    services: list[mode.Service] = []
    producer = bus.RawProducer(settings.kafka_brokers)
    if not api and settings.worker_metrics_port:
        # Without the API in this process, the worker serves its own Prometheus metrics.
        start_http_server(settings.worker_metrics_port, addr=settings.worker_metrics_host)
        log.info(
            "worker metrics on http://%s:%d/metrics",
            settings.worker_metrics_host,
            settings.worker_metrics_port,
        )
    spooling = (
        make_spool(settings, store, producer, memory_broker=drain)
        if settings.spool_enabled(memory_broker=drain)
        else None
    )
    writer = spooling.parts.writer if spooling is not None else None
    # The embedded broker's process: its memory goes into GET /status and decides the rollover.
    pid = running_engines(settings).get("broker_pid") if drain else None
    broker_pid = pid if isinstance(pid, int) else None
    if api:
        context = make_context(settings, store, alert_state.redis, producer, writer)
        context.broker_pid = broker_pid
        services.append(ApiServer(create_app(settings, context), settings.api_host, settings.api_port))
    # First in the list, so stopped after the sources (API, demo) have stopped feeding it.
    services.insert(0, DispatcherService(make_dispatcher(settings, pipeline)))
    if settings.reports_run:
        services.append(ReportScheduleService(settings, store, alert_state.redis))
    if settings.broker_rollover != "off":
        # Every worker follows the topic generation; where the spool and the embedded broker are,
        # the topics roll over when the broker holds too much.
        follower = GenerationFollower(app, Generations(alert_state.redis, settings.app_id))
        services.append(follower)
        if spooling is not None and settings.rollover_enabled(memory_broker=drain):
            services.append(BrokerRollover(settings, spooling.parts, follower, broker_pid))
    if spooling is not None:
        services.insert(0, spooling)  # stopped last: after every source that writes to it
    if demo:
        services.append(DemoReplay(app, settings, demo_speed, writer))
    live = (
        make_live_sources(settings, writer or producer, redis=alert_state.redis)
        if settings.sources_run
        else None
    )
    if live is not None:
        services.append(live)  # a source: stopped before the pipeline drains
    worker = PantauWorker(
        app,
        *services,
        drain_seconds=settings.shutdown_drain_seconds if drain else 0.0,
        detection=pipeline.detection,
        loglevel=settings.log_level,
        quiet=True,
        redirect_stdouts=False,
        override_logging=False,
    )
    worker.spinner = None  # a terminal spinner only garbles logs and captured output

    async def _close(app: faust.App, **_: Any) -> None:
        with contextlib.suppress(Exception):
            await producer.stop()

    app.on_before_shutdown.connect(_close)  # type: ignore[arg-type]

    async def _start_producer(*_: Any, **__: Any) -> None:
        await producer.start()

    worker.loop.run_until_complete(_start_producer())
    exit_code = 0
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        exit_code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        with contextlib.suppress(Exception):
            store.client.close()
        faulthandler.cancel_dump_traceback_later()
    if worker._signal_stop_time is not None:  # stopped by SIGINT/SIGTERM: an orderly exit
        exit_code = 0
    return exit_code


class StartupInterrupt:
    """Until the worker installs its own handlers, SIGINT and SIGTERM stop start-up with a
    KeyboardInterrupt, so the engines already started are stopped and the exit is orderly.

    The interrupt can land anywhere, even inside a native extension's import, which turns it into
    an ImportError; `requested` tells the caller that whatever start-up raised came from a stop."""

    def __init__(self) -> None:
        self.requested = False

    def install(self) -> StartupInterrupt:
        def interrupt(signum: int, frame: object) -> None:
            self.requested = True
            raise KeyboardInterrupt

        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, interrupt)
        return self
