"""Telegram through the Bot API: the messages of the groups and channels the team's bot is in,
read with `getUpdates` (long polling). The offset is Telegram's own acknowledgement: updates
below it are not given again, so it is saved, and sent, only after the spool has the posts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import httpx
import orjson

from config.sources import TelegramBotSource
from pantau import metrics
from pantau.bus import RawSink
from pantau.normalise import make_envelope
from storage.positions import Positions
from streams.connectors.payloads import mapping
from streams.connectors.retry import Failures, SourceError

log = logging.getLogger(__name__)

PLATFORM = "telegram"
OFFSET_KEY = "offset"
MESSAGE_KINDS = ("message", "channel_post", "edited_message", "edited_channel_post")


class TelegramError(SourceError):
    """A getUpdates call that failed: network, http, auth."""


def message_post(update: dict[str, Any]) -> dict[str, Any] | None:
    """The Pantau post object of an update's message; None for updates that carry none (a member
    joined, a poll answer...). An edit is the same post again (storage keeps the first)."""
    message = next((update[k] for k in MESSAGE_KINDS if isinstance(update.get(k), dict)), None)
    if message is None:
        return None
    chat = mapping(message.get("chat"))
    sender = mapping(message.get("from") or message.get("sender_chat") or chat)
    chat_id, message_id = chat.get("id"), message.get("message_id")
    username = chat.get("username")
    reply = mapping(message.get("reply_to_message"))
    origin = mapping(message.get("forward_origin"))
    origin_chat = mapping(origin.get("chat"))
    return {
        "platform": PLATFORM,
        "id": f"{chat_id}/{message_id}" if chat_id is not None and message_id is not None else "",
        "created_at": message.get("date"),
        "author": {
            "id": str(sender.get("id", "")),
            "handle": str(sender.get("username") or sender.get("title") or ""),
        },
        "text": message.get("text") if "text" in message else message.get("caption"),
        "url": f"https://t.me/{username}/{message_id}" if username and message_id is not None else "",
        "reply_to": f"{chat_id}/{reply['message_id']}" if "message_id" in reply else "",
        "repost_of": (
            f"{origin_chat['id']}/{origin['message_id']}"
            if "id" in origin_chat and "message_id" in origin
            else ""
        ),
    }


class TelegramBotConnector:
    """Long-polls getUpdates forever; `poll` makes one call without waiting (for the test command)."""

    def __init__(
        self,
        config: TelegramBotSource,
        sink: RawSink,
        positions: Positions,
        accept: Callable[[str], bool],
        *,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.config = config
        self.sink = sink
        self.positions = positions
        self.accept = accept
        self.client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(30.0, read=config.poll_seconds + 30.0)
        )
        self.base = f"{str(config.api).rstrip('/')}/bot{config.token}"
        self.failures = Failures(config.name)

    @property
    def name(self) -> str:
        return self.config.name

    async def run(self) -> None:
        metrics.source_configured(self.name, "telegram_bot")
        while True:
            try:
                await self.fetch_and_send(self.config.poll_seconds)
            except TelegramError as exc:
                await asyncio.sleep(self.failures.failed(exc))
                continue
            self.failures.succeeded()

    async def poll(self) -> int:
        return await self.fetch_and_send(0, commit=False)

    async def fetch_and_send(self, wait_seconds: int, *, commit: bool = True) -> int:
        saved = await self.positions.get(self.name, OFFSET_KEY)
        params: dict[str, Any] = {
            "timeout": wait_seconds,
            "allowed_updates": orjson.dumps(list(MESSAGE_KINDS)).decode(),
        }
        if isinstance(saved, int):
            params["offset"] = saved
        updates = await self.call("getUpdates", params)
        if not updates:
            return 0
        envelopes: list[bytes] = []
        for update in updates:
            post = message_post(update) if isinstance(update, dict) else None
            if post is None:
                if not isinstance(update, dict):
                    envelopes.append(
                        make_envelope({"telegram_update": str(update)[:10_000]}, source=self.name)
                    )
                continue
            text = post["text"]
            if not isinstance(text, str) or not post["id"] or self.accept(text):
                envelopes.append(make_envelope(post, source=self.name))
        sent = await self.sink.send_many(envelopes) if envelopes else 0
        newest = max(
            (u["update_id"] for u in updates if isinstance(u, dict) and isinstance(u.get("update_id"), int)),
            default=None,
        )
        if commit and newest is not None:
            # The next call with this offset tells Telegram these are done: only now that the spool has them.
            await self.positions.put(self.name, OFFSET_KEY, newest + 1)
        return sent

    async def call(self, method: str, params: dict[str, Any]) -> list[Any]:
        try:
            response = await self.client.get(f"{self.base}/{method}", params=params)
        except httpx.HTTPError as exc:
            # The URL carries the token: name the method, never the URL.
            raise TelegramError("network", f"{method}: {type(exc).__name__}") from None
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        if response.status_code == 200 and body.get("ok") is True:
            result = body.get("result")
            return result if isinstance(result, list) else []
        described = str(body.get("description") or f"HTTP {response.status_code}")[:300]
        if response.status_code in (401, 404):
            raise TelegramError("auth", f"{method}: {described} (is the token right?)")
        parameters = mapping(body.get("parameters"))
        retry_after = parameters.get("retry_after")
        raise TelegramError(
            "http",
            f"{method}: {described}",
            float(retry_after) if isinstance(retry_after, int | float) else None,
        )

    async def aclose(self) -> None:
        await self.client.aclose()
