"""The HTTP API against the real engines: ingestion, validation, alerts, the live feed, health."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from alerts.issue_store import IssueStore
from alerts.issues import apply_issue
from alerts.lifecycle import acknowledge
from alerts.state import AlertState
from api.app import create_app, make_context
from api.auth import KeyStore, Role
from config.settings import DEFAULT_WATCHLIST
from config.watchlist import load_watchlist
from pantau import bus
from pantau.domain import Alert, AlertStatus, Severity, SignalKind, utcnow
from service.engines import ValkeyServer, free_port
from service.runtime import ApiServer
from tests.factories import make_issue
from tests.integration.harness import Harness, issue_posts, post, utc, wait_for

START = utc(2026, 11, 20, 10, 0)


ADMIN_KEY = "api-test-admin-key-0123456789"
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


def api_for(harness: Harness, **overrides: Any) -> FastAPI:
    settings = harness.settings.model_copy(update={"admin_key": SecretStr(ADMIN_KEY), **overrides})
    return create_app(settings, make_context(settings, harness.store, harness.redis, harness.producer))


def client_for(app: FastAPI, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(
        transport=transport, base_url="http://pantau", headers=AUTH if headers is None else headers
    )


@pytest.fixture
async def api(harness: Harness) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(api_for(harness, api_max_body_bytes=64 * 1024)) as client:
        yield client


def valid_post(i: int = 1) -> dict[str, Any]:
    return post(f"api{i}", f"Bu Sari mantap {i}", START + timedelta(seconds=i))


async def test_ingest_accepts_a_valid_batch_and_writes_envelopes_to_posts_raw(
    api: httpx.AsyncClient, harness: Harness
) -> None:
    response = await api.post(
        "/ingest", json={"posts": [valid_post(1), valid_post(2)], "source": "collector-1"}
    )
    assert response.status_code == 202
    assert response.json() == {"accepted": 2}
    records = await harness.read_topic(bus.RAW, expect=2)
    assert sorted(r["payload"]["id"] for r in records) == ["api1", "api2"]  # partitions: no total order
    assert {r["source"] for r in records} == {"collector-1"}
    assert all(r["envelope"] == "pantau/1" for r in records)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"posts": [{**valid_post(), "created_at": "yesterday-ish"}]}, ["body", "posts", 0, "created_at"]),
        ({"posts": [{**valid_post(), "id": ["a", "list"]}]}, ["body", "posts", 0, "id"]),
        ({"posts": [{**valid_post(), "metrics": {"likes": -1}}]}, ["body", "posts", 0, "metrics", "likes"]),
        ({"posts": [{k: v for k, v in valid_post().items() if k != "text"}]}, ["body", "posts", 0, "text"]),
        (
            {"posts": [{k: v for k, v in valid_post().items() if k != "author"}]},
            ["body", "posts", 0, "author"],
        ),
        ({"posts": []}, ["body", "posts"]),
        ({}, ["body", "posts"]),
        ({"posts": [valid_post()], "source": "has spaces"}, ["body", "source"]),
    ],
)
async def test_ingest_rejects_bad_input_naming_the_field(
    api: httpx.AsyncClient, body: dict[str, Any], field: list[Any]
) -> None:
    response = await api.post("/ingest", json=body)
    assert response.status_code == 422
    assert field in [error["loc"] for error in response.json()["detail"]]


async def test_ingest_rejects_a_body_that_is_not_json(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/ingest", content=b"{posts: nope", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


async def test_ingest_refuses_an_oversize_body_with_413(api: httpx.AsyncClient, harness: Harness) -> None:
    big = {"posts": [{**valid_post(i), "text": "x" * 2000} for i in range(100)]}  # ~200 kB > 64 kB
    response = await api.post("/ingest", json=big)
    assert response.status_code == 413

    async def chunks() -> AsyncIterator[bytes]:
        payload = orjson.dumps(big)
        for i in range(0, len(payload), 8192):
            yield payload[i : i + 8192]

    # Without a Content-Length the limit is enforced while the body streams in.
    streamed = await api.post("/ingest", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413
    # Nothing of the refused bodies reached the topic.
    assert await harness.read_topic(bus.RAW, expect=1, seconds=2) == []


async def test_alert_queries_are_validated(api: httpx.AsyncClient) -> None:
    assert (await api.get("/alerts", params={"limit": 0})).status_code == 422
    assert (await api.get("/alerts", params={"status": "bogus"})).status_code == 422
    assert (await api.get("/alerts", params={"since": "not a time"})).status_code == 422
    assert (await api.get("/alerts/does-not-exist")).status_code == 404
    assert (await api.post("/alerts/does-not-exist/ack", json={"note": "x"})).status_code == 404


async def test_health_metrics_and_docs(api: httpx.AsyncClient) -> None:
    assert (await api.get("/healthz")).json() == {"status": "ok"}
    ready = await api.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "checks": {"kafka": "ok", "clickhouse": "ok", "redis": "ok"}}
    assert "pantau_stage_messages_total" in (await api.get("/metrics")).text
    assert (await api.get("/docs")).status_code == 200
    assert "/alerts/stream" in (await api.get("/openapi.json")).json()["paths"]


async def test_readyz_reports_an_engine_that_is_down(harness: Harness, valkey: ValkeyServer) -> None:
    async with client_for(api_for(harness)) as client:
        valkey.stop()
        response = await client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["ready"] is False
    assert body["checks"]["redis"].startswith("error") and body["checks"]["kafka"] == "ok"


async def test_an_alert_reaches_the_api_and_the_live_feed(harness: Harness) -> None:
    port = free_port()
    server = ApiServer(api_for(harness), "127.0.0.1", port)
    await server.start()
    _, responder_key = await KeyStore(harness.redis).add("rapid-response-1", Role.responder)
    as_responder = {"Authorization": f"Bearer {responder_key}"}
    events: list[dict[str, Any]] = []
    ids: list[str] = []
    first_event = asyncio.Event()

    async def listen(last_event_id: str | None, sink: list[dict[str, Any]], id_sink: list[str]) -> None:
        headers = {"Last-Event-ID": last_event_id, **AUTH} if last_event_id else AUTH
        async with (
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client,
            client.stream("GET", "/alerts/stream", headers=headers) as response,
        ):
            assert response.status_code == 200
            async for line in response.aiter_lines():
                if line.startswith("id:"):
                    id_sink.append(line[3:].strip())
                if line.startswith("data:"):
                    sink.append(orjson.loads(line[5:].strip()))
                    first_event.set()

    listener = asyncio.create_task(listen(None, events, ids))
    try:
        await asyncio.sleep(0.5)  # connected before anything happens
        start = utcnow().replace(microsecond=0) - timedelta(minutes=30)
        await harness.send(issue_posts("ujisse", start))
        await harness.start_worker()
        await asyncio.wait_for(first_event.wait(), timeout=30)
        opened = events[0]
        assert opened["event"] == "opened" and opened["alert"]["key_kind"] == "issue"
        assert "#ujisse" in opened["alert"]["title"] or "ramai" in opened["alert"]["title"]
        alert_id = opened["alert"]["id"]

        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=as_responder) as client:
            page = (await client.get("/alerts", params={"status": "open", "kind": "volume_burst"})).json()
            assert alert_id in [a["id"] for a in page["items"]] and page["total"] >= 1
            detail = (await client.get(f"/alerts/{alert_id}")).json()
            assert detail["alert"]["numbers"]["posts"] >= 8
            assert {p["id"] for p in detail["evidence_posts"]} == set(detail["alert"]["evidence"])
            acked = (await client.post(f"/alerts/{alert_id}/ack")).json()
            assert acked["status"] == "acknowledged" and acked["acked_by"] == "rapid-response-1"
            again = (await client.get("/alerts", params={"status": "acknowledged"})).json()
            assert alert_id in [a["id"] for a in again["items"]]

        async def ack_seen() -> bool:
            return any(e["event"] == "acknowledged" for e in events)

        await wait_for(ack_seen, seconds=10, what="the acknowledgement on the feed")

        # A client that lost its connection resumes after the last id it saw, without gaps.
        resumed: list[dict[str, Any]] = []
        resumed_ids: list[str] = []
        first_event.clear()
        late = asyncio.create_task(listen(ids[0], resumed, resumed_ids))

        async def caught_up() -> bool:
            return len(resumed) >= len(events) - 1

        await wait_for(caught_up, seconds=10, what="the resumed feed")
        late.cancel()
        assert resumed_ids == ids[1 : 1 + len(resumed_ids)]
    finally:
        listener.cancel()
        await harness.stop_worker()
        await server.stop()


def stored_alert(i: int, **fields: Any) -> Alert:
    at = START + timedelta(minutes=10 * i)
    values: dict[str, Any] = {
        "id": f"alert-{i}",
        "fingerprint": f"fp-{i}",
        "kind": SignalKind.volume_burst,
        "key_kind": "target",
        "key": "raka-wibisana",
        "target": "raka-wibisana",
        "severity": Severity.warning,
        "title": f"alert {i}",
        "first_seen": at,
        "last_seen": at + timedelta(minutes=1),
        "created_at": at,
        "updated_at": at,
        **fields,
    }
    return Alert(**values)


async def test_alerts_filter_by_status_severity_target_and_time_and_paginate(
    api: httpx.AsyncClient, harness: Harness
) -> None:
    alerts = [
        stored_alert(0, severity=Severity.critical),
        stored_alert(1, target="sari-lestari", key="sari-lestari"),
        stored_alert(2, status=AlertStatus.acknowledged),
        stored_alert(3, kind=SignalKind.coordinated_posting),
        stored_alert(4),
    ]
    harness.store.upsert_alerts(alerts, event="opened")

    async def ids(**params: Any) -> list[str]:
        response = await api.get("/alerts", params=params)
        assert response.status_code == 200
        return [a["id"] for a in response.json()["items"]]

    assert await ids() == ["alert-4", "alert-3", "alert-2", "alert-1", "alert-0"]  # newest first
    assert await ids(severity="critical") == ["alert-0"]
    assert await ids(status="acknowledged") == ["alert-2"]
    assert await ids(target="sari-lestari") == ["alert-1"]
    assert await ids(kind="coordinated_posting") == ["alert-3"]
    # Alerts active in [since, until): alert i spans [10i, 10i + 1) minutes after START.
    window = {
        "since": (START + timedelta(minutes=15)).isoformat(),
        "until": (START + timedelta(minutes=35)).isoformat(),
    }
    assert await ids(**window) == ["alert-3", "alert-2"]
    page = (await api.get("/alerts", params={"limit": 2, "offset": 2})).json()
    assert [a["id"] for a in page["items"]] == ["alert-2", "alert-1"]
    assert (page["total"], page["limit"], page["offset"]) == (5, 2, 2)
    # A newer version of an alert replaces the old one (ReplacingMergeTree, read with FINAL).
    harness.store.upsert_alerts(
        [alerts[4].model_copy(update={"status": AlertStatus.resolved, "updated_at": utcnow()})],
        event="resolved",
    )
    assert await ids(status="resolved") == ["alert-4"]
    assert (await api.get("/alerts")).json()["total"] == 5


async def test_an_ack_is_newer_than_the_version_it_changes_even_with_skewed_clocks(
    api: httpx.AsyncClient, harness: Harness
) -> None:
    """The detector's host may write a version stamped ahead of the API's clock."""
    ahead = stored_alert(0, updated_at=utcnow() + timedelta(hours=1))
    await AlertState(harness.redis).put(ahead, event="opened")
    harness.store.upsert_alerts([ahead], event="opened")
    acked = (await api.post(f"/alerts/{ahead.id}/ack", json={"note": "on it"})).json()
    assert acked["status"] == "acknowledged"
    history = (await api.get("/alerts", params={"status": "acknowledged"})).json()
    assert [a["id"] for a in history["items"]] == [ahead.id]  # ClickHouse kept the ack, not the older row


async def test_a_repeated_ack_repairs_history_that_missed_the_first_one(
    api: httpx.AsyncClient, harness: Harness
) -> None:
    alert = stored_alert(1)
    state = AlertState(harness.redis)
    await state.put(alert, event="opened")
    harness.store.upsert_alerts([alert], event="opened")
    # An earlier ack reached Redis, then its ClickHouse write failed.
    await state.update(alert.id, lambda a: acknowledge(a, by="desk", now=utcnow()), event="acknowledged")  # type: ignore[arg-type]
    assert (await api.get("/alerts", params={"status": "acknowledged"})).json()["total"] == 0
    again = await api.post(f"/alerts/{alert.id}/ack", json={"note": "on it"})
    assert again.status_code == 200 and again.json()["acked_by"] == "desk"  # the first ack stands
    assert (await api.get("/alerts", params={"status": "acknowledged"})).json()["total"] == 1


async def test_an_alert_only_in_history_can_still_be_acknowledged(
    api: httpx.AsyncClient, harness: Harness
) -> None:
    alert = stored_alert(2)
    harness.store.upsert_alerts([alert], event="opened")  # its live copy in Redis has expired
    acked = (await api.post(f"/alerts/{alert.id}/ack", json={"note": "on it"})).json()
    assert acked["status"] == "acknowledged"
    live = await AlertState(harness.redis).get(alert.id)
    assert live is not None and live.status == AlertStatus.acknowledged
    assert (await api.get("/alerts", params={"status": "acknowledged"})).json()["total"] == 1


async def test_ingest_refuses_one_post_over_the_per_post_limit_with_413(
    api: httpx.AsyncClient, harness: Harness
) -> None:
    limit = harness.settings.max_post_message_bytes
    async with client_for(api_for(harness, max_post_message_bytes=4096)) as client:
        response = await client.post(
            "/ingest", json={"posts": [valid_post(1), {**valid_post(2), "text": "x" * 5000}]}
        )
    assert response.status_code == 413 and "[1]" in response.json()["detail"]
    assert limit > 4096
    assert await harness.read_topic(bus.RAW, expect=1, seconds=2) == []


async def test_ingest_answers_422_not_500_for_a_post_nested_too_deep_to_encode(
    api: httpx.AsyncClient,
) -> None:
    nested: dict[str, Any] = {}
    for _ in range(300):
        nested = {"deeper": nested}
    response = await api.post("/ingest", json={"posts": [{**valid_post(), "extra": nested}]})
    assert response.status_code == 422


async def test_issues_are_listed_filtered_sorted_and_shown_with_their_alert(
    harness: Harness, api: httpx.AsyncClient
) -> None:
    store = IssueStore(harness.redis, harness.settings.app_id)
    leak = make_issue("leak", posts=200, growth=3.0, targets=("kartu-pangan-digital",), hours_ago=0.5)
    debate = make_issue("debate", posts=50, growth=9.0, targets=("sari-lestari",), hours_ago=1)
    old = make_issue("old", posts=500, growth=2.0, targets=(), hours_ago=30)
    await store.save(None, [leak, debate, old])
    alert = apply_issue(None, "opened", leak, now=utcnow(), watchlist=load_watchlist(DEFAULT_WATCHLIST))
    assert alert is not None
    await AlertState(harness.redis).apply(leak.id, lambda current: alert)

    async def ids(query: str) -> list[str]:
        response = await api.get(f"/issues{query}")
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await ids("") == ["leak", "debate", "old"]
    assert await ids("?sort=growth") == ["debate", "leak", "old"]
    assert await ids("?sort=size&status=live") == ["leak", "debate"]
    assert await ids("?target=sari-lestari") == ["debate"]
    since = (utcnow() - timedelta(hours=2)).isoformat()
    assert await ids(f"?since={since.replace('+', '%2B')}") == ["leak", "debate"]
    assert (await api.get("/issues?sort=loudest")).status_code == 422

    detail = await api.get("/issues/leak")
    assert detail.status_code == 200
    body = detail.json()
    assert body["issue"]["label"] == ["#leak", "kartu pangan"]
    assert body["alert"]["id"] == alert.id and body["alert"]["key_kind"] == "issue"
    assert (await api.get("/issues/debate")).json()["alert"] is None
    assert (await api.get("/issues/nothing")).status_code == 404
    async with client_for(api_for(harness), headers={}) as anonymous:
        assert (await anonymous.get("/issues")).status_code == 401
