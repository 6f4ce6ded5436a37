"""The YouTube connector against a loopback Data API v3: search, comment threads newest first over
pages down to what was taken, videos with comments disabled dropped, the daily quota counted
(across a restart) and respected, quotaExceeded and a bad key."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from config.sources import YouTubeSource
from config.watchlist import load_watchlist
from pantau.normalise import normalise
from storage.positions import Positions
from streams.connectors.youtube import YouTubeConnector, YouTubeError, watchlist_query
from tests.integration.sources_harness import LoopbackServer, RecordingSink, Reply, Request, json_reply

WATCHLIST = Path(__file__).resolve().parents[2] / "config" / "watchlist.yaml"
KEY = "AIzaTestKeyTestKeyTestKey"
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def thread(video: str, n: int, text: str) -> dict[str, Any]:
    return {
        "id": f"t{video}{n}",
        "snippet": {
            "videoId": video,
            "totalReplyCount": 1,
            "topLevelComment": {
                "id": f"c{video}{n}",
                "snippet": {
                    "textOriginal": text,
                    "authorDisplayName": f"@penonton{n}",
                    "authorChannelId": {"value": f"UC{n}"},
                    "publishedAt": f"2026-11-20T09:{n:02d}:00Z",
                    "likeCount": n,
                },
            },
        },
    }


class DataApi(LoopbackServer):
    def __init__(self) -> None:
        super().__init__()
        self.videos: list[str] = ["v1", "v2"]
        self.comments: dict[str, list[dict[str, Any]]] = {}  # newest first
        self.disabled: set[str] = set()
        self.quota_exceeded = False

    @property
    def url(self) -> str:
        return f"{super().url}/youtube/v3"

    @property
    def requests(self) -> list[tuple[str, dict[str, list[str]]]]:
        return [(r.path, r.query) for r in self.received]

    def answer(self, request: Request) -> Reply:
        query = request.query
        if query.get("key") != [KEY]:
            return json_reply({"error": {"errors": [{"reason": "keyInvalid"}]}}, 400)
        if self.quota_exceeded:
            return json_reply({"error": {"errors": [{"reason": "quotaExceeded"}]}}, 403)
        if request.path.endswith("/search"):
            return json_reply(
                {"items": [{"id": {"kind": "youtube#video", "videoId": v}} for v in self.videos]}
            )
        video = query["videoId"][0]
        if video in self.disabled:
            return json_reply({"error": {"errors": [{"reason": "commentsDisabled"}]}}, 403)
        items = self.comments.get(video, [])
        start = int(query.get("pageToken", ["0"])[0])
        page = items[start : start + 2]  # pages of two, to make paging visible
        body: dict[str, Any] = {"items": page}
        if start + 2 < len(items):
            body["nextPageToken"] = str(start + 2)
        return json_reply(body)


@pytest.fixture
def data_api() -> Iterator[DataApi]:
    with DataApi() as api:
        yield api


def connector(
    api: DataApi, tmp_path: Path, sink: RecordingSink, key: str = KEY, quota: int = 10_000
) -> YouTubeConnector:
    config = YouTubeSource.model_validate(
        {"name": "yt", "kind": "youtube", "api_key": key, "api": api.url, "daily_quota": quota}
    )
    return YouTubeConnector(
        config, sink, Positions(tmp_path / "positions.sqlite3"), lambda text: True, "raka", now=lambda: NOW
    )


async def test_comments_of_found_videos_newest_pages_down_to_what_was_taken(
    data_api: DataApi, tmp_path: Path
) -> None:
    data_api.comments = {"v1": [thread("v1", n, f"komentar {n}") for n in (3, 2, 1)], "v2": []}
    sink = RecordingSink()
    yt = connector(data_api, tmp_path, sink)
    assert await yt.search() == 2
    search = data_api.requests[0][1]
    assert (
        search["q"] == ["raka"]
        and search["order"] == ["date"]
        and search["publishedAfter"] == ["2026-11-17T10:00:00Z"]
    )

    await yt.poll_comments()  # first read of a video: its newest page only
    assert sink.texts() == ["komentar 2", "komentar 3"]
    post = normalise(sink.envelopes[-1])
    assert post.id == "youtube:cv13" and post.url == "https://www.youtube.com/watch?v=v1&lc=cv13"
    assert post.author_id == "UC3" and post.author_handle == "penonton3" and post.metrics.likes == 3

    data_api.comments["v1"] = [thread("v1", n, f"komentar {n}") for n in (7, 6, 5, 4, 3, 2, 1)]
    await yt.poll_comments()  # down to comment 3, over two pages
    assert sink.texts()[2:] == ["komentar 4", "komentar 5", "komentar 6", "komentar 7"]

    restarted = connector(data_api, tmp_path, sink)
    await restarted.poll_comments()
    assert len(sink.envelopes) == 6  # nothing again
    # 1 search (100), then pages of one unit: v1 1 + v2 1, v1 3 + v2 1, v1 1 + v2 1.
    assert await restarted.spent_today() == 100 + 8


async def test_a_video_with_comments_disabled_is_dropped_not_retried(
    data_api: DataApi, tmp_path: Path
) -> None:
    data_api.disabled = {"v2"}
    data_api.comments = {"v1": [thread("v1", 1, "halo")]}
    yt = connector(data_api, tmp_path, RecordingSink())
    await yt.search()
    await yt.poll_comments()
    assert set(await yt.followed()) == {"v1"}


async def test_the_daily_quota_is_kept_and_youtubes_refusal_waits_for_tomorrow(
    data_api: DataApi, tmp_path: Path
) -> None:
    yt = connector(data_api, tmp_path, RecordingSink(), quota=150)
    await yt.search()
    with pytest.raises(YouTubeError) as spent:
        await yt.search()  # 200 > 150: not even asked
    # YouTube's day ends at midnight Pacific: 08:00 UTC in November, 22 h after 10:00 UTC.
    assert spent.value.kind == "quota" and spent.value.retry_after == 22 * 3600
    assert len([r for r in data_api.requests if r[0].endswith("/search")]) == 1

    data_api.quota_exceeded = True
    with pytest.raises(YouTubeError) as refused:
        await connector(data_api, tmp_path / "other", RecordingSink()).search()
    assert refused.value.kind == "quota" and refused.value.retry_after == 22 * 3600


async def test_a_bad_key_is_an_auth_error(data_api: DataApi, tmp_path: Path) -> None:
    with pytest.raises(YouTubeError) as caught:
        await connector(data_api, tmp_path, RecordingSink(), key="AIzaWrongWrongWrongWrong").search()
    assert caught.value.kind == "auth" and "keyInvalid" in str(caught.value)


def test_the_default_search_names_every_target() -> None:
    query = watchlist_query(load_watchlist(WATCHLIST))
    assert '"Raka Wibisana"' in query and query.count("|") == len(load_watchlist(WATCHLIST).targets) - 1
