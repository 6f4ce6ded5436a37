"""Build a sample daily brief from the bundled demo stream as the service would store it: the stream
backfilled (`pantau backfill`: the real models, detectors and issue tracker) into a scratch ClickHouse
(chdb) database, then the brief over the stream's hours rendered, and page 1 of its PDF drawn.

    python scripts/report_sample.py                 # docs/images/report.png: page 1 of the PDF
    python scripts/report_sample.py --out DIR       # also the HTML, PDF and Markdown briefs

Page 1 is drawn with poppler's `pdftoppm` (Debian: poppler-utils).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, timedelta, timezone
from pathlib import Path

from clickhouse_connect.driver.client import Client
from PIL import Image

from config.settings import DEFAULT_WATCHLIST
from config.watchlist import load_watchlist

DEMO = Path(__file__).resolve().parent.parent / "service" / "demo"
SAMPLE_IMAGE = Path(__file__).resolve().parent.parent / "docs" / "images" / "report.png"


def first_page_png(pdf: Path, out: Path, *, dpi: int = 60) -> Path:
    """Page 1 of `pdf` as a PNG at `out` (poppler's pdftoppm)."""
    executable = shutil.which("pdftoppm")
    if executable is None:
        raise RuntimeError("pdftoppm is not on PATH (Debian: apt-get install poppler-utils)")
    prefix = out.with_suffix("")
    subprocess.run(
        [executable, "-png", "-r", str(dpi), "-f", "1", "-l", "1", "-singlefile", str(pdf), str(prefix)],
        check=True,
        capture_output=True,
    )
    return prefix.with_suffix(".png")


def backfilled_demo(scratch: Path) -> Client:
    """A chdb database under `scratch` holding the demo stream backfilled through the real pipeline."""
    from config.settings import load_settings
    from service.backfill import backfill
    from storage.client import open_client
    from storage.migrate import Migrator
    from storage.repository import ClickHouseStore

    dsn = f"chdb://{(scratch / 'clickhouse').resolve()}"
    client = open_client(dsn, database="sample")
    Migrator(client).up()
    settings = load_settings(clickhouse_dsn=dsn, data_dir=scratch / "data")

    def progress(done: int, total: int) -> None:
        print(f"\rclassifying the demo posts: {done}/{total}", end="", file=sys.stderr, flush=True)

    report = backfill(settings, DEMO / "posts.jsonl", ClickHouseStore(client), progress=progress)
    print(
        f"\nbackfilled {report.posts} posts ({report.model}): {report.issues} issues, {report.alerts} alerts",
        file=sys.stderr,
    )
    return client


def main(argv: list[str] | None = None) -> int:
    from service.report import Period, build_report, write_report

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="Also keep the HTML, PDF and Markdown briefs here.")
    parser.add_argument("--lang", choices=("id", "en"), default="en")
    parser.add_argument("--image", type=Path, default=SAMPLE_IMAGE)
    args = parser.parse_args(argv)
    watchlist = load_watchlist(DEFAULT_WATCHLIST)
    zone = timezone(timedelta(hours=7), "WIB")
    with tempfile.TemporaryDirectory() as scratch:
        client = backfilled_demo(Path(scratch))
        [(first, last)] = client.query("SELECT min(created_at), max(created_at) FROM posts").result_rows
        # The stream's hours in whole minutes: from the hour of its first post to just after its last.
        period = Period(
            since=first.replace(minute=0, second=0, microsecond=0, tzinfo=UTC),
            until=last.replace(second=0, microsecond=0, tzinfo=UTC) + timedelta(minutes=1),
        )
        document = build_report(client, period, watchlist, args.lang, zone)
        folder = args.out or Path(scratch) / "out"
        for fmt in ("html", "pdf", "md"):
            write_report(document, fmt, folder / f"brief-{args.lang}.{fmt}")
        args.image.parent.mkdir(parents=True, exist_ok=True)
        page = first_page_png(folder / f"brief-{args.lang}.pdf", Path(scratch) / "page")
        # A palette of 64 colours keeps the docs image small; text and charts stay legible.
        Image.open(page).convert("RGB").quantize(colors=64).save(args.image, optimize=True)
    print(f"wrote {args.image}" + (f" and the briefs in {args.out}" if args.out else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
