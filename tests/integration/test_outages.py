"""An engine gone for a minute under load: the desk is told what is down, nothing is lost.

`pantau up` on the embedded engines with posts flowing to `POST /ingest`; the broker or Valkey is
frozen (SIGSTOP: its sockets stay open and answer nothing, the way a hung or partitioned server
does) for `OUTAGE_SECONDS`, then let go. While it is away `/readyz` answers 503 naming it and
ingest keeps acknowledging posts into the spool; afterwards every acknowledged post is stored once.
ClickHouse has no outage here: the embedded engine is chdb, inside the Pantau process.
"""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from service.engines import free_port
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


# Valkey is not here yet: with it frozen, each request waits out the rate limiter's 1-s Redis
# timeout before failing open, so ingest falls to about 8 requests a second (measured: 520 posts
# acknowledged in the minute against the 1,200 asked); a circuit breaker around Redis is the fix.
@pytest.mark.parametrize("engine", ["broker"])
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
