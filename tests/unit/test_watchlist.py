"""config.watchlist: the shipped file loads; each kind of mistake is a WatchlistError naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import DEFAULT_WATCHLIST
from config.watchlist import Priority, WatchlistError, load_watchlist

GOOD_TARGET = "  - id: a\n    kind: candidate\n    name: A\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "watchlist.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_watchlist_loads() -> None:
    watchlist = load_watchlist(DEFAULT_WATCHLIST)
    ids = [t.id for t in watchlist.targets]
    assert len(ids) == len(set(ids)) >= 5
    raka = watchlist.get("raka-wibisana")
    assert raka is not None
    assert raka.kind == "candidate"
    assert raka.priority_rank == Priority.critical
    assert raka.all_aliases[0] == raka.name == "Raka Wibisana"
    assert "Pak Raka" in raka.aliases
    assert watchlist.get("nobody") is None
    assert all(t.name.strip() for t in watchlist.targets)


def test_minimal_watchlist_defaults(tmp_path: Path) -> None:
    target = load_watchlist(write(tmp_path, "targets:\n" + GOOD_TARGET)).targets[0]
    assert (target.priority, target.priority_rank, target.aliases) == ("normal", Priority.normal, ())
    assert target.all_aliases == ("A",)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("targets:\n" + GOOD_TARGET + GOOD_TARGET, "duplicate target id 'a'"),
        ("targets:\n  - id: a\n    kind: person\n    name: A\n", "kind"),
        ("targets:\n  - id: a\n    kind: candidate\n    name: A\n    aliases: [ok, '  ']\n", "blank"),
        ("targets:\n  - id: a\n    kind: candidate\n    name: A\n    aliases: ['']\n", "aliases"),
        ("targets:\n  - id: A B\n    kind: candidate\n    name: A\n", "id"),
        ("targets:\n  - id: a\n    kind: candidate\n    name: ''\n", "name"),
        ("targets:\n  - id: a\n    kind: candidate\n    name: A\n    priority: urgent\n", "priority"),
        ("targets:\n  - id: a\n    kind: candidate\n    name: A\n    colour: red\n", "colour"),
        ("targets:\n  - id: a\n    kind: candidate\n", "name"),
        ("people: []\n", "targets"),
        ("- a\n- b\n", "invalid watchlist"),
        ("", "invalid watchlist"),
    ],
)
def test_invalid_watchlist_names_the_problem(tmp_path: Path, text: str, needle: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(WatchlistError) as info:
        load_watchlist(path)
    assert needle in str(info.value)
    assert str(path) in str(info.value)


def test_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(WatchlistError, match="cannot read watchlist"):
        load_watchlist(write(tmp_path, "targets: [\n  - id: a\n"))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(WatchlistError, match="cannot read watchlist"):
        load_watchlist(tmp_path / "nope.yaml")
