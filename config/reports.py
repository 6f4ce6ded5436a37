"""Scheduled reports (`config/reports.yaml`): when each brief is built (a cron expression in the desk's
time zone), what period it covers, in which language and formats, and which receivers of
`config/alerting.yaml` get it. Typed and validated; each error names the file, the line and the field.

The receivers and their channels (and their secrets) stay in alerting.yaml; this file only names
them, so a brief goes where the desk's alerts go without a second copy of any credential.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection
from datetime import timedelta, tzinfo
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from croniter import croniter
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

# Re-exported: the schedule's callers name the shipped file from here.
from config.settings import DEFAULT_REPORTS as DEFAULT_REPORTS
from config.yaml_source import ConfigFileError, compose, construct, located

ReportFormat = Literal["html", "pdf", "md"]
ReportLanguage = Literal["id", "en"]
# The channel types a receiver may have (alerts.channels); a report may go to some of them only.
ChannelType = Literal["email", "telegram", "slack", "webhook", "log"]

_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|h|d|w)\s*$")
_SPAN_UNIT = {
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}


def parse_span(value: str) -> timedelta:
    """A report period's length: '90m', '24h', '7d', '2w'."""
    match = _SPAN.match(value)
    if match is None:
        raise ValueError(f"{value!r} is not a span like 90m, 24h, 7d or 2w")
    span = float(match.group(1)) * _SPAN_UNIT[match.group(2)]
    if span <= timedelta(0):
        raise ValueError(f"{value!r}: the span must be longer than nothing")
    return span


class ReportsConfigError(ConfigFileError):
    """A bad reports file: the message names the file, the line and what is wrong."""


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ScheduledReport(_Strict):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    cron: str = Field(description="Minute, hour, day of month, month, day of week; in `timezone`.")
    since: str = Field(default="24h", description="The period, ending when the report is built.")
    language: ReportLanguage = "id"
    formats: tuple[ReportFormat, ...] = Field(default=("html", "pdf"), min_length=1)
    receivers: tuple[str, ...] = Field(min_length=1, description="Receivers in alerting.yaml.")
    channels: tuple[ChannelType, ...] = Field(
        default=(), description="Only the receivers' channels of these types (empty: all of them)."
    )
    enabled: bool = True

    @field_validator("cron")
    @classmethod
    def _cron_is_valid(cls, value: str) -> str:
        # Five fields only: croniter also takes a sixth (seconds), which a daily brief has no use
        # for and which would silently shift every other field's meaning.
        if len(value.split()) != 5 or not croniter.is_valid(value):
            raise ValueError(f"{value!r} is not a cron expression of five fields (e.g. '0 7 * * *')")
        return value

    @field_validator("since")
    @classmethod
    def _since_is_a_span(cls, value: str) -> str:
        parse_span(value)
        return value

    @property
    def span(self) -> timedelta:
        return parse_span(self.since)


class SlackFiles(_Strict):
    """A Slack app's bot token and the channels to upload report files to (files upload v2): each
    receiver's own in `channels`, else `channel_id`. A Slack receiver with neither, and every Slack
    receiver when this is unset, gets the summary through its incoming webhook, with a link to the
    files when `link` is set."""

    bot_token: SecretStr
    channel_id: str = Field(
        default="", description="The channel for receivers not in `channels` ('' = none)."
    )
    channels: dict[str, Annotated[str, Field(min_length=1)]] = Field(
        default_factory=dict, description="A receiver's name (alerting.yaml) to its channel id."
    )
    api_base: str = Field(default="https://slack.com/api", pattern=r"^https?://")

    @model_validator(mode="after")
    def _names_a_channel(self) -> SlackFiles:
        if not self.channel_id and not self.channels:
            raise ValueError("name a channel_id, or a channel for each receiver in channels")
        return self

    def channel_for(self, receiver: str) -> str:
        """The channel id `receiver`'s briefs are uploaded to ('' = none: its webhook gets them)."""
        return self.channels.get(receiver, self.channel_id)


class ReportsConfig(_Strict):
    timezone: str | None = Field(
        default=None,
        description="IANA zone the cron times are in (e.g. Asia/Jakarta); unset: the fixed offset "
        "PANTAU_LOCAL_UTC_OFFSET_HOURS.",
    )
    archive_dir: Path | None = Field(
        default=None, description="Where built reports are kept (default: <data dir>/reports)."
    )
    link: str = Field(default="", description="Base URL the archive is published at ('' = none).")
    slack_files: SlackFiles | None = None
    reports: tuple[ScheduledReport, ...] = ()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"{value!r} is not a time zone name (e.g. Asia/Jakarta)") from None
        return value

    def zone(self, default: tzinfo) -> tzinfo:
        return ZoneInfo(self.timezone) if self.timezone else default


def load_reports(
    path: Path, *, receivers: Collection[str] | None = None, environ: dict[str, str] | None = None
) -> ReportsConfig:
    """Read and validate the file; `receivers`: the names alerting.yaml defines, which each report's
    receivers must be among (None: not checked). Any error raises ReportsConfigError naming the line."""
    env = dict(os.environ) if environ is None else environ
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ReportsConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return parse_reports(text, source=str(path), receivers=receivers, environ=env)


def parse_reports(
    text: str,
    *,
    source: str = "reports.yaml",
    receivers: Collection[str] | None = None,
    environ: dict[str, str],
) -> ReportsConfig:
    root = compose(text, source, ReportsConfigError)
    if root is None:
        return ReportsConfig()
    data = construct(root, source, environ, ReportsConfigError)
    try:
        config = ReportsConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise _located(source, root, first["loc"], first["msg"], exc.error_count() - 1) from None
    problems: list[tuple[tuple[int | str, ...], str]] = []
    seen: set[str] = set()
    for index, report in enumerate(config.reports):
        if report.name in seen:
            problems.append((("reports", index, "name"), f"report {report.name!r} is defined twice"))
        seen.add(report.name)
        for position, name in enumerate(report.receivers):
            if receivers is not None and name not in receivers:
                problems.append(
                    (
                        ("reports", index, "receivers", position),
                        f"no receiver named {name!r} in the alerting file's receivers",
                    )
                )
    slack_channels = config.slack_files.channels if config.slack_files else {}
    for name in slack_channels:
        if receivers is not None and name not in receivers:
            problems.append(
                (
                    ("slack_files", "channels", name),
                    f"no receiver named {name!r} in the alerting file's receivers",
                )
            )
    if problems:
        loc, message = problems[0]
        raise _located(source, root, loc, message, len(problems) - 1)
    return config


def _located(
    source: str, root: yaml.Node, loc: tuple[int | str, ...], message: str, others: int
) -> ConfigFileError:
    return located(source, root, loc, message, others, error=ReportsConfigError)
