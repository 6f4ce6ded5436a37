"""YouTube through the Data API v3: a search for the watchlist's names finds recent videos (100
units a call), then the comment threads of each followed video are read newest first down to the
newest comment already taken (1 unit a page). Every call's units are counted against the source's
daily quota (per YouTube's quota day, from midnight Pacific time, saved, so a restart does not
forget what was spent); a source at its
quota waits for the next day instead of being refused by YouTube.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from config.sources import YouTubeSource
from config.watchlist import Watchlist
from pantau import metrics
from pantau.bus import RawSink
from pantau.normalise import make_envelope
from storage.positions import Positions
from streams.connectors.payloads import mapping
from streams.connectors.retry import Failures, SourceError

log = logging.getLogger(__name__)

PLATFORM = "youtube"
COST = {"search": 100, "commentThreads": 1}
MAX_COMMENT_PAGES = 5
VIDEOS_KEY = "videos"
QUOTA_ZONE = ZoneInfo("America/Los_Angeles")


class YouTubeError(SourceError):
    """A call that failed: network, http, auth, quota."""


def watchlist_query(watchlist: Watchlist) -> str:
    return "|".join(f'"{t.name}"' for t in watchlist.targets)


def comment_post(thread: dict[str, Any]) -> dict[str, Any]:
    snippet = mapping(thread.get("snippet"))
    top = mapping(snippet.get("topLevelComment"))
    comment = mapping(top.get("snippet"))
    video = str(snippet.get("videoId") or comment.get("videoId") or "")
    comment_id = str(top.get("id") or thread.get("id") or "")
    return {
        "platform": PLATFORM,
        "id": comment_id,
        "created_at": comment.get("publishedAt"),
        "author": {
            "id": str(mapping(comment.get("authorChannelId")).get("value") or ""),
            "handle": str(comment.get("authorDisplayName") or "")[:100],
        },
        "text": comment.get("textOriginal") if "textOriginal" in comment else comment.get("textDisplay"),
        "url": f"https://www.youtube.com/watch?v={video}&lc={comment_id}" if video and comment_id else "",
        "metrics": {
            "likes": int(comment.get("likeCount") or 0),
            "replies": int(snippet.get("totalReplyCount") or 0),
        },
    }


class YouTubeConnector:
    def __init__(
        self,
        config: YouTubeSource,
        sink: RawSink,
        positions: Positions,
        accept: Callable[[str], bool],
        query: str,
        *,
        client: httpx.AsyncClient | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = config
        self.sink = sink
        self.positions = positions
        self.accept = accept
        self.query = query
        self.client = client or httpx.AsyncClient(timeout=30.0)
        self.now = now
        self.failures = Failures(config.name)
        self.last_search = 0.0

    @property
    def name(self) -> str:
        return self.config.name

    async def run(self) -> None:
        metrics.source_configured(self.name, "youtube")
        while True:
            try:
                if (
                    time.monotonic() - self.last_search >= self.config.search_minutes * 60
                    or not self.last_search
                ):
                    await self.search()
                    self.last_search = time.monotonic()
                await self.poll_comments()
                self.failures.succeeded()
                await asyncio.sleep(self.config.poll_minutes * 60)
            except YouTubeError as exc:
                await asyncio.sleep(self.failures.failed(exc))

    async def poll(self) -> int:
        """Search once and read the first page of comments of what it found (nothing saved)."""
        found = await self.call("search", self.search_params())
        sent = 0
        for item in found.get("items") or []:
            video = mapping(mapping(item).get("id")).get("videoId")
            if video:
                page = await self.call("commentThreads", self.comment_params(str(video), None))
                sent += await self.send([t for t in page.get("items") or [] if isinstance(t, dict)])
        return sent

    # -- quota ------------------------------------------------------------------------------------
    def _quota_day(self) -> datetime:
        """The start of YouTube's quota day: its quota resets at midnight Pacific time."""
        local = self.now().astimezone(QUOTA_ZONE)
        return local.replace(hour=0, minute=0, second=0, microsecond=0)

    def _quota_key(self) -> str:
        return f"quota:{self._quota_day().date().isoformat()}"

    def _until_quota_resets(self) -> float:
        return (self._quota_day() + timedelta(days=1) - self.now()).total_seconds()

    async def spent_today(self) -> int:
        spent = await self.positions.get(self.name, self._quota_key())
        return spent if isinstance(spent, int) else 0

    async def call(self, endpoint: str, params: dict[str, str]) -> dict[str, Any]:
        cost = COST[endpoint]
        spent = await self.spent_today()
        if spent + cost > self.config.daily_quota:
            raise YouTubeError(
                "quota", f"{spent} of {self.config.daily_quota} units spent today", self._until_quota_resets()
            )
        # Counted before the call: YouTube charges a call that fails too.
        await self.positions.put(self.name, self._quota_key(), spent + cost)
        metrics.SOURCE_QUOTA_USED.labels(self.name).set(spent + cost)
        url = f"{str(self.config.api).rstrip('/')}/{endpoint}"
        try:
            response = await self.client.get(url, params={**params, "key": self.config.api_key})
        except httpx.HTTPError as exc:
            raise YouTubeError("network", f"{endpoint}: {type(exc).__name__}") from None
        try:
            body = response.json()
        except ValueError:
            body = {}
        body = mapping(body)
        if response.status_code == 200:
            return body
        error = mapping(body.get("error"))
        reasons = {str(mapping(e).get("reason")) for e in error.get("errors") or []}
        described = f"{endpoint}: HTTP {response.status_code} {', '.join(sorted(reasons)) or ''}".strip()
        if "quotaExceeded" in reasons or "dailyLimitExceeded" in reasons:
            raise YouTubeError("quota", described, self._until_quota_resets())
        if reasons & {"commentsDisabled", "videoNotFound", "forbidden"} and endpoint == "commentThreads":
            raise YouTubeError("video", described)
        if response.status_code in (400, 401, 403):
            raise YouTubeError("auth", described)
        raise YouTubeError("http", described)

    # -- what it reads ----------------------------------------------------------------------------
    def search_params(self) -> dict[str, str]:
        since = self.now() - timedelta(days=self.config.track_days)
        return {
            "part": "id",
            "q": self.query,
            "type": "video",
            "order": "date",
            "regionCode": self.config.region,
            "publishedAfter": since.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "maxResults": "50",
        }

    @staticmethod
    def comment_params(video: str, page_token: str | None) -> dict[str, str]:
        params = {
            "part": "snippet",
            "videoId": video,
            "order": "time",
            "maxResults": "100",
            "textFormat": "plainText",
        }
        if page_token:
            params["pageToken"] = page_token
        return params

    async def followed(self) -> dict[str, dict[str, Any]]:
        videos = await self.positions.get(self.name, VIDEOS_KEY)
        return videos if isinstance(videos, dict) else {}

    async def search(self) -> int:
        """Follow the videos the search finds (the newest `track_videos`, for `track_days`)."""
        found = await self.call("search", self.search_params())
        videos = await self.followed()
        now = self.now().timestamp()
        for item in found.get("items") or []:
            video = mapping(mapping(item).get("id")).get("videoId")
            if isinstance(video, str) and video not in videos:
                videos[video] = {"found": now, "newest": ""}
        horizon = now - self.config.track_days * 86_400
        kept = sorted(
            ((v, s) for v, s in videos.items() if s["found"] >= horizon), key=lambda vs: -vs[1]["found"]
        )
        await self.positions.put(self.name, VIDEOS_KEY, dict(kept[: self.config.track_videos]))
        return len(kept)

    async def poll_comments(self) -> int:
        videos = await self.followed()
        sent = 0
        for video, state in list(videos.items()):
            try:
                sent += await self.read_video(video, state)
            except YouTubeError as exc:
                if exc.kind != "video":
                    raise
                log.info("source %s: video %s dropped (%s)", self.name, video, exc)
                videos.pop(video)
            await self.positions.put(self.name, VIDEOS_KEY, videos)
        return sent

    async def read_video(self, video: str, state: dict[str, Any]) -> int:
        """Newest first, page by page, down to the newest comment taken last time."""
        newest_before = str(state.get("newest") or "")
        fresh: list[dict[str, Any]] = []
        token: str | None = None
        for _ in range(MAX_COMMENT_PAGES):
            page = await self.call("commentThreads", self.comment_params(video, token))
            threads = [t for t in page.get("items") or [] if isinstance(t, dict)]
            older = [t for t in threads if str(comment_post(t)["id"]) == newest_before]
            fresh += threads[: threads.index(older[0])] if older else threads
            token = page.get("nextPageToken")
            if older or not token or not newest_before:
                break  # a video read for the first time: its newest page only
        else:
            log.warning(
                "source %s: video %s has more new comments than %d pages; older ones are not read",
                self.name,
                video,
                MAX_COMMENT_PAGES,
            )
        sent = await self.send(list(reversed(fresh)))
        if fresh:
            state["newest"] = str(comment_post(fresh[0])["id"])
        return sent

    async def send(self, threads: list[dict[str, Any]]) -> int:
        posts = [comment_post(t) for t in threads]
        wanted = [p for p in posts if not isinstance(p["text"], str) or not p["id"] or self.accept(p["text"])]
        return await self.sink.send_many(make_envelope(p, source=self.name) for p in wanted) if wanted else 0

    async def aclose(self) -> None:
        await self.client.aclose()
