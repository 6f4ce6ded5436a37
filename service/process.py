"""Process-wide set-up for the long-running commands."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

log = logging.getLogger(__name__)

MALLOC_ARENAS = 2
_M_ARENA_MAX = -8  # glibc's mallopt parameter


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Cap glibc's malloc arenas for this process and the engines it starts.

    glibc gives threads that allocate at once arenas of their own, up to eight per core, and keeps
    their freed memory: the model executor's, ClickHouse's, the broker client's and the API's
    threads each grow one. With two, the demo's peak (`bench/demo_run.py`, the fine-tuned model)
    was 1,832 to 1,963 MiB over four runs, against 1,993 without. A MALLOC_ARENA_MAX already set
    is the user's choice and is left alone (glibc read it at start). Elsewhere than glibc, nothing
    happens. Whether the cap was set."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    os.environ["MALLOC_ARENA_MAX"] = str(arenas)  # for the engines started as child processes
    mallopt = getattr(_libc(), "mallopt", None)
    if mallopt is None:
        return False
    return bool(mallopt(_M_ARENA_MAX, arenas))


def release_freed_memory() -> bool:
    """Give the memory freed so far back to the system (glibc's malloc_trim).

    Loading the fine-tuned model builds it in fp32, merges its adapters and casts it to bf16: the
    fp32 copy is freed, but glibc keeps it. A process that had just loaded the model held 1,379
    MiB, and 1,151 after the trim. Elsewhere than glibc, nothing happens. Whether memory was
    released."""
    trim = getattr(_libc(), "malloc_trim", None)
    return bool(trim(0)) if trim is not None else False


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None
