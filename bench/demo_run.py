"""Measure `pantau up --demo` as a new user meets it: time to first alert, resident memory, stop time.

Runs the real command in a fresh data directory, polls GET /alerts, reads the RSS of the process
tree from /proc, then sends SIGTERM (or SIGINT) and times the exit. Run twice on the same data
directory (--keep) to see that the second start finds the first run's posts and alerts.

    .venv/bin/python bench/demo_run.py [--data-dir DIR] [--keep] [--signal INT|TERM]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


def rss_mib(pid: int) -> float:
    """Resident memory of a process and its children, in MiB."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


# The API needs a key since it was secured: the run sets its own admin key for the demo.
ADMIN_KEY = secrets.token_urlsafe(24)


def get(url: str) -> dict:  # type: ignore[type-arg]
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", default="")
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    parser.add_argument("--signal", default="TERM", choices=["INT", "TERM"])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--wait", type=float, default=50.0, help="seconds to let the demo run")
    args = parser.parse_args()
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="pantau-demo-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "PANTAU_DATA_DIR": str(data_dir),
        "PANTAU_API_PORT": str(args.port),
        "PANTAU_ADMIN_KEY": ADMIN_KEY,
    }
    pantau = Path(sys.executable).parent / "pantau"
    started = time.monotonic()
    with open(data_dir / "up.log", "ab") as log:
        proc = subprocess.Popen([str(pantau), "up", "--demo"], env=env, stderr=log)
    base = f"http://127.0.0.1:{args.port}"
    first_alert = None
    peak_rss = 0.0
    before = None
    while time.monotonic() - started < args.wait:
        time.sleep(0.5)
        peak_rss = max(peak_rss, rss_mib(proc.pid))
        try:
            page = get(f"{base}/alerts?limit=1")
        except OSError:
            continue
        if before is None:
            before = page["total"]
            print(f"api up after {time.monotonic() - started:.1f}s; alerts already stored: {before}")
        if first_alert is None and page["total"] > before:
            first_alert = time.monotonic() - started
            print(f"first new alert after {first_alert:.1f}s: {page['items'][0]['title']}")
    page = get(f"{base}/alerts?limit=500")
    print(f"alerts now: {page['total']}; peak RSS (pantau + engines): {peak_rss:.0f} MiB")
    sig = signal.SIGTERM if args.signal == "TERM" else signal.SIGINT
    stop_at = time.monotonic()
    proc.send_signal(sig)
    code = proc.wait(timeout=60)
    print(f"SIG{args.signal}: exit code {code} after {time.monotonic() - stop_at:.1f}s")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from storage.client import open_client

    client = open_client(f"chdb://{(data_dir / 'clickhouse').resolve()}")
    posts = client.command("SELECT count() FROM posts")
    distinct = client.command("SELECT uniqExact(id) FROM posts")
    print(f"posts stored: {posts} rows, {distinct} distinct ids; data dir: {data_dir}")
    return 0 if code == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
