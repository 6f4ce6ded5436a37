"""`pantau sources` (list, test) and `pantau collect NAME`: the live sources of `config/sources.yaml`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated

import typer

from config.settings import Settings
from config.sources import SourcesConfig, SourcesConfigError, load_sources
from service.console import settings_or_exit

sources_app = typer.Typer(
    help="Live sources (config/sources.yaml): list them, or try one and print what it brings.",
    no_args_is_help=True,
)


def sources_or_exit(settings: Settings) -> SourcesConfig:
    """The sources file, checked; exit 2 naming the file, line and field when it is bad."""
    try:
        return load_sources(settings.sources_path)
    except SourcesConfigError as exc:
        typer.echo(f"pantau: {exc}", err=True)
        raise typer.Exit(2) from None


@sources_app.command("list")
def list_sources() -> None:
    """Each configured source: name, kind, whether it runs, and where it reads."""
    settings = settings_or_exit()
    config = sources_or_exit(settings)
    if not config.sources:
        typer.echo(f"no sources in {settings.sources_path}")
        return
    for source in config.sources:
        state = "enabled" if source.enabled else "disabled"
        typer.echo(f"{source.name}\t{source.kind}\t{state}\tmatch={source.match}")
        for endpoint in source.endpoints:
            typer.echo(f"  {endpoint}")


class PrintingSink:
    """Prints each post as the pipeline would normalise it, up to `limit`; a bad one as its reason."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.printed = 0

    async def send_many(self, values: Iterable[bytes]) -> int:
        from pantau.normalise import InvalidPost, normalise

        count = 0
        for value in values:
            count += 1
            if self.printed >= self.limit:
                continue
            self.printed += 1
            try:
                typer.echo(normalise(value).model_dump_json(exclude={"raw"}))
            except InvalidPost as exc:
                typer.echo(json.dumps({"dead_letter": str(exc)}, ensure_ascii=False))
        return count


@sources_app.command("test")
def test_source(
    name: Annotated[str, typer.Argument(help="The source's name in config/sources.yaml.")],
    limit: Annotated[int, typer.Option(min=1, help="Print at most this many posts.")] = 5,
) -> None:
    """Read the source once; print its first posts as JSON lines and exit 0, or print what failed
    (network, http, auth, not_a_feed, config) and exit 2. Nothing reaches the pipeline."""
    from config.watchlist import load_watchlist
    from storage.positions import Positions
    from streams.connectors import build_connector
    from streams.connectors.bluesky import JetstreamConnector
    from streams.connectors.retry import SourceError

    settings = settings_or_exit()
    config = sources_or_exit(settings)
    source = config.get(name)
    if source is None:
        known = ", ".join(s.name for s in config.sources) or "none"
        typer.echo(
            f"pantau sources test: config: no source {name!r} in {settings.sources_path} (known: {known})",
            err=True,
        )
        raise typer.Exit(2)
    sink = PrintingSink(limit)

    async def once() -> int:
        # Positions of a throwaway folder: a test marks nothing as read for the real run.
        with tempfile.TemporaryDirectory(prefix="pantau-source-test-") as folder:
            positions = Positions(Path(folder) / "positions.sqlite3")
            connector = build_connector(source, sink, positions, load_watchlist(settings.watchlist_path))
            try:
                return (
                    await connector.poll(limit)
                    if isinstance(connector, JetstreamConnector)
                    else await connector.poll()
                )
            finally:
                await connector.aclose()
                positions.close()

    try:
        sent = asyncio.run(once())
    except SourceError as exc:
        typer.echo(f"pantau sources test: {name}: {exc.kind}: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{name}: {sent} posts passed the filter, {sink.printed} printed", err=True)


def collect(
    name: Annotated[str, typer.Argument(help="The source's name in config/sources.yaml.")],
) -> None:
    """Run one source as its own process, writing to the configured Kafka (acks=all) until stopped."""
    from redis.asyncio import Redis

    from pantau.bus import RawProducer
    from service.runtime import make_live_sources

    settings = settings_or_exit()
    if not settings.kafka_brokers:
        typer.echo("pantau collect writes to a Kafka server: set PANTAU_KAFKA_BROKERS", err=True)
        raise typer.Exit(2)
    config = sources_or_exit(settings)
    if config.get(name) is None:
        typer.echo(f"pantau collect: no source {name!r} in {settings.sources_path}", err=True)
        raise typer.Exit(2)

    async def run() -> None:
        producer = RawProducer(settings.kafka_brokers)
        await producer.start()
        # Its health goes to Redis, where GET /sources of the API finds it.
        redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
        live = make_live_sources(settings, producer, only=name, redis=redis)
        assert live is not None  # the name was checked above
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stopping.set)
        await live.start()
        try:
            await stopping.wait()
        finally:
            await live.stop()
            with contextlib.suppress(Exception):
                await producer.stop()
            if redis is not None:
                await redis.aclose()

    asyncio.run(run())
    print(f"pantau collect: {name} stopped", file=sys.stderr)
