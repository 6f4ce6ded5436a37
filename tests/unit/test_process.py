"""Process set-up: the malloc arena cap."""

from __future__ import annotations

import subprocess
import sys


def run_python(code: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, timeout=60
    )
    return result.stdout.strip()


def test_the_cap_is_set_and_handed_to_child_processes() -> None:
    code = (
        "import os, subprocess, sys; from service.process import limit_malloc_arenas; "
        "print(limit_malloc_arenas()); "
        "print(subprocess.run([sys.executable, '-c', 'import os; print(os.environ[\"MALLOC_ARENA_MAX\"])'], "
        "capture_output=True, text=True).stdout.strip())"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": "."}
    assert run_python(code, env).splitlines() == ["True", "2"]


def test_a_cap_the_user_set_is_left_alone() -> None:
    code = (
        "import os; from service.process import limit_malloc_arenas; "
        "print(limit_malloc_arenas(), os.environ['MALLOC_ARENA_MAX'])"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": ".", "MALLOC_ARENA_MAX": "4"}
    assert run_python(code, env) == "False 4"
