"""The watchlist check: aliases that would find the wrong target, or most posts."""

from __future__ import annotations

import logging

import pytest

from config.settings import DEFAULT_WATCHLIST
from config.watchlist import Target, Watchlist, load_watchlist
from nlp.watchlist_check import check_watchlist


def _watchlist(*targets: tuple[str, str, tuple[str, ...]]) -> Watchlist:
    return Watchlist(targets=tuple(Target(id=i, kind="candidate", name=n, aliases=a) for i, n, a in targets))


def test_the_bundled_watchlist_has_nothing_to_mend() -> None:
    assert check_watchlist(load_watchlist(DEFAULT_WATCHLIST)) == []


def test_an_alias_two_targets_share_names_both_whatever_its_case_or_marks() -> None:
    """ "Pak Arya" for Arya Dirgantara and "pak arya" for Arya Wicaksana: the matcher folds both to
    one alias, and a post saying it is read as about the first only."""
    watchlist = _watchlist(
        ("arya-d", "Arya Dirgantara", ("Pak Arya",)),
        ("arya-w", "Arya Wicaksana", ("pak arya", "Wicaksana")),
    )
    (finding,) = check_watchlist(watchlist)
    assert finding.problem == "shared" and finding.targets == ("arya-d", "arya-w")
    assert finding.alias == "Pak Arya" and "one of them only (arya-d, listed first)" in finding.why
    assert "'pak arya' (arya-w)" in finding.why  # the other spelling, which the desk may mend


def test_two_aliases_that_join_into_one_hashtag_are_shared() -> None:
    watchlist = _watchlist(("nm", "Nusantara Maju", ()), ("nm2", "Partai NM", ("NusantaraMaju",)))
    assert [(f.problem, f.alias, f.targets) for f in check_watchlist(watchlist)] == [
        ("shared", "Nusantara Maju", ("nm", "nm2"))
    ]


def test_each_spelling_is_judged_on_its_own() -> None:
    """ "UU" is found only in capitals; "uu" listed beside it is found in any case. "DAN" in
    capitals is a common word still (all-capitals posts, "#dan"), less so than "dan"."""
    watchlist = _watchlist(
        ("uu", "Undang Undang Cipta", ("UU", "uu")),
        ("dan", "Dewan Adat Nasional", ("DAN",)),
        ("dan2", "Dani", ("dan",)),
    )
    found = [(f.problem, f.alias, f.targets) for f in check_watchlist(watchlist)]
    assert found == [
        ("shared", "DAN", ("dan", "dan2")),
        ("too-short", "uu", ("uu",)),
        ("common-word", "DAN", ("dan",)),
        ("common-word", "dan", ("dan2",)),
    ]


def test_a_common_word_as_an_alias_is_found() -> None:
    watchlist = _watchlist(
        ("baru", "Partai Harapan Baru", ("Baru", "Harapan Baru")), ("the", "The Greens", ("The",))
    )
    found = {(f.problem, f.alias) for f in check_watchlist(watchlist)}
    assert found == {("common-word", "Baru"), ("common-word", "The")}


def test_a_short_lowercase_alias_is_found_but_an_acronym_in_capitals_is_not() -> None:
    watchlist = _watchlist(
        ("pan", "Partai Amanat Nasional", ("PAN", "nm")),
        ("ab", "Agus Budiman", ("AB",)),
        ("pkb", "Partai Kebangkitan Bersama", ("PKB",)),
    )
    assert [(f.problem, f.alias, f.targets) for f in check_watchlist(watchlist)] == [
        ("too-short", "nm", ("pan",))
    ]


def test_a_target_listing_its_name_again_as_an_alias_shares_it_with_no_one() -> None:
    assert check_watchlist(_watchlist(("raka", "Raka Wibisana", ("Raka Wibisana", "raka wibisana")))) == []


def test_the_service_logs_each_finding_and_starts_anyway(caplog: pytest.LogCaptureFixture) -> None:
    from service.runtime import warn_about_watchlist

    watchlist = _watchlist(("a", "Arya Dirgantara", ("Pak Arya",)), ("b", "Arya Wicaksana", ("Pak Arya",)))
    with caplog.at_level(logging.WARNING, logger="pantau"):
        assert warn_about_watchlist(watchlist) == 1
    assert [r.getMessage().split(":")[0] for r in caplog.records] == ["watchlist shared"]
    caplog.clear()
    assert warn_about_watchlist(load_watchlist(DEFAULT_WATCHLIST)) == 0 and not caplog.records
