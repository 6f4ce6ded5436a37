"""The `pantau` command."""

from __future__ import annotations

import asyncio
import logging
import math
import sys
from pathlib import Path
from typing import Annotated

import typer

from config.settings import Settings, SettingsError, load_settings

app = typer.Typer(help="Pantau: a war room for political social-media teams.", no_args_is_help=True)
migrate_app = typer.Typer(help="ClickHouse schema migrations.", no_args_is_help=True)
app.add_typer(migrate_app, name="migrate")


def _settings() -> Settings:
    try:
        settings = load_settings()
    except SettingsError as exc:
        typer.echo(f"pantau: {exc}", err=True)
        raise typer.Exit(2) from None
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("aiokafka", "faust", "mode", "kafka", "httpx", "clickhouse_connect"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(settings.log_level)))
    return settings


def _parse_speed(speed: str, option: str = "--speed") -> float | None:
    if speed == "max":
        return None
    try:
        value = float(speed)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise typer.BadParameter(f"{speed!r} is not a positive number or 'max'", param_hint=option)
    return value


@app.command()
def up(
    demo: Annotated[bool, typer.Option(help="Replay the bundled demo stream once the worker is up.")] = False,
    demo_speed: Annotated[
        str, typer.Option(help="Demo replay speed: N times the posts' own clock, or 'max'.")
    ] = "240",
    api: Annotated[bool, typer.Option(help="Serve the HTTP API in the same process.")] = True,
) -> None:
    """Run everything: engines that are not configured start embedded, then worker and API."""
    from pantau.runtime import ENGINES_FILE, Embedded, StartupInterrupt, run, start_embedded

    settings = _settings()
    speed = _parse_speed(demo_speed, "--demo-speed")
    interrupt = StartupInterrupt().install()
    embedded = Embedded()
    code = 0
    try:
        settings, embedded = start_embedded(settings)
        # The embedded broker forgets everything at exit: let in-flight posts reach storage first.
        code = run(
            settings, api=api, demo=demo, demo_speed=speed, migrate=True, drain=embedded.broker is not None
        )
    except BaseException:
        if not interrupt.requested:
            raise
        typer.echo("pantau: stopped during start-up", err=True)
        code = 0
    finally:
        embedded.stop()
        (settings.data_dir / ENGINES_FILE).unlink(missing_ok=True)
    raise typer.Exit(code)


def _require_servers(settings: Settings, what: str) -> None:
    missing = [
        name
        for name, value in (
            ("PANTAU_KAFKA_BROKERS", settings.kafka_brokers),
            ("PANTAU_CLICKHOUSE_DSN", settings.clickhouse_dsn),
            ("PANTAU_REDIS_URL", settings.redis_url),
        )
        if not value
    ]
    if missing:
        typer.echo(
            f"pantau {what} runs against servers: set {', '.join(missing)} (or use `pantau up`)", err=True
        )
        raise typer.Exit(2)


@app.command()
def worker() -> None:
    """Run the stream worker alone, against Kafka, ClickHouse and Redis servers."""
    from pantau.runtime import StartupInterrupt, run

    settings = _settings()
    _require_servers(settings, "worker")
    interrupt = StartupInterrupt().install()
    try:
        code = run(settings, api=False, demo=False, demo_speed=None, migrate=False)
    except BaseException:
        if not interrupt.requested:
            raise
        typer.echo("pantau: stopped during start-up", err=True)
        code = 0
    raise typer.Exit(code)


@app.command("api")
def api_command() -> None:
    """Run the HTTP API alone, against Kafka, ClickHouse and Redis servers."""
    from pantau.runtime import serve_api

    settings = _settings()
    _require_servers(settings, "api")
    serve_api(settings)


@app.command()
def replay(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="JSONL or CSV file.")
    ],
    speed: Annotated[str, typer.Option(help="N times faster than the posts' own clock, or 'max'.")] = "max",
    source: Annotated[str, typer.Option(help="Source name recorded on each post.")] = "replay",
    rebase_now: Annotated[
        bool, typer.Option("--rebase-now", help="Shift times so the last post is now.")
    ] = False,
) -> None:
    """Send a file of posts to `posts.raw` (to PANTAU_KAFKA_BROKERS, or a running `pantau up`)."""
    from pantau.bus import RawProducer, ensure_topics
    from pantau.domain import utcnow
    from pantau.runtime import running_engines
    from streams.sources import read_rows, rebase

    replay_speed = _parse_speed(speed)
    settings = _settings()
    brokers = settings.kafka_brokers or running_engines(settings).get("kafka_brokers", "")
    if not brokers:
        typer.echo("pantau replay: no broker: set PANTAU_KAFKA_BROKERS or start `pantau up` first", err=True)
        raise typer.Exit(2)
    rows = list(read_rows(file))
    if rebase_now:
        rows = rebase(rows, utcnow())

    async def go() -> int:
        from streams.sources import replay as replay_rows

        await ensure_topics(brokers, settings.topic_partitions, settings.topic_replication)
        producer = RawProducer(brokers)
        await producer.start()
        try:
            return await replay_rows(producer, rows, speed=replay_speed, source=source)
        finally:
            await producer.stop()

    sent = asyncio.run(go())
    typer.echo(f"sent {sent} posts to posts.raw")


@migrate_app.command("up")
def migrate_up(
    to: Annotated[int | None, typer.Option(help="Stop at this version (default: the latest).")] = None,
) -> None:
    """Apply pending migrations (and the posts TTL setting)."""
    from storage.client import open_client
    from storage.migrate import Migrator, apply_posts_ttl

    settings = _settings()
    client = open_client(settings.resolved_clickhouse_dsn)
    applied = Migrator(client).up(to)
    apply_posts_ttl(client, settings.posts_ttl_days)
    for m in applied:
        typer.echo(f"applied {m.version:04d}_{m.name}")
    if not applied:
        typer.echo("schema is up to date")


@migrate_app.command("down")
def migrate_down(
    steps: Annotated[int, typer.Option(min=1, help="How many migrations to reverse.")] = 1,
) -> None:
    """Reverse the latest applied migrations."""
    from storage.client import open_client
    from storage.migrate import Migrator

    settings = _settings()
    for m in Migrator(open_client(settings.resolved_clickhouse_dsn)).down(steps):
        typer.echo(f"reversed {m.version:04d}_{m.name}")


@migrate_app.command("status")
def migrate_status() -> None:
    """List migrations and whether each is applied."""
    from storage.client import open_client
    from storage.migrate import Migrator

    settings = _settings()
    for state in Migrator(open_client(settings.resolved_clickhouse_dsn)).status():
        mark = "applied" if state.applied else "pending"
        drift = " (file changed since applied)" if state.checksum_matches is False else ""
        when = f" at {state.applied_at:%Y-%m-%d %H:%M:%S}" if state.applied_at else ""
        typer.echo(f"{state.version:04d}_{state.name}: {mark}{when}{drift}")


def main() -> None:
    app()
