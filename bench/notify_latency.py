"""Signal to notification delivered: how long a rapid-response desk waits for a critical alert.

Everything is on loopback in one process, as `pantau up` runs it: Valkey, chdb (migrated, in a
temporary directory), the dispatcher with its notifier, and an HTTP/1.1 receiver written here that
answers 200 and records when each POST arrived (it checks the signature too). The alerting rules
send critical alerts with `group_wait: 0s` to a receiver with one signed webhook, grouped by key,
so each alert is a group of its own.

Each signal is a volume burst on a key of its own about a critical-priority target with a large
ratio, the facet of a new issue (a critical alert). The clock runs from just before
`streams.app.handle_issue_event` (the worker's alert agent with an issue that pages: Redis, then
ClickHouse) until the receiver has read the webhook naming the alert.

- woken: `Dispatcher.run()`, which steps at its tick and as soon as an alert is published;
- woken, pairs: two signals 2 ms apart, so the second is published while the dispatcher steps
  for the first (a storm's first seconds); the second one's latency is reported;
- baseline, polled: the same dispatcher stepped only at its tick (what `run()` does without the
  pub/sub wake-up). Signals come at random moments of the tick, so the wait is about half a tick.

    .venv/bin/python bench/notify_latency.py [--signals 200] [--pairs 20] [--baseline-signals 50]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, cast

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson
from redis.asyncio import Redis

from alerts.channels import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature
from alerts.dispatcher import AlertingSource, Dispatcher, SilenceStore
from alerts.issue_store import IssueStore
from alerts.issues import alert_id_for
from alerts.notifiers import Notifier
from alerts.state import CHANNEL, AlertState
from config.settings import DEFAULT_WATCHLIST
from config.watchlist import load_watchlist
from detectors.issues import IssueEvent
from pantau.domain import Issue, IssueFacet, IssueStatus, Signal, SignalKind, utcnow
from service.engines import ValkeyServer, free_port
from storage.client import open_client
from storage.migrate import Migrator
from storage.repository import ClickHouseStore
from streams.app import handle_issue_event

if TYPE_CHECKING:
    from streams.app import Pipeline

TARGET = "raka-wibisana"  # priority: critical in config/watchlist.yaml
GOAL_P95_MS = 1000.0

ALERTING = """
route:
  receiver: desk
  group_by: [kind, key]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 2h
  routes:
    - matchers: ['severity="critical"']
      group_wait: 0s
      group_interval: 1m
      repeat_interval: 30m
receivers:
  - name: desk
    language: id
    channels:
      - type: webhook
        url: http://127.0.0.1:{port}/hook
        secret: ${{BENCH_WEBHOOK_SECRET}}
"""


class Receiver:
    """A minimal HTTP/1.1 server (keep-alive, Content-Length bodies) that answers every request
    with 200 and records when each webhook naming an alert arrived."""

    def __init__(self, secret: str) -> None:
        self.secret = secret.encode()
        self.port = free_port()
        self.waiting: dict[str, asyncio.Future[float]] = {}
        self.received = 0
        self.bad_signatures = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in self._writers:
                writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    def expect(self, alert_id: str) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiting[alert_id] = future
        return future

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while await reader.readline():
                headers: dict[str, str] = {}
                while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                arrived = time.perf_counter()
                self._record(headers, body, arrived)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    def _record(self, headers: dict[str, str], body: bytes, arrived: float) -> None:
        self.received += 1
        timestamp = headers.get(TIMESTAMP_HEADER.lower(), "")
        if not verify_signature(self.secret, timestamp, body, headers.get(SIGNATURE_HEADER.lower(), "")):
            self.bad_signatures += 1
        for alert in orjson.loads(body).get("firing", []):
            future = self.waiting.pop(alert["id"], None)
            if future is not None and not future.done():
                future.set_result(arrived)


def burst(tag: str, i: int) -> IssueEvent:
    """A new issue that pages with one burst about the critical target."""
    now = utcnow()
    start = now - timedelta(minutes=5)
    key = f"bench{tag}{i}"
    facet = IssueFacet(
        signal_id=Signal.make_id(SignalKind.volume_burst, "hashtag", key, start),
        kind=SignalKind.volume_burst,
        key_kind="hashtag",
        key=key,
        target=TARGET,
        window_start=start,
        window_end=now,
        numbers={"count": 240.0, "ratio": 12.0, "window_seconds": 300.0},
    )
    issue = Issue(
        id=key,
        status=IssueStatus.live,
        label=(f"#{key}", "kartu pangan"),
        targets=(TARGET,),
        first_post_at=start,
        first_posts=tuple(f"x:{tag}{i}-{n}" for n in range(5)),
        opened_at=now,
        paged_at=now,
        last_activity=now,
        posts=240,
        accounts=200,
        voices=180,
        reposts=20,
        rate_per_hour=2880.0,
        baseline_per_hour=240.0,
        growth=12.0,
        scale_seconds=300,
        facets=(facet,),
    )
    return IssueEvent("opened", issue, "bench")


async def measure(
    pipe: Pipeline, receiver: Receiver, tag: str, n: int, pause: float, rng: random.Random
) -> tuple[list[float], list[float], int]:
    """Latencies (ms) from handle_issue_event to webhook, the time it took (ms), and misses."""
    latencies, handling, missed = [], [], 0
    for i in range(n):
        await asyncio.sleep(rng.uniform(0, pause))
        event = burst(tag, i)
        alert_id = alert_id_for(event.issue.id)
        arrived = receiver.expect(alert_id)
        started = time.perf_counter()
        await handle_issue_event(pipe, event)
        handling.append((time.perf_counter() - started) * 1000)
        try:
            latencies.append((await asyncio.wait_for(arrived, 10.0) - started) * 1000)
        except TimeoutError:
            receiver.waiting.pop(alert_id, None)
            missed += 1
    return latencies, handling, missed


async def measure_pairs(
    pipe: Pipeline, receiver: Receiver, n: int, gap: float, pause: float, rng: random.Random
) -> list[float]:
    """Latencies (ms) of the second of two signals `gap` seconds apart."""
    latencies = []
    for i in range(n):
        await asyncio.sleep(rng.uniform(0, pause))
        first, second = burst("pairA", i), burst("pairB", i)
        arrivals = (
            receiver.expect(alert_id_for(first.issue.id)),
            receiver.expect(alert_id_for(second.issue.id)),
        )
        _, started = await asyncio.gather(handle_issue_event(pipe, first), handle_later(pipe, second, gap))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(arrivals[0], 10.0)
            latencies.append((await asyncio.wait_for(arrivals[1], 10.0) - started) * 1000)
    return latencies


async def handle_later(pipe: Pipeline, event: IssueEvent, delay: float) -> float:
    """handle_issue_event after `delay` seconds; returns when it started (perf_counter)."""
    await asyncio.sleep(delay)
    started = time.perf_counter()
    await handle_issue_event(pipe, event)
    return started


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def summary(values: list[float]) -> str:
    if not values:
        return "no deliveries"
    return (
        f"p50 {pct(values, 50):7.1f}  p95 {pct(values, 95):7.1f}  p99 {pct(values, 99):7.1f}  "
        f"max {max(values):7.1f} ms  (mean {statistics.fmean(values):.1f}, n={len(values)})"
    )


async def wait_until(check: Callable[[], Awaitable[bool]], what: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--signals", type=int, default=200, help="signals with the woken dispatcher")
    parser.add_argument("--pairs", type=int, default=20, help="pairs of signals 2 ms apart (woken)")
    parser.add_argument("--baseline-signals", type=int, default=50, help="signals with the polled one")
    parser.add_argument("--tick", type=float, default=1.0, help="the dispatcher's tick in seconds")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    data = Path(tempfile.mkdtemp(prefix="pantau-bench-notify-"))
    secret = secrets.token_hex(16)
    rng = random.Random(args.seed)
    receiver = Receiver(secret)
    await receiver.start()
    (data / "alerting.yaml").write_text(ALERTING.format(port=receiver.port), encoding="utf-8")
    source = AlertingSource(data / "alerting.yaml", environ={"BENCH_WEBHOOK_SECRET": secret})
    client = open_client(f"chdb://{data / 'clickhouse'}", database="notify")
    try:
        with ValkeyServer() as valkey:
            assert isinstance(valkey, ValkeyServer)
            await asyncio.to_thread(Migrator(client).up)
            store = ClickHouseStore(client)
            redis = Redis.from_url(valkey.url)
            state = AlertState(redis)
            watchlist = load_watchlist(DEFAULT_WATCHLIST)
            # What handle_issue_event reads of the worker's Pipeline.
            issues = SimpleNamespace(store=IssueStore(redis, "bench"))
            pipe = cast(
                "Pipeline",
                SimpleNamespace(
                    alert_state=state, store=store, watchlist=watchlist, alerting=source, issues=issues
                ),
            )
            notifier = Notifier()

            def dispatcher() -> Dispatcher:
                return Dispatcher(alert_state=state, silences=SilenceStore(redis), store=store,
                                  notifier=notifier, source=source, tick_seconds=args.tick)  # fmt: skip

            async def subscribed() -> bool:
                counts = await redis.pubsub_numsub(CHANNEL)
                return bool(counts and counts[0][1] >= 1)

            try:
                # Warm-up (imports, templates, connections, the first chdb inserts): not counted.
                woken = dispatcher()
                running = asyncio.create_task(woken.run())
                await wait_until(subscribed, "the dispatcher's subscription")
                await measure(pipe, receiver, "warm", 5, 0.0, rng)
                woken_ms, woken_handle_ms, woken_missed = await measure(
                    pipe, receiver, "woken", args.signals, 0.05, rng
                )
                pairs_ms = await measure_pairs(pipe, receiver, args.pairs, 0.002, 0.05, rng)
                running.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await running
                await redis.flushdb()

                polled = dispatcher()

                async def poll() -> None:
                    while True:  # Dispatcher.run() with no wake-up: a step, then a tick's wait
                        await polled.step()
                        await asyncio.sleep(args.tick)

                polling = asyncio.create_task(poll())
                polled_ms, _, polled_missed = await measure(
                    pipe, receiver, "polled", args.baseline_signals, args.tick, rng
                )
                polling.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await polling
                await polled.drain()
            finally:
                await notifier.aclose()
                await redis.aclose()
    finally:
        await receiver.stop()
        client.close()
        shutil.rmtree(data, ignore_errors=True)

    print(f"signal -> webhook delivered, on loopback; Valkey and chdb embedded, one process, one event "
          f"loop; {os.cpu_count()} cores")  # fmt: skip
    print(f"signals: {args.signals} woken, {args.baseline_signals} polled; tick {args.tick:g} s; "
          f"critical volume bursts, group_wait 0s, one signed webhook; {receiver.received} webhooks "
          f"received, {receiver.bad_signatures} with a bad signature")  # fmt: skip
    print(f"woken (Dispatcher.run, pub/sub):  {summary(woken_ms)}; missed {woken_missed}")
    if len(woken_ms) >= 100:
        print(f"  first 50 p50 {pct(woken_ms[:50], 50):.1f} ms, last 50 p50 {pct(woken_ms[-50:], 50):.1f} ms "
              f"(live alerts grow to {args.signals + 5})")  # fmt: skip
    print(f"  of which handle_issue_event (Redis + ClickHouse): {summary(woken_handle_ms)}")
    if args.pairs:
        late = sum(1 for v in pairs_ms if v > args.tick * 500)
        print(f"woken, 2nd of a pair 2 ms apart: {summary(pairs_ms)}; "
              f"{late} of {args.pairs} over half a tick; missed {args.pairs - len(pairs_ms)}")  # fmt: skip
    print(f"baseline polled (step per tick):  {summary(polled_ms)}; missed {polled_missed}")

    def goal(values: list[float]) -> str:
        return "met" if values and pct(values, 95) < GOAL_P95_MS else "NOT met"

    pairs_goal = f"; pairs: {goal(pairs_ms)}" if args.pairs else ""
    print(f"goal p95 < {GOAL_P95_MS:.0f} ms: one at a time: {goal(woken_ms)}{pairs_goal}")
    if woken_ms and polled_ms:
        print(f"ratio polled / woken: p50 {pct(polled_ms, 50) / pct(woken_ms, 50):.1f}x, "
              f"p95 {pct(polled_ms, 95) / pct(woken_ms, 95):.1f}x")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
