"""The environment a test runs a `pantau` process in."""

from __future__ import annotations

import os
from pathlib import Path


def clean_environment(data_dir: Path, **env: str) -> dict[str, str]:
    """This environment with no PANTAU_* setting but the data dir and `env`: a setting of the
    machine running the tests never reaches the process under test."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PANTAU_")}
    environment.update({"PANTAU_DATA_DIR": str(data_dir), **env})
    return environment
