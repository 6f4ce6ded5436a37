"""Delivery of built reports (the daily brief) on a receiver's channels, with the files: the alert
notifiers (alerts.notifiers) send text only.

- email: the summary as the body, every file attached;
- Telegram: each file with sendDocument, the first with the summary as its caption;
- Slack: with `slack_files` (a bot token and a channel, config/reports.yaml) the files are uploaded
  with files upload v2 (getUploadURLExternal, the bytes, completeUploadExternal with the summary as
  the comment); otherwise the receiver's incoming webhook gets the summary, with links to the files
  when the reports' archive is published (`link`): an incoming webhook cannot carry a file;
- webhook: a signed JSON POST of the summary and the files' names, sizes and links;
- log: a line in Pantau's log.

As with alert notifications, every channel is sent to concurrently, each attempt is bounded by the
channel's timeout, network errors, 5xx and 429 are retried with backoff, any other refusal fails at
once, and a failure comes back as a failed record (secrets redacted), never as an exception.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any, Literal, assert_never

import aiosmtplib
import httpx
import orjson
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

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
from alerts.notifiers import DeliveryError
from config.reports import SlackFiles
from pantau.domain import utcnow

log = logging.getLogger(__name__)

TELEGRAM_CAPTION_MAX_CHARS = 1024
MAX_ERROR_CHARS = 500


@dataclass(frozen=True)
class ReportFile:
    name: str
    content: bytes
    media_type: str  # e.g. application/pdf


@dataclass(frozen=True)
class ReportMessage:
    """One built report for one receiver: the same id on every attempt (receivers dedup)."""

    id: str
    receiver: str
    subject: str
    summary: str
    files: tuple[ReportFile, ...]
    link: str = ""  # base URL the files are published at ('' = not published)

    def file_link(self, file: ReportFile) -> str:
        return f"{self.link.rstrip('/')}/{file.name}" if self.link else ""


@dataclass(frozen=True)
class ReportDelivery:
    report_id: str
    receiver: str
    channel: str
    channel_type: str
    status: Literal["delivered", "failed"]
    attempts: int
    error: str
    started_at: datetime
    finished_at: datetime


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, DeliveryError):
        return exc.retry
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return 400 <= exc.code < 500  # SMTP's "try again later"; 5xx is a refusal
    return isinstance(exc, OSError | httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError)


def _describe(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, DeliveryError):
        return str(exc)
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return f"timed out (limit {timeout:g}s per attempt)"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _redact(text: str, secrets: Sequence[str]) -> str:
    for secret in sorted(filter(None, secrets), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _refusal(response: httpx.Response, detail: str) -> DeliveryError:
    retry_after = response.headers.get("Retry-After", "")
    status = response.status_code
    return DeliveryError(
        f"HTTP {status}: {detail}".rstrip(": "),
        retry=status == 429 or status >= 500,
        retry_after=float(retry_after) if retry_after.isdigit() else None,
    )


def _summary_with_links(message: ReportMessage) -> str:
    links = [message.file_link(f) for f in message.files]
    return "\n".join([message.summary, *filter(None, links)])


class ReportSender:
    """Sends built reports. Share one per process; `aclose` when done."""

    def __init__(
        self,
        *,
        client: httpx.AsyncClient | None = None,
        slack_files: SlackFiles | None = None,
        max_attempts: int = 4,
        backoff_initial: float = 0.5,
        backoff_max: float = 10.0,
        clock: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(headers={"User-Agent": "pantau-reports"})
        self.slack_files = slack_files
        self.max_attempts = max_attempts
        self._backoff = wait_exponential_jitter(
            multiplier=backoff_initial, max=backoff_max, jitter=backoff_initial
        )
        self._clock = clock
        self._sleep = sleep

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> ReportSender:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def deliver(self, message: ReportMessage, channels: Sequence[Channel]) -> list[ReportDelivery]:
        """One record per channel, in the channels' order; raises only if cancelled."""
        return list(await asyncio.gather(*(self._deliver(message, c) for c in channels)))

    def _secrets(self, channel: Channel) -> list[str]:
        extra = [self.slack_files.bot_token.get_secret_value()] if self.slack_files else []
        return [*channel.secrets(), *extra]

    async def _deliver(self, message: ReportMessage, channel: Channel) -> ReportDelivery:
        started = self._clock()
        attempts, error = 0, ""
        status: Literal["delivered", "failed"] = "delivered"
        # A file upload takes longer than a message: each attempt may take a few times the limit.
        timeout = channel.timeout_seconds * (1 if isinstance(channel, LogChannel) else 6)
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=self._wait,
            retry=retry_if_exception(_transient),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    attempts += 1
                    async with asyncio.timeout(timeout):
                        await self._send(channel, message)
        except Exception as exc:
            status = "failed"
            error = _clip(_redact(_describe(exc, timeout), self._secrets(channel)), MAX_ERROR_CHARS)
        log.info(
            "report %s to %s on %s: %s after %d attempt(s)%s",
            message.id, message.receiver, channel.display_name, status, attempts,
            f": {error}" if error else "",
        )  # fmt: skip
        return ReportDelivery(
            report_id=message.id,
            receiver=message.receiver,
            channel=channel.display_name,
            channel_type=channel.type,
            status=status,
            attempts=attempts,
            error=error,
            started_at=started,
            finished_at=self._clock(),
        )

    def _wait(self, retry_state: Any) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, DeliveryError) and exc.retry_after is not None:
            return min(exc.retry_after, 60.0)
        return float(self._backoff(retry_state))

    async def _send(self, channel: Channel, message: ReportMessage) -> None:
        if isinstance(channel, EmailChannel):
            await self._send_email(channel, message)
        elif isinstance(channel, TelegramChannel):
            await self._send_telegram(channel, message)
        elif isinstance(channel, SlackChannel):
            if self.slack_files is not None:
                await self._upload_to_slack(self.slack_files, channel, message)
            else:
                text = (
                    _summary_with_links(message)
                    .replace("&", "&amp;")
                    .replace("<", "&lt;")
                    .replace(">", "&gt;")
                )
                await self._post(channel.webhook_url.get_secret_value(), channel, json={"text": text})
        elif isinstance(channel, WebhookChannel):
            await self._send_webhook(channel, message)
        elif isinstance(channel, LogChannel):
            log.info(
                "report %s for %s: %s\n%s\nfiles: %s",
                message.id, message.receiver, message.subject, message.summary,
                ", ".join(f.name for f in message.files),
            )  # fmt: skip
        else:
            assert_never(channel)

    async def _post(self, url: str, channel: Channel, **request: Any) -> httpx.Response:
        response = await self._client.post(url, timeout=channel.timeout_seconds * 6, **request)
        if not response.is_success:
            raise _refusal(response, response.text[:200])
        return response

    async def _send_email(self, channel: EmailChannel, message: ReportMessage) -> None:
        email = EmailMessage()
        email["Subject"] = message.subject
        email["From"] = channel.sender
        email["To"] = ", ".join(channel.to)
        email["Date"] = format_datetime(self._clock())
        domain = parseaddr(channel.sender)[1].rpartition("@")[2] or "pantau"
        email["Message-ID"] = f"<{message.id}@{domain}>"
        email[NOTIFICATION_ID_HEADER] = message.id
        email.set_content(message.summary + "\n")
        for file in message.files:
            maintype, _, subtype = file.media_type.partition("/")
            email.add_attachment(file.content, maintype=maintype, subtype=subtype, filename=file.name)
        await aiosmtplib.send(
            email,
            recipients=channel.to,
            hostname=channel.host,
            port=channel.port,
            username=channel.username or None,
            password=channel.password.get_secret_value() if channel.password else None,
            start_tls=channel.starttls,
            use_tls=channel.use_tls,
            timeout=channel.timeout_seconds * 6,
        )

    async def _send_telegram(self, channel: TelegramChannel, message: ReportMessage) -> None:
        url = f"{channel.api_base.rstrip('/')}/bot{channel.bot_token.get_secret_value()}/sendDocument"
        caption = _clip(
            f"<b>{html.escape(message.subject, quote=False)}</b>\n\n"
            + html.escape(_summary_with_links(message), quote=False),
            TELEGRAM_CAPTION_MAX_CHARS,
        )
        for index, file in enumerate(message.files):
            data = {"chat_id": channel.chat_id}
            if index == 0:
                data |= {"caption": caption, "parse_mode": "HTML"}
            response = await self._client.post(
                url,
                data=data,
                files={"document": (file.name, file.content, file.media_type)},
                timeout=channel.timeout_seconds * 6,
            )
            _check_telegram(response)

    async def _upload_to_slack(
        self, target: SlackFiles, channel: SlackChannel, message: ReportMessage
    ) -> None:
        api = target.api_base.rstrip("/")
        auth = {"Authorization": f"Bearer {target.bot_token.get_secret_value()}"}
        uploaded = []
        for file in message.files:
            ticket = _check_slack(
                await self._post(
                    f"{api}/files.getUploadURLExternal",
                    channel,
                    data={"filename": file.name, "length": str(len(file.content))},
                    headers=auth,
                )
            )
            await self._post(
                str(ticket["upload_url"]), channel, files={"file": (file.name, file.content, file.media_type)}
            )
            uploaded.append({"id": str(ticket["file_id"]), "title": file.name})
        _check_slack(
            await self._post(
                f"{api}/files.completeUploadExternal",
                channel,
                json={
                    "files": uploaded,
                    "channel_id": target.channel_id,
                    "initial_comment": f"{message.subject}\n\n{message.summary}",
                },
                headers=auth,
            )
        )

    async def _send_webhook(self, channel: WebhookChannel, message: ReportMessage) -> None:
        body = orjson.dumps(
            {
                "id": message.id,
                "kind": "report",
                "receiver": message.receiver,
                "subject": message.subject,
                "text": message.summary,
                "files": [
                    {
                        "name": f.name,
                        "media_type": f.media_type,
                        "size": len(f.content),
                        "link": message.file_link(f),
                    }
                    for f in message.files
                ],
            }
        )
        headers = {**channel.headers, "Content-Type": "application/json", NOTIFICATION_ID_HEADER: message.id}
        if channel.secret:
            timestamp = str(int(self._clock().timestamp()))
            signature = sign(channel.secret.get_secret_value().encode(), timestamp, body)
            headers |= {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: signature}
        await self._post(str(channel.url), channel, content=body, headers=headers)


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        answer = response.json()
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def _check_telegram(response: httpx.Response) -> None:
    answer = _json_object(response)
    if response.is_success and answer.get("ok") is True:
        return
    detail = str(answer.get("description") or response.text[:200])
    if response.is_success:
        raise DeliveryError(f"Telegram refused: {detail}", retry=False)
    error = _refusal(response, detail)
    retry_after = (answer.get("parameters") or {}).get("retry_after")
    if retry_after is not None:
        error.retry_after = float(retry_after)
    raise error


def _check_slack(response: httpx.Response) -> dict[str, Any]:
    """Slack's Web API answers 200 with ok: false and an error code when it refuses."""
    answer = _json_object(response)
    if answer.get("ok") is not True:
        raise DeliveryError(f"Slack refused: {answer.get('error') or response.text[:200]}", retry=False)
    return answer
