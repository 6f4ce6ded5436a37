"""The alerting rules and routes (`config/alerting.yaml`): typed, validated, each error tied to its line.

The shape follows Alertmanager's, which rapid-response teams and their operators already know:
a routing tree whose nodes match alert labels and name a receiver, grouping timers per node,
inhibition rules, and receivers with their channels. Differences, and why:
- `escalate` on a route: an alert still unacknowledged after `after` goes to another receiver
  (Alertmanager has no acknowledgement; a war-room desk does);
- `resolve_after` per signal kind: the alert resolves when no signal has renewed it for that long;
- `${VAR}` in any string is read from the environment, so secrets stay out of the file.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

import regex
import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from alerts.channels import Channel
from alerts.messages import Language
from config.yaml_source import ConfigFileError, compose, construct, located
from pantau.domain import SignalKind

log = logging.getLogger(__name__)
REGEX_TIMEOUT_SECONDS = 0.01
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(value: Any) -> timedelta:
    """'30s', '5m', '4h', '1d', '250ms', or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return timedelta(seconds=value)
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{value!r} is not a duration (e.g. 30s, 5m, 4h, 1d)")
    return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class MatchOp(StrEnum):
    equal = "="
    not_equal = "!="
    regex = "=~"
    not_regex = "!~"


_MATCHER = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"?(.*?)"?\s*$')


class Matcher(BaseModel):
    """One label condition. Regexes match the whole value, as in Alertmanager. A label an alert
    does not have reads as ''."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=64)
    op: MatchOp = MatchOp.equal
    value: str = Field(max_length=1000)

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, data: Any) -> Any:
        if isinstance(data, str):
            match = _MATCHER.match(data)
            if match is None:
                raise ValueError(f'{data!r} is not a matcher like severity="critical" or target=~"a|b"')
            return {"name": match.group(1), "op": match.group(2), "value": match.group(3)}
        return data

    @model_validator(mode="after")
    def _regex_compiles(self) -> Matcher:
        if self.op in (MatchOp.regex, MatchOp.not_regex):
            try:
                regex.compile(self.value)
            except regex.error as exc:
                raise ValueError(f"bad regular expression {self.value!r}: {exc}") from None
        return self

    @cached_property
    def _pattern(self) -> Any:
        return regex.compile(self.value)

    def matches(self, labels: dict[str, str]) -> bool:
        value = labels.get(self.name, "")
        if self.op == MatchOp.equal:
            return value == self.value
        if self.op == MatchOp.not_equal:
            return value != self.value
        try:
            # Silences come from the API: a pattern that backtracks without end must not stall
            # the dispatcher's event loop.
            found = self._pattern.fullmatch(value, timeout=REGEX_TIMEOUT_SECONDS) is not None
        except TimeoutError:
            # Not matching, whichever the operator: a silence or inhibition then hushes nothing
            # and a route passes the alert to its parent. Nothing goes unheard.
            log.warning("matcher %s took too long on %r: taken as no match", self, value[:100])
            return False
        return found if self.op == MatchOp.regex else not found

    def __str__(self) -> str:
        return f'{self.name}{self.op.value}"{self.value}"'


def matches_all(matchers: tuple[Matcher, ...] | list[Matcher], labels: dict[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Escalation(_Strict):
    after: Duration
    receiver: str


class Route(_Strict):
    """A node of the routing tree. Unset timers, receiver and grouping come from the parent."""

    receiver: str | None = None
    matchers: tuple[Matcher, ...] = ()
    group_by: tuple[str, ...] | None = None
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    escalate: Escalation | None = None
    language: Language | None = Field(default=None, description="Overrides the receiver's language.")
    continue_matching: bool = Field(default=False, alias="continue")
    routes: tuple[Route, ...] = ()


class Receiver(_Strict):
    name: str = Field(min_length=1, max_length=64)
    language: Language = "en"
    channels: tuple[Channel, ...] = ()


class InhibitRule(_Strict):
    """While an alert matching `source_matchers` fires, alerts matching `target_matchers` that have
    the same non-empty values for every `equal` label are not notified. (Alertmanager also pairs
    alerts that both lack a label; here an empty label never pairs, so a burst with no target is
    not hushed by a campaign about no target either.)"""

    source_matchers: tuple[Matcher, ...] = Field(min_length=1)
    target_matchers: tuple[Matcher, ...] = Field(min_length=1)
    equal: tuple[str, ...] = ()


class SeverityRules(_Strict):
    """How a signal's size ranks: each kind's measure, and the points where it counts as large."""

    burst_ratio: tuple[float, float] = (5.0, 10.0)
    shift_change: tuple[float, float] = (0.2, 0.35)
    coordinated_accounts: tuple[float, float] = (1.5, 3.0)  # multiples of the detector's minimum
    topic_posts: tuple[float, float] = (30.0, 100.0)


class AlertingConfig(_Strict):
    route: Route
    receivers: tuple[Receiver, ...] = Field(min_length=1)
    inhibit_rules: tuple[InhibitRule, ...] = ()
    resolve_after: dict[SignalKind, Duration] = Field(default_factory=dict)
    default_resolve_after: Duration = timedelta(minutes=30)
    severity: SeverityRules = SeverityRules()
    link: str = Field(default="", description="Base URL staff open alerts at, put in messages.")

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> AlertingConfig:
        if info.context == _UNCHECKED:
            return self  # the file loader checks, and places each problem on its line
        problems = self.problems()
        if problems:
            raise ValueError(problems[0][1])
        return self

    def problems(self) -> list[tuple[tuple[int | str, ...], str]]:
        """What is wrong across sections, each with where (for the error's line number)."""
        found: list[tuple[tuple[int | str, ...], str]] = []
        seen: set[str] = set()
        for index, receiver in enumerate(self.receivers):
            if receiver.name in seen:
                found.append((("receivers", index, "name"), f"receiver {receiver.name!r} is defined twice"))
            seen.add(receiver.name)
        root = self.route
        if root.receiver is None:
            found.append(
                (("route",), "the root route needs a receiver (where alerts no other route takes go)")
            )
        if root.matchers:
            found.append((("route", "matchers"), "the root route matches every alert: it takes no matchers"))
        for loc, route in _walk(root, ("route",)):
            if route.receiver is not None and route.receiver not in seen:
                found.append(((*loc, "receiver"), f"no receiver named {route.receiver!r} in receivers"))
            if route.escalate is not None and route.escalate.receiver not in seen:
                found.append(
                    (
                        (*loc, "escalate", "receiver"),
                        f"no receiver named {route.escalate.receiver!r} in receivers",
                    )
                )
        return found

    def receiver(self, name: str) -> Receiver | None:
        """None only for a name the rules no longer define (a reload removed it mid-flight)."""
        return next((r for r in self.receivers if r.name == name), None)

    def resolve_after_for(self, kind: SignalKind) -> timedelta:
        return self.resolve_after.get(kind, self.default_resolve_after)


def _walk(route: Route, loc: tuple[int | str, ...]) -> list[tuple[tuple[int | str, ...], Route]]:
    children = (_walk(child, (*loc, "routes", i)) for i, child in enumerate(route.routes))
    return [(loc, route), *(found for nested in children for found in nested)]


DEFAULT_GROUP_BY = ("kind", "target")
DEFAULT_GROUP_WAIT = timedelta(seconds=30)
DEFAULT_GROUP_INTERVAL = timedelta(minutes=5)
DEFAULT_REPEAT_INTERVAL = timedelta(hours=4)


@dataclass(frozen=True)
class ResolvedRoute:
    """A route as it applies to one alert: inherited values filled in; `path` names the node."""

    path: str
    receiver: str
    group_by: tuple[str, ...]
    group_wait: timedelta
    group_interval: timedelta
    repeat_interval: timedelta
    escalate: Escalation | None
    language: Language | None = None


def routes_for(labels: dict[str, str], root: Route) -> list[ResolvedRoute]:
    """The routes an alert goes to: depth first, the first matching child wins unless it says
    `continue`; a node none of whose children match takes the alert itself."""

    def inherit(route: Route, parent: ResolvedRoute, path: str) -> ResolvedRoute:
        return ResolvedRoute(
            path=path,
            receiver=route.receiver or parent.receiver,
            group_by=route.group_by if route.group_by is not None else parent.group_by,
            group_wait=route.group_wait if route.group_wait is not None else parent.group_wait,
            group_interval=route.group_interval
            if route.group_interval is not None
            else parent.group_interval,
            repeat_interval=route.repeat_interval
            if route.repeat_interval is not None
            else parent.repeat_interval,
            escalate=route.escalate or parent.escalate,
            language=route.language or parent.language,
        )

    def visit(route: Route, resolved: ResolvedRoute) -> list[ResolvedRoute]:
        found: list[ResolvedRoute] = []
        for index, child in enumerate(route.routes):
            if not matches_all(child.matchers, labels):
                continue
            found += visit(child, inherit(child, resolved, f"{resolved.path}.{index}"))
            if not child.continue_matching:
                break
        return found or [resolved]

    base = ResolvedRoute(
        path="0",
        receiver=root.receiver or "",
        group_by=DEFAULT_GROUP_BY,
        group_wait=DEFAULT_GROUP_WAIT,
        group_interval=DEFAULT_GROUP_INTERVAL,
        repeat_interval=DEFAULT_REPEAT_INTERVAL,
        escalate=None,
    )
    return visit(root, inherit(root, base, "0"))


class AlertingConfigError(ConfigFileError):
    """A bad alerting file: the message names the file, the line and what is wrong."""


def load_alerting(path: Path, environ: dict[str, str] | None = None) -> AlertingConfig:
    """Read and validate the file; any error raises AlertingConfigError naming the line."""
    env = dict(os.environ) if environ is None else environ
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AlertingConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return parse_alerting(text, source=str(path), environ=env)


# pydantic puts the chosen member of a discriminated union ("webhook") in an error's location.
_UNION_TAGS = frozenset({"webhook", "slack", "telegram", "email", "log"})


def parse_alerting(text: str, *, source: str = "alerting.yaml", environ: dict[str, str]) -> AlertingConfig:
    root = compose(text, source, AlertingConfigError)
    if root is None:
        raise AlertingConfigError(f"{source}: empty: it needs at least `route` and `receivers`")
    data = construct(root, source, environ, AlertingConfigError)
    try:
        # Field by field first, so that cross-section problems can be placed on their own lines.
        config = AlertingConfig.model_validate(data, context=_UNCHECKED)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise _located(source, root, first["loc"], first["msg"], exc.error_count() - 1) from None
    problems = config.problems()
    if problems:
        loc, message = problems[0]
        raise _located(source, root, loc, message, len(problems) - 1)
    return config


_UNCHECKED = {"skip_cross_checks": True}


def _located(
    source: str, root: yaml.Node, loc: tuple[int | str, ...], message: str, others: int
) -> ConfigFileError:
    return located(source, root, loc, message, others, skip=_UNION_TAGS, error=AlertingConfigError)
