"""A soak: `pantau up` on the embedded engines under a steady stream, for as long as you give it.

It posts `--rate` posts a second to `POST /ingest` for `--minutes`, samples the resident memory of
Pantau and of each engine every `--sample-seconds` along with `GET /status`, then stops posting,
waits until the spool is empty (ClickHouse holds every acknowledged post), stops Pantau with
SIGTERM and reads ClickHouse. It prints one JSON object:

- what was asked and what was sustained (posts acknowledged per second), and the ratio;
- lost (acknowledged, not stored) and doubled (stored twice) posts;
- alerts raised, in each half: every `--episode-minutes` a new event (a fire, a strike, a quake
  in a named town) is a third of the stream for `--episode-lasting-minutes`;
- per process, RSS at the start of the second half and at the end, and the growth over the second
  half, against the growth over the first half in the same run; and the largest RSS in each half;
- the broker's messages held at the end, its topic generation (how often its topics rolled over)
  and its largest RSS: what the rollover keeps in check (`PANTAU_BROKER_ROLLOVER_*` in the
  environment set its limits).

Samples go to `--out` as CSV (and a PNG of RSS over time when matplotlib is installed).

    .venv/bin/python bench/soak.py --minutes 120 --rate 100 --out var/soak
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pantau.metrics import process_rss

ROOT = Path(__file__).resolve().parent.parent
PANTAU = str(Path(sys.executable).parent / "pantau")
KEY = "soak-admin-key-0123456789"
# Routine chatter: eight words drawn per post from these, so that posts differ as real ones do (a
# stream of near-identical texts is a coordinated campaign, and the detectors treat it as one).
WORDS = [
    "harga",
    "beras",
    "pasar",
    "jalan",
    "banjir",
    "sekolah",
    "listrik",
    "air",
    "bus",
    "pajak",
    "desa",
    "guru",
    "petani",
    "nelayan",
    "buruh",
    "pabrik",
    "kereta",
    "bandara",
    "rumah",
    "sakit",
    "dokter",
    "obat",
    "vaksin",
    "gaji",
    "pensiun",
    "subsidi",
    "minyak",
    "gas",
    "tol",
    "macet",
    "hujan",
    "panas",
    "kebun",
    "sawah",
    "pupuk",
    "jagung",
    "kopi",
    "teh",
    "gula",
    "garam",
    "daging",
    "ayam",
    "telur",
    "ikan",
    "sayur",
    "cabai",
    "bawang",
    "kampus",
    "mahasiswa",
    "ujian",
    "beasiswa",
    "internet",
    "sinyal",
    "pulsa",
    "ojek",
    "angkot",
    "pelabuhan",
    "kapal",
]
# Each episode is one new real-world event that a share of the stream talks about for a while:
# what must keep raising alerts in the second hour as in the first.
EPISODES = [
    "kebakaran besar melanda pasar induk {n}, ratusan kios hangus",
    "jembatan {n} ambruk setelah hujan deras semalaman",
    "pemadaman listrik total di kota {n} sejak pagi",
    "ribuan buruh demo di {n} menolak upah murah",
    "kereta anjlok di stasiun {n}, perjalanan terganggu",
    "gempa magnitudo 5 guncang {n}, warga mengungsi",
    "harga cabai di {n} melonjak tiga kali lipat",
    "sekolah di {n} rusak diterjang angin puting beliung",
]
PLACES = ["Cirebon", "Klaten", "Kediri", "Jambi", "Ambon", "Palu", "Sorong", "Bima"]
STORED = (
    "import json, sys; from storage.client import open_client; c = open_client(sys.argv[1]); "
    "print(json.dumps([r[0] for r in c.query('SELECT native_id FROM posts').result_rows]))"
)


def request(url: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers), timeout=10) as r:
        return json.loads(r.read())


def children(pid: int) -> dict[str, int]:
    found = {}
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        command = Path(f"/proc/{child}/cmdline").read_bytes()
        found["broker" if b"tansu" in command else "valkey"] = int(child)
    return found


def post_text(n: int, elapsed_s: float, every_s: float, lasting_s: float) -> str:
    """Routine chatter, except during an episode, when every third post is about that episode's event."""
    episode, into = divmod(elapsed_s, every_s) if every_s > 0 else (0.0, 0.0)
    if episode >= 1 and into < lasting_s and n % 3 == 0:
        k = int(episode) - 1
        return EPISODES[k % len(EPISODES)].format(n=PLACES[k % len(PLACES)]) + f" (laporan {n})"
    return f"laporan {n}: " + " ".join(random.Random(n).sample(WORDS, 8))


class Poster(threading.Thread):
    def __init__(self, base: str, rate: float, episode_every_s: float, episode_lasting_s: float) -> None:
        super().__init__(daemon=True)
        self.base, self.rate = base, rate
        self.episode_every_s, self.episode_lasting_s = episode_every_s, episode_lasting_s
        self.acknowledged: list[str] = []
        self.sent = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        batch = max(1, int(self.rate / 10))  # ten requests a second
        started = time.monotonic()
        while not self.stopping.is_set():
            now = datetime.now(UTC)
            elapsed = time.monotonic() - started
            posts: list[dict[str, Any]] = [
                {"platform": "x", "id": str(n), "author": {"id": f"u{n % 5000}"},
                 "text": post_text(n, elapsed, self.episode_every_s, self.episode_lasting_s),
                 "created_at": now.isoformat()}
                for n in range(self.sent, self.sent + batch)
            ]  # fmt: skip
            self.sent += batch
            try:
                request(f"{self.base}/ingest", {"posts": posts})
                self.acknowledged += [p["id"] for p in posts]
            except (OSError, urllib.error.URLError) as exc:
                print(f"ingest failed: {exc}", file=sys.stderr)
            due = started + self.sent / self.rate
            time.sleep(max(0.0, due - time.monotonic()))


def spool_depth(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "spool" / "posts.sqlite3", timeout=10) as db:
        return int(db.execute("SELECT count(*) FROM spooled").fetchone()[0])


def growth(series: list[int]) -> float | None:
    return None if len(series) < 2 or not series[0] else round((series[-1] - series[0]) / series[0] * 100, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=120.0)
    parser.add_argument("--rate", type=float, default=100.0, help="posts per second")
    parser.add_argument("--sample-seconds", type=float, default=60.0)
    parser.add_argument("--episode-minutes", type=float, default=15.0, help="a new event this often")
    parser.add_argument("--episode-lasting-minutes", type=float, default=3.0)
    parser.add_argument("--port", type=int, default=18123)
    parser.add_argument("--out", type=Path, default=None, help="folder for samples.csv (and rss.png)")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="pantau-soak-")) / "var"
    base = f"http://127.0.0.1:{args.port}"
    env = {**os.environ, "PANTAU_DATA_DIR": str(data_dir), "PANTAU_API_PORT": str(args.port),
           "PANTAU_ADMIN_KEY": KEY, "PANTAU_API_RATE_LIMIT_PER_MINUTE": "0"}  # fmt: skip
    log = (data_dir.parent / "up.log").open("wb")
    up = subprocess.Popen([PANTAU, "up"], env=env, stdout=log, stderr=log)
    deadline = time.monotonic() + 180
    while True:
        try:
            if request(f"{base}/readyz")["ready"]:
                break
        except (OSError, urllib.error.URLError, KeyError):
            pass
        if time.monotonic() > deadline:
            raise SystemExit("pantau up was not ready within 3 minutes")
        time.sleep(1)

    engines = children(up.pid)
    processes = {"pantau": up.pid, **engines}
    poster = Poster(base, args.rate, args.episode_minutes * 60, args.episode_lasting_minutes * 60)
    poster.start()
    started = time.monotonic()
    samples: list[dict[str, Any]] = []
    while time.monotonic() - started < args.minutes * 60:
        time.sleep(min(args.sample_seconds, max(0.0, args.minutes * 60 - (time.monotonic() - started))))
        status = request(f"{base}/status")
        sample: dict[str, Any] = {"minute": round((time.monotonic() - started) / 60, 2)}
        sample |= {f"rss_{name}": process_rss(pid) or 0 for name, pid in processes.items()}
        sample["spool"] = status["spool"]["posts"]
        sample["held_raw"] = status["broker"]["messages_held"].get("posts.raw", 0)
        sample["held_all"] = sum(status["broker"]["messages_held"].values())
        sample["generation"] = status["broker"].get("generation", 0)
        sample["lag_enrich"] = next(s["lag"] for s in status["stages"] if s["stage"] == "enrich")
        sample["alerts"] = request(f"{base}/alerts?limit=1")["total"]
        samples.append(sample)
        print(json.dumps(samples[-1]), file=sys.stderr)
    poster.stopping.set()
    poster.join(15)
    posting_seconds = time.monotonic() - started
    final_status = request(f"{base}/status")
    alerts = request(f"{base}/alerts?limit=1")["total"]
    backlog = spool_depth(data_dir)
    drained = time.monotonic()
    while spool_depth(data_dir) and time.monotonic() - drained < 1800:
        time.sleep(2)
    catch_up_seconds = time.monotonic() - drained
    up.send_signal(signal.SIGTERM)
    up.wait(120)
    stored = json.loads(
        subprocess.run(
            [sys.executable, "-c", STORED, f"chdb://{(data_dir / 'clickhouse').resolve()}"],
            capture_output=True, text=True, check=True, timeout=300,
        ).stdout
    )  # fmt: skip

    half = len(samples) // 2
    report: dict[str, Any] = {
        "minutes": args.minutes,
        "asked_posts_per_s": args.rate,
        "acknowledged": len(poster.acknowledged),
        "sustained_posts_per_s": round(len(poster.acknowledged) / posting_seconds, 1),
        "sustained_vs_asked": round(len(poster.acknowledged) / posting_seconds / args.rate, 3),
        "spool_at_end_of_posting": backlog,
        "catch_up_seconds_after_posting": round(catch_up_seconds, 1),
        "lost": len(set(poster.acknowledged) - set(stored)),
        "doubled": len(stored) - len(set(stored)),
        "alerts": alerts,
        "alerts_first_half": samples[half]["alerts"] if samples else None,
        "alerts_second_half": alerts - samples[half]["alerts"] if samples else None,
        "episodes": int(args.minutes // args.episode_minutes) - 1 if args.episode_minutes else 0,
        "broker_messages_held_at_end": final_status["broker"]["messages_held"],
        "broker_generation_at_end": final_status["broker"].get("generation", 0),
        "broker_rss_max_mb": round(max((s.get("rss_broker", 0) for s in samples), default=0) / 2**20, 1),
        "rss": {
            name: {
                "second_half_start_mb": round(samples[half][f"rss_{name}"] / 2**20, 1) if samples else None,
                "end_mb": round(samples[-1][f"rss_{name}"] / 2**20, 1) if samples else None,
                "growth_second_half_pct": growth([s[f"rss_{name}"] for s in samples[half:]]),
                "growth_first_half_pct": growth([s[f"rss_{name}"] for s in samples[: half + 1]]),
                # The broker's memory is a sawtooth under the rollover: its peaks are what must not grow.
                "max_first_half_mb": round(max(s[f"rss_{name}"] for s in samples[:half]) / 2**20, 1)
                if half
                else None,
                "max_second_half_mb": round(max(s[f"rss_{name}"] for s in samples[half:]) / 2**20, 1)
                if samples
                else None,
            }
            for name in processes
        },
    }
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        with (args.out / "samples.csv").open("w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=list(samples[0]) if samples else ["minute"])
            writer.writeheader()
            writer.writerows(samples)
        plot(samples, list(processes), args.out / "rss.png")
    print(json.dumps(report, indent=2))


def plot(samples: list[dict[str, Any]], names: list[str], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot", file=sys.stderr)
        return
    figure, axes = plt.subplots(figsize=(8, 4))
    for name in names:
        axes.plot([s["minute"] for s in samples], [s[f"rss_{name}"] / 2**20 for s in samples], label=name)
    axes.set_xlabel("minutes")
    axes.set_ylabel("RSS (MiB)")
    axes.set_title("pantau up under a steady stream")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)


if __name__ == "__main__":
    main()
