"""Delivery of built reports to loopback servers (HTTP for Telegram and Slack, SMTP for email), and
the schedule firing a report end to end against the real engine."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from alerts.channels import EmailChannel, SlackChannel, TelegramChannel
from alerts.report_delivery import TELEGRAM_CAPTION_MAX_CHARS, ReportFile, ReportMessage, ReportSender
from config.reports import SlackFiles
from config.settings import load_settings
from service.report_schedule import run_report_schedule
from tests.integration.conftest import ReplayedWarehouse
from tests.loopback import LoopbackHttp, RecordingSmtp, Reply, loopback_smtp

pytestmark = pytest.mark.integration
TOKEN = "123456:telegram-report-token"
BOT = "xoxb-slack-report-token"
PDF = ReportFile("brief.pdf", b"%PDF-1.4 fake pdf bytes", "application/pdf")
HTML = ReportFile("brief.html", b"<html><body>Ringkasan harian</body></html>", "text/html")


def message(link: str = "") -> ReportMessage:
    return ReportMessage(
        id="report-1", receiver="desk", subject="Ringkasan harian Pantau: 20 Nov",
        summary="3 isu; <b>KPD</b> & co", files=(PDF, HTML), link=link,
    )  # fmt: skip


async def no_sleep(_: float) -> None:
    await asyncio.sleep(0)


@pytest.fixture
async def server() -> AsyncIterator[LoopbackHttp]:
    async with LoopbackHttp() as running:
        yield running


@pytest.fixture
def smtp() -> Iterator[tuple[RecordingSmtp, int]]:
    with loopback_smtp() as running:
        yield running


async def test_email_carries_the_summary_and_every_file(smtp: tuple[RecordingSmtp, int]) -> None:
    handler, port = smtp
    channel = EmailChannel.model_validate(
        {"type": "email", "host": "127.0.0.1", "port": port, "starttls": False}
        | {"sender": "pantau@example.org", "to": ["desk@example.org"]}
    )
    async with ReportSender(sleep=no_sleep) as sender:
        [record] = await sender.deliver(message(), [channel])
    assert (record.status, record.attempts, record.channel_type) == ("delivered", 1, "email")
    [(recipients, email)] = handler.messages
    assert recipients == ["desk@example.org"]
    assert email["Subject"] == "Ringkasan harian Pantau: 20 Nov"
    body = email.get_body(("plain",))
    assert body is not None and "3 isu; <b>KPD</b> & co" in body.get_content()
    attached = {part.get_filename(): part.get_content() for part in email.iter_attachments()}
    assert attached == {"brief.pdf": PDF.content, "brief.html": HTML.content.decode()}


async def test_telegram_gets_each_file_and_the_summary_as_caption(server: LoopbackHttp) -> None:
    channel = TelegramChannel.model_validate(
        {"type": "telegram", "bot_token": TOKEN, "chat_id": "-100200", "api_base": server.url}
    )
    async with ReportSender(sleep=no_sleep) as sender:
        [record] = await sender.deliver(message(), [channel])
    assert record.status == "delivered"
    first, second = server.requests
    assert {first.path, second.path} == {f"/bot{TOKEN}/sendDocument"}
    assert first.headers["content-type"].startswith("multipart/form-data")
    assert b'filename="brief.pdf"' in first.body and PDF.content in first.body
    assert b'name="caption"' in first.body and b"&lt;b&gt;KPD&lt;/b&gt; &amp; co" in first.body
    assert b'filename="brief.html"' in second.body and b'name="caption"' not in second.body


async def test_a_telegram_refusal_fails_without_the_token(server: LoopbackHttp) -> None:
    channel = TelegramChannel.model_validate(
        {"type": "telegram", "bot_token": TOKEN, "chat_id": "-1", "api_base": server.url}
    )
    server.then(Reply(400, {"ok": False, "description": f"chat not found /bot{TOKEN}/sendDocument"}))
    async with ReportSender(sleep=no_sleep) as sender:
        [record] = await sender.deliver(message(), [channel])
    assert (record.status, record.attempts) == ("failed", 1)
    assert "chat not found" in record.error and TOKEN not in record.error


def caption_of(body: bytes) -> str:
    """The caption field of a multipart sendDocument request."""
    match = re.search(rb'name="caption"\r\n(?:[^\r\n]+\r\n)*\r\n(.*?)\r\n--', body, re.DOTALL)
    assert match is not None, body[:500]
    return match.group(1).decode()


async def test_a_telegram_retry_sends_only_the_files_not_yet_sent(server: LoopbackHttp) -> None:
    channel = TelegramChannel.model_validate(
        {"type": "telegram", "bot_token": TOKEN, "chat_id": "-100200", "api_base": server.url}
    )
    # The first document goes through; the second is refused once, as by a restarting proxy.
    server.then(Reply(), Reply(502, {"ok": False, "description": "Bad Gateway"}))
    async with ReportSender(sleep=no_sleep) as sender:
        [record] = await sender.deliver(message(), [channel])
    assert (record.status, record.attempts) == ("delivered", 2), record.error
    sent = [re.findall(rb'filename="([^"]+)"', seen.body) for seen in server.requests]
    assert sent == [[b"brief.pdf"], [b"brief.html"], [b"brief.html"]]
    captions = [b'name="caption"' in seen.body for seen in server.requests]
    assert captions == [True, False, False]


async def test_a_telegram_caption_is_clipped_without_cutting_an_entity(server: LoopbackHttp) -> None:
    channel = TelegramChannel.model_validate(
        {"type": "telegram", "bot_token": TOKEN, "chat_id": "-100200", "api_base": server.url}
    )
    subject = "Ringkasan harian Pantau: 20 Nov"
    title = f"<b>{subject}</b>\n\n"
    for shift in range(5):  # the limit falls on each character of "&amp;" in turn
        server.requests.clear()
        summary = "x" * (TELEGRAM_CAPTION_MAX_CHARS - len(title) - 3 - shift) + "&" * 400
        long = ReportMessage(id=f"r{shift}", receiver="desk", subject=subject, summary=summary, files=(PDF,))
        async with ReportSender(sleep=no_sleep) as sender:
            [record] = await sender.deliver(long, [channel])
        assert record.status == "delivered"
        caption = caption_of(server.requests[0].body)
        assert len(caption) <= TELEGRAM_CAPTION_MAX_CHARS and caption.endswith("…")
        body = caption.removeprefix(title).removesuffix("…")
        assert html.unescape(body) == summary[: len(html.unescape(body))]
        assert re.fullmatch(r"x*(&amp;)*", body), body[-20:]


async def test_slack_without_a_bot_token_gets_the_summary_and_links(server: LoopbackHttp) -> None:
    channel = SlackChannel.model_validate({"type": "slack", "webhook_url": f"{server.url}/services/T0/B0/X"})
    async with ReportSender(sleep=no_sleep) as sender:
        [record] = await sender.deliver(message(link="https://warroom.example.org/reports/"), [channel])
    assert record.status == "delivered"
    [seen] = server.requests
    text = seen.json()["text"]
    assert "3 isu; &lt;b&gt;KPD&lt;/b&gt; &amp; co" in text
    assert "https://warroom.example.org/reports/brief.pdf" in text
    assert "https://warroom.example.org/reports/brief.html" in text


async def test_slack_with_a_bot_token_uploads_the_files(server: LoopbackHttp) -> None:
    channel = SlackChannel.model_validate({"type": "slack", "webhook_url": f"{server.url}/services/T0/B0/X"})
    files = SlackFiles(bot_token=BOT, channel_id="C0123", api_base=server.url)  # type: ignore[arg-type]
    server.then(
        Reply(body={"ok": True, "upload_url": f"{server.url}/upload/1", "file_id": "F1"}),
        Reply(body={"ok": True}),
        Reply(body={"ok": True, "upload_url": f"{server.url}/upload/2", "file_id": "F2"}),
        Reply(body={"ok": True}),
        Reply(body={"ok": True, "files": []}),
    )
    async with ReportSender(slack_files=files, sleep=no_sleep) as sender:
        [record] = await sender.deliver(message(), [channel])
    assert record.status == "delivered", record.error
    paths = [seen.path for seen in server.requests]
    assert paths == [
        "/files.getUploadURLExternal", "/upload/1", "/files.getUploadURLExternal", "/upload/2",
        "/files.completeUploadExternal",
    ]  # fmt: skip
    ticket, upload, *_, complete = server.requests
    assert ticket.headers["authorization"] == f"Bearer {BOT}"
    assert b"filename=brief.pdf" in ticket.body and f"length={len(PDF.content)}".encode() in ticket.body
    assert PDF.content in upload.body
    done = complete.json()
    assert done["files"] == [{"id": "F1", "title": "brief.pdf"}, {"id": "F2", "title": "brief.html"}]
    assert done["channel_id"] == "C0123" and "3 isu" in done["initial_comment"]


def slack_upload_replies(server: LoopbackHttp, uploads: int) -> None:
    for n in range(uploads):
        server.then(
            Reply(body={"ok": True, "upload_url": f"{server.url}/upload/{n}a", "file_id": f"F{n}a"}),
            Reply(body={"ok": True}),
            Reply(body={"ok": True, "upload_url": f"{server.url}/upload/{n}b", "file_id": f"F{n}b"}),
            Reply(body={"ok": True}),
            Reply(body={"ok": True, "files": []}),
        )


def completed_uploads(server: LoopbackHttp) -> list[str]:
    return [
        seen.json()["channel_id"] for seen in server.requests if seen.path == "/files.completeUploadExternal"
    ]


async def test_slack_receivers_get_the_files_in_their_own_channels(server: LoopbackHttp) -> None:
    channel = SlackChannel.model_validate({"type": "slack", "webhook_url": f"{server.url}/services/T0/B0/X"})
    files = SlackFiles.model_validate(
        {"bot_token": BOT, "channels": {"desk": "C0DESK", "leads": "C0LEADS"}, "api_base": server.url}
    )
    slack_upload_replies(server, 2)
    async with ReportSender(slack_files=files, sleep=no_sleep) as sender:
        for receiver in ("desk", "leads"):
            [record] = await sender.deliver(replace(message(), receiver=receiver), [channel])
            assert (record.status, record.attempts) == ("delivered", 1), record.error
    assert completed_uploads(server) == ["C0DESK", "C0LEADS"]


async def test_a_slack_channel_gets_a_report_once_whoever_shares_it(server: LoopbackHttp) -> None:
    channel = SlackChannel.model_validate({"type": "slack", "webhook_url": f"{server.url}/services/T0/B0/X"})
    other = SlackChannel.model_validate({"type": "slack", "webhook_url": f"{server.url}/services/T0/B1/Y"})
    # desk names the default channel explicitly; leads falls back to it.
    files = SlackFiles.model_validate(
        {"bot_token": BOT, "channel_id": "C0ALL", "channels": {"desk": "C0ALL"}, "api_base": server.url}
    )
    slack_upload_replies(server, 2)
    async with ReportSender(slack_files=files, sleep=no_sleep) as sender:
        # Two Slack channels of one receiver, sent to concurrently, then a second receiver.
        desk = await sender.deliver(message(), [channel, other])
        [leads] = await sender.deliver(replace(message(), receiver="leads"), [channel])
        # Another report is a new message: uploaded again.
        [later] = await sender.deliver(replace(message(), id="report-2"), [channel])
    assert [r.status for r in [*desk, leads, later]] == ["delivered"] * 4
    assert sorted(r.attempts for r in [*desk, leads]) == [0, 0, 1]
    assert completed_uploads(server) == ["C0ALL", "C0ALL"]
    assert len(server.requests) == 10  # two uploads of two files each, nothing to the webhooks


async def test_a_slack_receiver_without_a_channel_gets_the_summary_by_webhook(server: LoopbackHttp) -> None:
    channel = SlackChannel.model_validate({"type": "slack", "webhook_url": f"{server.url}/services/T0/B0/X"})
    files = SlackFiles.model_validate(
        {"bot_token": BOT, "channels": {"desk": "C0DESK"}, "api_base": server.url}
    )
    async with ReportSender(slack_files=files, sleep=no_sleep) as sender:
        [record] = await sender.deliver(replace(message(), receiver="leads"), [channel])
    assert record.status == "delivered"
    [seen] = server.requests
    assert seen.path == "/services/T0/B0/X" and "3 isu" in seen.json()["text"]


async def test_a_slack_api_refusal_fails_once_and_hides_the_token(server: LoopbackHttp) -> None:
    channel = SlackChannel.model_validate({"type": "slack", "webhook_url": f"{server.url}/services/T0/B0/X"})
    files = SlackFiles(bot_token=BOT, channel_id="C0123", api_base=server.url)  # type: ignore[arg-type]
    server.then(Reply(body={"ok": False, "error": f"invalid_auth {BOT}"}))
    async with ReportSender(slack_files=files, sleep=no_sleep) as sender:
        [record] = await sender.deliver(message(), [channel])
    assert (record.status, record.attempts) == ("failed", 1)
    assert "invalid_auth" in record.error and BOT not in record.error


# -- the schedule, end to end ---------------------------------------------------------------------

ALERTING = """\
route: {receiver: desk}
receivers:
  - name: desk
    language: id
    channels:
      - {type: telegram, bot_token: "TOKEN", chat_id: "-100", api_base: "URL"}
      - {type: log}
"""

REPORTS = """\
timezone: Asia/Jakarta
archive_dir: ARCHIVE
reports:
  - name: evening
    cron: "5 21 * * *"
    since: 4h
    language: en
    formats: [pdf, html]
    receivers: [desk]
    channels: [telegram]
"""


async def test_the_schedule_builds_and_sends_the_report_when_its_time_comes(
    replayed_demo: ReplayedWarehouse, clickhouse: Client, chdb_dsn: str, tmp_path: Path, server: LoopbackHttp
) -> None:
    replayed_demo.copy_into(clickhouse)  # its own database: the schedule logs its deliveries there
    [(last,)] = clickhouse.query("SELECT max(created_at) FROM posts").result_rows
    assert last.replace(tzinfo=UTC) < datetime(2026, 11, 20, 14, 5, tzinfo=UTC)  # 21:05 WIB: after the stream
    alerting = tmp_path / "alerting.yaml"
    alerting.write_text(ALERTING.replace("TOKEN", TOKEN).replace("URL", server.url), encoding="utf-8")
    reports = tmp_path / "reports.yaml"
    reports.write_text(REPORTS.replace("ARCHIVE", str(tmp_path / "archive")), encoding="utf-8")
    settings = load_settings(
        alerting_path=alerting, data_dir=tmp_path, clickhouse_dsn=chdb_dsn, posts_ttl_days=0
    )

    now = [datetime(2026, 11, 20, 14, 0, tzinfo=UTC)]  # 21:00 WIB
    stop = asyncio.Event()
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += timedelta(seconds=seconds)
        if len(server.requests) >= 2:
            stop.set()
        await asyncio.sleep(0)

    await asyncio.wait_for(
        run_report_schedule(
            settings, client=clickhouse, reports_path=reports, clock=lambda: now[0], sleep=sleep, stop=stop
        ),
        timeout=60,
    )
    assert slept[0] == 60.0  # five minutes to wait: woken each minute
    assert sum(slept[:5]) == pytest.approx(300.0)
    first, second = server.requests
    assert {first.path, second.path} == {f"/bot{TOKEN}/sendDocument"}
    assert b'filename="evening-20261120-2105.pdf"' in first.body
    assert b"Period 20 Nov 2026 17:05 WIB" in first.body  # the caption: four hours back
    assert b'filename="evening-20261120-2105.html"' in second.body
    archived = sorted(p.name for p in (tmp_path / "archive").iterdir())
    assert archived == ["evening-20261120-2105.html", "evening-20261120-2105.pdf"]
    logged = clickhouse.query(
        "SELECT receiver, channel_type, reason, status FROM notification_log FINAL"
    ).result_rows
    assert logged == [("desk", "telegram", "report", "delivered")]
