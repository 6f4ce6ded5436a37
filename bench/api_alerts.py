"""The war room's reads: `GET /alerts` over a large history, and the live feed to many screens.

The API is the real app (`api.app.create_app` with `make_context`), served by uvicorn in this
process's event loop on a loopback port (`service.runtime.ApiServer`, as `pantau up` runs it), on
Valkey and chdb (a temporary directory). The HTTP clients run in a separate process, so that their
own work does not queue on the server's event loop; times on both sides come from the same
system-wide monotonic clock.

(a) `GET /alerts`: N alerts (100,000) in ClickHouse with a realistic spread: five kinds, targets
from the watchlist (and none), severities, statuses (older ones mostly resolved), times over 30
days, and two stored versions (opened, then acknowledged or resolved) for every alert that is no
longer open, written in 10,000-alert batches. Seven typical queries, each asked R times (50) one
after another after a warm-up, the two stores in turn. Baseline: the same queries on 1,000
alerts, in another database of the same chdb engine.

(b) `GET /alerts/stream` to C concurrent clients (100), each with its own connection, all
authorized: once every stream waits in Redis, M alert events (50) are published through
`AlertState.put`, one every 50 ms, through the Redis client the API uses (as in `pantau up`, where
the worker and the API share it). Delay: publish call to the event's `data:` line read by each
client. Baseline: the same with one client.

    .venv/bin/python bench/api_alerts.py [--alerts 100000] [--baseline-alerts 1000] [--requests 50]
        [--clients 100] [--events 50] [--redis-max-connections N]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import multiprocessing
import os
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from alerts.lifecycle import labels_for
from alerts.state import AlertState
from api.app import create_app, make_context
from config.settings import DEFAULT_WATCHLIST, load_settings
from config.watchlist import Priority, load_watchlist
from pantau.bus import RawProducer
from pantau.domain import Alert, AlertStatus, Severity, Signal, SignalKind, utcnow
from service.engines import ValkeyServer, free_port
from storage.client import open_client
from storage.migrate import Migrator
from storage.repository import ClickHouseStore

BATCH = 10_000
EVENT_INTERVAL = 0.05
NOW = utcnow().replace(microsecond=0)  # the history ends here (each process has its own: see QUERIES)
DAY = NOW - timedelta(days=10)
QUERIES: dict[str, dict[str, str]] = {  # built in the parent and handed to the client process
    "default listing": {},
    "status=open": {"status": "open"},
    "severity=critical": {"severity": "critical"},
    "target=raka-wibisana": {"target": "raka-wibisana"},
    "since/until one day": {"since": DAY.isoformat(), "until": (DAY + timedelta(days=1)).isoformat()},
    "sort=-severity": {"sort": "-severity"},
    "offset=1000": {"offset": "1000"},
}
KINDS = (
    (SignalKind.volume_burst, 45),
    (SignalKind.emerging_topic, 20),
    (SignalKind.sentiment_shift, 15),
    (SignalKind.stance_shift, 10),
    (SignalKind.coordinated_posting, 10),
)


# -- data -------------------------------------------------------------------------------------------
def make_alert(
    rng: random.Random, serial: str, priorities: dict[str, Priority]
) -> tuple[Alert, Alert | None]:
    """An alert as first stored (open) and, unless it is still open, its later version."""
    kind = rng.choices([k for k, _ in KINDS], [w for _, w in KINDS])[0]
    target = rng.choice([*priorities, "", ""])
    if kind in (SignalKind.sentiment_shift, SignalKind.stance_shift) or (
        kind == SignalKind.volume_burst and target and rng.random() < 0.6
    ):
        target = target or rng.choice(list(priorities))
        key_kind, key = "target", target
    elif kind == SignalKind.volume_burst:
        key_kind, key = "hashtag", f"tagar{rng.randrange(800)}"
    else:
        key_kind = "topic" if kind == SignalKind.emerging_topic else "text"
        key = hashlib.blake2b(f"{serial}-key".encode(), digest_size=8).hexdigest()
    severity = rng.choices(list(Severity), [45, 40, 15])[0]
    created = NOW - timedelta(seconds=rng.uniform(0, 30 * 86400))
    first_seen = created - timedelta(minutes=rng.uniform(1, 10))
    last_seen = min(NOW, created + timedelta(minutes=rng.uniform(0, 120)))
    recent = NOW - created < timedelta(days=1)
    status = rng.choices(list(AlertStatus), [50, 30, 20] if recent else [3, 7, 90])[0]
    count = rng.randrange(8, 2000)
    priority = priorities.get(target, Priority.normal)
    signal = Signal(
        id=serial, kind=kind, key_kind=key_kind, key=key, target=target, window_start=first_seen,
        window_end=last_seen, numbers={}, detected_at=created,
    )  # fmt: skip
    opened = Alert(
        id=hashlib.blake2b(serial.encode(), digest_size=10).hexdigest(),
        fingerprint=hashlib.blake2b(f"{kind}|{key_kind}|{key}".encode(), digest_size=8).hexdigest(),
        kind=kind,
        key_kind=key_kind,
        key=key,
        target=target,
        severity=severity,
        title=f"{kind.value.replace('_', ' ').capitalize()} on {target or key}: {count} posts",
        summary=f"{count} posts by {count // 3 + 1} accounts in the window",
        numbers={"count": float(count), "ratio": rng.uniform(2, 30), "window_seconds": 300.0},
        evidence=tuple(f"x:{rng.randrange(10**12)}" for _ in range(rng.randrange(5, 51))),
        signal_ids=tuple(f"{serial}-{n}" for n in range(rng.randrange(1, 9))),
        first_seen=first_seen,
        last_seen=last_seen,
        created_at=created,
        updated_at=created,
        labels=labels_for(signal, severity, priority),
        assignee=rng.choice(["", "", "", "", "dina", "bayu"]),
    )
    if status == AlertStatus.open:
        return opened, None
    # Later than the opened version (ReplacingMergeTree keeps the newest) and not in the future.
    later_than = created + timedelta(microseconds=1)
    acked_at = max(later_than, min(NOW, created + timedelta(minutes=rng.uniform(1, 30))))
    later: dict[str, Any] = {
        "status": status,
        "acked_by": "desk",
        "acked_at": acked_at,
        "updated_at": acked_at,
    }
    if status == AlertStatus.resolved:
        resolved_at = max(later_than, min(NOW, last_seen + timedelta(minutes=rng.uniform(1, 30))))
        later |= {"resolved_by": rng.choice(["pantau", "desk"]), "resolved_at": resolved_at,
                  "updated_at": max(acked_at, resolved_at)}  # fmt: skip
    return opened, opened.model_copy(update=later)


def fill(store: ClickHouseStore, n: int, tag: str, seed: int) -> int:
    """Store n alerts (in BATCH-alert chunks: the opened versions, then the later ones); returns
    the rows written."""
    watchlist = load_watchlist(DEFAULT_WATCHLIST)
    priorities = {t.id: t.priority_rank for t in watchlist.targets}
    rng = random.Random(seed)
    rows = 0
    for start in range(0, n, BATCH):
        pairs = [make_alert(rng, f"{tag}{i}", priorities) for i in range(start, min(n, start + BATCH))]
        pairs.sort(key=lambda pair: pair[0].created_at)
        later = [b for _, b in pairs if b is not None]
        store.upsert_alerts([a for a, _ in pairs], event=None)
        store.upsert_alerts(later, event=None)
        rows += len(pairs) + len(later)
    return rows


# -- the clients (a separate process) --------------------------------------------------------------
def run_queries(
    conn: Connection,
    bases: list[str],
    key: str,
    queries: dict[str, dict[str, str]],
    requests: int,
    warmup: int,
) -> None:
    """For each query, `warmup` then `requests` sequential GETs, the bases in turn; sends back
    {base: {query: [seconds]}}, and the failures."""

    async def go() -> tuple[dict[str, dict[str, list[float]]], list[str]]:
        times: dict[str, dict[str, list[float]]] = {base: {name: [] for name in queries} for base in bases}
        failures: list[str] = []
        auth = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(headers=auth, timeout=60) as client:
            for name, params in queries.items():
                for i in range(warmup + requests):
                    for base in bases:
                        started = time.perf_counter()
                        response = await client.get(f"{base}/alerts", params=params)
                        took = time.perf_counter() - started
                        if response.status_code != 200:
                            failures.append(f"{name}: HTTP {response.status_code} {response.text[:200]}")
                        elif i >= warmup:
                            times[base][name].append(took)
        return times, failures

    conn.send(asyncio.run(go()))
    conn.close()


def run_streams(conn: Connection, base: str, key: str, clients: int, events: int, tag: str) -> None:
    """`clients` concurrent SSE connections. Tells the parent ("settled", connected, errors) once
    each has its response (or failed), then collects until each has `events` events of `tag` or
    until 5 s after the parent says it has published; sends back, per client, [(alert id, time)]."""

    async def go() -> tuple[list[list[tuple[str, float]]], list[str]]:
        received: list[list[tuple[str, float]]] = [[] for _ in range(clients)]
        errors: list[str] = []
        settled: set[int] = set()
        all_settled = asyncio.Event()

        def settle(i: int) -> None:
            settled.add(i)
            if len(settled) == clients:
                all_settled.set()

        async def one(i: int) -> None:
            auth = {"Authorization": f"Bearer {key}"}
            try:
                async with (
                    httpx.AsyncClient(base_url=base, headers=auth, timeout=60) as client,
                    client.stream("GET", "/alerts/stream") as response,
                ):
                    if response.status_code != 200:
                        errors.append(f"client {i}: HTTP {response.status_code}")
                        settle(i)
                        return
                    settle(i)
                    async for line in response.aiter_lines():
                        if line.startswith("data:"):
                            at = time.perf_counter()
                            alert_id = orjson.loads(line[5:])["alert"]["id"]
                            if alert_id.startswith(tag):
                                received[i].append((alert_id, at))
                                if len(received[i]) >= events:
                                    return
            except (httpx.HTTPError, OSError) as exc:
                errors.append(f"client {i}: {type(exc).__name__}: {exc}")
                settle(i)

        tasks = [asyncio.create_task(one(i)) for i in range(clients)]
        await asyncio.wait_for(all_settled.wait(), 60)
        conn.send(("settled", clients - len(errors), list(errors)))
        await asyncio.to_thread(conn.recv)  # "published"
        await asyncio.wait(tasks, timeout=5)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return received, errors

    conn.send(asyncio.run(go()))
    conn.close()


def receive(conn: Connection, seconds: float) -> Any:
    if not conn.poll(seconds):
        raise RuntimeError(f"the client process said nothing within {seconds:.0f} s")
    return conn.recv()


# -- the measurements ------------------------------------------------------------------------------
def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def ms(values: Sequence[float], q: float) -> str:
    return f"{pct(values, q) * 1000:7.1f}" if values else "      -"


async def stream_phase(
    mp: Any, state: AlertState, probe: Redis, base: str, key: str, clients: int, events: int, tag: str
) -> dict[str, Any]:
    parent, child = mp.Pipe()
    process = mp.Process(target=run_streams, args=(child, base, key, clients, events, tag))
    process.start()
    try:
        _, connected, errors = await asyncio.to_thread(receive, parent, 90)
        # Every stream has asked Redis for what comes after "now" once it blocks in XREAD.
        deadline = time.monotonic() + 15
        blocked = 0
        while time.monotonic() < deadline:
            blocked = int((await probe.info("clients"))["blocked_clients"])
            if blocked >= connected:
                break
            await asyncio.sleep(0.01)
        published: dict[str, float] = {}
        refused: list[str] = []
        started = time.perf_counter()
        for i in range(events):
            await asyncio.sleep(max(0.0, started + i * EVENT_INTERVAL - time.perf_counter()))
            alert = feed_alert(f"{tag}{i:04d}")
            at = time.perf_counter()
            try:
                await state.put(alert, event="updated")
            except RedisError as exc:
                refused.append(f"{type(exc).__name__}: {exc}")
            else:
                published[alert.id] = at
        parent.send("published")
        received, errors = await asyncio.to_thread(receive, parent, 60)
    finally:
        process.join(10)
        if process.is_alive():
            process.kill()
    delays, missing, disorder = [], 0, 0
    for got in received:
        order = [int(alert_id[len(tag) :]) for alert_id, _ in got]
        missing += len(published) - len(set(order))
        disorder += sum(1 for a, b in itertools.pairwise(order) if b <= a)
        delays += [at - published[alert_id] for alert_id, at in got]
    return {"connected": connected, "blocked": blocked, "errors": errors, "delays": delays,
            "missing": missing, "disorder": disorder, "published": len(published),
            "refused": refused}  # fmt: skip


def feed_alert(alert_id: str) -> Alert:
    return Alert(
        id=alert_id, fingerprint=alert_id, kind=SignalKind.volume_burst, key_kind="hashtag", key=alert_id,
        severity=Severity.warning, title=f"Volume burst on #{alert_id}", numbers={"count": 40.0},
        first_seen=NOW, last_seen=NOW, created_at=NOW, updated_at=utcnow(),
        labels={"kind": "volume_burst", "key_kind": "hashtag", "key": alert_id, "severity": "warning"},
    )  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--baseline-alerts", type=int, default=1_000)
    parser.add_argument("--requests", type=int, default=50, help="timed requests per query and store")
    parser.add_argument("--warmup", type=int, default=5, help="untimed requests per query and store first")
    parser.add_argument("--clients", type=int, default=100, help="concurrent SSE clients")
    parser.add_argument("--events", type=int, default=50, help="alert events published, one per 50 ms")
    parser.add_argument(
        "--redis-max-connections",
        type=int,
        help="pool size of the API's Redis client (default: redis-py's, as the app makes it)",
    )
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()

    # Here, not at the top: the client processes import this module again and need none of it.
    from service.runtime import ApiServer

    mp = multiprocessing.get_context("spawn")  # chdb is open in this process: no fork
    data = Path(tempfile.mkdtemp(prefix="pantau-bench-api-"))
    dsn = f"chdb://{data / 'clickhouse'}"
    admin_key = secrets.token_urlsafe(24)
    big = open_client(dsn, database="alerts_large")
    small = open_client(dsn, database="alerts_small")
    try:
        with ValkeyServer() as valkey:
            assert isinstance(valkey, ValkeyServer)
            # A limit high enough never to refuse, so the limiter's Redis call is still made per request.
            settings = load_settings(redis_url=valkey.url, clickhouse_dsn=dsn, data_dir=data,
                                     admin_key=admin_key, api_rate_limit_per_minute=10_000_000)  # fmt: skip
            filled = time.perf_counter()
            rows = {}
            for client, n, tag in ((big, args.alerts, "L"), (small, args.baseline_alerts, "S")):
                await asyncio.to_thread(Migrator(client).up)
                rows[tag] = await asyncio.to_thread(fill, ClickHouseStore(client), n, tag, args.seed)
            filled = time.perf_counter() - filled
            parts = big.command(
                "SELECT count() FROM system.parts WHERE database = 'alerts_large' AND table = 'alerts' "
                "AND active"
            )
            # The API's client, made as api.app and service.runtime make it (unless the pool size is
            # given), and shared with the publisher as `pantau up` shares it with the worker.
            pool = (
                {} if args.redis_max_connections is None else {"max_connections": args.redis_max_connections}
            )
            redis = Redis.from_url(valkey.url, **pool)
            pool_size = redis.connection_pool.max_connections
            probe = Redis.from_url(valkey.url)  # for INFO only: not from the pool under test
            # GET /alerts and the stream never touch the producer: it is left unstarted, so any use fails.
            producer = RawProducer("127.0.0.1:9092")
            servers = []
            try:
                bases = {}
                for client, tag in ((big, "L"), (small, "S")):
                    port = free_port()
                    context = make_context(settings, ClickHouseStore(client), redis, producer)
                    servers.append(ApiServer(create_app(settings, context), "127.0.0.1", port))
                    await servers[-1].start()
                    bases[tag] = f"http://127.0.0.1:{port}"

                parent, child = mp.Pipe()
                process = mp.Process(
                    target=run_queries,
                    args=(child, [bases["L"], bases["S"]], admin_key, QUERIES, args.requests, args.warmup),
                )
                process.start()
                times, failures = await asyncio.to_thread(receive, parent, 600)
                process.join(10)

                state = AlertState(redis)
                streams = [
                    await stream_phase(mp, state, probe, bases["L"], admin_key, n, args.events, tag)
                    for n, tag in ((1, "sseone"), (args.clients, "ssemany"))
                ]
            finally:
                for server in servers:
                    await server.stop()
                await redis.aclose()
                await probe.aclose()
    finally:
        big.close()
        small.close()
        shutil.rmtree(data, ignore_errors=True)

    print("API on a loopback port (uvicorn in this process's loop, as `pantau up`); Valkey and chdb "
          f"embedded; the HTTP clients in a separate process; {os.cpu_count()} cores")  # fmt: skip
    print(f"(a) GET /alerts, limit 50: {args.alerts:,} alerts ({rows['L']:,} rows, {parts} active parts) "
          f"vs {args.baseline_alerts:,} ({rows['S']:,} rows); stored in {filled:.1f} s; "
          f"{args.requests} requests per query after {args.warmup} warm-up")  # fmt: skip
    report_queries(times[bases["L"]], times[bases["S"]], failures)
    print(f"(b) GET /alerts/stream: {args.events} events, one per {EVENT_INTERVAL * 1000:.0f} ms, "
          f"published with AlertState.put; the API's Redis pool: at most {pool_size} "
          "connections")  # fmt: skip
    one, many = streams
    report_stream("1 client (baseline)", one, 1)
    report_stream(f"{args.clients} clients", many, args.clients)
    if one["delays"] and many["delays"]:
        ratio = pct(many["delays"], 95) / pct(one["delays"], 95)
        print(f"  ratio p95 {args.clients} clients / 1 client: {ratio:.1f}x")


def report_queries(
    large: dict[str, list[float]], baseline: dict[str, list[float]], failures: list[str]
) -> None:
    print(f"  {'query':<22} {'p50 large':>10} {'p95 large':>10} {'p50 base':>10} {'p95 base':>10} "
          f"{'p95 ratio':>10}")  # fmt: skip
    rows = [(name, large[name], baseline[name]) for name in QUERIES]
    rows.append(("all queries", [t for _, a, _ in rows for t in a], [t for _, _, b in rows for t in b]))
    for name, a, b in rows:
        ratio = f"{pct(a, 95) / pct(b, 95):9.1f}x" if a and b else "         -"
        print(f"  {name:<22} {ms(a, 50)} ms {ms(a, 95)} ms {ms(b, 50)} ms {ms(b, 95)} ms {ratio}")
    if failures:
        print(f"  failed requests: {len(failures)}, e.g. {failures[0]}")


def report_stream(label: str, phase: dict[str, Any], clients: int) -> None:
    delays = phase["delays"]
    mean = statistics.fmean(delays) * 1000 if delays else 0.0
    complete = (
        phase["missing"] == 0
        and phase["disorder"] == 0
        and phase["connected"] == clients
        and not phase["refused"]
    )
    got = (
        f"delay p50 {ms(delays, 50).strip()} ms, p95 {ms(delays, 95).strip()} ms, max "
        f"{max(delays) * 1000:.1f} ms, mean {mean:.1f} ms over {len(delays)} (client, event) pairs"
        if delays
        else "no event delivered"
    )
    connected = f"connected {phase['connected']}/{clients} (blocked in XREAD {phase['blocked']})"
    print(f"  {label:<20} {connected}; {got}")
    print(f"  {'':<20} every client got every event in order: {'yes' if complete else 'NO'} "
          f"(missing {phase['missing']}, out of order {phase['disorder']})")  # fmt: skip
    if phase["refused"]:
        print(f"  {'':<20} publishes refused by the API's Redis client: {len(phase['refused'])} of "
              f"{len(phase['refused']) + phase['published']}, e.g. {phase['refused'][0]}")  # fmt: skip
    for error in phase["errors"][:3]:
        print(f"  {'':<20} client error: {error}")
    if len(phase["errors"]) > 3:
        print(f"  {'':<20} ... and {len(phase['errors']) - 3} more errors")


if __name__ == "__main__":
    asyncio.run(main())
