"""GET /issues/{id}/timeline against the real engines: an issue's posts per time bucket from the
warehouse's issue_posts, each membership once, with the empty buckets between."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import httpx
import pytest

from alerts.issue_store import IssueStore
from api.auth import KeyStore, Role
from pantau.domain import Issue
from tests.factories import make_issue
from tests.integration.harness import Harness, utc
from tests.integration.test_api import api_for, client_for

# On a whole hour: every bucket width below starts a bucket here (buckets are aligned to the epoch).
START = utc(2026, 11, 20, 10, 0)


def issue_between(issue_id: str, first: datetime, last: datetime) -> Issue:
    return make_issue(issue_id, posts=4, growth=3.0).model_copy(
        update={"first_post_at": first, "opened_at": first, "last_activity": last}
    )


async def store_members(harness: Harness, issue_id: str, seconds_after_start: list[int]) -> None:
    rows = [
        (issue_id, f"x:{issue_id}-{n}", START + timedelta(seconds=s), START + timedelta(seconds=s + 5))
        for n, s in enumerate(seconds_after_start)
    ]
    await asyncio.to_thread(harness.store.insert_issue_posts, rows)


@pytest.fixture
async def viewer(harness: Harness) -> AsyncIterator[httpx.AsyncClient]:
    """A viewer's client, with a live issue two and a half hours long and its four posts stored,
    one of them twice."""
    leak = issue_between("leak", START, START + timedelta(minutes=150))
    await IssueStore(harness.redis, harness.settings.app_id).save(None, [leak])
    await store_members(harness, "leak", [10, 20, 200, 9000])
    await store_members(harness, "leak", [10])  # a checkpoint stored again after a crash
    _, key = await KeyStore(harness.redis).add("budi", Role.viewer)
    async with client_for(api_for(harness), headers={"Authorization": f"Bearer {key}"}) as client:
        yield client


async def timeline(client: httpx.AsyncClient, issue_id: str, query: str = "") -> dict[str, object]:
    response = await client.get(f"/issues/{issue_id}/timeline{query}")
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def counts(body: dict[str, object]) -> list[int]:
    points = body["points"]
    assert isinstance(points, list)
    return [point["posts"] for point in points]


async def test_the_default_bucket_fits_the_span_and_empty_buckets_are_kept(viewer: httpx.AsyncClient) -> None:
    body = await timeline(viewer, "leak")
    # 150 minutes in at most 60 buckets: three minutes each, 51 from the first post's to the last's.
    assert (body["issue_id"], body["bucket_seconds"]) == ("leak", 180)
    assert counts(body) == [2, 1] + [0] * 48 + [1]
    points = body["points"]
    assert isinstance(points, list)
    assert [datetime.fromisoformat(p["at"]) for p in points] == [
        START + timedelta(seconds=180 * n) for n in range(51)
    ]


async def test_a_chosen_bucket_counts_each_post_once(viewer: httpx.AsyncClient) -> None:
    hourly = await timeline(viewer, "leak", "?bucket_seconds=3600")
    assert hourly["bucket_seconds"] == 3600
    assert counts(hourly) == [3, 0, 1]
    points = hourly["points"]
    assert isinstance(points, list)
    assert datetime.fromisoformat(points[-1]["at"]) == START + timedelta(hours=2)
    assert counts(await timeline(viewer, "leak", "?bucket_seconds=604800")) == [4]


async def test_an_issue_only_the_warehouse_still_holds_has_its_timeline(
    harness: Harness, viewer: httpx.AsyncClient
) -> None:
    gone = issue_between("gone", START, START + timedelta(hours=1))
    await asyncio.to_thread(harness.store.upsert_issues, [gone], at=START + timedelta(hours=2))
    # Its record says one hour, but its stored posts reach four days on: the default fits the posts.
    await store_members(harness, "gone", [0, 4 * 86400])
    body = await timeline(viewer, "gone")
    assert body["bucket_seconds"] == 2 * 3600
    assert counts(body) == [1] + [0] * 47 + [1]
    # One-minute buckets over four days are more than a chart can use.
    too_fine = await viewer.get("/issues/gone/timeline?bucket_seconds=60")
    assert too_fine.status_code == 422
    assert [e["loc"] for e in too_fine.json()["detail"]] == [["query", "bucket_seconds"]]

    quiet = issue_between("quiet", START, START + timedelta(hours=1))
    await asyncio.to_thread(harness.store.upsert_issues, [quiet], at=START)
    assert await timeline(viewer, "quiet") == {"issue_id": "quiet", "bucket_seconds": 60, "points": []}


async def test_an_unknown_issue_is_404_and_a_bad_bucket_is_422(viewer: httpx.AsyncClient) -> None:
    assert (await viewer.get("/issues/no-such-issue/timeline")).status_code == 404
    for bad in ("59", "0", "-60", "604801", "hourly"):
        response = await viewer.get(f"/issues/leak/timeline?bucket_seconds={bad}")
        assert response.status_code == 422, bad
        assert [e["loc"] for e in response.json()["detail"]] == [["query", "bucket_seconds"]], bad


async def test_a_key_is_needed(harness: Harness, viewer: httpx.AsyncClient) -> None:
    async with client_for(api_for(harness), headers={}) as anonymous:
        assert (await anonymous.get("/issues/leak/timeline")).status_code == 401
    refused = {"Authorization": "Bearer pk_000000000000_" + "A" * 43}
    async with client_for(api_for(harness), headers=refused) as stranger:
        assert (await stranger.get("/issues/leak/timeline")).status_code == 401
