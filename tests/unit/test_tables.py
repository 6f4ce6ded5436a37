"""pantau.tables: a CSV read with one clear error for any file that is not the table expected."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pantau.tables import TableError, parse_cells, read_table


def write(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def test_rows_of_a_plain_or_gzipped_table_whatever_the_name(tmp_path: Path) -> None:
    table = "\ufefftext,label,extra\nbagus,positive,1\n,negative,2\njelek\n".encode()
    named = {"a.csv": table, "b.csv.gz": gzip.compress(table), "c.csv": gzip.compress(table)}
    for name, content in named.items():
        rows = read_table(write(tmp_path, name, content), ("text", "label"))
        # The byte-order mark does not hide the first column; a row without a label is left out.
        assert [(r["text"], r["label"]) for r in rows] == [("bagus", "positive"), ("", "negative")]


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"event,tweet_id\nx,1\n", "no column text,label (it has event,tweet_id)"),
        (b"", "no column text,label (it has no header)"),
        (b"text,label\n", "no rows"),
        ("text,label\ncafé,positive\n".encode("latin-1"), "not UTF-8 text (byte 14 is b'\\xe9')"),
        (b"\x1f\x8b\x08\x00broken", "a damaged gzip file"),
    ],
    ids=["other columns", "empty", "header only", "latin-1", "damaged gzip"],
)
def test_a_file_that_is_not_the_table_is_one_error_naming_it_and_what_was_expected(
    tmp_path: Path, content: bytes, says: str
) -> None:
    path = write(tmp_path, "data.csv", content)
    with pytest.raises(TableError) as error:
        read_table(path, ("text", "label"), what="a labelled CSV")
    message = str(error.value)
    assert message.startswith(f"{path}: ") and says in message
    assert message.endswith("expected a labelled CSV with columns text,label (optionally gzipped)")
    assert "\n" not in message


def test_a_missing_file_or_a_folder_is_an_error_naming_it(tmp_path: Path) -> None:
    for path in (tmp_path / "nope.csv", tmp_path):
        with pytest.raises(TableError, match="cannot read it"):
            read_table(path, ("text",))


def test_a_cell_that_cannot_be_parsed_names_its_row(tmp_path: Path) -> None:
    path = write(tmp_path, "hourly.csv", b"hour,count\n1,3\n2,many\n")
    rows = read_table(path, ("hour", "count"))
    assert parse_cells(path, rows[:1], lambda r: int(r["count"])) == [3]
    with pytest.raises(TableError, match=r"hourly.csv: row 2: invalid literal for int\(\) .*'many'"):
        parse_cells(path, rows, lambda r: int(r["count"]))


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
@example(content=b"a,b\n\x00,1\n")  # a NUL byte: csv refuses it ("line contains NUL")
@example(content=b'a,b\n"open quote,1\n')
@example(content=b"\x1f\x8b")
def test_any_bytes_give_rows_or_a_table_error_never_another_exception(tmp_path: Path, content: bytes) -> None:
    path = write(tmp_path, "any.csv", content)
    try:
        rows = read_table(path, ("a",))
    except TableError as error:
        assert str(error).startswith(f"{path}: ")
    else:
        assert rows and all(isinstance(row["a"], str) for row in rows)
