"""What rapid-response staff do through the API, against the real engines: keys and roles, acting on
alerts (who and when recorded), silences, summaries, key administration, CORS, the filtered feed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI

from alerts.issue_store import IssueStore
from alerts.state import AlertState
from api.auth import KeyStore, Role
from config.watchlist import load_watchlist
from pantau.domain import Alert, AlertStatus, Severity, SignalKind, utcnow
from service.engines import free_port
from service.runtime import ApiServer
from tests.factories import make_issue
from tests.integration.harness import Harness, wait_for
from tests.integration.test_api import ADMIN_KEY, api_for, client_for


@dataclass
class Desk:
    app: FastAPI
    admin: httpx.AsyncClient
    responder: httpx.AsyncClient
    viewer: httpx.AsyncClient
    anonymous: httpx.AsyncClient
    state: AlertState


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
async def desk(harness: Harness) -> AsyncIterator[Desk]:
    app = api_for(harness)
    keys = KeyStore(harness.redis)
    _, responder = await keys.add("ana", Role.responder)
    _, viewer = await keys.add("budi", Role.viewer)
    async with (
        client_for(app) as admin,
        client_for(app, bearer(responder)) as as_responder,
        client_for(app, bearer(viewer)) as as_viewer,
        client_for(app, {}) as anonymous,
    ):
        yield Desk(app, admin, as_responder, as_viewer, anonymous, AlertState(harness.redis))


def live_alert(name: str, *, severity: Severity = Severity.warning, target: str = "raka-wibisana") -> Alert:
    now = utcnow()
    return Alert(
        id=name, fingerprint=f"fp-{name}", kind=SignalKind.volume_burst, key_kind="target", key=target,
        target=target, severity=severity, title=f"burst {name}", first_seen=now, last_seen=now,
        created_at=now, updated_at=now,
        labels={"kind": "volume_burst", "target": target, "severity": severity.value, "key": target},
    )  # fmt: skip


async def stored(desk: Desk, harness: Harness, alert: Alert) -> Alert:
    await desk.state.put(alert, event="opened")
    harness.store.upsert_alerts([alert], event="opened")
    return alert


async def test_keys_and_roles_guard_every_route_but_health(desk: Desk) -> None:
    for path in ("/healthz", "/metrics"):
        assert (await desk.anonymous.get(path)).status_code == 200
    unauthorised = await desk.anonymous.get("/alerts")
    assert unauthorised.status_code == 401 and unauthorised.headers["www-authenticate"].startswith("Bearer")
    assert (await desk.anonymous.get("/alerts", headers=bearer("pk_000000000000_nope"))).status_code == 401
    assert (await desk.viewer.get("/alerts")).status_code == 200
    forbidden = await desk.viewer.post("/alerts/x/ack")
    assert forbidden.status_code == 403 and "responder" in forbidden.json()["detail"]
    assert (await desk.viewer.post("/ingest", json={"posts": []})).status_code == 403
    assert (await desk.responder.get("/keys")).status_code == 403
    assert (await desk.admin.get("/keys")).status_code == 200


async def test_ack_assign_comment_resolve_record_who_and_when(desk: Desk, harness: Harness) -> None:
    alert = await stored(desk, harness, live_alert("a1"))
    acked = (await desk.responder.post(f"/alerts/{alert.id}/ack", json={"note": "looking"})).json()
    assert (acked["status"], acked["acked_by"]) == ("acknowledged", "ana")
    assigned = (await desk.responder.post(f"/alerts/{alert.id}/assign", json={"assignee": "citra"})).json()
    assert (assigned["assignee"], assigned["assigned_by"]) == ("citra", "ana")
    comment = await desk.responder.post(
        f"/alerts/{alert.id}/comments", json={"text": "Klarifikasi siap 20:30"}
    )
    assert comment.status_code == 201 and comment.json()["by"] == "ana"
    resolved = (await desk.responder.post(f"/alerts/{alert.id}/resolve", json={"note": "rebutted"})).json()
    assert (resolved["status"], resolved["resolved_by"]) == ("resolved", "ana")
    assert resolved["resolved_at"] is not None

    detail = (await desk.viewer.get(f"/alerts/{alert.id}")).json()
    events = [(e["event"], e["actor"]) for e in detail["events"]]
    assert events == [
        ("opened", "pantau"), ("acknowledged", "ana"), ("assigned", "ana"), ("commented", "ana"),
        ("resolved", "ana"),
    ]  # fmt: skip
    by_event = {e["event"]: e for e in detail["events"]}
    assert by_event["commented"]["details"] == "Klarifikasi siap 20:30"
    assert by_event["resolved"]["details"] == "rebutted"
    assert detail["alert"]["status"] == "resolved"
    # The history and the assignee filter agree with the live state.
    page = (await desk.viewer.get("/alerts", params={"assignee": "citra"})).json()
    assert [a["id"] for a in page["items"]] == [alert.id]


async def test_alert_actions_validate_their_input(desk: Desk, harness: Harness) -> None:
    alert = await stored(desk, harness, live_alert("a2"))
    empty = await desk.responder.post(f"/alerts/{alert.id}/comments", json={"text": ""})
    assert empty.status_code == 422 and empty.json()["detail"][0]["loc"] == ["body", "text"]
    long_name = await desk.responder.post(f"/alerts/{alert.id}/assign", json={"assignee": "x" * 101})
    assert long_name.status_code == 422 and long_name.json()["detail"][0]["loc"] == ["body", "assignee"]
    assert (await desk.responder.post("/alerts/missing/resolve")).status_code == 404
    assert (await desk.viewer.get("/alerts", params={"sort": "-severity"})).status_code == 200
    bad_sort = await desk.viewer.get("/alerts", params={"sort": "password"})
    assert bad_sort.status_code == 422 and bad_sort.json()["detail"][0]["loc"] == ["query", "sort"]


async def test_alerts_sort_by_severity(desk: Desk, harness: Harness) -> None:
    for name, severity in (
        ("s-info", Severity.info),
        ("s-crit", Severity.critical),
        ("s-warn", Severity.warning),
    ):
        await stored(desk, harness, live_alert(name, severity=severity))
    ids = [a["id"] for a in (await desk.viewer.get("/alerts", params={"sort": "-severity"})).json()["items"]]
    assert ids == ["s-crit", "s-warn", "s-info"]


async def test_silences_are_created_listed_and_expired(desk: Desk) -> None:
    created = await desk.responder.post(
        "/silences",
        json={
            "matchers": ['target="raka-wibisana"', {"name": "kind", "op": "=~", "value": "volume_.*"}],
            "duration_minutes": 90,
            "comment": "planned rally",
        },
    )
    assert created.status_code == 201, created.text
    silence = created.json()
    assert silence["status"] == "active" and silence["created_by"] == "ana"
    assert [m["name"] for m in silence["matchers"]] == ["target", "kind"]
    listed = (await desk.viewer.get("/silences", params={"state": "active"})).json()
    assert [s["id"] for s in listed] == [silence["id"]]
    expired = await desk.responder.delete(f"/silences/{silence['id']}")
    assert expired.status_code == 200 and expired.json()["status"] == "expired"
    assert expired.json()["expired_by"] == "ana"
    assert (await desk.viewer.get("/silences", params={"state": "active"})).json() == []
    assert (await desk.responder.delete("/silences/nope")).status_code == 404
    assert (await desk.viewer.post("/silences", json={})).status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"matchers": ["not a matcher"], "duration_minutes": 5, "comment": "x"}, "matchers"),
        ({"matchers": [], "duration_minutes": 5, "comment": "x"}, "matchers"),
        ({"matchers": ['a="b"'], "comment": "x"}, None),  # neither ends_at nor duration
        ({"matchers": ['a="b"'], "duration_minutes": 5, "comment": ""}, "comment"),
        ({"matchers": ['a="b"'], "duration_minutes": 999999, "comment": "x"}, "duration_minutes"),
        ({"matchers": ['a="b"'], "ends_at": "2001-01-01T00:00:00Z", "comment": "x"}, "ends_at"),
    ],
)
async def test_bad_silences_get_422_naming_the_field(
    desk: Desk, body: dict[str, Any], field: str | None
) -> None:
    response = await desk.responder.post("/silences", json=body)
    assert response.status_code == 422, response.text
    if field is not None:
        assert field in [part for error in response.json()["detail"] for part in error["loc"]]


async def test_summaries_for_the_war_room_page(desk: Desk, harness: Harness) -> None:
    await stored(desk, harness, live_alert("e-warn"))
    await stored(desk, harness, live_alert("e-crit", severity=Severity.critical))
    targets = await desk.viewer.get("/summary/targets")
    assert targets.status_code == 200
    assert {t["target"] for t in targets.json()["targets"]} == {
        t.id for t in load_watchlist(harness.settings.watchlist_path).targets
    }
    await IssueStore(harness.redis, harness.settings.app_id).save(
        None,
        [
            make_issue("slow", posts=300, growth=2.0),
            make_issue("fast", posts=40, growth=8.0),
            make_issue("over", posts=900, growth=20.0, hours_ago=30),
        ],
    )
    emerging = (await desk.viewer.get("/summary/emerging")).json()
    assert [i["id"] for i in emerging["live_issues"]] == ["fast", "slow"]  # growing fastest first
    assert [a["id"] for a in emerging["alerts"]] == ["e-crit", "e-warn"]
    assert emerging["issues"] == []
    now = utcnow()
    backwards = await desk.viewer.get(
        "/summary/targets", params={"since": now.isoformat(), "until": (now - timedelta(hours=1)).isoformat()}
    )
    assert backwards.status_code == 422 and backwards.json()["detail"][0]["loc"] == ["query", "since"]


async def test_admins_add_list_and_revoke_keys(desk: Desk) -> None:
    added = await desk.admin.post("/keys", json={"name": "night-shift", "role": "responder"})
    assert added.status_code == 201
    key = added.json()["key"]
    async with client_for(desk.app, bearer(key)) as night:
        assert (await night.get("/alerts")).status_code == 200
        listed = (await desk.admin.get("/keys")).json()
        assert "night-shift" in [k["name"] for k in listed]
        assert not any("secret" in field or "hash" in field for k in listed for field in k)
        assert (await desk.admin.post("/keys", json={"name": "night-shift"})).status_code == 409
        revoked = await desk.admin.delete("/keys/night-shift")
        assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
        assert (await night.get("/alerts")).status_code == 401
    assert (await desk.admin.post("/keys", json={"name": "bad name!"})).status_code == 422


async def test_cors_is_off_unless_origins_are_configured(harness: Harness) -> None:
    preflight = {"Origin": "https://warroom.example", "Access-Control-Request-Method": "GET"}
    async with client_for(api_for(harness)) as closed:
        response = await closed.options("/alerts", headers=preflight)
        assert "access-control-allow-origin" not in response.headers
    async with client_for(api_for(harness, api_cors_origins=["https://warroom.example"])) as open_:
        response = await open_.options("/alerts", headers=preflight)
        assert response.headers["access-control-allow-origin"] == "https://warroom.example"


async def test_rate_limit_per_key_answers_429(harness: Harness) -> None:
    async with client_for(api_for(harness, api_rate_limit_per_minute=3)) as client:
        codes = [(await client.get("/alerts")).status_code for _ in range(5)]
        assert codes[:3] == [200, 200, 200] and codes[3] == 429
        assert int((await client.get("/alerts")).headers["retry-after"]) >= 1


async def test_the_feed_filters_and_reports_a_point_it_no_longer_holds(harness: Harness) -> None:
    port = free_port()
    server = ApiServer(api_for(harness), "127.0.0.1", port)
    await server.start()
    received: list[dict[str, Any]] = []
    kinds: list[str] = []

    async def listen(params: dict[str, Any], headers: dict[str, str]) -> None:
        async with (
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client,
            client.stream(
                "GET", "/alerts/stream", params=params, headers={**bearer(ADMIN_KEY), **headers}
            ) as r,
        ):
            async for line in r.aiter_lines():
                if line.startswith("event:"):
                    kinds.append(line[6:].strip())
                if line.startswith("data:"):
                    received.append(orjson.loads(line[5:].strip()))

    listener = asyncio.create_task(listen({"severity": "critical"}, {}))
    try:
        await asyncio.sleep(0.5)
        state = AlertState(harness.redis)
        await state.put(live_alert("f-warn"), event="opened")
        await state.put(live_alert("f-crit", severity=Severity.critical), event="opened")

        async def got_one() -> bool:
            return len(received) >= 1

        await wait_for(got_one, seconds=10, what="the critical alert on the feed")
        await asyncio.sleep(0.3)
        assert [r["alert"]["id"] for r in received] == ["f-crit"]
    finally:
        listener.cancel()

    # A capped feed that trimmed past the client's last id says so instead of skipping silently.
    small = AlertState(harness.redis, feed_maxlen=10)
    for i in range(300):
        await small.put(live_alert(f"t{i}").model_copy(update={"status": AlertStatus.open}), event="updated")
    assert not await small.feed_holds("1-0")
    received.clear()
    kinds.clear()
    resumed = asyncio.create_task(listen({}, {"Last-Event-ID": "1-0"}))
    try:

        async def got_reset() -> bool:
            return "reset" in kinds

        await wait_for(got_reset, seconds=10, what="the reset event")
        assert kinds[0] == "reset"
    finally:
        resumed.cancel()
        await server.stop()


async def test_a_status_filtered_feed_still_hears_alerts_leave_that_status_and_revoked_keys_stop(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    import api.routes.alerts

    monkeypatch.setattr(api.routes.alerts, "FEED_KEY_CHECK_SECONDS", 0.0)
    app = api_for(harness)
    keys = app.state.authenticator.store  # a revoke through it takes effect at once (no cache)
    _, screen_key = await keys.add("screen-1", Role.viewer)
    port = free_port()
    server = ApiServer(app, "127.0.0.1", port)
    await server.start()
    events: list[str] = []
    ended = asyncio.Event()

    async def listen() -> None:
        async with (
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client,
            client.stream(
                "GET", "/alerts/stream", params={"status": "open"}, headers=bearer(screen_key)
            ) as r,
        ):
            async for line in r.aiter_lines():
                if line.startswith("event:"):
                    events.append(line[6:].strip())
        ended.set()

    listener = asyncio.create_task(listen())
    try:
        await asyncio.sleep(0.5)
        state = AlertState(harness.redis)
        alert = live_alert("st-1")
        await state.put(alert, event="opened")
        await state.put(alert.model_copy(update={"status": AlertStatus.acknowledged}), event="acknowledged")

        async def both() -> bool:
            return events[-2:] == ["opened", "acknowledged"]

        await wait_for(both, seconds=10, what="the open alert and its acknowledgement")
        await keys.revoke("screen-1")
        await state.put(live_alert("st-2"), event="opened")  # the next event finds the key revoked
        await asyncio.wait_for(ended.wait(), timeout=10)
        assert "st-2" not in str(events) and events.count("opened") == 1
    finally:
        listener.cancel()
        await server.stop()
