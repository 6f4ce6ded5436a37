"""storage.migrate, the parts without a database: parsing files and loading the set."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.migrate import MigrationError, load_migrations, parse_migration, split_statements

SIMPLE = """-- A comment about the migration.
-- migrate:up
CREATE TABLE a (x UInt8) ENGINE = Memory;
-- a comment between statements
CREATE TABLE b
(
    y String -- trailing comments inside a line stay
) ENGINE = Memory;
-- migrate:down
DROP TABLE b;
DROP TABLE a;
"""


def migration_text(n: int) -> str:
    return f"-- migrate:up\nCREATE TABLE t{n} (x UInt8) ENGINE = Memory;\n-- migrate:down\nDROP TABLE t{n};\n"


def test_parse_sections_and_statements() -> None:
    m = parse_migration("0007_two_tables.sql", SIMPLE)
    assert (m.version, m.name) == (7, "two_tables")
    assert m.up == (
        "CREATE TABLE a (x UInt8) ENGINE = Memory",
        "CREATE TABLE b\n(\n    y String -- trailing comments inside a line stay\n) ENGINE = Memory",
    )
    assert m.down == ("DROP TABLE b", "DROP TABLE a")
    assert not any(s.endswith(";") for s in (*m.up, *m.down))


def test_last_statement_needs_no_semicolon() -> None:
    m = parse_migration("0001_x.sql", "-- migrate:up\nSELECT 1;\nSELECT 2\n-- migrate:down\nSELECT 3")
    assert m.up == ("SELECT 1", "SELECT 2")
    assert m.down == ("SELECT 3",)


def test_semicolon_inside_a_line_does_not_split() -> None:
    assert split_statements("SELECT ';' AS a, 2;\nSELECT 3;") == ("SELECT ';' AS a, 2", "SELECT 3")


def test_comment_only_lines_are_dropped() -> None:
    assert split_statements("-- one\n   -- two\n\n") == ()


def test_checksum_follows_the_text() -> None:
    a = parse_migration("0001_x.sql", SIMPLE)
    assert parse_migration("0001_x.sql", SIMPLE).checksum == a.checksum
    assert parse_migration("0001_x.sql", SIMPLE.replace("UInt8", "UInt16")).checksum != a.checksum
    # Even a comment edit changes the file, and so the checksum.
    assert parse_migration("0001_x.sql", SIMPLE + "-- later note\n").checksum != a.checksum
    assert len(a.checksum) == 16


@pytest.mark.parametrize(
    "name", ["1_x.sql", "0001-x.sql", "0001_X.sql", "0001_x.SQL", "00001_x.sql", "x.sql"]
)
def test_bad_file_name(name: str) -> None:
    with pytest.raises(MigrationError, match=r"NNNN_name\.sql"):
        parse_migration(name, SIMPLE)


@pytest.mark.parametrize(
    "text",
    [
        "CREATE TABLE a (x UInt8);",
        "-- migrate:up\nSELECT 1;",
        "-- migrate:down\nSELECT 1;",
        "-- migrate:down\nSELECT 1;\n-- migrate:up\nSELECT 2;",
        "-- migrate:up\nSELECT 1;\n-- migrate:up\nSELECT 2;\n-- migrate:down\nSELECT 3;",
    ],
)
def test_sections_must_be_up_then_down(text: str) -> None:
    with pytest.raises(MigrationError, match="section"):
        parse_migration("0001_x.sql", text)


@pytest.mark.parametrize(
    "text",
    ["-- migrate:up\n-- nothing\n-- migrate:down\nSELECT 1;", "-- migrate:up\nSELECT 1;\n-- migrate:down\n"],
)
def test_empty_section(text: str) -> None:
    with pytest.raises(MigrationError, match="at least one statement"):
        parse_migration("0001_x.sql", text)


def test_load_orders_by_version_whatever_the_directory_order(tmp_path: Path) -> None:
    # Written in an order unlike both version and name order; non-SQL files are not migrations.
    for n, name in [(3, "0003_aaa"), (1, "0001_zzz"), (2, "0002_mmm")]:
        (tmp_path / f"{name}.sql").write_text(migration_text(n), encoding="utf-8")
    (tmp_path / "__init__.py").write_text("", encoding="utf-8")
    migrations = load_migrations(tmp_path)
    assert [(m.version, m.name) for m in migrations] == [(1, "zzz"), (2, "mmm"), (3, "aaa")]
    assert migrations[0].up == ("CREATE TABLE t1 (x UInt8) ENGINE = Memory",)


def test_empty_directory(tmp_path: Path) -> None:
    assert load_migrations(tmp_path) == []


def test_gap_is_an_error(tmp_path: Path) -> None:
    for n in (1, 2, 4):
        (tmp_path / f"{n:04d}_m{n}.sql").write_text(migration_text(n), encoding="utf-8")
    with pytest.raises(MigrationError, match="0004_m4 where 0003 was expected"):
        load_migrations(tmp_path)


def test_not_starting_at_one_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "0002_m.sql").write_text(migration_text(2), encoding="utf-8")
    with pytest.raises(MigrationError, match="0001 was expected"):
        load_migrations(tmp_path)


def test_duplicate_version_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "0001_first.sql").write_text(migration_text(1), encoding="utf-8")
    (tmp_path / "0001_again.sql").write_text(migration_text(1), encoding="utf-8")
    (tmp_path / "0002_next.sql").write_text(migration_text(2), encoding="utf-8")
    with pytest.raises(MigrationError, match="without gaps or repeats"):
        load_migrations(tmp_path)


def test_bad_file_name_in_directory(tmp_path: Path) -> None:
    (tmp_path / "0001_ok.sql").write_text(migration_text(1), encoding="utf-8")
    (tmp_path / "2_bad.sql").write_text(migration_text(2), encoding="utf-8")
    with pytest.raises(MigrationError, match=r"2_bad\.sql"):
        load_migrations(tmp_path)


def test_other_entries_in_the_directory_are_ignored(tmp_path: Path) -> None:
    (tmp_path / "0001_ok.sql").write_text(migration_text(1), encoding="utf-8")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "__init__.cpython-311.pyc").write_bytes(b"\xa7\r\r\n\x00\xff")
    assert [m.version for m in load_migrations(tmp_path)] == [1]


def test_binary_non_sql_file_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "0001_ok.sql").write_text(migration_text(1), encoding="utf-8")
    (tmp_path / "notes.bin").write_bytes(b"\xff\xfe\x00\x81")
    assert [m.version for m in load_migrations(tmp_path)] == [1]


def test_shipped_migrations_are_contiguous_and_reversible() -> None:
    migrations = load_migrations()
    assert len(migrations) >= 5
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert len({m.name for m in migrations}) == len(migrations)
    for m in migrations:
        assert m.up
        assert m.down
        assert all(s.strip() for s in (*m.up, *m.down))
    assert migrations[0].name == "posts"


def test_shipped_migrations_same_from_package_and_directory() -> None:
    directory = Path(__file__).resolve().parents[2] / "storage" / "migrations"
    assert load_migrations(directory) == load_migrations()
