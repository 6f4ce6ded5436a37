"""Build the dev stream of the issue evaluation from CrisisLex T26 (plus airline chatter).

    python scripts/build_issue_streams.py --crisislex DIR --airline CSV --out DIR [--seed N]

Writes `stream.jsonl`, `truth.csv` and `events.csv` into `--out` (see `detectors/issue_streams.py` for
how the stream is made) and prints what it holds as one JSON line. Deterministic for a seed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from detectors.issue_streams import build_crisislex_stream, stream_counts, write_issue_stream
from pantau.tables import TableError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--crisislex", type=Path, required=True, help="the CrisisLex T26 folder")
    parser.add_argument("--airline", type=Path, default=None, help="airline tweets CSV (column text)")
    parser.add_argument("--out", type=Path, required=True, help="folder to write the three files into")
    parser.add_argument("--seed", type=int, default=26)
    parser.add_argument("--spacing-hours", type=float, default=72.0, help="hours between event onsets")
    args = parser.parse_args(argv)
    try:
        stream = build_crisislex_stream(
            args.crisislex, args.airline, seed=args.seed, spacing_hours=args.spacing_hours
        )
    except TableError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    paths = write_issue_stream(stream, args.out)
    counts = stream_counts(stream)
    counts["seed"] = args.seed
    counts["stream_bytes"] = paths["stream"].stat().st_size
    print(json.dumps(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
