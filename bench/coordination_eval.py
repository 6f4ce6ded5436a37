"""Coordinated-posting detection on the CrisisLex T26 stream with planted campaigns and organic waves.

CrisisLex has no author ids, so each real tweet counts as its own account: the hardest case for
false signals (every copy of a text looks like another account). Retweets there are written as
"RT @user: ..." texts, which the detector takes as native reposts.

    .venv/bin/python bench/coordination_eval.py --data CSV.GZ [--seeds 0 1 2] [--param name=value ...]
        [--max-word-edits 2] [--accounts-per-campaign 20] [--minutes 5] [--brief]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from detectors.coordination_eval import RealPost, evaluate_coordination  # noqa: E402
from pantau.domain import as_utc  # noqa: E402


def load_crisislex(path: Path) -> list[RealPost]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        return [
            (as_utc(datetime.fromisoformat(row["created_at"])), f"crisislex:{row['tweet_id']}", row["text"])
            for row in csv.DictReader(handle)
        ]


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        type=Path,
        required=True,
        help="CrisisLex T26's crisislex_t26_labeled.csv.gz (or the same columns)",
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--param", action="append", default=[], help="a detector hyperparameter: name=value")
    parser.add_argument(
        "--max-word-edits", type=int, default=2, help="word changes per campaign copy, at most"
    )
    parser.add_argument("--accounts-per-campaign", type=int, default=20)
    parser.add_argument("--minutes", type=float, default=5.0, help="how long a campaign lasts")
    parser.add_argument("--brief", action="store_true", help="figures only, no examples")
    args = parser.parse_args()
    if not args.data.exists():
        sys.exit(f"no data at {args.data}: pass --data")
    params = {name: _value(value) for name, value in (item.split("=", 1) for item in args.param)}
    real_posts = load_crisislex(args.data)
    results = []
    for seed in args.seeds:
        result = evaluate_coordination(
            real_posts,
            seed=seed,
            accounts_per_campaign=args.accounts_per_campaign,
            minutes=args.minutes,
            max_word_edits=args.max_word_edits,
            detector_params=params,
        )
        if args.brief:
            result.pop("false_signal_examples")
            result["real_stream_alone"].pop("examples")
        results.append(result)
    print(json.dumps(results, indent=2, ensure_ascii=False, default=str))


if __name__ == "__main__":
    main()
