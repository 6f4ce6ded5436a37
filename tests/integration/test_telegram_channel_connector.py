"""The Telegram channel connector (MTProto user session, Telethon).

MTProto is an encrypted binary protocol: no loopback server stands in for Telegram here. The
network part is tested with an in-memory fake client that serves REAL Telethon TL objects
(`telethon.tl.types.Message`, `Channel`, `PeerChannel`, `MessageFwdHeader`, `MessageReplyHeader`,
`MessageReactions`...) and raises Telethon's own errors (`FloodWaitError`, `ChannelPrivateError`,
`AuthKeyUnregisteredError`), honouring `min_id`, `reverse` and `limit` as Telegram's history does.
Everything above the client (normalising, positions, the sink, backoff, metrics) is the real code;
the positions are the real SQLite store. The connector has not been run against Telegram itself.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from telethon import errors, utils
from telethon.crypto import AuthKey
from telethon.sessions import StringSession
from telethon.tl import types

from config.sources import TelegramChannelSource
from config.watchlist import Watchlist
from pantau import metrics
from pantau.normalise import InvalidPost, normalise
from storage.positions import Positions
from streams.connectors import build_connector
from streams.connectors.telegram_channel import (
    TelegramChannelConnector,
    TelegramChannelError,
    channel_post,
    telethon_client,
)
from tests.integration.sources_harness import RecordingSink

API_HASH = "0123456789abcdef0123456789abcdef"
CHANNEL_ID = 1234567890
OTHER_CHANNEL_ID = 1987654321
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def session_string() -> str:
    """A real StringSession (made offline: a data centre and a key), as `${TELEGRAM_SESSION}` holds."""
    session = StringSession()
    session.set_dc(2, "149.154.167.51", 443)
    session.auth_key = AuthKey(bytes(range(256)))
    text: str = session.save()
    return text


SESSION = session_string()


def channel(channel_id: int, username: str, title: str = "Info Pemilu") -> types.Channel:
    return types.Channel(
        id=channel_id,
        title=title,
        photo=types.ChatPhotoEmpty(),
        date=T0 - timedelta(days=400),
        broadcast=True,
        access_hash=42,
        username=username,
    )


def message(
    message_id: int, text: str | None = "", channel_id: int = CHANNEL_ID, **extra: Any
) -> types.Message:
    return types.Message(
        id=message_id,
        peer_id=types.PeerChannel(channel_id),
        date=extra.pop("date", T0 + timedelta(minutes=message_id)),
        message=text,
        post=True,
        **extra,
    )


class FakeTelegram:
    """Telegram as a Telethon client sees it, in memory: channels by username, their history, and
    errors to raise on the next call of a method."""

    def __init__(self) -> None:
        self.entities: dict[str, Any] = {}
        self.history: dict[int, list[Any]] = {}
        self.authorised = True
        self.fail: dict[str, list[BaseException]] = {}
        self.calls: list[tuple[Any, ...]] = []
        self.connected = False
        self.pause_after: int | None = None  # iter_messages waits forever after this many messages
        self.paused = asyncio.Event()

    def add_channel(self, entity: Any, messages: Iterable[Any] = ()) -> None:
        self.entities[entity.username.lower()] = entity
        self.history.setdefault(entity.id, []).extend(messages)

    def post(self, channel_id: int, messages: Iterable[Any]) -> None:
        self.history[channel_id].extend(messages)

    def _failing(self, method: str) -> None:
        pending = self.fail.get(method)
        if pending:
            raise pending.pop(0)

    async def connect(self) -> None:
        self.calls.append(("connect",))
        self._failing("connect")
        self.connected = True

    async def is_user_authorized(self) -> bool:
        return self.authorised

    async def get_entity(self, entity: str) -> Any:
        assert self.connected
        self.calls.append(("get_entity", entity))
        self._failing("get_entity")
        found = self.entities.get(entity.lower())
        if found is None:
            raise ValueError(f'No user has "{entity}" as username')  # Telethon's own words
        return found

    def iter_messages(
        self, entity: Any, limit: int | None = None, *, min_id: int = 0, reverse: bool = False
    ) -> AsyncIterator[Any]:
        self.calls.append(("iter_messages", entity.username, limit, min_id, reverse))
        return self._history(entity, limit, min_id, reverse)

    async def _history(
        self, entity: Any, limit: int | None, min_id: int, reverse: bool
    ) -> AsyncIterator[Any]:
        assert self.connected
        self._failing("iter_messages")  # Telethon's iterator fails on its first step, as here
        # Telegram's history: newest first, or oldest first with reverse; min_id is exclusive.
        found = sorted((m for m in self.history[entity.id] if m.id > min_id), key=lambda m: m.id)
        if not reverse:
            found.reverse()
        for count, item in enumerate(found[:limit] if limit is not None else found):
            if self.pause_after is not None and count == self.pause_after:
                self.paused.set()
                await asyncio.Event().wait()
            yield item

    async def disconnect(self) -> None:
        self.calls.append(("disconnect",))
        self.connected = False


class FailingSink:
    async def send_many(self, values: Iterable[bytes]) -> int:
        list(values)
        raise RuntimeError("the spool is full")


class Stop(Exception):
    """Ends a connector's `run` from the test's sleep."""


class Sleeps:
    """The connector's sleep: records each wait, and stops the run after `rounds` of them."""

    def __init__(self, rounds: int) -> None:
        self.waits: list[float] = []
        self.rounds = rounds

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if len(self.waits) >= self.rounds:
            raise Stop


def config(
    name: str = "kanal", channels: tuple[str, ...] = ("infopemilu",), **extra: Any
) -> TelegramChannelSource:
    return TelegramChannelSource.model_validate(
        {
            "name": name,
            "kind": "telegram_channel",
            "api_id": 123456,
            "api_hash": API_HASH,
            "session": SESSION,
            "channels": list(channels),
            **extra,
        }
    )


def connector(
    fake: FakeTelegram,
    positions: Positions,
    sink: Any,
    *,
    name: str = "kanal",
    channels: tuple[str, ...] = ("infopemilu",),
    sleep: Sleeps | None = None,
    clock: Any = None,
    **extra: Any,
) -> TelegramChannelConnector:
    kwargs: dict[str, Any] = {"client": fake, "sleep": sleep}
    if clock is not None:
        kwargs["clock"] = clock
    return TelegramChannelConnector(
        config(name, channels, **extra), sink, positions, lambda text: True, **kwargs
    )


@pytest.fixture
def positions(tmp_path: Path) -> Iterator[Positions]:
    store = Positions(tmp_path / "positions.sqlite3")
    yield store
    store.close()


async def test_real_tl_messages_become_posts_and_the_newest_id_is_saved(positions: Positions) -> None:
    fake = FakeTelegram()
    fake.add_channel(
        channel(CHANNEL_ID, "InfoPemilu"),
        [
            message(
                1,
                "Debat capres malam ini: baca di sini",
                views=15_300,
                forwards=210,
                replies=types.MessageReplies(replies=34, replies_pts=7),
                reactions=types.MessageReactions(
                    results=[
                        types.ReactionCount(reaction=types.ReactionEmoji("👍"), count=120),
                        types.ReactionCount(reaction=types.ReactionEmoji("🔥"), count=30),
                    ]
                ),
                entities=[types.MessageEntityTextUrl(offset=30, length=4, url="https://kpu.example/debat")],
                post_author="Redaksi",
            ),
            message(2, "Foto kampanye di Medan", media=types.MessageMediaPhoto(photo=types.PhotoEmpty(id=9))),
            message(3, "", media=types.MessageMediaPhoto(photo=types.PhotoEmpty(id=10))),  # album photo
            types.MessageService(
                id=4, peer_id=types.PeerChannel(CHANNEL_ID), date=T0, action=types.MessageActionPinMessage()
            ),
            message(
                5, "Koreksi atas berita sebelumnya", reply_to=types.MessageReplyHeader(reply_to_msg_id=1)
            ),
            message(
                6,
                "Diteruskan dari kanal resmi",
                fwd_from=types.MessageFwdHeader(
                    date=T0, from_id=types.PeerChannel(OTHER_CHANNEL_ID), channel_post=77
                ),
            ),
            message(7, "tanpa tanggal", date=None),  # malformed: no time
            message(8, None),  # no text and no media: malformed
        ],
    )
    sink = RecordingSink()
    kanal = connector(fake, positions, sink, name="kanal-posts")
    assert await kanal.read_round(commit=True) == 6

    chat = utils.get_peer_id(types.PeerChannel(CHANNEL_ID))  # what the Bot API calls the chat: -100…
    assert chat == -1001234567890
    first, caption, reply, forward = (normalise(e) for e in sink.envelopes[:4])
    assert first.id == f"telegram:{chat}/1" and first.native_id == f"{chat}/1"
    assert first.url == "https://t.me/InfoPemilu/1" and first.created_at == T0 + timedelta(minutes=1)
    assert first.author_id == str(chat) and first.author_handle == "InfoPemilu"
    assert first.metrics.views == 15_300 and first.metrics.reposts == 210
    assert first.metrics.replies == 34 and first.metrics.likes == 150
    assert first.links == ("https://kpu.example/debat",)  # a link behind words, not in the text
    assert '"name":"Redaksi"' in first.raw  # the signature, kept with the raw payload
    assert caption.text == "Foto kampanye di Medan" and '"media":"MessageMediaPhoto"' in caption.raw
    assert reply.reply_to == f"telegram:{chat}/1" and reply.repost_of == ""
    assert forward.repost_of == f"telegram:{utils.get_peer_id(types.PeerChannel(OTHER_CHANNEL_ID))}/77"
    for malformed, reason in zip(sink.envelopes[4:], ("created_at", "text"), strict=True):
        with pytest.raises(InvalidPost, match=reason):
            normalise(malformed)
    # The photo without a caption and the pinned-message notice are not posts, but are read.
    assert positions.get_now("kanal-posts", "channel:infopemilu") == 8
    assert fake.calls[:3] == [
        ("connect",),
        ("get_entity", "infopemilu"),
        ("iter_messages", "InfoPemilu", 50, 0, False),
    ]


async def test_something_that_is_not_a_message_goes_to_the_dead_letters(positions: Positions) -> None:
    fake = FakeTelegram()
    fake.add_channel(channel(CHANNEL_ID, "infopemilu"), [message(1, "satu"), types.PhotoEmpty(id=2)])
    sink = RecordingSink()
    assert await connector(fake, positions, sink, name="kanal-odd").read_round(commit=True) == 2
    assert normalise(sink.envelopes[0]).text == "satu"
    with pytest.raises(InvalidPost, match="platform"):
        normalise(sink.envelopes[1])
    with pytest.raises(TypeError):
        channel_post(types.PhotoEmpty(id=2), channel(CHANNEL_ID, "infopemilu"), "infopemilu")


async def test_the_position_is_saved_only_once_the_sink_has_the_posts(positions: Positions) -> None:
    fake = FakeTelegram()
    fake.add_channel(channel(CHANNEL_ID, "infopemilu"), [message(i, f"pesan {i}") for i in range(1, 4)])
    with pytest.raises(RuntimeError, match="spool is full"):
        await connector(fake, positions, FailingSink(), name="kanal-sink").read_round(commit=True)
    assert positions.get_now("kanal-sink", "channel:infopemilu") is None

    sink = RecordingSink()
    assert await connector(fake, positions, sink, name="kanal-sink").read_round(commit=True) == 3
    assert sink.texts() == ["pesan 1", "pesan 2", "pesan 3"]  # read again, oldest first
    assert positions.get_now("kanal-sink", "channel:infopemilu") == 3

    fake.post(CHANNEL_ID, [message(4, "pesan 4"), message(5, "pesan 5")])
    with pytest.raises(RuntimeError):
        await connector(fake, positions, FailingSink(), name="kanal-sink").read_round(commit=True)
    assert positions.get_now("kanal-sink", "channel:infopemilu") == 3
    assert await connector(fake, positions, sink, name="kanal-sink").read_round(commit=True) == 2
    assert sink.texts()[3:] == ["pesan 4", "pesan 5"]
    assert fake.calls[-1] == ("iter_messages", "infopemilu", 1000, 3, True)


async def test_a_connector_stopped_mid_channel_and_started_again_loses_and_repeats_nothing(
    positions: Positions,
) -> None:
    fake = FakeTelegram()
    fake.add_channel(channel(CHANNEL_ID, "infopemilu"), [message(i, f"pesan {i}") for i in range(1, 11)])
    sink = RecordingSink()
    assert await connector(fake, positions, sink, name="kanal-stop").read_round(commit=True) == 10

    fake.post(CHANNEL_ID, [message(i, f"pesan {i}") for i in range(11, 261)])  # 250 new while away
    fake.pause_after = 150  # a batch of 100 handed on, 50 more read, then the process is stopped
    running = asyncio.create_task(connector(fake, positions, sink, name="kanal-stop", sleep=Sleeps(1)).run())
    await asyncio.wait_for(fake.paused.wait(), 5)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert len(sink.envelopes) == 110 and positions.get_now("kanal-stop", "channel:infopemilu") == 110

    fake.pause_after = None
    await fake.disconnect()
    restarted = connector(fake, positions, sink, name="kanal-stop")
    assert await restarted.read_round(commit=True) == 150
    ids = [normalise(e).native_id for e in sink.envelopes]
    assert len(ids) == 260 and len(set(ids)) == 260
    assert ids == [f"-100{CHANNEL_ID}/{i}" for i in range(1, 261)]
    assert positions.get_now("kanal-stop", "channel:infopemilu") == 260


async def test_a_flood_wait_is_waited_out_as_telegram_says(positions: Positions) -> None:
    fake = FakeTelegram()
    fake.add_channel(channel(CHANNEL_ID, "infopemilu"), [message(1, "satu")])
    fake.fail["get_entity"] = [errors.FloodWaitError(request=None, capture=42)]
    sleeps = Sleeps(2)
    sink = RecordingSink()
    with pytest.raises(Stop):
        await connector(fake, positions, sink, name="kanal-flood", sleep=sleeps).run()
    assert sleeps.waits == [42.0, 20.0]  # Telegram's wait, then the poll interval once read
    assert sink.texts() == ["satu"]
    health = metrics.source_health()["kanal-flood"]
    assert health.kind == "telegram_channel" and health.up and health.errors == 1 and health.reconnects == 1
    assert "wait 42 s" in health.last_error
    assert fake.calls.count(("connect",)) == 1  # the connection is kept across a flood wait


async def test_a_network_failure_backs_off_and_connects_afresh(positions: Positions) -> None:
    fake = FakeTelegram()
    fake.add_channel(channel(CHANNEL_ID, "infopemilu"), [message(1, "satu")])
    fake.fail["iter_messages"] = [ConnectionError("Connection to Telegram failed 2 time(s)")]
    sleeps = Sleeps(2)
    with pytest.raises(Stop):
        await connector(fake, positions, RecordingSink(), name="kanal-net", sleep=sleeps).run()
    assert 2.5 <= sleeps.waits[0] < 7.5 and sleeps.waits[1] == 20.0  # jittered 5 s, then the interval
    assert metrics.source_health()["kanal-net"].errors == 1
    assert [c for c in fake.calls if c[0] in ("connect", "disconnect")] == [
        ("connect",),
        ("disconnect",),
        ("connect",),
    ]


async def test_a_private_or_unknown_channel_is_reported_and_the_others_still_read(
    positions: Positions,
) -> None:
    fake = FakeTelegram()
    fake.add_channel(channel(CHANNEL_ID, "infopemilu"), [message(1, "satu"), message(2, "dua")])
    fake.add_channel(channel(OTHER_CHANNEL_ID, "kanalrahasia"), [message(1, "rahasia", OTHER_CHANNEL_ID)])
    fake.entities["warga_biasa"] = types.User(id=55, username="warga_biasa")
    channels = ("kanalrahasia", "tidakada", "warga_biasa", "infopemilu")
    now = [1000.0]

    def failing_history() -> None:
        fake.fail["iter_messages"] = [errors.ChannelPrivateError(request=None)]

    failing_history()
    sink = RecordingSink()
    kanal = connector(fake, positions, sink, name="kanal-mix", channels=channels, clock=lambda: now[0])
    assert await kanal.read_round(commit=True) == 2
    assert sink.texts() == ["satu", "dua"]
    health = metrics.source_health()["kanal-mix"]
    assert health.errors == 3 and "@warga_biasa: not a channel" in health.last_error
    assert positions.get_now("kanal-mix", "channel:kanalrahasia") is None

    # The bad channels back off; the good one is read every round.
    fake.calls.clear()
    fake.post(CHANNEL_ID, [message(3, "tiga")])
    now[0] += 1.0
    assert await kanal.read_round(commit=True) == 1
    assert [c[1] for c in fake.calls if c[0] == "iter_messages"] == ["infopemilu"]
    assert not any(c[0] == "get_entity" for c in fake.calls)  # the channel is resolved once

    now[0] += 3600.0  # every backoff over: tried again, and the private one still fails
    failing_history()
    assert await kanal.read_round(commit=True) == 0
    assert metrics.source_health()["kanal-mix"].errors == 6

    # The test command names each channel it could not read, after reading the others.
    failing_history()
    tried = RecordingSink()
    with pytest.raises(TelegramChannelError) as caught:
        await connector(fake, positions, tried, name="kanal-mix2", channels=channels).poll()
    assert caught.value.kind == "config" and len(tried.envelopes) == 3
    assert "@kanalrahasia: ChannelPrivateError" in str(caught.value)
    assert "@tidakada: no such channel" in str(caught.value)


async def test_when_no_channel_can_be_read_the_source_is_down(positions: Positions) -> None:
    fake = FakeTelegram()
    sleeps = Sleeps(1)
    with pytest.raises(Stop):
        await connector(
            fake, positions, RecordingSink(), name="kanal-none", channels=("tidakada",), sleep=sleeps
        ).run()
    health = metrics.source_health()["kanal-none"]
    assert not health.up and health.errors == 1 and "@tidakada: no such channel" in health.last_error
    assert 2.5 <= sleeps.waits[0] < 7.5  # until the channel is due again


async def test_a_session_that_is_not_signed_in_is_an_auth_error_without_its_secrets(
    positions: Positions,
) -> None:
    fake = FakeTelegram()
    fake.add_channel(channel(CHANNEL_ID, "infopemilu"), [message(1, "satu")])
    fake.authorised = False
    refusing = connector(fake, positions, RecordingSink(), name="kanal-auth")
    with pytest.raises(TelegramChannelError) as refused:
        await refusing.read_round(commit=True)
    assert refused.value.kind == "auth"
    for secret in (SESSION, API_HASH, "123456"):
        assert secret not in str(refused.value)
    assert fake.connected
    await refusing.aclose()  # the connection was opened: it is closed
    assert not fake.connected

    fake.authorised = True
    fake.fail["iter_messages"] = [errors.AuthKeyUnregisteredError(request=None)]
    sleeps = Sleeps(1)
    with pytest.raises(Stop):
        await connector(fake, positions, RecordingSink(), name="kanal-auth", sleep=sleeps).run()
    health = metrics.source_health()["kanal-auth"]
    assert not health.up and "AuthKeyUnregisteredError" in health.last_error
    assert fake.calls[-1] == ("disconnect",)


async def test_the_test_command_reads_without_saving(positions: Positions) -> None:
    fake = FakeTelegram()
    fake.add_channel(channel(CHANNEL_ID, "infopemilu"), [message(i, f"pesan {i}") for i in range(1, 80)])
    sink = RecordingSink()
    kanal = connector(fake, positions, sink, name="kanal-test", first_read=5)
    assert await kanal.poll() == 5 and await kanal.poll() == 5
    assert sink.texts()[:5] == [f"pesan {i}" for i in range(75, 80)]
    assert positions.get_now("kanal-test", "channel:infopemilu") is None


async def test_the_source_builds_a_reading_telethon_client_only_when_it_connects(
    positions: Positions,
) -> None:
    source = config("kanal-build")
    built = build_connector(source, RecordingSink(), positions, Watchlist(targets=()))
    assert isinstance(built, TelegramChannelConnector) and built.client is None
    client: Any = telethon_client(source)
    assert type(client).__name__ == "TelegramClient"
    assert client.api_id == 123456 and client.flood_sleep_threshold == 0
    assert client.session.save() == SESSION
    # A session of the right shape that does not decode is the configuration's fault, not quoted.
    broken = "1" + "A" * 352
    with pytest.raises(TelegramChannelError) as caught:
        telethon_client(config("kanal-build", session=broken))
    assert caught.value.kind == "config" and broken not in str(caught.value)


def test_importing_the_connectors_leaves_telethon_unloaded() -> None:
    """Telethon is loaded by the source that uses it, not by whoever imports the connectors."""
    imported = subprocess.run(
        [sys.executable, "-c", "import sys, streams.connectors; print('telethon' in sys.modules)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert imported.stdout.strip() == "False"
