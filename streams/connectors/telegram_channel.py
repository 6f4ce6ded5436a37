"""Public Telegram channels through a user session (MTProto, with Telethon): every `poll_seconds`
each channel's messages above the newest one taken are read, oldest first, and the newest id is
saved only once the spool has them. A channel read for the first time gives its newest
`first_read` messages.

The session only reads: it resolves public usernames and reads their history, and never sends,
joins or follows. Its api_id, api_hash and StringSession come from `${VAR}` and never show in
logs, errors or `GET /sources`.

Ids are those of the Bot API (`-100<channel id>/<message id>`), so a message seen by both this
connector and a `telegram_bot` source in the same channel is one post.

Telethon is imported only when a client is built or a message read, never with this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

from config.sources import TelegramChannelSource
from pantau import metrics
from pantau.bus import RawSink
from pantau.normalise import extract_entities, make_envelope
from storage.positions import Positions
from streams.connectors.retry import Failures, SourceError, backoff_seconds

log = logging.getLogger(__name__)

PLATFORM = "telegram"
BATCH = 100  # messages handed to the spool (and their position saved) at a time
CATCH_UP_CAP = 1000  # messages read from one channel in one round; the rest in the next round
BEHIND_PAUSE_SECONDS = 1.0  # the pause before the next round while a channel is behind
# The Bot API's form of a channel's id ("-100" and the channel's own id): the same post either way.
CHANNEL_ID_OFFSET = 10**12


class TelegramChannelError(SourceError):
    """A read that failed: network, auth, flood_wait (Telegram's own wait), config (a channel that
    is private, gone or not a channel), rpc (a failure on Telegram's side)."""


class ChannelClient(Protocol):
    """What the connector asks of a Telethon `TelegramClient`: reading only."""

    async def connect(self) -> None: ...

    async def is_user_authorized(self) -> bool: ...

    async def get_entity(self, entity: str) -> Any: ...

    def iter_messages(
        self, entity: Any, limit: int | None = ..., *, min_id: int = ..., reverse: bool = ...
    ) -> AsyncIterator[Any]: ...

    async def disconnect(self) -> None: ...


def telethon_client(config: TelegramChannelSource) -> ChannelClient:
    """A Telethon client on the configured session, reading only: no updates pushed to it, and
    every flood wait handed back to the connector instead of slept inside Telethon."""
    from telethon import TelegramClient
    from telethon.sessions import StringSession

    try:
        session = StringSession(config.session)
    except Exception:  # bad base64, or the wrong length (struct.error): never quoted, it is a secret
        raise TelegramChannelError("config", "session is not a valid Telethon StringSession") from None
    client: ChannelClient = TelegramClient(
        session,
        config.api_id,
        config.api_hash,
        receive_updates=False,
        flood_sleep_threshold=0,
        connection_retries=2,
        request_retries=2,
        device_model="Pantau",
        app_version="pantau/1",
    )
    return client


def marked_id(peer: Any) -> int | None:
    """A peer's id as the Bot API writes it: a channel's as -100<id>, a user's as it is."""
    name = type(peer).__name__
    if name == "PeerChannel" and isinstance(getattr(peer, "channel_id", None), int):
        return -(CHANNEL_ID_OFFSET + int(peer.channel_id))
    if name == "PeerUser" and isinstance(getattr(peer, "user_id", None), int):
        return int(peer.user_id)
    if name == "PeerChat" and isinstance(getattr(peer, "chat_id", None), int):
        return -int(peer.chat_id)
    return None


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def channel_post(message: Any, channel: Any, username: str) -> dict[str, Any] | None:
    """The Pantau post object of one message of `channel` (a Telethon `Channel`); None for what is
    not a post (a service message: pinned, title changed...; media without a caption)."""
    from telethon.tl import types

    if isinstance(message, types.MessageService | types.MessageEmpty):
        return None
    if not isinstance(message, types.Message):
        raise TypeError(f"not a message: {type(message).__name__}")
    if not message.message and message.media is not None:
        return None  # a photo of an album, a sticker: nothing to read
    chat_id = -(CHANNEL_ID_OFFSET + int(channel.id))
    handle = str(getattr(channel, "username", None) or username)
    sender = getattr(message, "sender", None)  # a Telethon message read from the network knows it
    author_id = marked_id(message.from_id) if message.from_id is not None else None
    reply = message.reply_to
    reply_to = ""
    if isinstance(reply, types.MessageReplyHeader) and isinstance(reply.reply_to_msg_id, int):
        in_chat = marked_id(reply.reply_to_peer_id) if reply.reply_to_peer_id is not None else chat_id
        reply_to = f"{in_chat}/{reply.reply_to_msg_id}" if in_chat is not None else ""
    forward = message.fwd_from
    repost_of = ""
    if (
        isinstance(forward, types.MessageFwdHeader)
        and isinstance(forward.from_id, types.PeerChannel)
        and isinstance(forward.channel_post, int)
    ):
        repost_of = f"{marked_id(forward.from_id)}/{forward.channel_post}"
    reactions = message.reactions
    if author_id is None or author_id == chat_id:
        author = {"id": str(chat_id), "handle": handle, "name": str(getattr(channel, "title", "") or "")}
    else:  # a member of a group, or a channel's signed profile
        author = {"id": str(author_id), "handle": str(getattr(sender, "username", None) or ""), "name": ""}
    if message.post_author:
        # A channel's signed post names who wrote it: kept with the raw payload.
        author["name"] = str(message.post_author)
    post: dict[str, Any] = {
        "platform": PLATFORM,
        "id": f"{chat_id}/{message.id}",
        "created_at": message.date.isoformat() if isinstance(message.date, datetime) else message.date,
        "author": author,
        "text": message.message or None,
        "url": f"https://t.me/{handle}/{message.id}",
        "reply_to": reply_to,
        "repost_of": repost_of,
        "metrics": {
            "views": _count(message.views),
            "reposts": _count(message.forwards),
            "replies": _count(message.replies.replies)
            if isinstance(message.replies, types.MessageReplies)
            else 0,
            "likes": sum(_count(r.count) for r in reactions.results)
            if isinstance(reactions, types.MessageReactions)
            else 0,
        },
    }
    if message.media is not None:
        post["media"] = type(message.media).__name__
    hidden = [
        e.url
        for e in message.entities or ()
        if isinstance(e, types.MessageEntityTextUrl) and isinstance(e.url, str)
    ]
    if hidden and isinstance(message.message, str):
        # Links behind words are not in the text: the normaliser would not find them.
        post["links"] = list(dict.fromkeys([*extract_entities(message.message)[2], *hidden]))
    return post


def telegram_error(exc: BaseException, where: str) -> TelegramChannelError | None:
    """What a Telethon failure means for the source; None for one that is not Telegram's (a bug)."""
    from telethon import errors

    if isinstance(exc, TelegramChannelError):
        return exc
    if isinstance(exc, errors.FloodError):
        seconds = getattr(exc, "seconds", None)
        return TelegramChannelError(
            "flood_wait",
            f"{where}: Telegram asks to wait {seconds} s ({type(exc).__name__})",
            float(seconds) if isinstance(seconds, int) else None,
        )
    if isinstance(
        exc,
        errors.UnauthorizedError
        | errors.AuthKeyError
        | errors.ApiIdInvalidError
        | errors.ApiIdPublishedFloodError,
    ) or (isinstance(exc, errors.InvalidBufferError) and abs(getattr(exc, "code", 0) or 0) == 404):
        return TelegramChannelError(
            "auth",
            f"{where}: {type(exc).__name__}: the session is not signed in any more, or api_id and "
            "api_hash are not its app's (make a new session string)",
        )
    if isinstance(exc, errors.BadRequestError | errors.ForbiddenError | errors.NotFoundError):
        # Refused for this channel (private, banned, gone, not readable): the others go on.
        return TelegramChannelError("config", f"{where}: {type(exc).__name__}: {str(exc)[:200]}")
    if isinstance(exc, errors.RPCError):
        return TelegramChannelError("rpc", f"{where}: {type(exc).__name__}: {str(exc)[:200]}")
    if isinstance(exc, OSError | EOFError | errors.InvalidBufferError | errors.SecurityError):
        return TelegramChannelError("network", f"{where}: {type(exc).__name__}: {str(exc)[:200]}")
    return None


class TelegramChannelConnector:
    """Reads every channel each `poll_seconds` until cancelled; `poll` reads each once and saves
    nothing (for the test command). A channel that cannot be read (private, gone, not a channel)
    is reported and tried again later, without holding the others."""

    def __init__(
        self,
        config: TelegramChannelSource,
        sink: RawSink,
        positions: Positions,
        accept: Callable[[str], bool],
        *,
        client: ChannelClient | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.sink = sink
        self.positions = positions
        self.accept = accept
        self.client = client  # built, lazily, on the first connect
        self.sleep = sleep or asyncio.sleep
        self.clock = clock
        self.connected = False  # the client's connection is open
        self.ready = False  # ... and its session was found signed in
        self.failures = Failures(config.name)
        self.entities: dict[str, Any] = {}
        self.channel_failures: dict[str, int] = {}
        self.channel_retry_at: dict[str, float] = {}
        self.channel_problems: dict[str, str] = {}
        self.behind = False

    @property
    def name(self) -> str:
        return self.config.name

    async def run(self) -> None:
        metrics.source_configured(self.name, "telegram_channel")
        while True:
            try:
                await self.read_round(commit=True)
            except TelegramChannelError as exc:
                wait = self.failures.failed(exc)
                if exc.kind in ("network", "auth"):
                    await self.disconnect()  # a fresh connection, and a fresh check, next time
                await self.sleep(wait)
                continue
            self.failures.succeeded()
            await self.sleep(BEHIND_PAUSE_SECONDS if self.behind else self.config.poll_seconds)

    async def poll(self) -> int:
        return await self.read_round(commit=False)

    async def read_round(self, *, commit: bool) -> int:
        """Read each channel that is due once; the posts sent. A channel that cannot be read is
        reported and tried again later (backing off); only when none can be read does the round
        fail, and `poll` fails naming every channel that could not be read."""
        client = await self.connect()
        sent, read, problems = 0, 0, dict[str, float]()
        self.behind = False
        now = self.clock()
        for channel in self.config.channels:
            if self.channel_retry_at.get(channel, 0.0) > now:
                continue
            try:
                sent += await self.read_channel(client, channel, commit=commit)
            except TelegramChannelError as exc:
                if exc.kind != "config":
                    raise
                failures = self.channel_failures[channel] = self.channel_failures.get(channel, 0) + 1
                wait = backoff_seconds(failures)
                self.channel_retry_at[channel] = now + wait
                self.channel_problems[channel] = str(exc)
                self.entities.pop(channel, None)
                problems[str(exc)] = wait
                log.warning("source %s: %s (config); this channel again in %.0f s", self.name, exc, wait)
                continue
            read += 1
            self.channel_failures.pop(channel, None)
            self.channel_retry_at.pop(channel, None)
            self.channel_problems.pop(channel, None)
        if not commit and problems:
            raise TelegramChannelError("config", "; ".join(problems))
        if not read and self.channel_retry_at:
            # Not one channel can be read: the source is down until the first is due again.
            soonest = min(self.channel_retry_at.values())
            raise TelegramChannelError(
                "config", "; ".join(self.channel_problems.values()), max(0.0, soonest - now)
            )
        for problem, wait in problems.items():
            # The others were read: the source stays up, the channel's error counted and shown.
            metrics.source_failed(self.name, "config", problem, retry_in=wait)
        return sent

    async def connect(self) -> ChannelClient:
        """The client, connected and its session checked (once per connection)."""
        if self.client is None:
            self.client = telethon_client(self.config)
        if not self.ready:
            try:
                if not self.connected:
                    await self.client.connect()
                    self.connected = True
                authorised = await self.client.is_user_authorized()
            except Exception as exc:
                error = telegram_error(exc, "connect")
                if error is None:
                    raise
                raise error from None
            if not authorised:
                raise TelegramChannelError(
                    "auth",
                    "the session is not signed in, or api_id and api_hash are not its app's "
                    "(make a new session string: see README, Live sources)",
                )
            self.ready = True
        return self.client

    async def entity(self, client: ChannelClient, channel: str) -> Any:
        """The channel, resolved once (resolving a username is what Telegram limits most)."""
        if channel in self.entities:
            return self.entities[channel]
        try:
            entity = await client.get_entity(channel)
        except ValueError:  # Telethon's "No user has ... as username"
            raise TelegramChannelError("config", f"@{channel}: no such channel") from None
        except Exception as exc:
            error = telegram_error(exc, f"@{channel}")
            if error is None:
                raise
            raise error from None
        if type(entity).__name__ != "Channel":
            raise TelegramChannelError(
                "config",
                f"@{channel}: not a channel ({type(entity).__name__}): only public channels are read",
            )
        self.entities[channel] = entity
        return entity

    async def messages(self, channel: str, source: AsyncIterator[Any]) -> AsyncGenerator[Any]:
        """The messages of `source`, with Telethon's failures said as the source's."""
        iterator = aiter(source)
        while True:
            try:
                message = await anext(iterator)
            except StopAsyncIteration:
                return
            except Exception as exc:
                error = telegram_error(exc, f"@{channel}")
                if error is None:
                    raise
                raise error from None
            yield message

    async def read_channel(self, client: ChannelClient, channel: str, *, commit: bool) -> int:
        entity = await self.entity(client, channel)
        key = f"channel:{channel.lower()}"
        saved = await self.positions.get(self.name, key)
        if isinstance(saved, int):
            # Everything above the newest id taken, oldest first, in batches saved as they go.
            newer = client.iter_messages(entity, CATCH_UP_CAP, min_id=saved, reverse=True)
            sent, batch, read = 0, list[Any](), 0
            async with contextlib.aclosing(self.messages(channel, newer)) as messages:
                async for message in messages:
                    batch.append(message)
                    read += 1
                    if len(batch) >= BATCH:
                        sent += await self.take(entity, channel, key, batch, commit=commit)
                        batch = []
            sent += await self.take(entity, channel, key, batch, commit=commit)
            if read >= CATCH_UP_CAP:
                self.behind = True
                log.warning(
                    "source %s: @%s: %d new messages read (the most in one round); the rest next round",
                    self.name,
                    channel,
                    read,
                )
            return sent
        # First time: the newest few, not the channel's whole history.
        async with contextlib.aclosing(
            self.messages(channel, client.iter_messages(entity, self.config.first_read))
        ) as messages:
            newest = [message async for message in messages]
        newest.reverse()
        sent = 0
        for start in range(0, len(newest), BATCH):
            sent += await self.take(entity, channel, key, newest[start : start + BATCH], commit=commit)
        return sent

    async def take(self, entity: Any, channel: str, key: str, messages: list[Any], *, commit: bool) -> int:
        """Send the wanted posts of `messages` (oldest first), then save the newest id: only once
        the spool has them."""
        if not messages:
            return 0
        envelopes: list[bytes] = []
        for message in messages:
            try:
                post = channel_post(message, entity, channel)
            except (TypeError, ValueError, AttributeError):
                # Kept, with the reason, in the dead letters: the message as Telethon gave it.
                envelopes.append(make_envelope({"telegram_message": str(message)[:10_000]}, source=self.name))
                continue
            if post is None:
                continue
            text = post["text"]
            if not isinstance(text, str) or self.accept(text):
                envelopes.append(make_envelope(post, source=self.name))
        sent = await self.sink.send_many(envelopes) if envelopes else 0
        ids = [m.id for m in messages if isinstance(getattr(m, "id", None), int)]
        if commit and ids:
            await self.positions.put(self.name, key, max(ids))
        return sent

    async def disconnect(self) -> None:
        self.ready = False
        if self.client is not None and self.connected:
            self.connected = False
            try:
                await self.client.disconnect()
            except Exception as exc:  # already gone: nothing to close
                log.debug("source %s: disconnect: %s", self.name, type(exc).__name__)

    async def aclose(self) -> None:
        await self.disconnect()
