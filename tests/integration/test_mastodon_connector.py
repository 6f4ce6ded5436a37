"""The Mastodon connector against a loopback instance: REST timelines (`limit`, `min_id`), the
streaming API as Server-Sent Events with heartbeats, a stream cut mid-way, a gap caught up over
REST, malformed events, boosts, 401 and 429, and a restart from the saved position."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from config.sources import MastodonSource
from config.watchlist import load_watchlist
from pantau.normalise import InvalidPost, normalise
from storage.positions import Positions
from streams.connectors.feeds import keyword_filter
from streams.connectors.mastodon import (
    MastodonConnector,
    MastodonError,
    status_id,
    status_post,
    watchlist_hashtags,
)
from tests.integration.sources_harness import (
    LoopbackServer,
    RecordingSink,
    Reply,
    Request,
    json_reply,
    sse_reply,
)

WATCHLIST = Path(__file__).resolve().parents[2] / "config" / "watchlist.yaml"


def status(n: int, text: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": str(n),
        "uri": f"https://social.example/users/warga{n % 7}/statuses/{n}",
        "url": f"https://social.example/@warga{n % 7}/{n}",
        "created_at": f"2026-11-20T08:{n % 60:02d}:00.000Z",
        "content": f"<p>{text}</p>",
        "language": "id",
        "account": {
            "id": str(n % 7),
            "acct": f"warga{n % 7}",
            "url": f"https://social.example/@warga{n % 7}",
        },
        "tags": [{"name": "pemilu"}],
        "favourites_count": 2,
        "reblogs_count": 1,
        "replies_count": 0,
        **extra,
    }


class Instance(LoopbackServer):
    """A timeline (statuses by id) served over REST, and per stream connection a script of SSE
    lines; when a script ends the connection is closed."""

    def __init__(self) -> None:
        super().__init__(protocol="HTTP/1.1")
        self.timeline: dict[int, dict[str, Any]] = {}
        self.streams: list[list[str]] = []
        self.status_override: tuple[int, dict[str, str]] | None = None

    @property
    def requests(self) -> list[tuple[str, dict[str, list[str]], str]]:
        return [(r.path, r.query, r.headers.get("authorization", "")) for r in self.received]

    def answer(self, request: Request) -> Reply:
        if self.status_override is not None:
            code, headers = self.status_override
            return Reply(code, b"", headers)
        if request.path.startswith("/api/v1/streaming/"):
            return sse_reply(self.streams.pop(0) if self.streams else [])
        ids = sorted(self.timeline)
        limit = int(request.query.get("limit", ["20"])[0])
        if "min_id" in request.query:
            newer = [i for i in ids if i > int(request.query["min_id"][0])][:limit]
        else:
            newer = ids[-limit:]
        return json_reply([self.timeline[i] for i in reversed(newer)])

    def post(self, *statuses: dict[str, Any]) -> None:
        for s in statuses:
            self.timeline[int(s["id"])] = s


def update(s: dict[str, Any]) -> list[str]:
    return ["event: update", f"data: {json.dumps(s)}", ""]


@pytest.fixture
def instance() -> Iterator[Instance]:
    with Instance() as server:
        yield server


def connector(instance: Instance, tmp_path: Path, sink: RecordingSink, token: str = "") -> MastodonConnector:
    config = MastodonSource.model_validate(
        {
            "name": "toot",
            "kind": "mastodon",
            "instance": instance.url,
            "hashtags": ["pemilu"],
            "access_token": token,
        }
    )
    return MastodonConnector(
        config, sink, Positions(tmp_path / "positions.sqlite3"), keyword_filter(["Raka"]), config.hashtags
    )


async def test_catch_up_then_stream_then_a_gap_caught_up_over_rest(
    instance: Instance, tmp_path: Path
) -> None:
    instance.post(status(1, "Raka kampanye pagi"), status(2, "cuaca mendung"), status(3, "Raka makan siang"))
    booster = status(5, "", reblog=status(4, "Raka disambut warga"))
    instance.streams.append(
        [":thump", *update(booster), "event: delete", "data: 3", "", *update(status(6, "Raka pidato"))]
    )
    instance.streams.append(["event: update", "data: {not json", ""])
    sink = RecordingSink()
    toot = connector(instance, tmp_path, sink, token="s3cret")
    timeline = toot.timelines[0]

    await toot.catch_up(timeline)  # the current page, at first start
    assert sink.texts() == ["Raka kampanye pagi", "Raka makan siang"]
    with pytest.raises(MastodonError, match="the stream ended"):
        await toot.stream(timeline)
    boost = normalise(sink.envelopes[2])
    assert (
        boost.text == "Raka disambut warga"
        and boost.repost_of == f"mastodon:{status_id(status(4, '')['uri'])}"
    )
    assert sink.texts()[3] == "Raka pidato"
    assert toot.positions.get_now("toot", "tag:pemilu") == "6"

    # Posted while no stream was open: the catch-up reads exactly those, over several pages.
    instance.post(*(status(n, f"Raka nomor {n}") for n in range(7, 7 + 45)))
    sent = await toot.catch_up(timeline)
    assert sent == 45 and sink.texts()[-1] == "Raka nomor 51"
    assert [q.get("min_id") for p, q, _ in instance.requests if p.startswith("/api/v1/timelines")][-2:] == [
        ["6"],
        ["46"],
    ]
    with pytest.raises(MastodonError):
        await toot.stream(timeline)  # the malformed event: to the dead letters
    with pytest.raises(InvalidPost):
        normalise(sink.envelopes[-1])
    assert all(auth == "Bearer s3cret" for _, _, auth in instance.requests)
    await toot.aclose()

    ids = [normalise(e).id for e in sink.envelopes[:-1]]
    assert len(ids) == len(set(ids)) == 49


async def test_a_restart_catches_up_from_the_saved_status(instance: Instance, tmp_path: Path) -> None:
    instance.post(status(10, "Raka satu"))
    sink = RecordingSink()
    first = connector(instance, tmp_path, sink)
    await first.poll()
    await first.aclose()
    instance.post(status(11, "Raka dua"), status(12, "Raka tiga"))
    again = connector(instance, tmp_path, sink)
    await again.poll()
    await again.aclose()
    assert sink.texts() == ["Raka satu", "Raka dua", "Raka tiga"]


@pytest.mark.parametrize(
    ("code", "headers", "kind", "retry_after"),
    [(401, {}, "auth", None), (429, {"Retry-After": "30"}, "http", 30.0), (503, {}, "http", None)],
)
async def test_refusals_are_named_and_a_429_says_how_long_to_wait(
    instance: Instance,
    tmp_path: Path,
    code: int,
    headers: dict[str, str],
    kind: str,
    retry_after: float | None,
) -> None:
    instance.status_override = (code, headers)
    toot = connector(instance, tmp_path, RecordingSink())
    with pytest.raises(MastodonError) as caught:
        await toot.poll()
    assert caught.value.kind == kind and caught.value.retry_after == retry_after
    await toot.aclose()


def test_the_same_status_through_two_timelines_is_one_post_and_markup_is_dropped() -> None:
    one = status(7, "Halo <a href='x'>#pemilu</a><br>baris dua", spoiler_text="politik")
    seen_elsewhere = {**one, "id": "99999"}  # another instance's local id for the same status
    assert status_post(one)["id"] == status_post(seen_elsewhere)["id"]
    assert status_post(one)["text"] == "politik\n\nHalo #pemilu baris dua"
    tags = watchlist_hashtags(load_watchlist(WATCHLIST))
    assert "rakawibisana" in tags and "rakapresiden" in tags and all(len(t) >= 4 for t in tags)


async def test_the_catch_up_runs_once_the_stream_is_open(instance: Instance, tmp_path: Path) -> None:
    """A status posted while the stream was (re)connecting is read over REST, not skipped when the
    stream's newer statuses move the position past it."""
    instance.post(status(1, "Raka satu"))
    sink = RecordingSink()
    toot = connector(instance, tmp_path, sink)
    await toot.catch_up(toot.timelines[0])
    instance.post(status(2, "Raka dua, selagi menyambung"))
    instance.streams.append(update(status(3, "Raka tiga")))
    with pytest.raises(MastodonError):
        await toot.stream(toot.timelines[0])
    assert sink.texts() == ["Raka satu", "Raka dua, selagi menyambung", "Raka tiga"]
    await toot.aclose()
