"""alerts.notifiers against real servers on loopback: an HTTP/1.1 server written here (it records each
request and answers from a script: success, 5xx, 429, 4xx, or no answer at all) and an SMTP server
(aiosmtpd)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY

from alerts.channels import (
    NOTIFICATION_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Channel,
    EmailChannel,
    SlackChannel,
    TelegramChannel,
    WebhookChannel,
    verify_signature,
)
from alerts.messages import Language, Notification, NotificationReason
from alerts.notifiers import Notifier, render, telegram_html
from pantau.domain import Alert, Severity, SignalKind
from service.engines import free_port
from tests.loopback import HANG, LoopbackHttp, RecordingSmtp, Reply, Seen, loopback_smtp

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SECRET = "desk-webhook-secret"
TOKEN = "123456:telegram-test-token"


class Sleeps(list[float]):
    """Stands in for asyncio.sleep: records each backoff instead of waiting it out."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)
        await asyncio.sleep(0)


@pytest.fixture
async def server() -> AsyncIterator[LoopbackHttp]:
    async with LoopbackHttp() as running:
        yield running


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def notifier(sleeps: Sleeps) -> AsyncIterator[Notifier]:
    async with Notifier(max_attempts=4, backoff_initial=0.2, backoff_max=5.0, sleep=sleeps) as running:
        yield running


def make_notification(
    language: Language = "en", title: str = "Volume burst on Raka Wibisana"
) -> Notification:
    alert = Alert(
        id="alert-1",
        fingerprint="fp-1",
        kind=SignalKind.volume_burst,
        key_kind="target",
        key="raka-wibisana",
        target="raka-wibisana",
        severity=Severity.critical,
        title=title,
        numbers={"count": 120, "ratio": 8.0, "window_seconds": 300},
        first_seen=T0,
        last_seen=T0,
        created_at=T0,
        updated_at=T0,
        labels={"kind": "volume_burst", "target": "raka-wibisana"},
    )
    return Notification(
        id=Notification.make_id("desk", "target=raka-wibisana", "firing", ["alert-1@1"]),
        receiver="desk",
        language=language,
        reason=NotificationReason.firing,
        group_key="target=raka-wibisana",
        group_labels={"target": "raka-wibisana"},
        firing=(alert,),
        created_at=T0,
        link="https://warroom.example.org",
    )


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_webhook_posts_the_notification_with_a_signature_the_server_verifies(
    notifier: Notifier,
) -> None:
    def signed(seen: Seen) -> bool:
        timestamp = seen.headers[TIMESTAMP_HEADER.lower()]
        return verify_signature(SECRET.encode(), timestamp, seen.body, seen.headers[SIGNATURE_HEADER.lower()])

    notification = make_notification()
    delivered_before = sample("pantau_notifications_total", channel_type="webhook", status="delivered")
    async with LoopbackHttp(accept=signed) as strict:
        channel = WebhookChannel.model_validate(
            {"type": "webhook", "name": "desk-hook", "url": f"{strict.url}/hook", "secret": SECRET}
            | {"headers": {"X-Team": "desk"}}
        )
        [record] = await notifier.deliver(notification, [channel])
    assert (record.status, record.attempts, record.channel, record.channel_type) == (
        "delivered", 1, "desk-hook", "webhook",
    )  # fmt: skip
    assert record.notification_id == notification.id
    assert record.alert_ids == ("alert-1",)
    [seen] = strict.requests
    assert (seen.method, seen.path) == ("POST", "/hook")
    assert seen.headers[NOTIFICATION_ID_HEADER.lower()] == notification.id
    assert seen.headers["x-team"] == "desk"
    body = seen.json()
    assert {k: body[k] for k in ("id", "receiver", "reason", "group_key", "group_labels", "language")} == {
        "id": notification.id,
        "receiver": "desk",
        "reason": "firing",
        "group_key": "target=raka-wibisana",
        "group_labels": {"target": "raka-wibisana"},
        "language": "en",
    }
    assert body["text"] == render(notification).text
    assert body["resolved"] == []
    [alert] = body["firing"]
    assert alert["link"] == "https://warroom.example.org/alerts/alert-1"
    assert (alert["id"], alert["severity"], alert["status"]) == ("alert-1", "critical", "open")
    assert alert["numbers"] == {"count": 120, "ratio": 8.0, "window_seconds": 300}
    assert alert["labels"]["target"] == "raka-wibisana"
    assert alert["first_seen"].startswith("2026-11-20T12:00:00")
    delivered = sample("pantau_notifications_total", channel_type="webhook", status="delivered")
    assert delivered == delivered_before + 1


async def test_a_wrong_secret_is_refused_by_the_receiver(notifier: Notifier) -> None:
    def signed(seen: Seen) -> bool:
        timestamp = seen.headers[TIMESTAMP_HEADER.lower()]
        return verify_signature(b"another", timestamp, seen.body, seen.headers[SIGNATURE_HEADER.lower()])

    async with LoopbackHttp(accept=signed) as strict:
        channel = WebhookChannel.model_validate({"type": "webhook", "url": strict.url, "secret": SECRET})
        [record] = await notifier.deliver(make_notification(), [channel])
    assert (record.status, record.attempts) == ("failed", 1)
    assert record.error.startswith("HTTP 401")
    assert SECRET not in record.error


async def test_slack_gets_a_header_and_mrkdwn_sections(server: LoopbackHttp, notifier: Notifier) -> None:
    channel = SlackChannel.model_validate({"type": "slack", "webhook_url": f"{server.url}/services/T0/B0/X"})
    notification = make_notification(title="Burst on <Raka> & co")
    [record] = await notifier.deliver(notification, [channel])
    assert record.status == "delivered"
    [seen] = server.requests
    assert seen.path == "/services/T0/B0/X"
    payload = seen.json()
    assert payload["text"] == render(notification).subject
    header, *sections = payload["blocks"]
    assert header == {"type": "header", "text": {"type": "plain_text", "text": render(notification).subject}}
    assert sections and all(s["type"] == "section" and s["text"]["type"] == "mrkdwn" for s in sections)
    assert any("Burst on &lt;Raka&gt; &amp; co" in s["text"]["text"] for s in sections)


async def test_telegram_sends_html_to_the_bots_path(server: LoopbackHttp, notifier: Notifier) -> None:
    channel = TelegramChannel.model_validate(
        {"type": "telegram", "bot_token": TOKEN, "chat_id": "-100200", "api_base": server.url}
    )
    notification = make_notification(language="id", title="<b>Raka</b>")
    server.then(Reply(body={"ok": True, "result": {"message_id": 1}}))
    [record] = await notifier.deliver(notification, [channel])
    assert record.status == "delivered"
    [seen] = server.requests
    assert seen.path == f"/bot{TOKEN}/sendMessage"
    assert seen.json() == {
        "chat_id": "-100200",
        "text": telegram_html(render(notification)),
        "parse_mode": "HTML",
        "disable_web_page_preview": True,
    }
    assert "Lonjakan volume" in seen.json()["text"]
    assert "&lt;b&gt;Raka&lt;/b&gt;" in seen.json()["text"]


async def test_a_telegram_refusal_fails_at_once_without_the_token(
    server: LoopbackHttp, notifier: Notifier
) -> None:
    channel = TelegramChannel.model_validate(
        {"type": "telegram", "bot_token": TOKEN, "chat_id": "-1", "api_base": server.url}
    )
    # A server that echoes the request path puts the token in its error message.
    echo = f"Bad Request: chat not found (/bot{TOKEN}/sendMessage)"
    server.then(Reply(400, {"ok": False, "description": echo}))
    [record] = await notifier.deliver(make_notification(), [channel])
    assert (record.status, record.attempts) == ("failed", 1)
    assert "chat not found" in record.error
    assert TOKEN not in record.model_dump_json()
    assert TOKEN.split(":")[1] not in record.error


async def test_telegram_rate_limit_waits_as_long_as_asked(
    server: LoopbackHttp, notifier: Notifier, sleeps: Sleeps
) -> None:
    channel = TelegramChannel.model_validate(
        {"type": "telegram", "bot_token": TOKEN, "chat_id": "-1", "api_base": server.url}
    )
    limited = {"ok": False, "description": "Too Many Requests", "parameters": {"retry_after": 7}}
    server.then(Reply(429, limited))
    [record] = await notifier.deliver(make_notification(), [channel])
    assert (record.status, record.attempts) == ("delivered", 2)
    assert sleeps == [7.0]

    # Asked to wait longer than the notifier may: fail now rather than hold up the caller.
    server.then(Reply(429, limited | {"parameters": {"retry_after": 3600}}))
    [record] = await notifier.deliver(make_notification(), [channel])
    assert (record.status, record.attempts) == ("failed", 1)
    assert "3600" in record.error
    assert sleeps == [7.0]


async def test_server_errors_are_retried_with_backoff_then_delivered(
    server: LoopbackHttp, notifier: Notifier, sleeps: Sleeps
) -> None:
    server.then(Reply(500), Reply(503), Reply(429, headers={"Retry-After": "2"}))
    channel = WebhookChannel.model_validate({"type": "webhook", "url": server.url})
    [record] = await notifier.deliver(make_notification(), [channel])
    assert (record.status, record.attempts, record.error) == ("delivered", 4, "")
    assert len(server.requests) == 4
    # The same notification id on every attempt, so that the receiver can drop duplicates.
    ids = {seen.headers[NOTIFICATION_ID_HEADER.lower()] for seen in server.requests}
    assert ids == {make_notification().id}
    backoffs, retry_after = sleeps[:2], sleeps[2]
    assert all(0.2 <= wait <= 5.0 for wait in backoffs)
    assert retry_after == 2.0


async def test_retries_stop_at_max_attempts(server: LoopbackHttp, notifier: Notifier) -> None:
    server.then(*[Reply(502)] * 5)
    channel = WebhookChannel.model_validate({"type": "webhook", "url": server.url})
    [record] = await notifier.deliver(make_notification(), [channel])
    assert (record.status, record.attempts) == ("failed", 4)
    assert record.error.startswith("HTTP 502")
    assert len(server.requests) == 4


async def test_a_client_error_fails_at_once(server: LoopbackHttp, notifier: Notifier, sleeps: Sleeps) -> None:
    server.then(Reply(400, {"error": "invalid_payload"}))
    channel = WebhookChannel.model_validate({"type": "webhook", "url": server.url})
    [record] = await notifier.deliver(make_notification(), [channel])
    assert (record.status, record.attempts) == ("failed", 1)
    assert "invalid_payload" in record.error
    assert len(server.requests) == 1
    assert sleeps == []


async def test_an_unreachable_channel_is_retried_then_reported(notifier: Notifier, sleeps: Sleeps) -> None:
    channel = WebhookChannel.model_validate({"type": "webhook", "url": f"http://127.0.0.1:{free_port()}"})
    [record] = await notifier.deliver(make_notification(), [channel])
    assert (record.status, record.attempts) == ("failed", 4)
    assert record.error.startswith("ConnectError")
    assert len(sleeps) == 3


async def test_a_hanging_channel_times_out_without_holding_up_the_others(sleeps: Sleeps) -> None:
    async with (
        LoopbackHttp() as hanging,
        LoopbackHttp() as healthy,
        Notifier(max_attempts=2, sleep=sleeps) as n,
    ):
        hanging.then(HANG, HANG)
        # The healthy server answers only while the hanging one holds a request: were the channels
        # sent one after the other, this delivery could never complete.
        healthy.then(Reply(after=hanging.hanging))
        channels: list[Channel] = [
            WebhookChannel.model_validate({"type": "webhook", "url": hanging.url, "timeout_seconds": 0.3}),
            SlackChannel.model_validate({"type": "slack", "webhook_url": healthy.url, "timeout_seconds": 30}),
        ]
        stuck, delivered = await n.deliver(make_notification(), channels)
    assert (stuck.status, stuck.attempts) == ("failed", 2)
    assert "timed out" in stuck.error
    assert len(hanging.requests) == 2
    assert (delivered.status, delivered.attempts, delivered.channel) == ("delivered", 1, "slack")


@pytest.fixture
def smtp() -> Iterator[tuple[RecordingSmtp, int]]:
    with loopback_smtp() as running:
        yield running


async def test_email_carries_subject_recipients_and_both_parts(
    smtp: tuple[RecordingSmtp, int], notifier: Notifier
) -> None:
    handler, port = smtp
    handler.replies.append("451 4.3.0 Try again later")  # a passing refusal: retried
    channel = EmailChannel.model_validate(
        {
            "type": "email",
            "host": "127.0.0.1",
            "port": port,
            "starttls": False,
            "sender": "Pantau <pantau@example.org>",
            "to": ["desk@example.org", "lead@example.org"],
        }
    )
    notification = make_notification(language="id")
    [record] = await notifier.deliver(notification, [channel])
    assert (record.status, record.attempts) == ("delivered", 2)
    [(recipients, message)] = handler.messages
    rendered = render(notification)
    assert recipients == ["desk@example.org", "lead@example.org"]
    assert message["Subject"] == rendered.subject
    assert "PERINGATAN" in message["Subject"] and "Lonjakan volume" in message["Subject"]
    assert message[NOTIFICATION_ID_HEADER] == notification.id
    plain, html = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None and html is not None
    # SMTP carries lines ended with CRLF.
    assert plain.get_content().replace("\r\n", "\n") == rendered.text
    assert html.get_content().replace("\r\n", "\n").strip() == rendered.html.strip()


async def test_an_email_refusal_fails_at_once(smtp: tuple[RecordingSmtp, int], notifier: Notifier) -> None:
    handler, port = smtp
    handler.replies.append("554 5.7.1 Message rejected")
    channel = EmailChannel.model_validate(
        {"type": "email", "host": "127.0.0.1", "port": port, "starttls": False, "password": "pw-smtp"}
        | {"sender": "pantau@example.org", "to": ["desk@example.org"], "username": ""}
    )
    [record] = await notifier.deliver(make_notification(), [channel])
    assert (record.status, record.attempts) == ("failed", 1)
    assert "554" in record.error
    assert handler.messages == []
