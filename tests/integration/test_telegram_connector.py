"""The Telegram bot connector against a loopback Bot API: getUpdates with offsets, channel posts,
captions, forwards and replies, updates without a message, malformed updates, 429 with
`retry_after`, a wrong token, and a restart that neither repeats nor loses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from config.sources import TelegramBotSource
from pantau.normalise import InvalidPost, normalise
from storage.positions import Positions
from streams.connectors.telegram import TelegramBotConnector, TelegramError, message_post
from tests.integration.sources_harness import LoopbackServer, RecordingSink, Reply, Request, json_reply

TOKEN = "123456:ABCdefGhIJKlmnOPQRstuVWXyz"
GROUP = {"id": -1001, "title": "Relawan Kota", "type": "supergroup", "username": "relawankota"}


def message(update_id: int, text: str | None, kind: str = "message", **extra: Any) -> dict[str, Any]:
    body = {
        "message_id": update_id * 10,
        "date": 1_795_000_000 + update_id,
        "chat": GROUP,
        "from": {"id": 77, "username": "warga77", "is_bot": False},
        **({"text": text} if text is not None else {}),
        **extra,
    }
    return {"update_id": update_id, kind: body}


class BotApi(LoopbackServer):
    def __init__(self) -> None:
        super().__init__()
        self.updates: list[Any] = []
        self.reply: tuple[int, dict[str, Any]] | None = None

    @property
    def requests(self) -> list[dict[str, list[str]]]:
        return [r.query for r in self.received]

    def answer(self, request: Request) -> Reply:
        if not request.path.startswith(f"/bot{TOKEN}/"):
            return json_reply({"ok": False, "error_code": 401, "description": "Unauthorized"}, 401)
        if self.reply is not None:
            return json_reply(self.reply[1], self.reply[0])
        offset = int(request.query.get("offset", ["0"])[0])
        fresh = [u for u in self.updates if not isinstance(u, dict) or u["update_id"] >= offset]
        return json_reply({"ok": True, "result": fresh})


@pytest.fixture
def bot_api() -> Iterator[BotApi]:
    with BotApi() as api:
        yield api


def connector(api: BotApi, tmp_path: Path, sink: RecordingSink, token: str = TOKEN) -> TelegramBotConnector:
    config = TelegramBotSource.model_validate(
        {"name": "grup", "kind": "telegram_bot", "token": token, "api": api.url, "poll_seconds": 1}
    )
    return TelegramBotConnector(config, sink, Positions(tmp_path / "positions.sqlite3"), lambda text: True)


async def test_messages_become_posts_and_the_offset_acknowledges_them(
    bot_api: BotApi, tmp_path: Path
) -> None:
    bot_api.updates = [
        message(1, "Rapat relawan jam 7 malam"),
        message(2, None, kind="channel_post", caption="Foto kampanye Raka"),
        {"update_id": 3, "chat_member": {"chat": GROUP}},  # no message: skipped
        message(4, "Setuju!", reply_to_message={"message_id": 10}),
        message(
            5, "Info penting", forward_origin={"type": "channel", "chat": {"id": -1002}, "message_id": 99}
        ),
        "not an update",
    ]
    sink = RecordingSink()
    bot = connector(bot_api, tmp_path, sink)
    assert await bot.fetch_and_send(0) == 5
    posts = [normalise(e) for e in sink.envelopes[:4]]
    assert [p.text for p in posts] == [
        "Rapat relawan jam 7 malam",
        "Foto kampanye Raka",
        "Setuju!",
        "Info penting",
    ]
    assert posts[0].id == "telegram:-1001/10" and posts[0].url == "https://t.me/relawankota/10"
    assert posts[0].author_handle == "warga77" and posts[0].created_at.timestamp() == 1_795_000_001
    assert posts[2].reply_to == "telegram:-1001/10" and posts[3].repost_of == "telegram:-1002/99"
    with pytest.raises(InvalidPost):
        normalise(sink.envelopes[4])
    assert bot.positions.get_now("grup", "offset") == 6

    bot_api.updates = [*bot_api.updates[:-1], message(6, "Pesan baru")]  # (the server gave the string once)
    assert await bot.fetch_and_send(0) == 1
    assert bot_api.requests[-1]["offset"] == ["6"]

    restarted = connector(bot_api, tmp_path, sink)
    assert await restarted.fetch_and_send(0) == 0  # nothing again after a restart
    assert bot_api.requests[-1]["offset"] == ["7"]


async def test_the_test_command_reads_without_acknowledging(bot_api: BotApi, tmp_path: Path) -> None:
    bot_api.updates = [message(1, "satu")]
    bot = connector(bot_api, tmp_path, RecordingSink())
    assert await bot.poll() == 1 and await bot.poll() == 1
    assert bot.positions.get_now("grup", "offset") is None


async def test_a_429_says_how_long_and_a_wrong_token_is_named_without_showing_it(
    bot_api: BotApi, tmp_path: Path
) -> None:
    bot_api.reply = (429, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 12",
                           "parameters": {"retry_after": 12}})  # fmt: skip
    with pytest.raises(TelegramError) as busy:
        await connector(bot_api, tmp_path, RecordingSink()).fetch_and_send(0)
    assert busy.value.kind == "http" and busy.value.retry_after == 12.0

    bot_api.reply = None
    wrong = "999999:WrongTokenWrongTokenWrong"
    with pytest.raises(TelegramError) as refused:
        await connector(bot_api, tmp_path, RecordingSink(), token=wrong).fetch_and_send(0)
    assert refused.value.kind == "auth" and wrong not in str(refused.value)


def test_the_bots_secret_never_shows_in_its_endpoint() -> None:
    config = TelegramBotSource.model_validate({"name": "g", "kind": "telegram_bot", "token": TOKEN})
    assert config.endpoints == ("https://api.telegram.org/ (bot 123456)",)
    assert message_post({"update_id": 1, "poll": {}}) is None
