"""Scheduled briefs: an async loop that builds each report of `config/reports.yaml` when its cron
expression fires and sends it to its receivers' channels (alerting.yaml).

The loop never blocks the event loop: ClickHouse, matplotlib and the PDF run in a worker thread.
A fire time missed while Pantau was down is not made up for: the next one is computed from now.
Both files are re-read when they change; a bad edit is logged and the previous rules stay.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path

from clickhouse_connect.driver.client import Client
from croniter import croniter

from alerts.config import AlertingConfig, AlertingConfigError, load_alerting
from alerts.report_delivery import ReportDelivery, ReportFile, ReportMessage, ReportSender
from config.reports import DEFAULT_REPORTS, ReportsConfig, ReportsConfigError, ScheduledReport, load_reports
from config.settings import Settings
from config.watchlist import load_watchlist
from pantau.domain import utcnow
from service.report import Period, Rendered, build_report, render
from storage.client import open_client
from storage.repository import ClickHouseStore

log = logging.getLogger(__name__)

# The longest the loop sleeps at once: it wakes to notice edited files and a changed clock.
MAX_SLEEP_SECONDS = 60.0


def next_fire_time(cron: str, after: datetime, zone: tzinfo) -> datetime:
    """The first time after `after` the cron expression (read in `zone`) fires, in UTC."""
    fire: datetime = croniter(cron, after.astimezone(zone)).get_next(datetime)
    return fire.astimezone(UTC)


def desk_zone(settings: Settings, config: ReportsConfig) -> tzinfo:
    offset = timedelta(hours=settings.local_utc_offset_hours)
    return config.zone(timezone(offset))


@dataclass(frozen=True)
class Rules:
    reports: ReportsConfig
    alerting: AlertingConfig


def load_rules(settings: Settings, reports_path: Path) -> Rules:
    """Both files, checked against each other; raises ReportsConfigError or AlertingConfigError."""
    alerting = load_alerting(settings.alerting_path)
    reports = load_reports(reports_path, receivers={r.name for r in alerting.receivers})
    return Rules(reports, alerting)


def report_id(report: ScheduledReport, period: Period) -> str:
    basis = f"{report.name}|{period.since.isoformat()}|{period.until.isoformat()}"
    return hashlib.blake2b(basis.encode(), digest_size=10).hexdigest()


def _files(rendered: Sequence[Rendered], stem: str) -> list[ReportFile]:
    files = []
    for item in rendered:
        files.append(ReportFile(f"{stem}.{item.format}", item.content, item.media_type))
        files += [ReportFile(name, content, "image/png") for name, content in item.files.items()]
    return files


async def run_scheduled_report(
    settings: Settings,
    client: Client,
    rules: Rules,
    report: ScheduledReport,
    sender: ReportSender,
    *,
    now: datetime,
) -> list[ReportDelivery]:
    """Build `report` for the period ending at `now` (whole minutes), keep its files in the archive,
    and send it to each of its receivers' channels (those of the report's `channels` types)."""
    config = rules.reports
    zone = desk_zone(settings, config)
    until = now.astimezone(UTC).replace(second=0, microsecond=0)
    period = Period(until - report.span, until)
    stem = f"{report.name}-{until.astimezone(zone):%Y%m%d-%H%M}"
    watchlist = await asyncio.to_thread(load_watchlist, settings.watchlist_path)

    def build() -> tuple[str, str, list[ReportFile]]:
        document = build_report(client, period, watchlist, report.language, zone)
        rendered = [render(document, fmt, image_stem=stem) for fmt in report.formats]
        files = _files(rendered, stem)
        archive = config.archive_dir or settings.data_dir / "reports"
        archive.mkdir(parents=True, exist_ok=True)
        for file in files:
            (archive / file.name).write_bytes(file.content)
        return f"{document.title}: {document.subtitle}", document.summary, files

    subject, summary, files = await asyncio.to_thread(build)
    deliveries: list[ReportDelivery] = []
    for receiver_name in report.receivers:
        receiver = rules.alerting.receiver(receiver_name)
        if receiver is None:
            continue
        channels = [c for c in receiver.channels if not report.channels or c.type in report.channels]
        message = ReportMessage(
            id=report_id(report, period),
            receiver=receiver_name,
            subject=subject,
            summary=summary,
            files=tuple(files),
            link=config.link,
        )
        deliveries += await sender.deliver(message, channels)
    await asyncio.to_thread(_log_deliveries, client, deliveries)
    return deliveries


def _log_row(d: ReportDelivery) -> list[object]:
    """In NOTIFICATION_LOG_COLUMNS order; the reason is 'report' and no alert is involved."""
    return [
        d.report_id, d.receiver, d.channel, d.channel_type, "report", d.status, min(d.attempts, 255),
        d.error, [], d.started_at, d.finished_at,
    ]  # fmt: skip


def _log_deliveries(client: Client, deliveries: Sequence[ReportDelivery]) -> None:
    rows = [_log_row(d) for d in deliveries]
    try:
        ClickHouseStore(client).log_deliveries(rows)
    except Exception:
        log.exception("could not log %d report deliveries", len(rows))


def _mtimes(paths: Sequence[Path]) -> tuple[float, ...]:
    return tuple(p.stat().st_mtime if p.exists() else 0.0 for p in paths)


async def run_report_schedule(
    settings: Settings,
    *,
    client: Client | None = None,
    reports_path: Path = DEFAULT_REPORTS,
    sender: ReportSender | None = None,
    clock: Callable[[], datetime] = utcnow,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    stop: asyncio.Event | None = None,
    claim: Callable[[str], Awaitable[bool]] | None = None,
) -> None:
    """Run until cancelled (or `stop` is set): fire each enabled report at its cron times.

    `claim`: with several workers running the schedule, each fire time ("name@time") is built and
    sent by the one worker whose claim succeeds (None: this process is the only one).

    `client`: the process's ClickHouse client (one is opened when None: with chdb, pass the one the
    process has). Raises ReportsConfigError or AlertingConfigError at once when a file is bad at start."""
    paths = [reports_path, settings.alerting_path]
    rules = await asyncio.to_thread(load_rules, settings, reports_path)
    seen = _mtimes(paths)
    if client is None:
        client = await asyncio.to_thread(open_client, settings.resolved_clickhouse_dsn)
    own_sender = sender is None
    sender = sender or ReportSender(slack_files=rules.reports.slack_files)
    stop = stop or asyncio.Event()
    due: dict[str, datetime] = {}
    try:
        while not stop.is_set():
            now = clock()
            current = _mtimes(paths)
            if current != seen:
                seen = current
                try:
                    rules = await asyncio.to_thread(load_rules, settings, reports_path)
                    due.clear()
                    if own_sender:
                        sender.slack_files = rules.reports.slack_files
                    log.info("reports: schedule re-read from %s", reports_path)
                except (ReportsConfigError, AlertingConfigError) as exc:
                    log.error("reports: %s; the previous schedule stays", exc)
            zone = desk_zone(settings, rules.reports)
            enabled = [r for r in rules.reports.reports if r.enabled]
            for report in enabled:
                due.setdefault(report.name, next_fire_time(report.cron, now, zone))
            for report in enabled:
                if due[report.name] <= now:
                    fire = due[report.name]
                    try:
                        mine = claim is None or await claim(f"{report.name}@{fire.isoformat()}")
                    except Exception:
                        # Redis unreachable: this fire time stays due and is claimed at the next wake.
                        log.exception("reports: could not claim %s at %s; trying again", report.name, fire)
                        continue
                    due[report.name] = next_fire_time(report.cron, now, zone)
                    if not mine:
                        log.info("reports: %s at %s is another worker's", report.name, fire)
                        continue
                    try:
                        # The period ends at the fire time, however late the loop got to it.
                        deliveries = await run_scheduled_report(
                            settings, client, rules, report, sender, now=fire
                        )
                    except Exception:
                        log.exception("reports: %s could not be built", report.name)
                        continue
                    failed = [d for d in deliveries if d.status == "failed"]
                    for delivery in failed:
                        log.warning(
                            "reports: %s to %s on %s failed: %s",
                            report.name, delivery.receiver, delivery.channel, delivery.error,
                        )  # fmt: skip
            if not enabled:
                wait = MAX_SLEEP_SECONDS
            else:
                soonest = min(due[r.name] for r in enabled)
                wait = min(max((soonest - clock()).total_seconds(), 0.0), MAX_SLEEP_SECONDS)
            sleeper = asyncio.ensure_future(sleep(wait))
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
            for task in (sleeper, stopper):
                task.cancel()
    finally:
        if own_sender:
            await sender.aclose()
