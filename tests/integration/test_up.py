"""`pantau up` as a user runs it: a real process, its engines, its signals, its data directory."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from pantau import bus
from service.engines import TansuBroker, ValkeyServer, free_port
from service.runtime import GRACEFUL_SHUTDOWN_SECONDS
from tests.integration.harness import envelopes, issue_posts, post, utc

PANTAU = str(Path(sys.executable).parent / "pantau")
DEMO = Path(__file__).resolve().parents[2] / "service" / "demo" / "posts.jsonl"
COUNT_POSTS = (
    "import sys; from storage.client import open_client; "
    "c = open_client(sys.argv[1]); "
    "print(c.command('SELECT count() FROM posts'), c.command('SELECT uniqExact(id) FROM posts'), "
    "c.command(\"SELECT uniqExactMerge(posts) FROM minute_stats WHERE target = ''\"))"
)


# The bootstrap admin key the tests start Pantau with (PANTAU_ADMIN_KEY).
ADMIN_KEY = "test-admin-key-0123456789"
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


def get_json(url: str) -> Any:
    with urllib.request.urlopen(urllib.request.Request(url, headers=AUTH), timeout=5) as response:
        return json.loads(response.read())


def metric(base: str, name: str) -> float:
    """A sample's value from a Prometheus text page (0 when absent)."""
    match = re.search(rf"^{re.escape(name)} (\S+)$", get_text(f"{base}/metrics"), re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def get_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


def wait_until(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except OSError as exc:  # not listening yet
            last_error = exc
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error: {last_error})")


# A start loads the models: 10-15 s alone, several times that beside other test workers on a loaded
# machine. Like STOP_SECONDS, a bound for a hang, not for speed.
START_SECONDS = 120

# A stop takes 2-3 s here. CI once saw one pass 15 s, cause unknown: past 10 s the worker logs
# every pending task (and later every thread), which this output then shows. The bound is for a
# hang, not for speed.
STOP_SECONDS = 45


@contextmanager
def pantau_up(data_dir: Path, port: int, *args: str, **env: str) -> Iterator[subprocess.Popen[bytes]]:
    environment = {
        **os.environ,
        "PANTAU_DATA_DIR": str(data_dir),
        "PANTAU_API_PORT": str(port),
        "PANTAU_BROKER_SESSION_TIMEOUT": "6",
        "PANTAU_ADMIN_KEY": ADMIN_KEY,
        # The tests' posts carry fixed dates, which age past any retention: keep them all.
        "PANTAU_POSTS_TTL_DAYS": "0",
        **env,
    }
    log_path = data_dir.parent / f"{data_dir.name}-up.log"
    log = open(log_path, "ab")  # noqa: SIM115
    process = subprocess.Popen([PANTAU, "up", *args], env=environment, stdout=log, stderr=log)
    try:
        yield process
    except BaseException:
        # What the process said is the first thing a failing run needs (pytest shows it).
        print(f"--- pantau up output ({log_path}) ---")
        print(log_path.read_text(errors="replace")[-6000:])
        raise
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        log.close()


def children_of(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return not re.search(r"^State:\s+Z", status, re.MULTILINE)


def read_stopped(data_dir: Path, script: str) -> str:
    """What `script` prints about the ClickHouse of a stopped `pantau up`, run in another process
    (chdb: one process per directory); the DSN is its first argument."""
    return subprocess.run(
        [sys.executable, "-c", script, f"chdb://{(data_dir / 'clickhouse').resolve()}"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout


STORED_IDS = (
    "import json, sys; from storage.client import open_client; "
    "c = open_client(sys.argv[1]); "
    "print(json.dumps([r[0] for r in c.query('SELECT native_id FROM posts').result_rows]))"
)


def stored_ids(data_dir: Path) -> list[str]:
    """Every row of `posts` (duplicates included) of a stopped `pantau up`, read in another process."""
    ids: list[str] = json.loads(read_stopped(data_dir, STORED_IDS))
    return ids


def spooled_post_ids(data_dir: Path) -> list[str | None]:
    """The post ids the spool of `pantau up` still holds (None for input the normaliser refuses)."""
    path = data_dir / "spool" / "posts.sqlite3"
    if not path.exists():
        return []
    with sqlite3.connect(path, timeout=10) as db:
        return [row[0] for row in db.execute("SELECT post_id FROM spooled")]


def spooled(data_dir: Path) -> int:
    return len(spooled_post_ids(data_dir))


def stored_posts(data_dir: Path) -> tuple[int, int, int]:
    """Rows, distinct ids and posts counted per minute, of a stopped `pantau up`."""
    rows, distinct, counted = (int(x) for x in read_stopped(data_dir, COUNT_POSTS).split())
    return rows, distinct, counted


def check_status(data_dir: Path, port: int, demo_posts: int) -> None:
    """`pantau status` of a running `pantau up` that has stored the demo."""
    env = {**os.environ, "PANTAU_DATA_DIR": str(data_dir), "PANTAU_API_PORT": str(port)}
    as_json = subprocess.run(
        [PANTAU, "status", "--json"], env=env, capture_output=True, text=True, timeout=60
    )
    assert as_json.returncode == 0, as_json.stderr
    report = json.loads(as_json.stdout)
    stages = {s["stage"]: s for s in report["stages"]}
    assert set(stages) == {"normalise", "enrich", "store", "fan-out", "detect", "alert", "dead-letters"}
    assert stages["normalise"]["topic"] == "posts.raw" and stages["normalise"]["consumed"] >= demo_posts
    assert all(s["lag"] is not None and s["lag"] >= 0 for s in report["stages"])
    assert report["broker"]["reachable"] and report["broker"]["rss_bytes"] > 10 * 2**20
    # Tansu's end offsets can under-count a multi-record batch by a few, so: about all, not exact.
    assert report["broker"]["messages_held"]["posts.raw"] >= demo_posts * 0.9
    assert report["spool"]["enabled"] and report["spool"]["unsent"] == 0
    demo = {s["source"]: s for s in report["sources"]}["demo"]
    assert demo["posts"] >= demo_posts and demo["idle_seconds"] >= 0 and demo["lag_seconds"] >= 0
    assert report["broker"]["generation"] == 0  # the demo is far below the rollover's limits
    assert {"pantau", "clickhouse", "redis", "kafka"} <= set(report["engines"])
    assert "unknown" not in report["engines"]["clickhouse"]
    human = subprocess.run([PANTAU, "status"], env=env, capture_output=True, text=True, timeout=60)
    assert human.returncode == 0, human.stderr
    assert "normalise" in human.stdout and "posts.raw" in human.stdout and "spool" in human.stdout
    assert "source        demo: " in human.stdout


@pytest.mark.alone
def test_up_demo_raises_alerts_stops_cleanly_and_keeps_its_data(tmp_path: Path) -> None:
    """The README's first command: `pantau prepare`, then `pantau up --demo` at its default speed."""
    data_dir = tmp_path / "var"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    demo_posts = sum(1 for line in DEMO.read_text().splitlines() if line.strip())
    prepared = subprocess.run([PANTAU, "prepare"], capture_output=True, text=True, timeout=300)
    assert prepared.returncode == 0, prepared.stderr
    launched = time.monotonic()
    with pantau_up(data_dir, port, "--demo") as process:
        page = wait_until(lambda: get_json(f"{base}/alerts")["total"] > 0 and get_json(f"{base}/alerts"), 60,
                          "the first alert from the demo stream")  # fmt: skip
        assert time.monotonic() - launched < 60
        assert page["items"][0]["kind"] == "volume_burst"
        assert get_json(f"{base}/readyz")["ready"] is True
        engines = children_of(process.pid)
        assert len(engines) == 2 and all(alive(pid) for pid in engines)
        wait_until(
            lambda: metric(base, "pantau_posts_stored_total") >= demo_posts, 60, "the whole demo stored"
        )
        check_status(data_dir, port, demo_posts)
        # A war-room screen keeps the live feed open: it must not hold the shutdown.
        feed = urllib.request.urlopen(
            urllib.request.Request(f"{base}/alerts/stream", headers=AUTH), timeout=30
        )
        assert feed.status == 200

        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        feed.read()  # returns when the server ends the stream
        closed_after = time.monotonic() - started
        assert process.wait(STOP_SECONDS) == 0
        # An open feed is closed at once (about 0.5 s here), not after the API's grace for requests
        # in flight. Timed on the feed itself: the whole stop, with the worker's drain and the
        # engines, takes about 6 s alone and more under load, whatever the feed does.
        assert closed_after < GRACEFUL_SHUTDOWN_SECONDS - 1, closed_after
        feed.close()
        wait_until(lambda: not any(alive(pid) for pid in engines), 5, "the engines to stop")
    alerts_before = page["total"]
    assert stored_posts(data_dir) == (demo_posts, demo_posts, demo_posts)

    # A second start on the same data directory finds the earlier posts and alerts.
    with pantau_up(data_dir, port) as process:
        again = wait_until(lambda: get_json(f"{base}/alerts"), START_SECONDS, "the API after a restart")
        assert again["total"] >= alerts_before
        assert {a["id"] for a in page["items"]} <= {a["id"] for a in again["items"]}
        process.send_signal(signal.SIGINT)  # Ctrl-C
        assert process.wait(STOP_SECONDS) == 0
    assert stored_posts(data_dir)[0] == demo_posts


def test_a_stop_lets_posts_in_flight_reach_storage(tmp_path: Path) -> None:
    """The embedded broker forgets everything at exit: a stop drains the pipeline first."""
    data_dir = tmp_path / "var"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    total = 6000
    archive = tmp_path / "archive.jsonl"
    start = utc(2026, 11, 20, 8)
    archive.write_text(
        "\n".join(
            json.dumps(post(f"d{i}", f"kiriman {i}", start + timedelta(seconds=i))) for i in range(total)
        )
    )
    with pantau_up(data_dir, port, PANTAU_SHUTDOWN_DRAIN_SECONDS="40") as process:
        wait_until(lambda: get_json(f"{base}/healthz"), START_SECONDS, "the API")
        env = {**os.environ, "PANTAU_DATA_DIR": str(data_dir)}  # replay finds the running broker
        sent = subprocess.run(
            [PANTAU, "replay", str(archive)], env=env, capture_output=True, text=True, timeout=60
        )
        assert sent.returncode == 0 and f"sent {total} posts" in sent.stdout
        wait_until(
            lambda: metric(base, "pantau_posts_stored_total") > 0, START_SECONDS, "the first stored batch"
        )
        assert metric(base, "pantau_posts_stored_total") < total, "the stop must come with posts in flight"
        process.send_signal(signal.SIGTERM)
        assert process.wait(40 + STOP_SECONDS) == 0  # the drain, then the stop
    # On a slow machine the 40-s drain may end first: what it left is in the spool, not lost.
    stored = stored_posts(data_dir)
    assert stored == (stored[0],) * 3
    kept = set(stored_ids(data_dir)) | {pid.removeprefix("x:") for pid in spooled_post_ids(data_dir) if pid}
    assert kept == {f"d{i}" for i in range(total)}


def test_sigterm_during_start_up_stops_cleanly(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    with pantau_up(data_dir, free_port()) as process:
        wait_until(lambda: len(children_of(process.pid)) == 2, 60, "the engines to start")
        engines = children_of(process.pid)
        process.send_signal(signal.SIGTERM)  # the worker has not installed its handlers yet
        assert process.wait(STOP_SECONDS) == 0
        wait_until(lambda: not any(alive(pid) for pid in engines), 10, "the engines to stop")


def test_a_killed_pantau_up_leaves_no_engine_behind(tmp_path: Path) -> None:
    port = free_port()
    with pantau_up(tmp_path / "var", port) as process:
        wait_until(lambda: get_json(f"http://127.0.0.1:{port}/healthz"), START_SECONDS, "the API")
        engines = children_of(process.pid)
        assert len(engines) == 2
        process.kill()
        process.wait(10)
        # The kernel tells the engines their parent died (PR_SET_PDEATHSIG).
        wait_until(lambda: not any(alive(pid) for pid in engines), 10, "the orphaned engines to stop")


def test_pantau_up_stops_engines_a_killed_run_left_behind(tmp_path: Path) -> None:
    """Belt and braces: engines that outlived a killed run (say, started by a thread that is gone)
    are stopped by the next start on the same data directory, before it starts its own."""
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    with ValkeyServer(data_dir=data_dir / "valkey") as orphan:
        assert orphan.process is not None
        (data_dir / "engines.json").write_text(json.dumps({"pids": [orphan.process.pid, 999999]}))
        port = free_port()
        with pantau_up(data_dir, port) as process:
            wait_until(lambda: get_json(f"http://127.0.0.1:{port}/healthz"), START_SECONDS, "the API")
            assert orphan.process.poll() is not None
            assert get_json(f"http://127.0.0.1:{port}/readyz")["ready"] is True
            process.send_signal(signal.SIGTERM)
            assert process.wait(STOP_SECONDS) == 0


def test_a_worker_killed_mid_stream_loses_nothing_and_duplicates_nothing(
    tmp_path: Path, broker: TansuBroker, valkey: ValkeyServer
) -> None:
    """SIGKILL, not a polite stop: whatever was in flight is re-read from the last committed offset."""
    total = 4000
    data_dir = tmp_path / "var"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    servers = {"PANTAU_KAFKA_BROKERS": broker.brokers, "PANTAU_REDIS_URL": valkey.url}
    posts = [
        post(f"k{i}", f"kiriman {i}", utc(2026, 11, 20, 9) + timedelta(milliseconds=50 * i))
        for i in range(total)
    ]

    async def send_all() -> None:
        await bus.ensure_topics(broker.brokers, 4)
        producer = bus.RawProducer(broker.brokers)
        await producer.start()
        try:
            await producer.send_many(envelopes(posts))
        finally:
            await producer.stop()

    asyncio.run(send_all())

    with pantau_up(data_dir, port, **servers) as process:
        wait_until(
            lambda: metric(base, "pantau_posts_stored_total") > 0, START_SECONDS, "the first stored batch"
        )
        process.kill()
        process.wait(10)

    with pantau_up(data_dir, port, **servers) as process:
        store_stage = 'pantau_stage_messages_total{stage="store"}'
        # The restarted worker re-reads from the last committed offset: it has work, or the kill
        # came too late to mean anything.
        wait_until(lambda: metric(base, store_stage) > 0, START_SECONDS, "the restarted worker to consume")
        previous, quiet_since = -1.0, time.monotonic()
        # Until the store stage has been idle for 10 s: longer than the model takes for one batch.
        while time.monotonic() - quiet_since < 10:
            current = metric(base, store_stage)
            if current != previous:
                previous, quiet_since = current, time.monotonic()
            time.sleep(0.25)
        process.send_signal(signal.SIGTERM)
        assert process.wait(STOP_SECONDS) == 0
    assert stored_posts(data_dir) == (total, total, total)


def test_worker_and_api_run_as_separate_processes_against_servers(
    tmp_path: Path, broker: TansuBroker, valkey: ValkeyServer
) -> None:
    """The production shape: `migrate up`, then `worker` and `api` processes given server addresses.

    chdb lets one process at a time open a data directory, so here the worker runs, stops, and
    then the API reads what it stored; against a ClickHouse server both run side by side."""
    clickhouse = f"chdb://{(tmp_path / 'clickhouse').resolve()}"
    env = {
        **os.environ,
        "PANTAU_KAFKA_BROKERS": broker.brokers,
        "PANTAU_REDIS_URL": valkey.url,
        "PANTAU_CLICKHOUSE_DSN": clickhouse,
        "PANTAU_DATA_DIR": str(tmp_path / "var"),
        "PANTAU_ADMIN_KEY": ADMIN_KEY,
        # The burst below is built for one-minute windows (ten quiet minutes, then twenty posts).
        "PANTAU_BURST_WINDOW_SECONDS": "60",
        "PANTAU_BURST_MIN_COUNT": "8",
        "PANTAU_BURST_WARMUP_WINDOWS": "10",
        # The burst ends the stream: its issue pages as time passes (a few seconds here).
        "PANTAU_ISSUE_SETTLE_SECONDS": "2",
    }
    migrate = subprocess.run([PANTAU, "migrate", "up"], env=env, capture_output=True, text=True, timeout=60)
    assert migrate.returncode == 0 and "applied 0001_posts" in migrate.stdout

    start = utc(2026, 11, 20, 9)
    stream = issue_posts("ujiproses", start)  # chatter, ten quiet minutes of the tag, then its burst

    async def send_all() -> None:
        await bus.ensure_topics(broker.brokers, 4)
        producer = bus.RawProducer(broker.brokers)
        await producer.start()
        try:
            await producer.send_many(envelopes(stream))
        finally:
            await producer.stop()

    asyncio.run(send_all())
    log = open(tmp_path / "worker.log", "ab")  # noqa: SIM115
    metrics_port = free_port()
    worker = subprocess.Popen(
        [PANTAU, "worker"],
        env={**env, "PANTAU_WORKER_METRICS_PORT": str(metrics_port)},
        stdout=log,
        stderr=log,
    )
    try:
        worker_metrics = f"http://127.0.0.1:{metrics_port}"
        stored = "pantau_posts_stored_total"
        wait_until(lambda: metric(worker_metrics, stored) == len(stream), START_SECONDS, "every post stored")
        wait_until(lambda: metric(worker_metrics, 'pantau_alert_events_total{event="opened"}') >= 1, 60,
                   "the worker to open an alert")  # fmt: skip
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(STOP_SECONDS) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
        log.close()
    rows = subprocess.run(
        [sys.executable, "-c", COUNT_POSTS, clickhouse],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.split()
    assert [int(x) for x in rows] == [len(stream)] * 3

    port = free_port()
    api = subprocess.Popen([PANTAU, "api"], env={**env, "PANTAU_API_PORT": str(port)},
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        page = wait_until(lambda: get_json(f"{base}/alerts"), START_SECONDS, "the API process")
        [alert] = page["items"]  # one issue, one alert
        assert alert["key_kind"] == "issue" and "ujiproses" in alert["title"].lower()
        assert get_json(f"{base}/readyz")["ready"] is True
        request = urllib.request.Request(
            f"{base}/ingest",
            data=json.dumps({"posts": [post("api-1", "dari API", start)]}).encode(),
            headers={"content-type": "application/json", **AUTH},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 202
        api.send_signal(signal.SIGTERM)
        assert api.wait(STOP_SECONDS) == 0
    finally:
        if api.poll() is None:
            api.kill()
