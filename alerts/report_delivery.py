"""Delivery of built reports (the daily brief) on a receiver's channels, with the files: the alert
notifiers (alerts.notifiers) send text only.

- email: the summary as the body, every file attached;
- Telegram: each file with sendDocument, the first with the summary as its caption; a retry sends
  only the files the earlier attempts did not get through, so none is posted twice;
- Slack: with `slack_files` (a bot token and a channel per receiver or one for all,
  config/reports.yaml) the files are uploaded with files upload v2 (getUploadURLExternal, the bytes,
  completeUploadExternal with the summary as the comment), once per report and channel id: a second
  receiver (or a second Slack channel) with the same channel id gets no second upload, and is
  recorded delivered after 0 attempts. Otherwise the receiver's incoming webhook gets the summary,
  with links to the files when the reports' archive is published (`link`): an incoming webhook
  cannot carry a file;
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
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any, Literal, assert_never

import aiosmtplib
import httpx
import orjson
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt

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
from alerts.notifiers import (
    ChannelSender,
    DeliveryError,
    clip,
    describe_failure,
    http_refusal,
    mrkdwn,
    redact,
    retry_after_header,
    retryable,
)
from config.reports import SlackFiles
from pantau.domain import utcnow

log = logging.getLogger(__name__)

TELEGRAM_CAPTION_MAX_CHARS = 1024
TELEGRAM_CAPTION_SUBJECT_MAX_CHARS = 256
MAX_ERROR_CHARS = 500
# How many (report, Slack channel) uploads a sender remembers, to upload a report once per channel.
REMEMBERED_SLACK_UPLOADS = 1024


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


def _escape_clipped(text: str, limit: int) -> str:
    """`text` HTML-escaped in at most `limit` characters. Clipped a character of `text` at a time,
    never the escaped string: a cut through an entity (`&am…`) makes Telegram refuse the caption."""
    escaped = html.escape(text, quote=False)
    if len(escaped) <= limit:
        return escaped
    kept: list[str] = []
    length = 0
    for char in text:
        piece = html.escape(char, quote=False)
        if length + len(piece) > limit - 1:
            break
        kept.append(piece)
        length += len(piece)
    return "".join(kept) + "…"


def _telegram_caption(message: ReportMessage) -> str:
    title = f"<b>{_escape_clipped(message.subject, TELEGRAM_CAPTION_SUBJECT_MAX_CHARS)}</b>\n\n"
    body = _escape_clipped(_summary_with_links(message), TELEGRAM_CAPTION_MAX_CHARS - len(title))
    return title + body


@dataclass
class _Progress:
    """What the earlier attempts of one delivery got through, so that a retry sends only the rest."""

    telegram_sent: set[int] = field(default_factory=set)  # indexes in the message's files
    slack_uploaded: dict[int, dict[str, str]] = field(default_factory=dict)  # index: id and title


@dataclass(frozen=True)
class _SlackTarget:
    app: SlackFiles  # the bot token and API
    channel_id: str


@dataclass
class _SlackUpload:
    """One report's upload to one Slack channel id: the deliveries to it take turns."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0  # deliveries holding or waiting for the lock


def _summary_with_links(message: ReportMessage) -> str:
    links = [message.file_link(f) for f in message.files]
    return "\n".join([message.summary, *filter(None, links)])


class ReportSender(ChannelSender):
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
        super().__init__(
            client=client,
            user_agent="pantau-reports",
            max_attempts=max_attempts,
            backoff_initial=backoff_initial,
            backoff_max=backoff_max,
            clock=clock,
            sleep=sleep,
        )
        self.slack_files = slack_files
        # (report id, channel id) of the uploads done, oldest first; a lock per upload under way.
        self._slack_uploaded: dict[tuple[str, str], None] = {}
        self._slack_uploading: dict[tuple[str, str], _SlackUpload] = {}

    async def deliver(self, message: ReportMessage, channels: Sequence[Channel]) -> list[ReportDelivery]:
        """One record per channel, in the channels' order; raises only if cancelled."""
        return list(await asyncio.gather(*(self._deliver(message, c) for c in channels)))

    def _secrets(self, channel: Channel) -> list[str]:
        extra = [self.slack_files.bot_token.get_secret_value()] if self.slack_files else []
        return [*channel.secrets(), *extra]

    def _slack_target(self, message: ReportMessage, channel: Channel) -> _SlackTarget | None:
        """Where a Slack channel's files are uploaded (None: its webhook gets the summary)."""
        if isinstance(channel, SlackChannel) and self.slack_files is not None:
            channel_id = self.slack_files.channel_for(message.receiver)
            return _SlackTarget(self.slack_files, channel_id) if channel_id else None
        return None

    async def _deliver(self, message: ReportMessage, channel: Channel) -> ReportDelivery:
        target = self._slack_target(message, channel)
        if target is None:
            return await self._attempt(message, channel, None)
        channel_id = target.channel_id
        key = (message.id, channel_id)
        # Held for all the attempts: a concurrent delivery to the same channel id waits, then
        # uploads only if this one failed.
        upload = self._slack_uploading.setdefault(key, _SlackUpload())
        upload.users += 1
        try:
            async with upload.lock:
                if key in self._slack_uploaded:
                    log.info(
                        "report %s to %s on %s: already uploaded to Slack channel %s",
                        message.id, message.receiver, channel.display_name, channel_id,
                    )  # fmt: skip
                    now = self._clock()
                    return self._record(message, channel, "delivered", 0, "", now, now)
                record = await self._attempt(message, channel, target)
                if record.status == "delivered":
                    self._slack_uploaded[key] = None
                    while len(self._slack_uploaded) > REMEMBERED_SLACK_UPLOADS:
                        del self._slack_uploaded[next(iter(self._slack_uploaded))]
                return record
        finally:
            upload.users -= 1
            if upload.users == 0:
                del self._slack_uploading[key]

    async def _attempt(
        self, message: ReportMessage, channel: Channel, slack_target: _SlackTarget | None
    ) -> ReportDelivery:
        started = self._clock()
        attempts, error = 0, ""
        progress = _Progress()
        status: Literal["delivered", "failed"] = "delivered"
        # A file upload takes longer than a message: each attempt may take a few times the limit.
        timeout = channel.timeout_seconds * (1 if isinstance(channel, LogChannel) else 6)
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
                    async with asyncio.timeout(timeout):
                        await self._send(channel, message, slack_target, progress)
        except Exception as exc:
            status = "failed"
            error = clip(redact(describe_failure(exc, timeout), self._secrets(channel)), MAX_ERROR_CHARS)
        log.info(
            "report %s to %s on %s: %s after %d attempt(s)%s",
            message.id, message.receiver, channel.display_name, status, attempts,
            f": {error}" if error else "",
        )  # fmt: skip
        return self._record(message, channel, status, attempts, error, started, self._clock())

    @staticmethod
    def _record(
        message: ReportMessage,
        channel: Channel,
        status: Literal["delivered", "failed"],
        attempts: int,
        error: str,
        started: datetime,
        finished: datetime,
    ) -> ReportDelivery:
        return ReportDelivery(
            report_id=message.id,
            receiver=message.receiver,
            channel=channel.display_name,
            channel_type=channel.type,
            status=status,
            attempts=attempts,
            error=error,
            started_at=started,
            finished_at=finished,
        )

    def _wait(self, retry_state: Any) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, DeliveryError) and exc.retry_after is not None:
            return min(exc.retry_after, 60.0)
        return float(self._backoff(retry_state))

    async def _send(
        self,
        channel: Channel,
        message: ReportMessage,
        slack_target: _SlackTarget | None,
        progress: _Progress,
    ) -> None:
        if isinstance(channel, EmailChannel):
            await self._send_email(channel, message)
        elif isinstance(channel, TelegramChannel):
            await self._send_telegram(channel, message, progress)
        elif isinstance(channel, SlackChannel):
            if slack_target is not None:
                await self._upload_to_slack(slack_target, channel, message, progress)
            else:
                text = mrkdwn(_summary_with_links(message))
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
            raise http_refusal(response, response.text[:200], retry_after_header(response))
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

    async def _send_telegram(
        self, channel: TelegramChannel, message: ReportMessage, progress: _Progress
    ) -> None:
        url = f"{channel.api_base.rstrip('/')}/bot{channel.bot_token.get_secret_value()}/sendDocument"
        caption = _telegram_caption(message)
        for index, file in enumerate(message.files):
            if index in progress.telegram_sent:
                continue  # posted by an earlier attempt: sending it again would post it twice
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
            progress.telegram_sent.add(index)

    async def _upload_to_slack(
        self,
        target: _SlackTarget,
        channel: SlackChannel,
        message: ReportMessage,
        progress: _Progress,
    ) -> None:
        api = target.app.api_base.rstrip("/")
        auth = {"Authorization": f"Bearer {target.app.bot_token.get_secret_value()}"}
        for index, file in enumerate(message.files):
            if index in progress.slack_uploaded:
                continue  # uploaded by an earlier attempt: only completing it failed
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
            progress.slack_uploaded[index] = {"id": str(ticket["file_id"]), "title": file.name}
        _check_slack(
            await self._post(
                f"{api}/files.completeUploadExternal",
                channel,
                json={
                    "files": [progress.slack_uploaded[i] for i in sorted(progress.slack_uploaded)],
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
    error = http_refusal(response, detail, retry_after_header(response))
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
