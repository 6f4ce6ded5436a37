"""`pantau keys`: add, list and revoke the API keys the HTTP API accepts.

The keys live in Redis: the configured server (PANTAU_REDIS_URL), else the Valkey of a `pantau up`
running on this data directory, else an embedded Valkey started on the data directory's
append-only file for the one command, so keys made before the first `pantau up` are there when it
starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated, TypeVar

import typer
from redis.asyncio import Redis
from redis.exceptions import BusyLoadingError, RedisError

from api.auth import ApiKey, KeyStore, Role
from config.settings import Settings
from service.console import settings_or_exit

T = TypeVar("T")

keys_app = typer.Typer(
    help="API keys: add, list and revoke the keys the HTTP API accepts (roles viewer, responder, admin).",
    no_args_is_help=True,
)


def _valkey_alive(pids: object) -> bool:
    from service.engines import is_engine_process

    return isinstance(pids, list) and any(isinstance(pid, int) and is_engine_process(pid) for pid in pids)


@contextlib.contextmanager
def _redis_url(settings: Settings) -> Iterator[str]:
    """The Redis the keys live in, started for the command when nothing else provides one."""
    if settings.redis_url:
        yield settings.redis_url
        return
    from service.engines import ENGINES_FILE, EngineError, ValkeyServer, running_engines

    published = running_engines(settings)
    if published.get("redis_url"):
        if _answers(published["redis_url"]):
            yield published["redis_url"]
            return
        if _valkey_alive(published.get("pids")):
            # Its engines still run: a second Valkey on the same append-only file would corrupt it.
            typer.echo(
                f"pantau: the Valkey of the running `pantau up` ({published['redis_url']}) does not answer; "
                f"try again, or stop it (its engines are listed in {settings.data_dir / ENGINES_FILE})",
                err=True,
            )
            raise typer.Exit(1)
    logs = settings.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    valkey = ValkeyServer(
        data_dir=settings.data_dir / "valkey", log_path=logs / "valkey.log", die_with_parent=True
    )
    try:
        valkey.start()
    except EngineError as exc:
        typer.echo(f"pantau: could not start the embedded Valkey: {exc}", err=True)
        raise typer.Exit(1) from None
    try:
        yield valkey.url
    finally:
        valkey.stop()  # SIGTERM: Valkey writes and syncs its append-only file before it exits


def _answers(url: str) -> bool:
    async def ping() -> bool:
        redis = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        try:
            return bool(await redis.ping())
        except RedisError:
            return False
        finally:
            await redis.aclose()

    return asyncio.run(ping())


def _with_store(settings: Settings, action: Callable[[KeyStore], Awaitable[T]]) -> T:
    """Run `action` against the key store, turning an unreachable Redis into a one-line error."""

    async def run(url: str) -> T:
        redis = Redis.from_url(url, socket_connect_timeout=5)
        try:
            for _ in range(50):  # a Valkey just started may still be loading its append-only file
                try:
                    await redis.ping()
                    break
                except BusyLoadingError:
                    await asyncio.sleep(0.1)
            return await action(KeyStore(redis, cache_seconds=0))
        finally:
            await redis.aclose()

    with _redis_url(settings) as url:
        try:
            return asyncio.run(run(url))
        except RedisError as exc:
            typer.echo(f"pantau: Redis at {url} failed: {type(exc).__name__}: {exc}", err=True)
            raise typer.Exit(1) from None


@keys_app.command("add")
def add_key(
    name: Annotated[str, typer.Argument(help="Who or what uses the key: 1-64 of A-Z a-z 0-9 _ . @ -")],
    role: Annotated[
        Role, typer.Option(help="What the key may do; each role includes the ones before it.")
    ] = Role.viewer,
) -> None:
    """Create a key. The key is printed once, alone on the last line of the output: store it now."""
    settings = settings_or_exit()
    try:
        record, key = _with_store(settings, lambda store: store.add(name, role))
    except ValueError as exc:
        typer.echo(f"pantau: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(
        f"added key {record.name!r} (id {record.id}, role {record.role}); it is shown only once:", err=True
    )
    typer.echo(key)


@keys_app.command("list")
def list_keys(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array, for scripts.")] = False,
) -> None:
    """Every key, revoked ones included (never the secrets or their hashes)."""
    settings = settings_or_exit()
    records: list[ApiKey] = _with_store(settings, lambda store: store.list())
    if as_json:
        typer.echo(json.dumps([record.public() for record in records], indent=2))
        return
    rows = [("ID", "NAME", "ROLE", "CREATED", "REVOKED")] + [
        (
            r.id,
            r.name,
            str(r.role),
            r.created_at.strftime("%Y-%m-%d %H:%M:%SZ"),
            r.revoked_at.strftime("%Y-%m-%d %H:%M:%SZ") if r.revoked_at else "-",
        )
        for r in records
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


@keys_app.command("revoke")
def revoke_key(
    id_or_name: Annotated[str, typer.Argument(help="The key's id, or the name of an active key.")],
) -> None:
    """Revoke a key: API processes refuse it within seconds (they cache a verified key briefly)."""
    settings = settings_or_exit()
    try:
        record = _with_store(settings, lambda store: store.revoke(id_or_name))
    except KeyError:
        typer.echo(f"pantau: no key with id, or active key with name, {id_or_name!r}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"revoked key {record.name!r} (id {record.id})")
