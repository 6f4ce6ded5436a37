"""The emerging-topic threshold for the fine-tuned encoder, measured on CrisisLex T26 events.

Prints the calibration (`nlp/calibration.py`) of the shipped fine-tuned model against the frozen
12-layer e5-small at 0.88: per event a seeded sample of its labelled tweets; over every pair of
posts, the share of pairs from one event that reach the threshold (`joins_own`) and of pairs from
two events (`joins_other`), at 0.88 and at the calibrated threshold (the one with e5-small's share
of wrong joins). `pantau train tuned` runs the same and stores the threshold with the
artefact; the detector uses it unless `PANTAU_TOPIC_SIMILARITY` is set.

    .venv/bin/python bench/topic_similarity.py --data ../shared/data [--per-event 60]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config.settings import load_settings
from nlp.e5_convert import cached_e5_small
from nlp.models import load_tuned
from nlp.tuning import topic_calibration


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True, help="the shared data folder")
    parser.add_argument("--per-event", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    settings = load_settings()
    model = load_tuned(settings)
    base = cached_e5_small(settings.resolved_model_cache_dir)
    result = topic_calibration(model, base, args.data, seed=args.seed, per_event=args.per_event)
    print(json.dumps({"tuned_model": model.name, **result}))


if __name__ == "__main__":
    main()
