"""service.engines: an engine's output goes to a log file that rotates, so weeks of it fill no disk."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from service.engines import copy_rotating

pytestmark = pytest.mark.integration

CHATTY = "import sys\nfor i in range(20000): print(f'line {i:05d} ' + 'x' * 80)\nprint('the last line')"


def test_a_chatty_engine_s_log_rotates_and_keeps_its_newest_lines(tmp_path: Path) -> None:
    path = tmp_path / "engine.log"
    process = subprocess.Popen(
        [sys.executable, "-c", CHATTY], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert process.stdout is not None
    copier = copy_rotating(process.stdout, path, max_bytes=100_000, backups=2)
    assert process.wait(30) == 0
    copier.join(30)

    files = sorted(tmp_path.glob("engine.log*"))
    assert [f.name for f in files] == ["engine.log", "engine.log.1", "engine.log.2"]
    assert all(f.stat().st_size <= 100_000 for f in files)  # about 1.9 MB written, 300 KB kept
    assert path.read_text().splitlines()[-1] == "the last line"
    assert "line 19999" in (path.read_text() + (tmp_path / "engine.log.1").read_text())
