"""alerts.config: the alerting file is validated with line numbers; routes resolve like Alertmanager's."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.config import (
    AlertingConfigError,
    Matcher,
    MatchOp,
    load_alerting,
    parse_alerting,
    parse_duration,
    routes_for,
)
from config.settings import DEFAULT_ALERTING
from pantau.domain import SignalKind

MINIMAL = """\
route:
  receiver: desk
receivers:
  - name: desk
"""


def parse(text: str, **environ: str) -> object:
    return parse_alerting(text, source="alerting.yaml", environ=environ)


def test_the_shipped_file_is_valid_and_routes_critical_alerts_fast() -> None:
    config = load_alerting(DEFAULT_ALERTING, environ={})
    [critical] = routes_for({"kind": "volume_burst", "severity": "critical"}, config.route)
    assert critical.group_wait == timedelta(0)
    assert critical.escalate is not None and critical.escalate.receiver == "leads"
    [plain] = routes_for({"kind": "volume_burst", "severity": "info"}, config.route)
    assert plain.receiver == "desk" and plain.group_wait == timedelta(seconds=30)
    assert config.resolve_after_for(SignalKind.volume_burst) == timedelta(minutes=20)
    assert config.resolve_after_for(SignalKind.sentiment_shift) == config.default_resolve_after


def with_root(extra: str) -> str:
    return MINIMAL.replace("  receiver: desk\n", "  receiver: desk\n" + extra)


def with_inhibit(source: str, target: str) -> str:
    return MINIMAL + f"inhibit_rules:\n  - source_matchers: ['{source}']\n    target_matchers: ['{target}']\n"


WEBHOOK_FROM_ENV = (
    MINIMAL + "  - name: hooks\n    channels:\n      - type: webhook\n        url: ${HOOK_URL}\n"
)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (MINIMAL + "  - name: desk\n", 5, "defined twice"),
        (MINIMAL.replace("receiver: desk", "receiver: nobody"), 2, "no receiver named 'nobody'"),
        (with_inhibit('kind="a"', "bad matcher"), 7, "not a matcher"),
        (with_root("  group_wait: soon\n"), 3, "not a duration"),
        (MINIMAL + "  - name: pager\n    channels:\n      - type: carrier-pigeon\n", 7, "carrier-pigeon"),
        (with_root("  recevier: typo\n"), 3, "recevier"),
        (WEBHOOK_FROM_ENV, 8, "HOOK_URL is not set"),
        ("route: [\n", 2, "not valid YAML"),
        (with_root("  matchers: ['kind=\"x\"']\n"), 3, "root route"),
        (with_inhibit('kind=~"("', 'a="b"'), 6, "regular expression"),
    ],
)
def test_a_bad_file_names_its_line_and_the_problem(text: str, line: int, words: str) -> None:
    with pytest.raises(AlertingConfigError) as caught:
        parse(text)
    message = str(caught.value)
    assert message.startswith(f"alerting.yaml:{line}:"), message
    assert words in message


def test_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(AlertingConfigError, match="cannot read"):
        load_alerting(tmp_path / "missing.yaml")


def test_environment_references_are_substituted_with_defaults() -> None:
    text = WEBHOOK_FROM_ENV + "link: ${PUBLIC_URL:-http://war.room}\n"
    config = parse(text, HOOK_URL="http://127.0.0.1:9/hook")
    assert config.link == "http://war.room"  # type: ignore[attr-defined]
    assert str(config.receiver("hooks").channels[0].url).startswith("http://127.0.0.1:9")  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("value", "seconds"), [("30s", 30), ("5m", 300), ("4h", 14400), ("1d", 86400), ("250ms", 0.25), (12, 12)]
)
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration(value) == timedelta(seconds=seconds)


@pytest.mark.parametrize("value", ["", "5 minutes", "-1s", True, None, "1w"])
def test_bad_durations(value: object) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(value)


def test_matchers_parse_and_match() -> None:
    assert Matcher.model_validate('severity="critical"').matches({"severity": "critical"})
    regex = Matcher.model_validate('target=~"raka.*|sari"')
    assert regex.op == MatchOp.regex
    assert regex.matches({"target": "raka-wibisana"}) and regex.matches({"target": "sari"})
    assert not regex.matches({"target": "xsari"})  # anchored, as in Alertmanager
    assert Matcher.model_validate('target!~"raka.*"').matches({})
    assert Matcher.model_validate('target!="raka"').matches({"target": "sari"})
    assert not Matcher.model_validate('target="raka"').matches({})  # missing label reads as ''


@given(st.dictionaries(st.sampled_from(["kind", "target", "severity"]), st.text(max_size=8), max_size=3),
       st.text(max_size=8))  # fmt: skip
def test_negation_is_the_complement(labels: dict[str, str], value: str) -> None:
    for op, negated in (("=", "!="), ("=~", "!~")):
        escaped = value if op == "=" else "".join(f"\\{c}" if not c.isalnum() else c for c in value)
        positive = Matcher(name="target", op=MatchOp(op), value=escaped)
        negative = Matcher(name="target", op=MatchOp(negated), value=escaped)
        assert positive.matches(labels) != negative.matches(labels)


TREE = """\
route:
  receiver: desk
  group_by: [kind]
  group_wait: 20s
  routes:
    - matchers: ['target="raka"']
      receiver: raka-team
      group_interval: 1m
      continue: true
      routes:
        - matchers: ['severity="critical"']
          receiver: raka-pager
    - matchers: ['kind="coordinated_posting"']
      receiver: trust
receivers:
  - name: desk
  - name: raka-team
  - name: raka-pager
  - name: trust
"""


def test_routing_tree_first_match_continue_and_inheritance() -> None:
    route = parse(TREE).route  # type: ignore[attr-defined]
    found = routes_for({"target": "raka", "severity": "critical", "kind": "coordinated_posting"}, route)
    assert [r.receiver for r in found] == ["raka-pager", "trust"]  # continue lets the sibling match too
    pager = found[0]
    assert pager.path == "0.0.0"
    assert pager.group_interval == timedelta(minutes=1)  # from its parent
    assert pager.group_wait == timedelta(seconds=20) and pager.group_by == ("kind",)  # from the root
    assert [r.receiver for r in routes_for({"target": "raka"}, route)] == ["raka-team"]
    assert [r.receiver for r in routes_for({"target": "sari"}, route)] == ["desk"]


def test_a_route_may_choose_the_message_language_for_its_subtree() -> None:
    text = TREE.replace("      receiver: raka-team\n", "      receiver: raka-team\n      language: id\n")
    route = parse(text).route  # type: ignore[attr-defined]
    found = routes_for({"target": "raka", "severity": "critical", "kind": "coordinated_posting"}, route)
    assert [(r.receiver, r.language) for r in found] == [("raka-pager", "id"), ("trust", None)]


def test_a_pattern_that_backtracks_without_end_is_cut_off_as_no_match() -> None:
    runaway = Matcher.model_validate('key=~"(a|aa)+$"')
    assert not runaway.matches({"key": "a" * 40 + "b"})  # would take years without the time limit
    # Negated too: a runaway silence hushes nothing rather than everything.
    assert not Matcher.model_validate('key!~"(a|aa)+$"').matches({"key": "a" * 40 + "b"})


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (MINIMAL + "link: !!int abc\n", 5, "abc"),
        (MINIMAL + "? [a, b]\n: 1\n", 5, "plain word"),
        (MINIMAL + "link: !custom x\n", 5, "custom"),
    ],
)
def test_odd_yaml_is_a_located_error_not_a_crash(text: str, line: int, words: str) -> None:
    with pytest.raises(AlertingConfigError) as caught:
        parse(text)
    assert str(caught.value).startswith(f"alerting.yaml:{line}:") and words in str(caught.value)


def test_an_empty_environment_variable_counts_as_unset() -> None:
    with pytest.raises(AlertingConfigError, match="HOOK_URL is not set"):
        parse(WEBHOOK_FROM_ENV, HOOK_URL="")
