"""Regenerate docs/images/desk.png and docs/images/wall.png: the desk page and its wall screen, taken
by the browser test that drives them (real engines, a headless Chromium), written into docs/images.

    .venv/bin/python scripts/screenshots.py
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "images"
TEST = "tests/browser/test_desk_page.py::test_the_wall_screen_updates_by_itself_and_the_language_switches"


def main() -> int:
    IMAGES.mkdir(parents=True, exist_ok=True)
    # -rs: a run without Chromium says why it took no pictures instead of passing quietly.
    command = [sys.executable, "-m", "pytest", TEST, "-q", "-rs", "-p", "no:cacheprovider"]
    env = {**os.environ, "PANTAU_SCREENSHOT_DIR": str(IMAGES)}
    images = [IMAGES / "desk.png", IMAGES / "wall.png"]
    before = {image: image.stat().st_mtime_ns if image.exists() else 0 for image in images}
    result = subprocess.run(command, cwd=ROOT, env=env, check=False)
    if result.returncode != 0:
        return result.returncode
    stale = [
        image.name for image in images if not image.exists() or image.stat().st_mtime_ns == before[image]
    ]
    if stale:  # the test was skipped (no Chromium): pytest passes, but nothing was taken
        print(f"not regenerated: {', '.join(stale)}", file=sys.stderr)
        return 1
    for image in images:
        print(f"{image.relative_to(ROOT)}: {image.stat().st_size // 1024} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
