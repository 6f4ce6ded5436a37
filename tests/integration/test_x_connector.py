"""The X connector against a loopback API v2: rules kept in step with the watchlist (others'
untouched), the filtered stream as newline-delimited JSON with keep-alives, a malformed line and an
error line, the stream cut, recent search filling the gap over two pages, 429 and 401."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from config.sources import XSource
from config.watchlist import load_watchlist
from pantau.normalise import InvalidPost, normalise
from storage.positions import Positions
from streams.connectors.x import XConnector, XError, backoff, watchlist_rules
from tests.integration.sources_harness import (
    LoopbackServer,
    RecordingSink,
    Reply,
    Request,
    json_reply,
    lines_reply,
)

WATCHLIST = Path(__file__).resolve().parents[2] / "config" / "watchlist.yaml"
TOKEN = "AAAAAAAAAAAAAAAAAAAAAtest-bearer-token"


def tweet(n: int, text: str) -> dict[str, Any]:
    return {
        "id": str(1000 + n),
        "text": text,
        "author_id": "42",
        "created_at": f"2026-11-20T08:00:{n:02d}.000Z",
    }


INCLUDES = {"users": [{"id": "42", "username": "warga42"}]}


class XApi(LoopbackServer):
    def __init__(self) -> None:
        super().__init__()
        self.rules: list[dict[str, str]] = [
            {"id": "1", "value": "(old rule)", "tag": "pantau:raka-wibisana"},
            {"id": "2", "value": "banjir", "tag": "someone-else"},
        ]
        self.posted: list[dict[str, Any]] = []
        self.stream_lines: list[list[str]] = []
        self.recent: list[dict[str, Any]] = []
        self.refuse: tuple[int, dict[str, str]] | None = None

    @property
    def requests(self) -> list[tuple[str, dict[str, list[str]]]]:
        return [(r.path, r.query) for r in self.received if r.method == "GET"]

    def answer(self, request: Request) -> Reply:
        if request.method == "POST":
            return self.change_rules(json.loads(request.body))
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return json_reply({"title": "Unauthorized"}, 401)
        if self.refuse is not None:
            return json_reply({"title": "Too Many Requests"}, *self.refuse)
        if request.path == "/2/tweets/search/stream/rules":
            return json_reply({"data": self.rules} if self.rules else {"meta": {}})
        if request.path == "/2/tweets/search/recent":
            return json_reply(self.recent.pop(0) if self.recent else {"meta": {"result_count": 0}})
        if request.path == "/2/tweets/search/stream":
            return lines_reply(self.stream_lines.pop(0) if self.stream_lines else [], "\r\n")
        return json_reply({}, 404)

    def change_rules(self, body: dict[str, Any]) -> Reply:
        self.posted.append(body)
        for rule_id in body.get("delete", {}).get("ids", []):
            self.rules = [r for r in self.rules if r["id"] != rule_id]
        for i, rule in enumerate(body.get("add", [])):
            self.rules.append({"id": f"n{len(self.posted)}-{i}", **rule})
        return json_reply({"meta": {}}, 201)


@pytest.fixture
def x_api() -> Iterator[XApi]:
    with XApi() as api:
        yield api


def connector(api: XApi, tmp_path: Path, sink: RecordingSink, token: str = TOKEN) -> XConnector:
    config = XSource.model_validate({"name": "x", "kind": "x", "bearer_token": token, "api": api.url})
    rules = watchlist_rules(load_watchlist(WATCHLIST), config.max_rule_chars)
    return XConnector(config, sink, Positions(tmp_path / "positions.sqlite3"), lambda text: True, rules)


def test_rules_name_each_target_every_way_and_fit_the_plan() -> None:
    rules = watchlist_rules(load_watchlist(WATCHLIST), 512)
    raka = rules["pantau:raka-wibisana"]
    assert raka.startswith('("Raka Wibisana" OR #RakaWibisana OR ') and "Wibisana" in raka
    assert all(len(rule) <= 512 for rule in rules.values())
    short = watchlist_rules(load_watchlist(WATCHLIST), 64)
    assert all(len(rule) <= 64 for rule in short.values()) and short["pantau:raka-wibisana"]


async def test_rules_in_step_then_the_stream_then_a_gap_filled_by_recent_search(
    x_api: XApi, tmp_path: Path
) -> None:
    sink = RecordingSink()
    x = connector(x_api, tmp_path, sink)
    await x.sync_rules()
    tags = {r["tag"] for r in x_api.rules}
    assert "someone-else" in tags and {t for t in tags if t.startswith("pantau:")} == set(x.rules)
    assert x_api.posted[0] == {"delete": {"ids": ["1"]}}
    posted = len(x_api.posted)
    await x.sync_rules()
    assert len(x_api.posted) == posted  # already in step: nothing sent

    x_api.stream_lines.append(
        [
            "",  # keep-alive
            json.dumps({"data": tweet(1, "Raka kampanye"), "includes": INCLUDES, "matching_rules": []}),
            "{broken",
            json.dumps({"errors": [{"title": "operational-disconnect"}]}),
            json.dumps({"data": tweet(2, "Sari debat"), "includes": INCLUDES}),
        ]
    )
    with pytest.raises(XError, match="the stream ended") as ended:
        await x.stream()
    assert ended.value.kind == "network"
    first, broken, second = sink.envelopes
    post = normalise(first)
    assert post.id == "x:1001" and post.author_handle == "warga42" and post.text == "Raka kampanye"
    with pytest.raises(InvalidPost):
        normalise(broken)
    assert normalise(second).id == "x:1002"
    assert x.positions.get_now("x", "newest_id") == "1002"

    # While away: three posts, given by recent search newest first over two pages.
    x_api.recent = [
        {"data": [tweet(5, "lima"), tweet(4, "empat")], "includes": INCLUDES,
         "meta": {"newest_id": "1005", "next_token": "p2"}},
        {"data": [tweet(3, "tiga")], "includes": INCLUDES, "meta": {"oldest_id": "1003"}},
    ]  # fmt: skip
    assert await x.backfill() == 3
    searches = [q for path, q in x_api.requests if path == "/2/tweets/search/recent"]
    assert searches[0]["since_id"] == ["1002"] and searches[1]["next_token"] == ["p2"]
    assert x.positions.get_now("x", "newest_id") == "1005"
    assert [normalise(e).id for e in sink.envelopes[3:]] == ["x:1004", "x:1005", "x:1003"]


async def test_rate_limits_wait_until_the_window_resets_and_a_bad_token_is_named(
    x_api: XApi, tmp_path: Path
) -> None:
    reset = int(time.time()) + 120
    x_api.refuse = (429, {"x-rate-limit-reset": str(reset)})
    with pytest.raises(XError) as limited:
        await connector(x_api, tmp_path, RecordingSink()).sync_rules()
    assert limited.value.kind == "rate" and 100 < (limited.value.retry_after or 0) <= 121

    x_api.refuse = None
    with pytest.raises(XError) as refused:
        await connector(x_api, tmp_path, RecordingSink(), token="B" * 30).sync_rules()
    assert refused.value.kind == "auth"


def test_recent_search_gets_whole_rules_only(x_api: XApi, tmp_path: Path) -> None:
    x = connector(x_api, tmp_path, RecordingSink())
    x.rules = {"pantau:a": "(" + "a" * 300 + ")", "pantau:b": "(" + "b" * 300 + ")", "pantau:c": "(c)"}
    assert x.search_query() == "(" + "a" * 300 + ")"
    assert x.search_query(max_chars=1000).count(" OR ") == 2


def test_reconnects_follow_xs_documented_schedule() -> None:
    assert [backoff("network", n) for n in (1, 2, 64, 100)] == [0.25, 0.5, 16.0, 16.0]
    assert [backoff("http", n) for n in (1, 2, 3, 7, 10)] == [5.0, 10.0, 20.0, 320.0, 320.0]
    assert [backoff("rate", n) for n in (1, 2, 3)] == [60.0, 120.0, 240.0]
