"""Delivery of notifications: render a `Notification` in its receiver's language, send it on each of
the receiver's channels, and report one `DeliveryRecord` per channel.

A channel that fails or hangs never holds up the others: the channels are sent to concurrently,
every attempt is bounded by its channel's own timeout, and a failure comes back as a failed record,
never as an exception. Network errors, timeouts, 5xx and 429 are retried with backoff; any other
refusal (a 4xx: a wrong URL, token or chat) is a config error that another attempt cannot fix.
"""

from __future__ import annotations

import asyncio
import html
import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any, Literal, Self, assert_never

import aiosmtplib
import httpx
import orjson
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from prometheus_client import Counter, Histogram
from pydantic import BaseModel, ConfigDict, Field
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from alerts.channels import (
    NOTIFICATION_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Channel,
    EmailChannel,
    LogChannel,
    SlackChannel,
    TelegramChannel,
    WebhookChannel,
    sign,
)
from alerts.issues import ISSUE
from alerts.messages import Notification, NotificationReason
from pantau.domain import Alert, Severity, UtcDatetime, utcnow

log = logging.getLogger(__name__)

NOTIFICATIONS = Counter(
    "pantau_notifications_total", "Notifications sent on a channel, by outcome.", ["channel_type", "status"]
)
NOTIFICATION_SECONDS = Histogram(
    "pantau_notification_seconds",
    "Time to deliver one notification on one channel, retries included.",
    ["channel_type"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)

# Per section (firing, resolved): a big group stays one readable message within the chat limits.
MAX_ALERTS_LISTED = 20
MAX_ERROR_CHARS = 500
TELEGRAM_MAX_CHARS = 4096
SLACK_HEADER_MAX_CHARS = 150
SLACK_SECTION_MAX_CHARS = 3000
SLACK_MAX_BLOCKS = 50
# Keys that are hashes (a topic's id, a campaign text's id): nothing a reader can use in a sentence.
OPAQUE_KEY_KINDS = frozenset({"topic", "text"})
WEBHOOK_ALERT_FIELDS = frozenset(
    {"id", "kind", "title", "severity", "status", "labels", "numbers", "first_seen", "last_seen"}
)

_templates = Environment(
    loader=PackageLoader("alerts", "templates"),
    # Only the HTML layouts escape: the wording modules and the plain-text layouts stay raw.
    autoescape=select_autoescape(["html.j2"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    subject: str
    text: str
    html: str


class DeliveryRecord(BaseModel):
    """One notification on one channel: what the delivery log keeps (secrets redacted)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    notification_id: str
    receiver: str
    channel: str = Field(description="The channel's display name.")
    channel_type: str
    status: Literal["delivered", "failed"]
    attempts: int = Field(ge=0)
    error: str = Field(default="", max_length=MAX_ERROR_CHARS)
    started_at: UtcDatetime
    finished_at: UtcDatetime
    reason: NotificationReason
    alert_ids: tuple[str, ...] = ()


class DeliveryError(Exception):
    """A channel answered, but not with success. `retry` when another attempt may pass."""

    def __init__(self, message: str, *, retry: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry = retry
        self.retry_after = retry_after


# Rendering


def alert_link(base: str, alert_id: str) -> str:
    return f"{base.rstrip('/')}/alerts/{alert_id}" if base else ""


def _utc_minutes(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC")


def _alert_context(alert: Alert, link: str) -> dict[str, Any]:
    if alert.key_kind == ISSUE:
        # An issue is named by its label; whom it is about follows in the sentence.
        what = alert.details.get("label", "").replace(", ", " · ")
    elif alert.target:
        what = alert.labels.get("target_name") or alert.target
    elif alert.key_kind in OPAQUE_KEY_KINDS:
        # A topic or a campaign is named by what it says, not by its hash key.
        said = alert.details.get("terms") or alert.details.get("text", "")
        what = f"“{said[:80]}{'…' if len(said) > 80 else ''}”" if said else ""
    else:
        what = f"#{alert.key}" if alert.key_kind == "hashtag" else alert.key
    return {
        "id": alert.id,
        "kind": alert.kind.value,
        "severity": alert.severity.value,
        "title": alert.title,
        "key_kind": alert.key_kind,
        "key": alert.key,
        "target": alert.target,
        "what": what,
        "issue": {
            "kinds": [k for k in alert.labels.get("kinds", "").split(",") if k],
            "about": alert.labels.get("target_name", ""),
            "drivers": alert.details.get("drivers", ""),
            "merged_into": alert.details.get("merged_into", ""),
        },
        # A sentence cannot say an infinite or undefined number: it reads as absent (0) instead.
        "numbers": {k: v for k, v in alert.numbers.items() if math.isfinite(v)},
        "first_seen": _utc_minutes(alert.first_seen),
        "last_seen": _utc_minutes(alert.last_seen),
        "link": alert_link(link, alert.id),
    }


def _context(notification: Notification) -> dict[str, Any]:
    sections: list[dict[str, Any]] = [
        {
            "name": name,
            "total": len(alerts),
            "alerts": [_alert_context(a, notification.link) for a in alerts[:MAX_ALERTS_LISTED]],
            "more": max(0, len(alerts) - MAX_ALERTS_LISTED),
        }
        for name, alerts in (("firing", notification.firing), ("resolved", notification.resolved))
        if alerts
    ]
    # The subject speaks of the firing alerts, or of the resolved ones when none is firing.
    headline = notification.firing or notification.resolved
    ranks = list(Severity)
    return {
        "language": notification.language,
        "reason": notification.reason.value,
        "severity": max((a.severity for a in headline), key=ranks.index, default=Severity.info).value,
        "lead": sections[0]["alerts"][0] if sections else None,
        "total": len(headline),
        "group_labels": ", ".join(f"{k}={v}" for k, v in sorted(notification.group_labels.items())),
        "sections": sections,
    }


def render(notification: Notification) -> RenderedMessage:
    """The notification in its language: a one-line subject, a plain-text body, an HTML body."""
    context = _context(notification)
    subject = " ".join(_templates.get_template("subject.j2").render(context).split())
    text = _templates.get_template("text.j2").render(context).strip() + "\n"
    return RenderedMessage(subject, text, _templates.get_template("email.html.j2").render(context))


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def telegram_html(message: RenderedMessage) -> str:
    """Telegram's HTML mode: the subject in bold over the text body, escaped; within the message
    length limit (which counts characters after the entities are parsed)."""
    subject = clip(message.subject, 256)
    text = clip(message.text, TELEGRAM_MAX_CHARS - len(subject) - 2)
    return f"<b>{html.escape(subject, quote=False)}</b>\n\n{html.escape(text, quote=False)}"


def mrkdwn(text: str) -> str:
    # Slack decodes exactly these three entities; escaping more would show them literally.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(message: RenderedMessage) -> dict[str, Any]:
    """A Slack incoming-webhook message: the subject as header, a section per paragraph of the text
    body, and the subject again as the fallback for notifications."""
    paragraphs = [p.strip() for p in message.text.split("\n\n") if p.strip()]
    header = {"type": "header", "text": {"type": "plain_text", "text": clip(message.subject, 150)}}
    sections: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": clip(mrkdwn(p), SLACK_SECTION_MAX_CHARS)}}
        for p in paragraphs[: SLACK_MAX_BLOCKS - 1]
    ]
    return {"text": mrkdwn(message.subject), "blocks": [header, *sections]}


def webhook_payload(notification: Notification, text: str) -> dict[str, Any]:
    def alert(a: Alert) -> dict[str, Any]:
        return a.model_dump(mode="json", include=set(WEBHOOK_ALERT_FIELDS)) | {
            "link": alert_link(notification.link, a.id)
        }

    return {
        "id": notification.id,
        "receiver": notification.receiver,
        "reason": notification.reason.value,
        "group_key": notification.group_key,
        "group_labels": notification.group_labels,
        "language": notification.language,
        "created_at": notification.created_at.isoformat(),
        "text": text,
        "firing": [alert(a) for a in notification.firing],
        "resolved": [alert(a) for a in notification.resolved],
    }


# Delivery


def retryable(exc: BaseException) -> bool:
    if isinstance(exc, DeliveryError):
        return exc.retry
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return 400 <= exc.code < 500  # SMTP's "try again later"; 5xx is a refusal
    # OSError covers refused connections and timeouts, SMTP's own included.
    return isinstance(exc, OSError | httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError)


def describe_failure(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, DeliveryError):
        return str(exc)
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return f"timed out (limit {timeout:g}s per attempt)"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def redact(text: str, secrets: Sequence[str]) -> str:
    for secret in sorted(filter(None, secrets), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def http_refusal(response: httpx.Response, detail: str, retry_after: float | None) -> DeliveryError:
    """A channel's HTTP refusal: worth retrying when rate-limited (429) or the server failed (5xx)."""
    status = response.status_code
    return DeliveryError(
        f"HTTP {status}: {detail}".rstrip(": "), retry=status == 429 or status >= 500, retry_after=retry_after
    )


def retry_after_header(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else None


class ChannelSender:
    """What the notifier and the brief's sender share: one HTTP client (closed with the sender when
    it made it), tries per channel with exponential backoff and jitter, and an injectable clock."""

    def __init__(
        self,
        *,
        client: httpx.AsyncClient | None,
        user_agent: str,
        max_attempts: int,
        backoff_initial: float,
        backoff_max: float,
        clock: Callable[[], datetime],
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(headers={"User-Agent": user_agent})
        self.max_attempts = max_attempts
        self._backoff = wait_exponential_jitter(
            multiplier=backoff_initial, max=backoff_max, jitter=backoff_initial
        )
        self._clock = clock
        self._sleep = sleep

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()


class Notifier(ChannelSender):
    """Sends notifications on channels. Share one per process; `aclose` when done."""

    def __init__(
        self,
        *,
        client: httpx.AsyncClient | None = None,
        max_attempts: int = 4,
        backoff_initial: float = 0.2,
        backoff_max: float = 5.0,
        retry_after_max: float = 30.0,
        clock: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """`retry_after_max`: the longest wait a rate-limited channel may ask for (429 with a retry
        after); asked for longer, the delivery fails at once instead of blocking its caller."""
        super().__init__(
            client=client,
            user_agent="pantau-notifier",
            max_attempts=max_attempts,
            backoff_initial=backoff_initial,
            backoff_max=backoff_max,
            clock=clock,
            sleep=sleep,
        )
        self.retry_after_max = retry_after_max

    async def deliver(self, notification: Notification, channels: Sequence[Channel]) -> list[DeliveryRecord]:
        """One record per channel, in the channels' order; raises only if cancelled."""
        message = render(notification)
        return list(await asyncio.gather(*(self._deliver(notification, message, c) for c in channels)))

    async def _deliver(
        self, notification: Notification, message: RenderedMessage, channel: Channel
    ) -> DeliveryRecord:
        started, began = self._clock(), time.perf_counter()
        status: Literal["delivered", "failed"] = "delivered"
        attempts, error = 0, ""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=self._wait,
            retry=retry_if_exception(retryable),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    attempts += 1
                    async with asyncio.timeout(channel.timeout_seconds):
                        await self._send(channel, notification, message)
        except Exception as exc:
            status = "failed"
            error = clip(
                redact(describe_failure(exc, channel.timeout_seconds), channel.secrets()), MAX_ERROR_CHARS
            )
        NOTIFICATIONS.labels(channel.type, status).inc()
        NOTIFICATION_SECONDS.labels(channel.type).observe(time.perf_counter() - began)
        record = DeliveryRecord(
            notification_id=notification.id,
            receiver=notification.receiver,
            channel=channel.display_name,
            channel_type=channel.type,
            status=status,
            attempts=attempts,
            error=error,
            started_at=started,
            finished_at=self._clock(),
            reason=notification.reason,
            alert_ids=tuple(a.id for a in (*notification.firing, *notification.resolved)),
        )
        # INFO either way: the caller holds the records and decides what deserves a warning.
        log.info(
            "notification %s to %s on %s: %s after %d attempt(s)%s",
            notification.id, notification.receiver, record.channel, status, attempts,
            f": {error}" if error else "",
        )  # fmt: skip
        return record

    def _wait(self, retry_state: RetryCallState) -> float:
        """The wait a rate-limited channel asked for, else exponential backoff with jitter."""
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, DeliveryError) and exc.retry_after is not None:
            return exc.retry_after
        return self._backoff(retry_state)

    async def _send(self, channel: Channel, notification: Notification, message: RenderedMessage) -> None:
        if isinstance(channel, WebhookChannel):
            await self._send_webhook(channel, notification, message)
        elif isinstance(channel, SlackChannel):
            await self._post(channel.webhook_url.get_secret_value(), channel, json=slack_payload(message))
        elif isinstance(channel, TelegramChannel):
            await self._send_telegram(channel, message)
        elif isinstance(channel, EmailChannel):
            await self._send_email(channel, notification, message)
        elif isinstance(channel, LogChannel):
            log.info(
                "notification %s for %s: %s\n%s",
                notification.id,
                notification.receiver,
                message.subject,
                message.text,
            )
        else:
            assert_never(channel)

    async def _post(self, url: str, channel: Channel, **request: Any) -> httpx.Response:
        response = await self._client.post(url, timeout=channel.timeout_seconds, **request)
        if not response.is_success:
            raise self._refusal(response, response.text[:200], retry_after_header(response))
        return response

    def _refusal(self, response: httpx.Response, detail: str, retry_after: float | None) -> DeliveryError:
        if retry_after is not None and retry_after > self.retry_after_max:
            # Retrying sooner than asked only gets refused again; waiting longer holds up the caller.
            message = f"HTTP {response.status_code}: {detail}".rstrip(": ")
            return DeliveryError(f"{message} (asked to wait {retry_after:g}s)", retry=False)
        return http_refusal(response, detail, retry_after)

    async def _send_webhook(
        self, channel: WebhookChannel, notification: Notification, message: RenderedMessage
    ) -> None:
        body = orjson.dumps(webhook_payload(notification, message.text))
        headers = {
            **channel.headers,
            "Content-Type": "application/json",
            NOTIFICATION_ID_HEADER: notification.id,
        }
        if channel.secret:
            # A fresh timestamp per attempt: a retry after backoff still passes the receiver's age check.
            timestamp = str(int(self._clock().timestamp()))
            signature = sign(channel.secret.get_secret_value().encode(), timestamp, body)
            headers |= {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: signature}
        await self._post(str(channel.url), channel, content=body, headers=headers)

    async def _send_telegram(self, channel: TelegramChannel, message: RenderedMessage) -> None:
        url = f"{channel.api_base.rstrip('/')}/bot{channel.bot_token.get_secret_value()}/sendMessage"
        payload = {
            "chat_id": channel.chat_id,
            "text": telegram_html(message),
            "parse_mode": "HTML",
            "disable_web_page_preview": True,
        }
        response = await self._client.post(url, json=payload, timeout=channel.timeout_seconds)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            answer = {}
        if response.is_success and answer.get("ok") is True:
            return
        # Telegram explains itself in the body, and says how long to back off in its parameters.
        retry_after = (answer.get("parameters") or {}).get("retry_after")
        detail = str(answer.get("description") or response.text[:200])
        if response.is_success:
            raise DeliveryError(f"Telegram refused: {detail}", retry=False)
        raise self._refusal(response, detail, float(retry_after) if retry_after is not None else None)

    async def _send_email(
        self, channel: EmailChannel, notification: Notification, message: RenderedMessage
    ) -> None:
        email = EmailMessage()
        email["Subject"] = message.subject
        email["From"] = channel.sender
        email["To"] = ", ".join(channel.to)
        email["Date"] = format_datetime(self._clock())
        # The same id on every attempt, so a mailbox that got a retried message can drop the copy.
        domain = parseaddr(channel.sender)[1].rpartition("@")[2] or "pantau"
        email["Message-ID"] = f"<{notification.id}@{domain}>"
        email[NOTIFICATION_ID_HEADER] = notification.id
        email.set_content(message.text)
        email.add_alternative(message.html, subtype="html")
        await aiosmtplib.send(
            email,
            recipients=channel.to,
            hostname=channel.host,
            port=channel.port,
            username=channel.username or None,
            password=channel.password.get_secret_value() if channel.password else None,
            start_tls=channel.starttls,
            use_tls=channel.use_tls,
            timeout=channel.timeout_seconds,
        )
