"""The Bluesky connector against a loopback Jetstream: WebSocket frames as Jetstream sends them,
a connection cut mid-stream, malformed frames, duplicates, a refused handshake, and a restart that
resumes from the saved cursor."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from config.sources import BlueskySource
from pantau.normalise import InvalidPost, normalise
from storage.positions import Positions
from streams.connectors.bluesky import JetstreamConnector, JetstreamError, jetstream_post
from streams.connectors.feeds import keyword_filter
from tests.environment import clean_environment
from tests.integration.sources_harness import RecordingSink

DID = "did:plc:abc123"
PANTAU = str(Path(sys.executable).parent / "pantau")


def create(rkey: str, text: str, time_us: int, **record: Any) -> dict[str, Any]:
    return {
        "did": DID,
        "time_us": time_us,
        "kind": "commit",
        "commit": {
            "rev": "x",
            "operation": "create",
            "collection": "app.bsky.feed.post",
            "rkey": rkey,
            "record": {
                "$type": "app.bsky.feed.post",
                "text": text,
                "createdAt": "2026-11-20T08:00:00Z",
                **record,
            },
        },
    }


class Jetstream:
    """Each connection gets the next script of frames, then is closed; `refuse` answers the
    handshake with that HTTP status instead."""

    def __init__(self) -> None:
        self.scripts: list[list[str]] = []
        self.paths: list[str] = []
        self.refuse: HTTPStatus | None = None
        self.server: Server | None = None

    async def handler(self, connection: ServerConnection) -> None:
        self.paths.append(connection.request.path if connection.request else "")
        for frame in self.scripts.pop(0) if self.scripts else []:
            await connection.send(frame)
        await connection.close()

    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if self.refuse is None:
            return None
        return Response(self.refuse.value, self.refuse.phrase, Headers(), b"busy\n")

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"ws://127.0.0.1:{port}/subscribe"


@pytest.fixture
async def jetstream() -> AsyncIterator[Jetstream]:
    stream = Jetstream()
    async with serve(stream.handler, "127.0.0.1", 0, process_request=stream.process_request) as server:
        stream.server = server
        yield stream


def connector(
    jetstream: Jetstream, tmp_path: Path, sink: RecordingSink, languages: tuple[str, ...] = ()
) -> JetstreamConnector:
    config = BlueskySource.model_validate(
        {"name": "langit", "kind": "bluesky", "endpoint": jetstream.url, "languages": list(languages)}
    )
    return JetstreamConnector(
        config, sink, Positions(tmp_path / "positions.sqlite3"), keyword_filter(["Raka", "Sari Lestari"])
    )


async def test_posts_naming_a_target_pass_and_malformed_frames_reach_the_dead_letters(
    jetstream: Jetstream, tmp_path: Path
) -> None:
    without_record = create("r3", "", 1_004)
    without_record["commit"]["record"] = {}
    jetstream.scripts.append(
        [
            json.dumps(create("r1", "Pak Raka hebat sekali", 1_000, langs=["id"])),
            json.dumps(create("r2", "cuaca cerah hari ini", 1_001)),  # names no target
            json.dumps({"did": DID, "time_us": 1_002, "kind": "commit",
                        "commit": {"operation": "delete", "collection": "app.bsky.feed.post", "rkey": "r1"}}),
            json.dumps({"did": DID, "time_us": 1_003, "kind": "identity", "identity": {}}),
            "{not json",
            json.dumps(without_record),
        ]
    )  # fmt: skip
    sink = RecordingSink()
    feed = connector(jetstream, tmp_path, sink)
    with pytest.raises(JetstreamError) as ended:
        await feed.read()
    assert ended.value.kind == "network"  # the server closed: a reconnect follows

    first, frame, no_text = sink.envelopes
    post = normalise(first)
    assert post.id == f"bluesky:{DID}/r1" and post.text == "Pak Raka hebat sekali" and post.lang == "id"
    assert post.url == f"https://bsky.app/profile/{DID}/post/r1" and post.source == "langit"
    for bad in (frame, no_text):
        with pytest.raises(InvalidPost):
            normalise(bad)
    assert feed.positions.get_now("langit", "cursor") == 1_004
    assert "wantedCollections=app.bsky.feed.post" in jetstream.paths[0] and "cursor" not in jetstream.paths[0]


async def test_a_reconnect_and_a_restart_resume_from_the_cursor(jetstream: Jetstream, tmp_path: Path) -> None:
    jetstream.scripts += [
        [json.dumps(create("a", "Raka satu", 10)), json.dumps(create("b", "Raka dua", 20))],
        # Jetstream replays from the cursor: the event at it comes again (storage deduplicates).
        [json.dumps(create("b", "Raka dua", 20)), json.dumps(create("c", "Raka tiga", 30))],
        [json.dumps(create("d", "Raka empat", 40))],
    ]
    sink = RecordingSink()
    feed = connector(jetstream, tmp_path, sink)
    for _ in range(2):
        with pytest.raises(JetstreamError):
            await feed.read()
    assert jetstream.paths[1].endswith("cursor=20")

    restarted = connector(jetstream, tmp_path, sink)
    with pytest.raises(JetstreamError):
        await restarted.read()
    assert jetstream.paths[2].endswith("cursor=30")
    ids = [normalise(e).native_id for e in sink.envelopes]
    assert sorted(set(ids)) == [f"{DID}/{k}" for k in "abcd"]  # none lost
    assert len(ids) == 5  # the one at the cursor twice, once per reconnect at most


async def test_a_refused_handshake_is_an_http_error(jetstream: Jetstream, tmp_path: Path) -> None:
    jetstream.refuse = HTTPStatus.SERVICE_UNAVAILABLE
    with pytest.raises(JetstreamError, match="HTTP 503") as caught:
        await connector(jetstream, tmp_path, RecordingSink()).read()
    assert caught.value.kind == "http"


async def test_the_language_filter_and_a_short_test_read(jetstream: Jetstream, tmp_path: Path) -> None:
    jetstream.scripts.append(
        [
            json.dumps(create("e", "Raka wins the debate", 5, langs=["en-US"])),
            json.dumps(create("f", "Raka gana el debate", 6, langs=["es"])),
            json.dumps(create("g", "Pak Raka menang", 7, langs=["id"])),
        ]
    )
    sink = RecordingSink()
    feed = connector(jetstream, tmp_path, sink, languages=("en", "id"))
    assert await feed.poll(limit=2, seconds=10) == 2
    assert [normalise(e).native_id for e in sink.envelopes] == [f"{DID}/e", f"{DID}/g"]


def test_replies_and_quotes_point_at_the_posts_they_answer() -> None:
    parent = f"at://{DID}/app.bsky.feed.post/p1"
    quoted = "at://did:plc:zzz/app.bsky.feed.post/q1"
    post = jetstream_post(
        create("r", "ya", 1, reply={"parent": {"uri": parent}, "root": {"uri": parent}},
               embed={"$type": "app.bsky.embed.record", "record": {"uri": quoted}})
    )  # fmt: skip
    assert post is not None and post["reply_to"] == f"{DID}/p1" and post["quote_of"] == "did:plc:zzz/q1"
    like = {
        **create("l", "", 1),
        "commit": {**create("l", "", 1)["commit"], "collection": "app.bsky.feed.like"},
    }
    assert jetstream_post(like) is None
    assert jetstream_post({"kind": "account"}) is None


async def test_sources_test_reads_the_firehose_until_it_has_enough(
    jetstream: Jetstream, tmp_path: Path
) -> None:
    jetstream.scripts.append(
        [json.dumps(create(f"t{i}", f"Raka nomor {i}", 100 + i)) for i in range(5)]
        + [json.dumps(create("x", "tidak ada nama", 200))]
    )
    sources = tmp_path / "sources.yaml"
    sources.write_text(f"sources:\n  - name: langit\n    kind: bluesky\n    endpoint: {jetstream.url}\n")
    environment = clean_environment(tmp_path / "var", PANTAU_SOURCES_PATH=str(sources))
    process = await asyncio.create_subprocess_exec(
        PANTAU, "sources", "test", "langit", "--limit", "3",
        env=environment, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    lines = out.decode().splitlines()
    assert [json.loads(line)["text"] for line in lines] == ["Raka nomor 0", "Raka nomor 1", "Raka nomor 2"]
