"""Process set-up: the malloc arena cap, and giving freed memory back."""

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


RSS_AFTER_FREEING = """
from service.process import release_freed_memory

def rss_mib():
    for line in open('/proc/self/status'):
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) // 1024

# 190 MiB in chunks on glibc's heap, each followed by a small block that stays: freeing the
# chunks leaves holes that glibc keeps (the heap's top cannot shrink past the kept blocks).
chunks, kept = [], []
for _ in range(3000):
    chunks.append(bytearray(64 * 1024))
    kept.append(bytearray(600))
del chunks
before = rss_mib()
released = release_freed_memory()
print(released, before - rss_mib())
"""


def test_freed_memory_goes_back_to_the_system() -> None:
    released, dropped = run_python(RSS_AFTER_FREEING, {"PATH": "/usr/bin:/bin", "PYTHONPATH": "."}).split()
    assert released == "True"
    assert int(dropped) > 100  # MiB: what glibc kept after the free is given back
