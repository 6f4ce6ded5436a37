"""An engine gone for a minute under load: the desk is told what is down, nothing is lost.

`pantau up` on the embedded engines with posts flowing to `POST /ingest`; the broker or Valkey is
frozen (SIGSTOP: its sockets stay open and answer nothing, the way a hung or partitioned server
does) for `OUTAGE_SECONDS`, then let go. While it is away `/readyz` answers 503 naming it and
ingest keeps acknowledging posts into the spool; afterwards every acknowledged post is stored once.
The embedded ClickHouse is chdb, inside the Pantau process, so it cannot be stopped on its own: its
outage is a client that fails every call for a minute, as one talking to a server that went away
does, under the real pipeline, spool and API in the test's event loop.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path

import httpx
import pytest
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import OperationalError

from api.app import create_app, make_context
from config.settings import Settings
from service.engines import free_port
from storage.spool import assemble
from tests.integration.harness import Harness, envelopes, post, utc, wait_for
from tests.integration.test_crash_safety import Poster
from tests.integration.test_up import PANTAU, children_of, pantau_up, spooled, stored_ids, wait_until

OUTAGE_SECONDS = 60.0
# The name /readyz gives each engine's check.
CHECK_OF = {"broker": "kafka", "valkey": "redis"}


def readiness(base: str) -> tuple[int, dict[str, str]]:
    try:
        with urllib.request.urlopen(f"{base}/readyz", timeout=10) as response:
            return response.status, json.loads(response.read())["checks"]
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())["checks"]


def engine_pid(pantau_pid: int, engine: str) -> int:
    for child in children_of(pantau_pid):
        command = Path(f"/proc/{child}/cmdline").read_bytes()
        if (b"tansu" in command) == (engine == "broker"):
            return child
    raise AssertionError(f"no {engine} process under pantau up ({PANTAU})")


@pytest.mark.parametrize("engine", ["broker", "valkey"])
def test_an_engine_away_a_minute_is_named_by_readyz_and_loses_no_post(tmp_path: Path, engine: str) -> None:
    data_dir = tmp_path / "var"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with pantau_up(data_dir, port) as process:
        wait_until(lambda: readiness(base)[0] == 200, 120, "pantau up to be ready")
        poster = Poster(base, first=0)
        poster.start()
        time.sleep(3.0)
        pid = engine_pid(process.pid, engine)
        before = len(poster.acknowledged)

        os.kill(pid, signal.SIGSTOP)
        try:
            time.sleep(OUTAGE_SECONDS / 2)
            status, checks = readiness(base)
            time.sleep(OUTAGE_SECONDS / 2)
            during = len(poster.acknowledged) - before
        finally:
            os.kill(pid, signal.SIGCONT)
        assert status == 503, checks
        assert checks[CHECK_OF[engine]] != "ok", checks
        assert [name for name, result in checks.items() if result != "ok"] == [CHECK_OF[engine]], checks
        # Ingest went on: the spool took what the pipeline could not (about 50 posts a second).
        assert during > OUTAGE_SECONDS * 20, during

        restored = time.monotonic()
        wait_until(lambda: readiness(base)[0] == 200, 120, f"readiness after the {engine} came back")
        time.sleep(3.0)
        poster.stopping.set()
        poster.join(15)
        wait_until(lambda: spooled(data_dir) == 0, 300, "the spool to empty after the outage")
        caught_up = time.monotonic() - restored
        print(f"{engine} away {OUTAGE_SECONDS:.0f} s: {during} posts acknowledged meanwhile, "
              f"spool empty {caught_up:.1f} s after it came back")  # fmt: skip
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0

    rows = stored_ids(data_dir)
    missing = set(poster.acknowledged) - set(rows)
    assert not missing, f"{len(missing)} acknowledged posts lost, e.g. {sorted(missing)[:5]}"
    assert len(rows) == len(set(rows)), "a post was stored twice"


class Unplugged:
    """A ClickHouse client whose every call fails while `away`, as one whose server went away."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.away = False

    def __getattr__(self, name: str) -> object:
        attribute = getattr(self.client, name)
        if not callable(attribute):
            return attribute

        def call(*args: object, **kwargs: object) -> object:
            if self.away:
                raise OperationalError("ClickHouse is away (the test unplugged it)")
            return attribute(*args, **kwargs)

        return call


async def test_clickhouse_away_a_minute_is_named_by_readyz_and_loses_no_post(
    settings: Settings, clickhouse: Client
) -> None:
    unplugged = Unplugged(clickhouse)
    async with Harness(settings=settings, client=unplugged) as harness:  # type: ignore[arg-type]
        parts = assemble(settings, harness.store, harness.producer.send_many)
        parts.keeper.interval_seconds = 0.5
        loops = [asyncio.create_task(parts.forwarder.run()), asyncio.create_task(parts.keeper.run())]
        context = make_context(settings, harness.store, harness.redis, harness.producer, parts.writer)
        api = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(settings, context)), base_url="http://p"
        )
        await harness.start_worker()
        acknowledged: list[str] = []
        feeding = True

        async def feed() -> None:  # 50 posts a second, acknowledged once the spool has them
            n = 0
            while feeding:
                posts = [post(f"ch{i}", f"harga beras naik {i}", utc(2024, 2, 1, 9), author=f"a{i % 97}")
                         for i in range(n, n + 5)]  # fmt: skip
                await parts.writer.send_many(envelopes(posts))
                acknowledged.extend(f"x:{p['id']}" for p in posts)
                n += 5
                await asyncio.sleep(0.1)

        def stored() -> list[str]:
            return [row[0] for row in clickhouse.query("SELECT id FROM posts").result_rows]

        try:
            feeder = asyncio.create_task(feed())
            await asyncio.sleep(3.0)
            before = len(acknowledged)
            unplugged.away = True
            await asyncio.sleep(OUTAGE_SECONDS / 2)
            during_outage = await api.get("/readyz")
            await asyncio.sleep(OUTAGE_SECONDS / 2)
            during = len(acknowledged) - before
            backlog = (await parts.spool.depth()).posts
            unplugged.away = False
            restored = time.monotonic()
            await asyncio.sleep(3.0)
            feeding = False
            await feeder

            async def spool_empty() -> bool:
                return (await parts.spool.depth()).posts == 0

            await wait_for(spool_empty, seconds=180, interval=0.5, what="the spool to empty")
            caught_up = time.monotonic() - restored
            after = await api.get("/readyz")
        finally:
            feeding = False
            for task in loops:
                task.cancel()
            await asyncio.gather(*loops, return_exceptions=True)
            await api.aclose()
            await harness.stop_worker()
            parts.spool.close()

    checks = during_outage.json()["checks"]
    assert during_outage.status_code == 503, checks
    assert [name for name, result in checks.items() if result != "ok"] == ["clickhouse"], checks
    assert after.status_code == 200, after.json()
    assert during > OUTAGE_SECONDS * 40, during  # ingest went on into the spool
    rows = await asyncio.to_thread(stored)
    missing = set(acknowledged) - set(rows)
    assert not missing, f"{len(missing)} acknowledged posts lost, e.g. {sorted(missing)[:5]}"
    assert len(rows) == len(set(rows)), "a post was stored twice"
    print(f"clickhouse away {OUTAGE_SECONDS:.0f} s: {during} posts acknowledged meanwhile, {backlog} "
          f"spooled when it came back, spool empty {caught_up:.1f} s later")  # fmt: skip
