"""streams.sources: reading replay files, their clock, rebasing, the envelope and the replay pacing.

No broker: `replay` gets a fake producer that records when each batch went out.
"""

from __future__ import annotations

import csv
import gzip
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pantau.normalise import ENVELOPE_VERSION, normalise, parse_timestamp
from streams.sources import encode_row, read_rows, rebase, replay, row_time

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
NOW = datetime(2024, 6, 1, 12, 30, 15, 250_000, tzinfo=UTC)


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def flat(post_id: str, at: datetime | None = None, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "platform": "x",
        "id": post_id,
        "author": {"id": "u1", "handle": "bob"},
        "text": f"post {post_id} #Tag",
        **extra,
    }
    if at is not None:
        row["created_at"] = iso(at)
    return row


def x_v2(post_id: str, at: datetime) -> dict[str, Any]:
    return {
        "data": {"id": post_id, "text": "hi", "author_id": "u9", "created_at": iso(at)},
        "includes": {"users": [{"id": "u9", "username": "nine"}]},
    }


def write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


CSV_ROWS = [
    {"platform": "x", "id": "1", "created_at": "2024-05-01 10:00:00", "author_id": "u1", "text": "hi, there"},
    {"platform": "x", "id": "2", "created_at": "", "author_id": "u2", "text": 'two\nlines "quoted"'},
]


# -- read_rows -------------------------------------------------------------------------------------


def test_jsonl_rows_skip_blank_lines_and_pass_non_objects_on_as_text(tmp_path: Path) -> None:
    path = tmp_path / "posts.jsonl"
    path.write_bytes(
        b'{"id": "1", "text": "satu \xc3\xa9"}\n'
        b"\n"
        b"   \t \n"
        b"this is not json\n"
        b"[1, 2, 3]\n"
        b'"a string"\n'
        b"42\n"
        b"\xff\xfe broken utf-8\n"
        b'{"id": "2"}'  # no newline at the end of the file
    )
    rows = list(read_rows(path))
    assert rows[0] == {"id": "1", "text": "satu é"}
    assert rows[-1] == {"id": "2"}
    texts = rows[1:-1]
    assert all(isinstance(t, str) for t in texts)
    assert [str(t).strip() for t in texts] == [
        "this is not json",
        "[1, 2, 3]",
        '"a string"',
        "42",
        "\ufffd\ufffd broken utf-8",
    ]


def test_jsonl_with_only_blank_lines_has_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("\n\n  \n")
    assert list(read_rows(path)) == []


@pytest.mark.parametrize("name", ["posts.csv", "POSTS.CSV"])
def test_csv_rows_are_dict_reader_rows(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    write_csv(path, CSV_ROWS)
    assert list(read_rows(path)) == CSV_ROWS


@pytest.mark.parametrize("name", ["posts.csv.gz", "posts.CSV.GZ"])
def test_gzipped_csv_is_read_like_csv(tmp_path: Path, name: str) -> None:
    plain = tmp_path / "plain.csv"
    write_csv(plain, CSV_ROWS)
    path = tmp_path / name
    path.write_bytes(gzip.compress(plain.read_bytes()))
    assert list(read_rows(path)) == CSV_ROWS


def test_csv_with_a_utf8_bom_keeps_its_first_column_name(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbfplatform,id\nx,1\n")
    assert list(read_rows(path)) == [{"platform": "x", "id": "1"}]


def test_a_csv_row_with_extra_cells_does_not_kill_the_replay(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("platform,id,created_at,text\nx,1,2024-05-01T10:00:00Z,hi,EXTRA\nx,2,,ok\n")
    encoded = [encode_row(row, "replay") for row in read_rows(path)]
    assert len(encoded) == 2


# -- row_time --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ({"created_at": "2024-05-01T10:00:00Z"}, T0),
        ({"platform": "x", "created_at": "2024-05-01 10:00:00"}, T0),
        ({"timestamp": "2024-05-01T12:00:00+02:00"}, T0),
        ({"time": T0.timestamp()}, T0),
        ({"time": int(T0.timestamp() * 1000)}, T0),
        ({"created_at": "", "timestamp": "2024-05-01T10:00:00Z"}, T0),
        ({"created_at": None, "time": "2024-05-01T10:00:00Z"}, T0),
        ({"created_at": "Wed May 01 10:00:00 +0000 2024"}, T0),
        # A flat post that happens to have a `data` field still reads its own time.
        ({"platform": "x", "created_at": "2024-05-01T10:00:00Z", "data": {"created_at": "2023-01-01"}}, T0),
    ],
)
def test_row_time_of_flat_rows(row: dict[str, Any], expected: datetime) -> None:
    assert row_time(row) == expected


def test_row_time_of_an_x_v2_tweet() -> None:
    assert row_time(x_v2("7", T0)) == T0


@pytest.mark.parametrize(
    "row",
    [
        {"platform": "x", "id": "1", "text": "no time"},
        {"created_at": ""},
        {"created_at": None},
        {"created_at": "not a time"},
        {"created_at": "1990-01-01T00:00:00Z"},  # before 2000: refused by parse_timestamp
        {"data": {"id": "1"}},
        {"data": "not an object"},
        {},
    ],
)
def test_rows_without_a_usable_time(row: dict[str, Any]) -> None:
    assert row_time(row) is None


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"created_at": "2024-05-01T10:00:00Z"}', ""])
def test_text_rows_have_no_time(text: str) -> None:
    assert row_time(text) is None


# -- rebase ----------------------------------------------------------------------------------------


offsets_us = st.lists(st.integers(min_value=0, max_value=30 * 24 * 3600 * 10**6), min_size=1, max_size=30)
others = st.lists(
    st.sampled_from([{"platform": "x", "id": "no-time"}, "not json\n", {"created_at": ""}]), max_size=5
)


@settings(max_examples=150, deadline=None)
@given(offsets=offsets_us, extra=others, data=st.data())
def test_rebase_moves_the_last_post_to_now_and_keeps_every_gap(
    offsets: list[int], extra: list[Any], data: st.DataObject
) -> None:
    base = datetime(2021, 3, 4, 5, 6, 7, tzinfo=UTC)
    timed: list[dict[str, Any] | str] = [
        flat(str(i), base + timedelta(microseconds=us)) for i, us in enumerate(offsets)
    ]
    rows: list[dict[str, Any] | str] = list(timed)
    for item in extra:  # rows without a time, anywhere in the file
        rows.insert(data.draw(st.integers(0, len(rows))), item)
    before = orjson.dumps(rows)

    out = rebase(rows, NOW)

    assert orjson.dumps(rows) == before, "rebase must not change its input"
    assert len(out) == len(rows)
    old = [row_time(r) for r in rows]
    new = [row_time(r) for r in out]
    assert max(t for t in new if t is not None) == NOW
    shifts = {n - o for o, n in zip(old, new, strict=True) if o is not None and n is not None}
    assert shifts == {NOW - max(t for t in old if t is not None)}
    for original, rebased in zip(rows, out, strict=True):
        if row_time(original) is None:
            assert rebased == original
        else:
            assert isinstance(rebased, dict) and isinstance(original, dict)
            assert {k: v for k, v in rebased.items() if k != "created_at"} == {
                k: v for k, v in original.items() if k != "created_at"
            }
            assert rebased["created_at"].endswith("Z")
            assert parse_timestamp(rebased["created_at"]) == row_time(rebased)


def test_rebase_of_epoch_and_csv_times() -> None:
    rows: list[dict[str, Any] | str] = [
        {"platform": "x", "id": "1", "created_at": "2024-05-01 10:00:00"},
        {"platform": "x", "id": "2", "created_at": str(int((T0 + timedelta(seconds=90)).timestamp()))},
        {"platform": "x", "id": "3", "created_at": int((T0 + timedelta(seconds=30)).timestamp() * 1000)},
    ]
    out = rebase(rows, NOW)
    assert [row_time(r) for r in out] == [
        NOW - timedelta(seconds=90),
        NOW,
        NOW - timedelta(seconds=60),
    ]


def test_rebase_without_any_time_returns_the_rows_unchanged() -> None:
    rows: list[dict[str, Any] | str] = ["junk", {"platform": "x", "id": "1"}, {"created_at": "nonsense"}]
    assert rebase(rows, NOW) == rows
    assert rebase([], NOW) == []


@pytest.mark.parametrize(
    "rows",
    [
        [x_v2("1", T0), x_v2("2", T0 + timedelta(seconds=10))],
        [
            {"platform": "x", "id": "1", "timestamp": iso(T0)},
            {"platform": "x", "id": "2", "timestamp": iso(T0 + timedelta(seconds=10))},
        ],
    ],
    ids=["x-v2", "timestamp-field"],
)
def test_rebase_shifts_every_shape_that_row_time_reads(rows: list[dict[str, Any] | str]) -> None:
    out = rebase(rows, NOW)
    assert row_time(out[-1]) == NOW


# -- encode_row ------------------------------------------------------------------------------------


def test_encode_row_wraps_a_dict_in_the_envelope() -> None:
    row = flat("9", T0, metrics={"likes": 1})
    before = time.time()
    message = orjson.loads(encode_row(row, "my-source"))
    assert message["envelope"] == ENVELOPE_VERSION == "pantau/1"
    assert message["source"] == "my-source"
    assert message["payload"] == row
    received = parse_timestamp(message["received_at"])
    assert before - 1 <= received.timestamp() <= time.time() + 1
    post = normalise(encode_row(row, "my-source"))
    assert (post.id, post.source, post.created_at) == ("x:9", "my-source", T0)


@pytest.mark.parametrize("text", ["not json\n", "[1, 2, 3]", "kalimat é ✓"])
def test_encode_row_passes_text_through_as_bytes(text: str) -> None:
    assert encode_row(text, "ignored") == text.encode("utf-8")


# -- replay ----------------------------------------------------------------------------------------


class FakeProducer:
    """Records (monotonic time, values) for every send_many, like RawProducer returns the count."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, list[bytes]]] = []

    async def send_many(self, values: Iterable[bytes]) -> int:
        batch = list(values)
        self.calls.append((time.monotonic(), batch))
        return len(batch)

    @property
    def values(self) -> list[bytes]:
        return [v for _, batch in self.calls for v in batch]

    def sent_at(self, started: float) -> list[float]:
        """Seconds after `started` at which each value went out, in order."""
        return [at - started for at, batch in self.calls for _ in batch]


def payloads(values: list[bytes]) -> list[Any]:
    out = []
    for value in values:
        try:
            message = orjson.loads(value)
        except orjson.JSONDecodeError:
            out.append(value.decode())
            continue
        out.append(message["payload"] if isinstance(message, dict) and "envelope" in message else value)
    return out


async def test_replay_at_max_speed_sends_everything_in_batches_of_max_batch() -> None:
    rows: list[dict[str, Any] | str] = [flat(str(i), T0 + timedelta(hours=i)) for i in range(1234)]
    rows[7] = "junk line\n"
    producer = FakeProducer()
    started = time.monotonic()
    sent = await replay(producer, rows, speed=None, source="bulk", max_batch=500)  # type: ignore[arg-type]
    assert sent == 1234
    assert [len(batch) for _, batch in producer.calls] == [500, 500, 234]
    assert payloads(producer.values) == rows
    assert producer.values[7] == b"junk line\n"
    assert {orjson.loads(v)["source"] for i, v in enumerate(producer.values) if i != 7} == {"bulk"}
    assert time.monotonic() - started < 5  # an hour apart in event time: no waiting at all


async def test_replay_of_nothing_sends_nothing() -> None:
    for speed in (None, 10.0):
        producer = FakeProducer()
        assert await replay(producer, [], speed=speed) == 0  # type: ignore[arg-type]
        assert producer.calls == []


async def test_replay_at_a_speed_follows_the_posts_clock() -> None:
    rows: list[dict[str, Any] | str] = [
        "junk before any time\n",
        flat("a", T0),
        flat("untimed"),
        flat("b", T0 + timedelta(seconds=10)),
        flat("c", T0 + timedelta(seconds=10)),  # same time as b: goes out with it
        "junk after\n",
    ]
    producer = FakeProducer()
    started = time.monotonic()
    sent = await replay(producer, rows, speed=20.0, source="paced")  # type: ignore[arg-type]
    elapsed = time.monotonic() - started
    assert sent == len(rows)
    assert payloads(producer.values) == rows
    at = producer.sent_at(started)
    # Junk, the first post and the untimed one go out at once; b and c 10 s / 20 = 0.5 s later.
    assert max(at[:3]) < 0.3
    assert 0.35 <= at[3] - at[1] <= 1.5
    assert at[4] - at[3] < 0.1
    assert at[5] - at[4] < 0.1
    assert elapsed < 2.0


async def test_replay_at_a_speed_does_not_wait_for_rows_without_a_time() -> None:
    rows: list[dict[str, Any] | str] = ["junk\n", flat("x"), {"data": {"id": "1"}}] * 20
    producer = FakeProducer()
    started = time.monotonic()
    assert await replay(producer, rows, speed=0.001, max_batch=7) == 60  # type: ignore[arg-type]
    assert time.monotonic() - started < 0.5
    assert payloads(producer.values) == rows
    assert [len(batch) for _, batch in producer.calls] == [7] * 8 + [4]


async def test_replay_at_a_speed_keeps_file_order_and_max_batch() -> None:
    # Same event time for all: nothing waits, batches are cut at max_batch, order is the file's.
    rows: list[dict[str, Any] | str] = [flat(str(i), T0) for i in range(11)]
    producer = FakeProducer()
    assert await replay(producer, rows, speed=5.0, max_batch=4) == 11  # type: ignore[arg-type]
    assert [len(batch) for _, batch in producer.calls] == [4, 4, 3]
    assert [p["id"] for p in payloads(producer.values)] == [str(i) for i in range(11)]


async def test_replay_sends_a_newest_first_export_in_event_time_order() -> None:
    newest_first: list[dict[str, Any] | str] = [flat(str(i), T0 + timedelta(seconds=i)) for i in (3, 2, 1, 0)]
    producer = FakeProducer()
    started = time.monotonic()
    assert await replay(producer, newest_first, speed=20.0) == 4  # type: ignore[arg-type]
    assert [p["id"] for p in payloads(producer.values)] == ["0", "1", "2", "3"]
    # Paced on the posts' own clock: 3 s of event time at 20x is about 0.15 s.
    assert time.monotonic() - started >= 0.1


async def test_replay_at_max_speed_also_sends_in_event_time_order() -> None:
    newest_first: list[dict[str, Any] | str] = [flat(str(i), T0 + timedelta(hours=i)) for i in (5, 4, 3, 0)]
    producer = FakeProducer()
    assert await replay(producer, newest_first, speed=None) == 4  # type: ignore[arg-type]
    assert [p["id"] for p in payloads(producer.values)] == ["0", "3", "4", "5"]
