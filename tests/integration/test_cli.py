"""The `pantau` console script as a user runs it: real processes, a fresh data directory each.

chdb allows one engine per process and per directory, so every command runs in its own subprocess.
"""

from __future__ import annotations

import asyncio
import csv
import gzip
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from pantau import bus
from pantau.normalise import ENVELOPE_VERSION, parse_timestamp
from service.engines import TansuBroker
from tests.environment import clean_environment

pytestmark = pytest.mark.integration

PANTAU = str(Path(sys.executable).parent / "pantau")
ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = sorted(p.stem for p in (ROOT / "storage" / "migrations").glob("*.sql"))
T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def run_pantau(
    data_dir: Path, *args: str, timeout: float = 60, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run `pantau ARGS` with no PANTAU_* setting from this environment but the data dir and `env`."""
    return subprocess.run(
        [PANTAU, *args],
        env=clean_environment(data_dir, **env),
        cwd=data_dir.parent,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def status_of(data_dir: Path) -> dict[str, str]:
    result = run_pantau(data_dir, "migrate", "status")
    assert result.returncode == 0, result.stderr
    return dict(line.split(": ", 1) for line in result.stdout.splitlines())


def post(post_id: str, at: datetime) -> dict[str, Any]:
    return {
        "platform": "x",
        "id": post_id,
        "created_at": at.isoformat().replace("+00:00", "Z"),
        "author": {"id": "u1", "handle": "bob"},
        "text": f"post {post_id} #Pemilu",
    }


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(r if isinstance(r, str) else json.dumps(r) + "\n" for r in rows))
    return path


async def _read_raw(brokers: str, expect: int, seconds: float) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        bus.RAW,
        bootstrap_servers=bus.bootstrap_servers(brokers),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    values: list[bytes] = []
    try:
        deadline = asyncio.get_running_loop().time() + seconds
        while len(values) < expect and asyncio.get_running_loop().time() < deadline:
            for records in (await consumer.getmany(timeout_ms=300)).values():
                values.extend(r.value for r in records if r.value is not None)
        # One more poll: nothing beyond what was expected may be there.
        for records in (await consumer.getmany(timeout_ms=300)).values():
            values.extend(r.value for r in records if r.value is not None)
    finally:
        await consumer.stop()
    return values


def read_raw(brokers: str, expect: int, seconds: float = 15) -> list[bytes]:
    """Every value on `posts.raw`, from the beginning, across all partitions."""
    return asyncio.run(_read_raw(brokers, expect, seconds))


def envelopes(values: list[bytes]) -> list[dict[str, Any]]:
    messages = [orjson.loads(v) for v in values]
    assert all(m["envelope"] == ENVELOPE_VERSION for m in messages)
    return messages


def by_id(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: str(r["id"]))


def pantau_processes(data_dir: Path) -> list[int]:
    """Live processes that inherited this test's PANTAU_DATA_DIR (a child that outlived `pantau`)."""
    marker = f"PANTAU_DATA_DIR={data_dir}".encode() + b"\0"
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if marker in (proc / "environ").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


# -- migrate ---------------------------------------------------------------------------------------


def test_migrate_up_status_down_on_a_fresh_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    assert len(MIGRATIONS) >= 3 and MIGRATIONS[0] == "0001_posts"

    assert status_of(data_dir) == dict.fromkeys(MIGRATIONS, "pending")

    first = run_pantau(data_dir, "migrate", "up")
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [f"applied {name}" for name in MIGRATIONS]
    again = run_pantau(data_dir, "migrate", "up")
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "schema is up to date"

    status = status_of(data_dir)
    assert list(status) == MIGRATIONS
    assert all(s.startswith("applied at ") and "changed" not in s for s in status.values()), status

    down = run_pantau(data_dir, "migrate", "down", "--steps", "2")
    assert down.returncode == 0, down.stderr
    assert down.stdout.splitlines() == [f"reversed {MIGRATIONS[-1]}", f"reversed {MIGRATIONS[-2]}"]
    status = status_of(data_dir)
    assert [status[m] for m in MIGRATIONS[-2:]] == ["pending", "pending"]
    assert all(status[m].startswith("applied at ") for m in MIGRATIONS[:-2])


def test_migrate_up_to_a_version_applies_only_up_to_it(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    result = run_pantau(data_dir, "migrate", "up", "--to", "3")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"applied {name}" for name in MIGRATIONS[:3]]
    status = status_of(data_dir)
    assert all(status[m].startswith("applied at ") for m in MIGRATIONS[:3])
    assert all(status[m] == "pending" for m in MIGRATIONS[3:])


def test_migrate_up_to_zero_on_a_fresh_data_dir_applies_nothing(tmp_path: Path) -> None:
    result = run_pantau(tmp_path / "var", "migrate", "up", "--to", "0")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "schema is up to date"


def test_migrate_down_needs_at_least_one_step(tmp_path: Path) -> None:
    result = run_pantau(tmp_path / "var", "migrate", "down", "--steps", "0")
    assert result.returncode == 2
    assert "--steps" in result.stderr


# -- servers and settings --------------------------------------------------------------------------

SERVER_VARS = ("PANTAU_KAFKA_BROKERS", "PANTAU_CLICKHOUSE_DSN", "PANTAU_REDIS_URL")


@pytest.mark.parametrize("command", ["worker", "api"])
def test_worker_and_api_need_every_server(tmp_path: Path, command: str) -> None:
    data_dir = tmp_path / "var"
    result = run_pantau(data_dir, command, timeout=30)
    assert result.returncode == 2, result.stderr
    assert all(name in result.stderr for name in SERVER_VARS), result.stderr
    assert "Traceback" not in result.stderr
    assert not data_dir.exists(), "nothing may be started or written"


def test_worker_names_only_the_missing_servers(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    result = run_pantau(data_dir, "worker", timeout=30, PANTAU_KAFKA_BROKERS="127.0.0.1:9")
    assert result.returncode == 2, result.stderr
    assert "PANTAU_KAFKA_BROKERS" not in result.stderr
    assert "PANTAU_CLICKHOUSE_DSN" in result.stderr and "PANTAU_REDIS_URL" in result.stderr
    assert not data_dir.exists()


@pytest.mark.parametrize(
    ("args", "variable", "value"),
    [
        (("migrate", "status"), "PANTAU_TOPIC_PARTITIONS", "0"),
        (("migrate", "up"), "PANTAU_LOG_LEVEL", "LOUD"),
        (("worker",), "PANTAU_CLICKHOUSE_DSN", "mysql://x"),
        (("api",), "PANTAU_REDIS_URL", "http://localhost:6379"),
        (("replay", "FILE"), "PANTAU_KAFKA_BROKERS", "no-port-here"),
    ],
)
def test_an_invalid_setting_stops_any_command_naming_the_field(
    tmp_path: Path, args: tuple[str, ...], variable: str, value: str
) -> None:
    file = write_jsonl(tmp_path / "posts.jsonl", [post("1", T0)])
    data_dir = tmp_path / "var"
    argv = [str(file) if a == "FILE" else a for a in args]
    result = run_pantau(data_dir, *argv, timeout=30, **{variable: value})
    assert result.returncode == 2, result.stderr
    field = variable.removeprefix("PANTAU_").lower()
    assert field in result.stderr and variable in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert not data_dir.exists()


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        ((), {"PANTAU_TOPIC_PARTITIONS": "0"}, "PANTAU_TOPIC_PARTITIONS"),
        ((), {"PANTAU_CLICKHOUSE_DSN": "mysql://x"}, "PANTAU_CLICKHOUSE_DSN"),
        (("--demo", "--demo-speed", "0"), {}, "a positive number or 'max'"),
        ((), {"PANTAU_ADMIN_KEY": "too-short"}, "PANTAU_ADMIN_KEY"),
    ],
)
def test_up_with_a_bad_setting_exits_2_and_leaves_no_process(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], named: str
) -> None:
    data_dir = tmp_path / "var"
    result = run_pantau(data_dir, "up", *args, timeout=30, PANTAU_API_PORT="0", **env)
    assert result.returncode == 2, result.stderr
    assert named in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert pantau_processes(data_dir) == []
    assert not (data_dir / "engines.json").exists()
    assert not data_dir.exists(), "no engine may have been started"


# Runs the console script's entry point in a fresh interpreter, then lists which of the heavy
# libraries the runtime needs were imported by the time it exited.
HEAVY_IMPORTS = (
    "import sys\n"
    "from service.cli import main\n"
    "try:\n"
    "    main()\n"
    "except SystemExit as stop:\n"
    "    print(stop.code, sorted({'torch', 'faust', 'transformers'} & set(sys.modules)))\n"
)


@pytest.mark.parametrize("command", ["up", "worker", "api"])
def test_a_bad_setting_is_named_before_the_models_libraries_load(tmp_path: Path, command: str) -> None:
    """A typo in a setting is answered at once, not after seconds of importing torch and faust."""
    result = subprocess.run(
        [sys.executable, "-c", HEAVY_IMPORTS, command],
        env=clean_environment(tmp_path / "var", PANTAU_TOPIC_PARTITIONS="0"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "PANTAU_TOPIC_PARTITIONS" in result.stderr, result.stderr
    assert result.stdout.split() == ["2", "[]"], result.stdout


@pytest.mark.parametrize("command", ["up", "worker"])
def test_a_bad_alerting_rule_stops_start_up_naming_its_line(tmp_path: Path, command: str) -> None:
    rules = tmp_path / "alerting.yaml"
    rules.write_text("route:\n  receiver: desk\n  group_wait: soon\nreceivers:\n  - name: desk\n")
    servers = {"PANTAU_KAFKA_BROKERS": "127.0.0.1:9", "PANTAU_REDIS_URL": "redis://127.0.0.1:9",
               "PANTAU_CLICKHOUSE_DSN": "http://127.0.0.1:9"}  # fmt: skip
    env = {"PANTAU_ALERTING_PATH": str(rules), **(servers if command == "worker" else {})}
    result = run_pantau(tmp_path / "var", command, timeout=30, PANTAU_API_PORT="0", **env)
    assert result.returncode == 2, result.stderr
    assert f"{rules}:3: route.group_wait" in result.stderr and "not a duration" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "var").exists(), "no engine may have been started"


def test_a_bad_brief_schedule_stops_start_up_naming_its_line(tmp_path: Path) -> None:
    schedule = tmp_path / "reports.yaml"
    schedule.write_text(
        "reports:\n  - name: brief\n    cron: '0 7 * *'\n    since: 24h\n    receivers: [desk]\n"
    )
    result = run_pantau(
        tmp_path / "var", "up", timeout=30, PANTAU_API_PORT="0", PANTAU_REPORTS_PATH=str(schedule)
    )
    assert result.returncode == 2, result.stderr
    assert f"{schedule}:3" in result.stderr and "cron" in result.stderr, result.stderr
    assert not (tmp_path / "var").exists(), "no engine may have been started"
    # Without the schedule in this deployment, the file is not its concern.
    off = run_pantau(
        tmp_path / "var", "up", "--demo-speed", "fast", timeout=30,
        PANTAU_REPORTS_PATH=str(schedule), PANTAU_REPORTS_RUN="false",
    )  # fmt: skip
    assert off.returncode == 2 and "--demo-speed" in off.stderr, off.stderr


def test_up_names_the_demo_speed_option_it_refuses(tmp_path: Path) -> None:
    result = run_pantau(tmp_path / "var", "up", "--demo", "--demo-speed", "fast", timeout=30)
    assert result.returncode == 2
    assert "--demo-speed" in result.stderr, result.stderr


# -- replay ----------------------------------------------------------------------------------------


def test_replay_jsonl_sends_every_row_to_posts_raw(tmp_path: Path, broker: TansuBroker) -> None:
    posts = [post(str(i), T0 + timedelta(seconds=i)) for i in range(5)]
    file = write_jsonl(tmp_path / "posts.jsonl", [posts[0], "\n", posts[1], "not json\n", *posts[2:]])
    result = run_pantau(
        tmp_path / "var", "replay", str(file), "--speed", "max", PANTAU_KAFKA_BROKERS=broker.brokers
    )
    assert result.returncode == 0, result.stderr
    assert "sent 6 posts" in result.stdout

    values = read_raw(broker.brokers, expect=6)
    assert len(values) == 6
    junk = [v for v in values if not v.startswith(b"{")]
    assert [v.strip() for v in junk] == [b"not json"]
    messages = envelopes([v for v in values if v not in junk])
    assert {m["source"] for m in messages} == {"replay"}
    assert by_id([m["payload"] for m in messages]) == by_id(posts)


def test_replay_csv_with_a_source_name(tmp_path: Path, broker: TansuBroker) -> None:
    rows = [
        {"platform": "x", "id": str(i), "created_at": f"2024-05-01 10:00:0{i}", "author_id": "u1", "text": t}
        for i, t in enumerate(["hi, all", 'say "halo"', "", "multi\nline"])
    ]
    file = tmp_path / "posts.csv"
    with file.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    result = run_pantau(
        tmp_path / "var", "replay", str(file), "--source", "kpu-scraper", PANTAU_KAFKA_BROKERS=broker.brokers
    )
    assert result.returncode == 0, result.stderr
    assert "sent 4 posts" in result.stdout
    messages = envelopes(read_raw(broker.brokers, expect=4))
    assert {m["source"] for m in messages} == {"kpu-scraper"}
    assert by_id([m["payload"] for m in messages]) == by_id(rows)


def test_replay_rebase_now_at_a_speed(tmp_path: Path, broker: TansuBroker) -> None:
    posts = [post(str(i), T0 + timedelta(seconds=5 * i)) for i in range(3)]
    file = write_jsonl(tmp_path / "posts.jsonl", posts)
    result = run_pantau(
        tmp_path / "var", "replay", str(file), "--rebase-now", "--speed", "100",
        PANTAU_KAFKA_BROKERS=broker.brokers,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "sent 3 posts" in result.stdout
    payloads = by_id([m["payload"] for m in envelopes(read_raw(broker.brokers, expect=3))])
    times = [parse_timestamp(p["created_at"]) for p in payloads]
    assert abs((datetime.now(UTC) - times[-1]).total_seconds()) < 30
    assert [t - times[0] for t in times] == [
        timedelta(seconds=0),
        timedelta(seconds=5),
        timedelta(seconds=10),
    ]


@pytest.mark.parametrize("speed", ["0", "-2", "fast", ""])
def test_replay_refuses_a_bad_speed(tmp_path: Path, broker: TansuBroker, speed: str) -> None:
    file = write_jsonl(tmp_path / "posts.jsonl", [post("1", T0)])
    result = run_pantau(
        tmp_path / "var", "replay", str(file), "--speed", speed, PANTAU_KAFKA_BROKERS=broker.brokers
    )
    assert result.returncode != 0
    assert "--speed" in result.stderr and "positive number" in result.stderr, result.stderr
    assert "sent" not in result.stdout


def test_replay_refuses_a_speed_that_is_not_a_number(tmp_path: Path, broker: TansuBroker) -> None:
    file = write_jsonl(tmp_path / "posts.jsonl", [post("1", T0)])
    result = run_pantau(
        tmp_path / "var", "replay", str(file), "--speed", "nan", PANTAU_KAFKA_BROKERS=broker.brokers
    )
    assert result.returncode != 0
    assert "--speed" in result.stderr


def test_replay_of_a_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    result = run_pantau(tmp_path / "var", "replay", str(missing), PANTAU_KAFKA_BROKERS="127.0.0.1:9")
    assert_one_line_naming(result, missing, "No such file")


# Files a command cannot read, each made in a folder: (its name, its bytes; None: a folder).
UNREADABLE: dict[str, tuple[str, bytes | None]] = {
    "gzipped, other columns": ("labeled.csv.gz", gzip.compress(b"event,tweet_id,text\nx,1,halo\n")),
    "not UTF-8": ("latin1.csv", "event,hour_utc,tweet_count,text\ncafé,x,1,déjà\n".encode("latin-1")),
    "binary": ("picture.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x01"),
    "missing": ("nope.csv", b""),
    "a folder": ("folder.csv", None),
}


def unreadable(tmp_path: Path, kind: str) -> Path:
    name, content = UNREADABLE[kind]
    path = tmp_path / name
    if content is None:
        path.mkdir()
    elif kind != "missing":
        path.write_bytes(content)
    return path


def assert_one_line_naming(result: subprocess.CompletedProcess[str], path: Path, *words: str) -> None:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1, result.stderr
    assert str(path) in lines[0] and "expected" in lines[0], lines[0]
    assert all(word in lines[0] for word in words), lines[0]


CRISISLEX = ROOT.parent / "shared" / "data" / "crisislex_t26"


@pytest.mark.parametrize("kind", UNREADABLE)
def test_eval_detect_names_a_file_it_cannot_read_in_one_line(tmp_path: Path, kind: str) -> None:
    events = tmp_path / "events.csv"
    events.write_text(
        "event,name,start_day,duration_days,development,category,keywords\n"
        "e1,Flood,2013-01-01,3,Progressive,Natural,flood|banjir\n"
    )
    bad = unreadable(tmp_path, kind)

    as_volumes = run_pantau(tmp_path / "var", "eval", "detect", "--data", str(bad), "--events", str(events))
    hourly = tmp_path / "hourly.csv"
    hourly.write_text("event,hour_utc,tweet_count\ne1,2013-01-01T00:00Z,3\n")
    as_events = run_pantau(tmp_path / "var", "eval", "detect", "--data", str(hourly), "--events", str(bad))

    assert_one_line_naming(as_volumes, bad, "event,hour_utc,tweet_count")
    assert_one_line_naming(as_events, bad, "event,name,start_day")


def test_eval_detect_names_the_row_with_a_cell_it_cannot_read(tmp_path: Path) -> None:
    hourly = tmp_path / "hourly.csv"
    hourly.write_text("event,hour_utc,tweet_count\ne1,2013-01-01T00:00Z,3\ne1,2013-01-01T01:00Z,many\n")
    result = run_pantau(
        tmp_path / "var", "eval", "detect", "--data", str(hourly), "--events", str(CRISISLEX / "events.csv")
    )
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert str(hourly) in lines[0] and "row 2" in lines[0] and "many" in lines[0], lines[0]


@pytest.mark.parametrize(
    "command",
    [
        ("eval", "sentiment", "--data", "{bad}"),
        ("eval", "stance", "--data", "{bad}"),
        ("eval", "comparisons", "--data", "{bad}"),
        ("eval", "outcomes", "--data", "{bad}"),
        ("train", "sentiment", "--train", "{bad}", "--valid", "{bad}"),
        ("train", "stance", "--train", "{bad}", "--val", "{bad}"),
    ],
    ids=lambda c: " ".join(c[:2]),
)
@pytest.mark.parametrize("kind", ["gzipped, other columns", "binary"])
def test_training_and_evaluation_name_a_file_they_cannot_read_in_one_line(
    tmp_path: Path, command: tuple[str, ...], kind: str
) -> None:
    bad = unreadable(tmp_path, kind)
    result = run_pantau(tmp_path / "var", *(arg.format(bad=bad) for arg in command))
    assert_one_line_naming(result, bad)


@pytest.mark.parametrize(("option", "value"), [("--balance", "both"), ("--precision", "fp8")])
def test_training_refuses_an_unknown_choice_naming_the_option_before_it_loads_anything(
    tmp_path: Path, option: str, value: str
) -> None:
    result = run_pantau(tmp_path / "var", "train", "tuned", "--data", str(tmp_path), option, value)
    assert result.returncode == 2, result.stderr
    assert option in result.stderr and "Invalid value" in result.stderr
    assert not (tmp_path / "var").exists() or not any((tmp_path / "var").rglob("*.safetensors"))


def test_training_refuses_a_teacher_that_is_not_an_artefact_before_it_loads_anything(tmp_path: Path) -> None:
    (tmp_path / "teacher").mkdir()
    result = run_pantau(
        tmp_path / "var", "train", "tuned", "--data", str(tmp_path), "--teacher", str(tmp_path / "teacher")
    )
    assert result.returncode == 2, result.stderr
    said = " ".join(line.strip("│ ") for line in result.stderr.splitlines())  # unwrapped from Typer's box
    assert "Invalid value for --teacher" in said and "not an artefact" in said, said
    assert not (tmp_path / "var").exists() or not any((tmp_path / "var").rglob("*.safetensors"))


def test_training_refuses_the_turn_posts_without_a_turn_share(tmp_path: Path) -> None:
    result = run_pantau(tmp_path / "var", "train", "tuned", "--data", str(tmp_path), "--turn-posts")
    assert result.returncode == 2, result.stderr
    said = " ".join(line.strip("│ ") for line in result.stderr.splitlines())
    assert "Invalid value for --turn-posts" in said and "--political-turn-share" in said, said


@pytest.mark.parametrize(
    ("options", "why"),
    [
        (["--political-stance-share", "0.1"], "only means something with --stance-turns-sentiment"),
        (["--stance-turns-sentiment"], "needs the political posts"),
        (["--stance-turns-sentiment", "--political-turn-share", "0.05"], "--political-stance-share above 0"),
    ],
)
def test_training_refuses_to_teach_a_sign_it_cannot_use_or_has_no_labels_for(
    tmp_path: Path, options: list[str], why: str
) -> None:
    result = run_pantau(
        tmp_path / "var", "train", "tuned", "--data", str(tmp_path), "--turn-sign-weight", "1", *options
    )
    assert result.returncode == 2, result.stderr
    said = " ".join(line.strip("│ ") for line in result.stderr.splitlines())
    assert "Invalid value for --turn-sign-weight" in said and why in said, said


def test_the_watchlist_check_names_what_to_mend_and_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "watchlist.yaml"
    bad.write_text(
        "targets:\n"
        "  - {id: arya-d, kind: candidate, name: Arya Dirgantara, aliases: [Pak Arya]}\n"
        "  - {id: arya-w, kind: candidate, name: Arya Wicaksana, aliases: [pak arya, yang]}\n",
        encoding="utf-8",
    )
    result = run_pantau(tmp_path / "var", "watchlist", "check", "--path", str(bad))
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["shared", "common-word"], lines
    as_json = run_pantau(tmp_path / "var", "watchlist", "check", "--path", str(bad), "--json")
    report = json.loads(as_json.stdout)
    assert as_json.returncode == 1 and report["targets"] == 2
    assert [(f["problem"], f["alias"]) for f in report["findings"]] == [
        ("shared", "Pak Arya"),
        ("common-word", "yang"),
    ]


def test_the_watchlist_check_passes_the_bundled_one_and_refuses_an_unreadable_one(tmp_path: Path) -> None:
    clean = run_pantau(tmp_path / "var", "watchlist", "check")
    assert clean.returncode == 0 and "nothing found" in clean.stdout, clean.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text("targets: [{id: Bad Id}]\n", encoding="utf-8")
    result = run_pantau(tmp_path / "var", "watchlist", "check", "--path", str(broken))
    assert result.returncode == 2 and "invalid watchlist" in result.stderr, result.stderr


def test_training_refuses_a_teacher_weight_without_a_teacher(tmp_path: Path) -> None:
    result = run_pantau(tmp_path / "var", "train", "tuned", "--data", str(tmp_path), "--teacher-weight", "2")
    assert result.returncode == 2, result.stderr
    said = " ".join(line.strip("│ ") for line in result.stderr.splitlines())
    assert "Invalid value for --teacher-weight" in said and "only means something with --teacher" in said, (
        said
    )


@pytest.mark.parametrize("kind", ["not UTF-8", "binary", "missing", "a folder"])
def test_replay_names_a_file_it_cannot_read_in_one_line(tmp_path: Path, kind: str) -> None:
    bad = unreadable(tmp_path, kind)
    result = run_pantau(tmp_path / "var", "replay", str(bad), PANTAU_KAFKA_BROKERS="127.0.0.1:9")
    assert_one_line_naming(result, bad)
    assert "sent" not in result.stdout


def test_replay_reads_a_gzipped_file_whatever_its_name(tmp_path: Path, broker: TansuBroker) -> None:
    posts = [post(str(i), T0) for i in range(3)]
    plain = write_jsonl(tmp_path / "plain.jsonl", posts)
    disguised = tmp_path / "posts.jsonl"  # gzipped, though its name does not say so
    disguised.write_bytes(gzip.compress(plain.read_bytes()))
    result = run_pantau(tmp_path / "var", "replay", str(disguised), PANTAU_KAFKA_BROKERS=broker.brokers)
    assert result.returncode == 0, result.stderr
    assert "sent 3 posts" in result.stdout
    assert by_id([m["payload"] for m in envelopes(read_raw(broker.brokers, expect=3))]) == by_id(posts)


def test_replay_finds_the_broker_of_a_running_up(tmp_path: Path, broker: TansuBroker) -> None:
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    (data_dir / "engines.json").write_text(json.dumps({"kafka_brokers": broker.brokers, "redis_url": ""}))
    posts = [post(str(i), T0) for i in range(3)]
    file = write_jsonl(tmp_path / "posts.jsonl", posts)
    result = run_pantau(data_dir, "replay", str(file))
    assert result.returncode == 0, result.stderr
    assert "sent 3 posts" in result.stdout
    assert by_id([m["payload"] for m in envelopes(read_raw(broker.brokers, expect=3))]) == by_id(posts)


@pytest.mark.parametrize(
    "engines_json", [None, "{not json", json.dumps({"kafka_brokers": "", "redis_url": ""})], ids=str
)
def test_replay_without_any_broker_exits_2(tmp_path: Path, engines_json: str | None) -> None:
    data_dir = tmp_path / "var"
    if engines_json is not None:
        data_dir.mkdir()
        (data_dir / "engines.json").write_text(engines_json)
    file = write_jsonl(tmp_path / "posts.jsonl", [post("1", T0)])
    result = run_pantau(data_dir, "replay", str(file), timeout=30)
    assert result.returncode == 2, result.stderr
    assert "PANTAU_KAFKA_BROKERS" in result.stderr and "pantau up" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_backfill_loads_a_recorded_stream_and_report_writes_its_brief(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    demo = ROOT / "service" / "demo" / "posts.jsonl"
    loaded = run_pantau(data_dir, "backfill", "--stream", str(demo), timeout=600)
    assert loaded.returncode == 0, loaded.stderr
    figures = json.loads(loaded.stdout)
    posts = sum(1 for line in demo.read_text(encoding="utf-8").splitlines() if line.strip())
    assert figures["posts"] == figures["stored"] == posts
    assert figures["issues"] >= 3 and figures["alerts"] >= 3 and figures["issue_posts"] > 0
    brief = tmp_path / "brief.md"
    period = ("--since", "2026-11-19", "--until", "2026-11-22")
    written = run_pantau(data_dir, "report", *period, "--format", "md", "--lang", "en", "--out", str(brief))
    assert written.returncode == 0, written.stderr
    text = brief.read_text(encoding="utf-8")
    assert "#KPDBocor" in text, text[:2000]  # the leak, named by its hashtag
    # Desk time is the schedule's time zone: the same dates are another period in Makassar.
    schedule = tmp_path / "reports.yaml"
    schedule.write_text("timezone: Asia/Makassar\nreports: []\n", encoding="utf-8")
    elsewhere = tmp_path / "brief-wita.md"
    written = run_pantau(
        data_dir, "report", *period, "--format", "md", "--lang", "en", "--out", str(elsewhere),
        PANTAU_REPORTS_PATH=str(schedule),
    )  # fmt: skip
    assert written.returncode == 0, written.stderr
    first_lines = elsewhere.read_text(encoding="utf-8").splitlines()[:4]
    assert "WITA" in " ".join(first_lines) and "WIB" in " ".join(text.splitlines()[:4]), first_lines


# -- prepare ---------------------------------------------------------------------------------------


def test_prepare_exports_the_int8_encoder_once_into_the_model_cache(
    tmp_path: Path, model_cache: Path
) -> None:
    """What `scripts/demo` and the image run before the service: the first start then finds the
    export in place. The rebuilt base encoder is the session's (linked), so the export is new here."""
    from nlp.e5_convert import cached_e5_small

    base = cached_e5_small(model_cache)
    cache = tmp_path / "models"
    cache.mkdir()
    (cache / base.name).symlink_to(base, target_is_directory=True)
    data_dir = tmp_path / "var"

    first = run_pantau(
        data_dir, "prepare", "--runtime", "onnx", timeout=300, PANTAU_MODEL_CACHE_DIR=str(cache)
    )

    assert first.returncode == 0, first.stderr
    exported = sorted(p.name for p in cache.glob("*.onnx"))
    assert len(exported) == 1 and exported[0].startswith("tuned-"), exported
    assert "/onnx" in first.stdout and str(cache) in first.stdout
    # No half-written file is left beside it.
    assert sorted(p.name for p in cache.iterdir()) == sorted([base.name, exported[0]])
    written = (cache / exported[0]).stat().st_mtime_ns

    again = run_pantau(
        data_dir, "prepare", "--runtime", "onnx", timeout=300, PANTAU_MODEL_CACHE_DIR=str(cache)
    )

    assert again.returncode == 0, again.stderr
    assert (cache / exported[0]).stat().st_mtime_ns == written


def test_prepare_names_the_runtime_option_it_refuses(tmp_path: Path) -> None:
    result = run_pantau(tmp_path / "var", "prepare", "--runtime", "tpu")
    assert result.returncode == 2
    assert "--runtime" in result.stderr and "tpu" in result.stderr
