"""Where a receiver's notifications go: the channel configs under each receiver's `channels:` list in
`config/alerting.yaml`, told apart by `type`, and the webhook signature receivers check.

Secrets are `SecretStr` (or hidden from the repr) so that a config printed in a log or an error
never shows them; `secrets()` lists them for the notifiers to scrub from error messages.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Annotated, Literal
from urllib.parse import quote, urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, HttpUrl, SecretStr, model_validator

SIGNATURE_HEADER = "X-Pantau-Signature"
TIMESTAMP_HEADER = "X-Pantau-Timestamp"
NOTIFICATION_ID_HEADER = "X-Pantau-Notification-Id"


def _http_url(value: SecretStr) -> SecretStr:
    parts = urlsplit(value.get_secret_value())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http(s) URL")
    return value


class _Channel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    type: str
    name: str = Field(default="", description="Shown in the delivery log ('' = the type).")
    timeout_seconds: float = Field(default=5.0, gt=0, description="For each attempt.")

    @property
    def display_name(self) -> str:
        return self.name or self.type

    def secrets(self) -> list[str]:
        """Values that must never appear in an error message or a log line."""
        return []


class WebhookChannel(_Channel):
    """A JSON POST of the notification, signed with HMAC-SHA256 when `secret` is set."""

    type: Literal["webhook"] = "webhook"
    url: HttpUrl
    secret: SecretStr | None = None
    # Hidden from the repr: an Authorization header is as secret as `secret`.
    headers: dict[str, str] = Field(default_factory=dict, repr=False)

    def secrets(self) -> list[str]:
        return [*([self.secret.get_secret_value()] if self.secret else []), *self.headers.values()]


class SlackChannel(_Channel):
    """A Slack incoming webhook. Its URL is the credential, so it is kept like a password."""

    type: Literal["slack"] = "slack"
    webhook_url: Annotated[SecretStr, AfterValidator(_http_url)]

    def secrets(self) -> list[str]:
        url = self.webhook_url.get_secret_value()
        return [url, urlsplit(url).path]


class TelegramChannel(_Channel):
    """A Telegram bot's sendMessage to one chat."""

    type: Literal["telegram"] = "telegram"
    bot_token: SecretStr
    chat_id: str = Field(min_length=1, description="A numeric chat id or @channelname.")
    api_base: str = Field(default="https://api.telegram.org", pattern=r"^https?://")

    def secrets(self) -> list[str]:
        # The token sits in the request path, where it may also be shown percent-encoded.
        token = self.bot_token.get_secret_value()
        return [token, quote(token, safe="")]


class LogChannel(_Channel):
    """The notification in Pantau's own log: a receiver that works before any service is set up."""

    type: Literal["log"] = "log"


class EmailChannel(_Channel):
    """Email over SMTP: STARTTLS on the submission port by default, or implicit TLS (`use_tls`)."""

    type: Literal["email"] = "email"
    host: str = Field(min_length=1)
    port: int = Field(default=587, gt=0, lt=65536)
    username: str = ""
    password: SecretStr | None = None
    starttls: bool = True
    use_tls: bool = False
    sender: str = Field(min_length=3)
    to: list[str] = Field(min_length=1)
    timeout_seconds: float = Field(default=10.0, gt=0, description="For each attempt.")

    @model_validator(mode="after")
    def _one_kind_of_tls(self) -> EmailChannel:
        if self.starttls and self.use_tls:
            raise ValueError("starttls and use_tls exclude each other: use_tls is TLS from the first byte")
        return self

    def secrets(self) -> list[str]:
        return [self.password.get_secret_value()] if self.password else []


Channel = Annotated[
    WebhookChannel | SlackChannel | TelegramChannel | EmailChannel | LogChannel, Field(discriminator="type")
]


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The `X-Pantau-Signature` value: HMAC-SHA256 over `<timestamp>.<body>`. Signing the timestamp
    too means a captured request cannot be replayed later with a fresh timestamp."""
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(
    secret: bytes,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    tolerance_seconds: float | None = 300,
    now: float | None = None,
) -> bool:
    """What a receiver runs on each request: the signature matches, and the timestamp is recent
    (`tolerance_seconds=None` skips the age check)."""
    if tolerance_seconds is not None:
        try:
            age = abs((time.time() if now is None else now) - int(timestamp))
        except ValueError:
            return False
        if age > tolerance_seconds:
            return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)
