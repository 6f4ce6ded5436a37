"""Labelled and evaluation tables read from CSV files, with one clear error for a file that is not one.

Training, evaluation and replay read files a person names on the command line. A wrong file (a
gzipped one without `.gz`, a spreadsheet in another encoding, a table with other columns) must end
in one line naming the file and what was expected, not a traceback from deep inside the reader.
"""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

GZIP_MAGIC = b"\x1f\x8b"


class TableError(ValueError):
    """A data file that cannot be read as the table the command expects; the message says both."""


def read_text(path: Path, expected: str) -> str:
    """The file's text, gunzipped when its bytes are gzip whatever its name, as UTF-8 (a leading
    byte-order mark dropped); a `TableError` naming the file and `expected` otherwise."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise TableError(f"{path}: cannot read it ({exc.strerror or exc}); expected {expected}") from None
    if raw.startswith(GZIP_MAGIC):
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise TableError(f"{path}: a damaged gzip file ({exc}); expected {expected}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        byte = raw[exc.start : exc.start + 1]
        where = f"byte {exc.start} is {byte!r}"
        raise TableError(f"{path}: not UTF-8 text ({where}); expected {expected}") from None


def read_table(path: Path, columns: Sequence[str], *, what: str = "a CSV") -> list[dict[str, str]]:
    """The rows of a CSV (gzipped or not) that has at least `columns`, each with those cells filled
    in; a `TableError` when the file is not such a table or has no such row."""
    expected = f"{what} with columns {','.join(columns)} (optionally gzipped)"
    text = read_text(path, expected)
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = reader.fieldnames or []
        missing = [c for c in columns if c not in header]
        if missing:
            found = ",".join(header)[:200] if header else "no header"
            raise TableError(f"{path}: no column {','.join(missing)} (it has {found}); expected {expected}")
        rows = [row for row in reader if all(row.get(c) is not None for c in columns)]
    except csv.Error as exc:
        raise TableError(f"{path}: not a CSV ({exc}); expected {expected}") from None
    if not rows:
        raise TableError(f"{path}: no rows; expected {expected}")
    return rows


def parse_cells(path: Path, rows: Sequence[dict[str, str]], parse: Callable[[dict[str, str]], T]) -> list[T]:
    """`parse` applied to every row; a cell it cannot read becomes a `TableError` naming the file
    and the row (the first row after the header is row 1)."""
    parsed: list[T] = []
    for number, row in enumerate(rows, start=1):
        try:
            parsed.append(parse(row))
        except (ValueError, KeyError, TypeError) as exc:
            raise TableError(f"{path}: row {number}: {exc}") from None
    return parsed
