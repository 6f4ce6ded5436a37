"""API keys against a real Valkey: the store, the HTTP dependencies, rate limits, `pantau keys`."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from pydantic import SecretStr
from redis.asyncio import Redis
from typer.testing import CliRunner

from api.auth import (
    BOOTSTRAP_PRINCIPAL,
    KEYS_HASH,
    Admin,
    Authenticator,
    KeyStore,
    Principal,
    RateDecision,
    RateLimiter,
    RedisBreaker,
    Responder,
    Role,
    Viewer,
    parse_key,
    require,
)
from service.engines import ValkeyServer, free_port
from service.keys_cli import keys_app
from tests.environment import clean_environment

ADMIN_KEY = "bootstrap-admin-key-for-tests"


@pytest.fixture
async def redis(valkey: ValkeyServer) -> AsyncIterator[Redis]:
    client = Redis.from_url(valkey.url)
    yield client
    await client.aclose()


@pytest.fixture
def store(redis: Redis) -> KeyStore:
    return KeyStore(redis, cache_seconds=0)


def make_app(authenticator: Authenticator) -> FastAPI:
    app = FastAPI()
    app.state.authenticator = authenticator

    @app.get("/open")
    async def open_endpoint() -> dict[str, bool]:
        return {"open": True}

    @app.get("/view")
    async def view(principal: Viewer) -> dict[str, str]:
        return {"name": principal.name, "role": principal.role}

    @app.post("/respond")
    async def respond(principal: Responder) -> dict[str, str]:
        return {"name": principal.name, "role": principal.role}

    @app.delete("/admin")
    async def admin(principal: Admin) -> dict[str, str]:
        return {"name": principal.name, "role": principal.role}

    @app.get("/checked-twice", dependencies=[Depends(require(Role.viewer))])
    async def checked_twice(principal: Responder) -> dict[str, str]:
        return {"name": principal.name}

    return app


@pytest.fixture
async def http(store: KeyStore) -> AsyncIterator[httpx.AsyncClient]:
    app = make_app(Authenticator(store, admin_key=SecretStr(ADMIN_KEY)))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://pantau") as client:
        yield client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# -- the store -----------------------------------------------------------------------------------


async def test_added_keys_verify_with_their_role_and_are_listed(store: KeyStore) -> None:
    viewer, viewer_key = await store.add("wall-screen", Role.viewer)
    admin, admin_key = await store.add("ops@example.org", Role.admin)
    assert await store.verify(viewer_key) == Principal(viewer.id, "wall-screen", Role.viewer)
    assert await store.verify(admin_key) == Principal(admin.id, "ops@example.org", Role.admin)
    assert [(k.id, k.name, k.role, k.active) for k in await store.list()] == [
        (viewer.id, "wall-screen", Role.viewer, True),
        (admin.id, "ops@example.org", Role.admin, True),
    ]


async def test_redis_holds_the_hash_and_never_the_secret(store: KeyStore, redis: Redis) -> None:
    record, key = await store.add("collector", Role.responder)
    _, secret = parse_key(key) or ("", "")
    stored = await redis.hgetall(KEYS_HASH)
    assert list(stored) == [record.id.encode()]
    assert secret.encode() not in stored[record.id.encode()]
    assert record.secret_sha256.encode() in stored[record.id.encode()]


async def test_a_wrong_secret_or_an_unknown_id_does_not_verify(store: KeyStore) -> None:
    record, key = await store.add("collector", Role.responder)
    _, secret = parse_key(key) or ("", "")
    wrong_secret = f"pk_{record.id}_{'A' * len(secret)}"
    unknown_id = f"pk_{'0' * 12}_{secret}"
    assert await store.verify(wrong_secret) is None
    assert await store.verify(unknown_id) is None
    assert await store.verify("not a key at all") is None


async def test_a_name_has_one_active_key_and_can_have_a_new_one_after_revoke(store: KeyStore) -> None:
    first, first_key = await store.add("desk", Role.viewer)
    with pytest.raises(ValueError, match="active key named 'desk'"):
        await store.add("desk", Role.admin)
    revoked = await store.revoke("desk")
    assert revoked.id == first.id and revoked.revoked_at is not None
    second, second_key = await store.add("desk", Role.admin)
    assert await store.verify(first_key) is None
    assert await store.verify(second_key) == Principal(second.id, "desk", Role.admin)
    listed = {k.id: k for k in await store.list()}
    assert not listed[first.id].active and listed[second.id].active


async def test_concurrent_adds_of_one_name_make_one_key(store: KeyStore) -> None:
    results = await asyncio.gather(
        *(store.add("race", Role.viewer) for _ in range(8)), return_exceptions=True
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(isinstance(r, ValueError) for r in results if isinstance(r, BaseException))
    assert len(await store.list()) == 1


async def test_revoke_by_id_is_idempotent_and_unknown_keys_raise(store: KeyStore) -> None:
    record, _ = await store.add("temp", Role.viewer)
    revoked = await store.revoke(record.id)
    assert await store.revoke(record.id) == revoked  # the first revocation time is kept
    with pytest.raises(KeyError):
        await store.revoke("temp")  # no active key has that name any more
    with pytest.raises(KeyError):
        await store.revoke("nobody")


async def test_a_revoke_elsewhere_takes_effect_once_the_verification_cache_expires(redis: Redis) -> None:
    now = [1000.0]
    api_process = KeyStore(redis, cache_seconds=5, clock=lambda: now[0])
    cli = KeyStore(redis, cache_seconds=0)
    record, key = await cli.add("screen", Role.viewer)
    assert await api_process.verify(key) is not None
    await cli.revoke(record.id)
    now[0] += 4.9
    assert await api_process.verify(key) is not None  # still cached
    now[0] += 0.2
    assert await api_process.verify(key) is None


async def test_a_revoke_through_the_same_store_takes_effect_at_once(redis: Redis) -> None:
    cached = KeyStore(redis, cache_seconds=60)
    record, key = await cached.add("screen", Role.viewer)
    assert await cached.verify(key) is not None
    await cached.revoke(record.id)
    assert await cached.verify(key) is None


async def test_the_bootstrap_admin_key_authenticates_as_admin(store: KeyStore) -> None:
    authenticator = Authenticator(store, admin_key=SecretStr(ADMIN_KEY))
    assert await authenticator.authenticate(ADMIN_KEY) == BOOTSTRAP_PRINCIPAL
    assert BOOTSTRAP_PRINCIPAL.role is Role.admin
    assert await authenticator.authenticate(ADMIN_KEY + "x") is None
    assert await authenticator.authenticate(ADMIN_KEY[:-1]) is None
    assert await Authenticator(store, admin_key=None).authenticate(ADMIN_KEY) is None
    assert await Authenticator(store, admin_key=SecretStr("")).authenticate("") is None


# -- the HTTP dependencies -----------------------------------------------------------------------


async def test_open_endpoints_need_no_key(http: httpx.AsyncClient) -> None:
    response = await http.get("/open")
    assert response.status_code == 200 and response.json() == {"open": True}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer "},
        {"Authorization": f"Basic {ADMIN_KEY}"},
        {"Authorization": "Token pk_0123456789ab_" + "a" * 43},
    ],
    ids=["no-header", "empty", "bearer-alone", "bearer-blank", "basic", "other-scheme"],
)
async def test_requests_without_a_bearer_key_get_401_with_a_challenge(
    http: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await http.get("/view", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "Bearer KEY" in response.json()["detail"]


async def test_unknown_and_revoked_keys_get_401_without_the_key_in_the_answer(
    http: httpx.AsyncClient, store: KeyStore
) -> None:
    record, key = await store.add("leaver", Role.admin)
    assert (await http.get("/view", headers=bearer(key))).status_code == 200
    await store.revoke(record.id)
    unknown = "pk_0123456789ab_" + "b" * 43
    for presented in (key, unknown, "garbage-that-is-long-enough"):
        response = await http.get("/view", headers=bearer(presented))
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert presented not in response.text
        assert response.json() == {"detail": "invalid or revoked API key"}


async def test_each_role_reaches_its_endpoints_and_gets_403_above_them(
    http: httpx.AsyncClient, store: KeyStore
) -> None:
    keys = {role: (await store.add(f"key-{role}", role))[1] for role in Role}
    expected = {
        Role.viewer: {"/view": 200, "/respond": 403, "/admin": 403},
        Role.responder: {"/view": 200, "/respond": 200, "/admin": 403},
        Role.admin: {"/view": 200, "/respond": 200, "/admin": 200},
    }
    methods = {"/view": "GET", "/respond": "POST", "/admin": "DELETE"}
    for role, statuses in expected.items():
        for path, status in statuses.items():
            response = await http.request(methods[path], path, headers=bearer(keys[role]))
            assert response.status_code == status, (role, path, response.text)
            if status == 200:
                assert response.json() == {"name": f"key-{role}", "role": role}
    forbidden = await http.post("/respond", headers=bearer(keys[Role.viewer]))
    assert "responder" in forbidden.json()["detail"]
    assert "WWW-Authenticate" not in forbidden.headers


async def test_the_bootstrap_admin_key_works_over_http(http: httpx.AsyncClient) -> None:
    response = await http.delete("/admin", headers=bearer(ADMIN_KEY))
    assert response.status_code == 200
    assert response.json() == {"name": BOOTSTRAP_PRINCIPAL.name, "role": "admin"}


async def test_the_openapi_schema_declares_the_bearer_scheme(http: httpx.AsyncClient) -> None:
    schema = (await http.get("/openapi.json")).json()
    assert schema["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"
    assert schema["paths"]["/view"]["get"]["security"] == [{"ApiKey": []}]
    assert "security" not in schema["paths"]["/open"]["get"]


async def test_an_unreachable_key_store_answers_503() -> None:
    dead = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=1)
    app = make_app(Authenticator(KeyStore(dead, cache_seconds=0), admin_key=None))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://pantau") as client:
        response = await client.get("/view", headers=bearer("pk_0123456789ab_" + "c" * 43))
    await dead.aclose()
    assert response.status_code == 503
    assert "Retry-After" in response.headers


@pytest.fixture
async def hung_redis() -> AsyncIterator[Redis]:
    """A Redis that accepts connections and never answers, as a frozen or partitioned one does."""

    writers: list[asyncio.StreamWriter] = []

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        while await reader.read(65536):
            pass

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    redis = Redis.from_url(f"redis://127.0.0.1:{port}/0")
    yield redis
    await redis.aclose(close_connection_pool=True)
    for writer in writers:
        writer.close()
        await writer.wait_closed()
    server.close()
    await server.wait_closed()


async def test_a_hung_redis_fails_key_checks_in_time_and_the_rate_limit_open(hung_redis: Redis) -> None:
    authenticator = Authenticator(
        KeyStore(hung_redis, cache_seconds=0),
        admin_key=SecretStr(ADMIN_KEY),
        rate_limiter=RateLimiter(hung_redis, per_minute=60),
        redis_timeout_seconds=0.3,
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=make_app(authenticator)), base_url="http://pantau"
    ) as client:
        admin = await asyncio.wait_for(client.get("/view", headers=bearer(ADMIN_KEY)), 5)
        stored = await asyncio.wait_for(client.get("/view", headers=bearer("pk_0123456789ab_" + "c" * 43)), 5)
    assert admin.status_code == 200  # the bootstrap key needs no Redis, and the limit fails open
    assert stored.status_code == 503 and "Retry-After" in stored.headers


async def test_after_redis_hung_once_requests_skip_it_for_a_while_instead_of_each_waiting(
    hung_redis: Redis,
) -> None:
    store, limiter = KeyStore(hung_redis, cache_seconds=0), RateLimiter(hung_redis, per_minute=60)
    asked: list[str] = []
    verify, hit = store.verify, limiter.hit

    async def counted_verify(presented: str) -> Principal | None:
        asked.append("verify")
        return await verify(presented)

    async def counted_hit(key_id: str) -> RateDecision:
        asked.append("hit")
        return await hit(key_id)

    store.verify, limiter.hit = counted_verify, counted_hit  # type: ignore[method-assign]
    authenticator = Authenticator(
        store,
        admin_key=SecretStr(ADMIN_KEY),
        rate_limiter=limiter,
        redis_timeout_seconds=0.3,
        breaker=RedisBreaker(cool_off_seconds=60.0),
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=make_app(authenticator)), base_url="http://pantau"
    ) as client:
        admins = [(await client.get("/view", headers=bearer(ADMIN_KEY))).status_code for _ in range(10)]
        stored = await client.get("/view", headers=bearer("pk_0123456789ab_" + "c" * 43))
    assert admins == [200] * 10
    assert stored.status_code == 503 and "Retry-After" in stored.headers
    # Only the first request waited for the hung Redis; the rest went past it.
    assert asked == ["hit"]


# -- rate limits ---------------------------------------------------------------------------------


async def limited_client(store: KeyStore, redis: Redis, **limits: Any) -> httpx.AsyncClient:
    app = make_app(
        Authenticator(store, admin_key=SecretStr(ADMIN_KEY), rate_limiter=RateLimiter(redis, **limits))
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://pantau")


async def test_a_key_over_its_limit_gets_429_with_retry_after_and_others_do_not(
    store: KeyStore, redis: Redis
) -> None:
    _, busy = await store.add("busy", Role.viewer)
    _, quiet = await store.add("quiet", Role.viewer)
    async with await limited_client(store, redis, per_minute=3) as client:
        statuses = [(await client.get("/view", headers=bearer(busy))).status_code for _ in range(3)]
        assert statuses == [200, 200, 200]
        limited = await client.get("/view", headers=bearer(busy))
        assert limited.status_code == 429
        # Three a minute: the next one is allowed 20 s after the first.
        assert 1 <= int(limited.headers["Retry-After"]) <= 20
        assert busy not in limited.text
        assert (await client.get("/view", headers=bearer(quiet))).status_code == 200
        assert (await client.get("/view", headers=bearer(ADMIN_KEY))).status_code == 200
        assert (await client.get("/open")).status_code == 200


async def test_the_limit_is_shared_by_api_processes_on_one_redis(store: KeyStore, redis: Redis) -> None:
    _, key = await store.add("shared", Role.viewer)
    first = await limited_client(store, redis, per_minute=60, burst=2)
    second = await limited_client(KeyStore(redis), redis, per_minute=60, burst=2)
    async with first, second:
        assert (await first.get("/view", headers=bearer(key))).status_code == 200
        assert (await second.get("/view", headers=bearer(key))).status_code == 200
        refused = await first.get("/view", headers=bearer(key))
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"


async def test_a_request_checked_for_two_roles_counts_once(store: KeyStore, redis: Redis) -> None:
    _, key = await store.add("twice", Role.responder)
    async with await limited_client(store, redis, per_minute=2) as client:
        assert [(await client.get("/checked-twice", headers=bearer(key))).status_code for _ in range(3)] == [
            200,
            200,
            429,
        ]


async def test_a_zero_limit_turns_rate_limiting_off(store: KeyStore, redis: Redis) -> None:
    _, key = await store.add("unlimited", Role.viewer)
    async with await limited_client(store, redis, per_minute=0) as client:
        statuses = {(await client.get("/view", headers=bearer(key))).status_code for _ in range(30)}
    assert statuses == {200}
    assert await redis.keys("pantau:ratelimit:*") == []


async def test_the_limiter_refills_at_its_rate(redis: Redis) -> None:
    limiter = RateLimiter(redis, per_minute=600, burst=1)  # one every 100 ms
    assert (await limiter.hit("k")).allowed
    assert not (await limiter.hit("k")).allowed
    await asyncio.sleep(0.15)
    assert (await limiter.hit("k")).allowed
    ttl = await redis.pttl("pantau:ratelimit:k")
    assert 0 < ttl <= 100  # the counter goes away once it no longer limits anything


# -- `pantau keys` -------------------------------------------------------------------------------


@pytest.fixture
def pantau_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """No PANTAU_* from outside but a data directory of the test's own."""
    for name in list(os.environ):
        if name.startswith("PANTAU_"):
            monkeypatch.delenv(name)
    data_dir = tmp_path / "data"
    monkeypatch.setenv("PANTAU_DATA_DIR", str(data_dir))
    yield data_dir


def verify(url: str, key: str) -> Principal | None:
    async def check() -> Principal | None:
        client = Redis.from_url(url)
        try:
            return await KeyStore(client, cache_seconds=0).verify(key)
        finally:
            await client.aclose()

    return asyncio.run(check())


def test_keys_add_prints_a_working_key_alone_on_its_last_line(
    pantau_env: Path, valkey: ValkeyServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PANTAU_REDIS_URL", valkey.url)
    result = CliRunner().invoke(keys_app, ["add", "ops-lead", "--role", "admin"])
    assert result.exit_code == 0, result.output
    key = result.stdout.splitlines()[-1]
    principal = verify(valkey.url, key)
    assert principal is not None and (principal.name, principal.role) == ("ops-lead", Role.admin)
    assert "ops-lead" in result.stderr and principal.key_id in result.stderr and "admin" in result.stderr

    default = CliRunner().invoke(keys_app, ["add", "wall"])
    assert default.exit_code == 0, default.output
    viewer = verify(valkey.url, default.stdout.splitlines()[-1])
    assert viewer is not None and (viewer.name, viewer.role) == ("wall", Role.viewer)


def test_keys_add_refuses_bad_names_roles_and_duplicates(
    pantau_env: Path, valkey: ValkeyServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PANTAU_REDIS_URL", valkey.url)
    runner = CliRunner()
    assert runner.invoke(keys_app, ["add", "desk"]).exit_code == 0
    duplicate = runner.invoke(keys_app, ["add", "desk", "--role", "admin"])
    assert duplicate.exit_code == 2 and "active key named 'desk'" in duplicate.stderr
    assert duplicate.stdout == ""
    bad_name = runner.invoke(keys_app, ["add", "has space"])
    assert bad_name.exit_code == 2 and "1 to 64 characters" in bad_name.stderr
    bad_role = runner.invoke(keys_app, ["add", "x", "--role", "root"])
    assert bad_role.exit_code == 2 and "viewer" in bad_role.output


def test_keys_list_and_revoke_never_show_secrets_or_hashes(
    pantau_env: Path, valkey: ValkeyServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PANTAU_REDIS_URL", valkey.url)
    runner = CliRunner()
    key = runner.invoke(keys_app, ["add", "collector-1", "--role", "responder"]).stdout.splitlines()[-1]
    key_id, secret = parse_key(key) or ("", "")

    listed = runner.invoke(keys_app, ["list", "--json"])
    assert listed.exit_code == 0, listed.output
    records = json.loads(listed.stdout)
    assert [(r["id"], r["name"], r["role"], r["revoked_at"]) for r in records] == [
        (key_id, "collector-1", "responder", None)
    ]
    assert set(records[0]) == {"id", "name", "role", "created_at", "revoked_at"}
    table = runner.invoke(keys_app, ["list"])
    assert table.exit_code == 0 and key_id in table.stdout and "collector-1" in table.stdout
    for output in (listed.output, table.output):
        assert secret not in output and "sha256" not in output

    revoked = runner.invoke(keys_app, ["revoke", "collector-1"])
    assert revoked.exit_code == 0, revoked.output
    assert key_id in revoked.stdout
    assert verify(valkey.url, key) is None
    assert json.loads(runner.invoke(keys_app, ["list", "--json"]).stdout)[0]["revoked_at"] is not None
    missing = runner.invoke(keys_app, ["revoke", "collector-1"])
    assert missing.exit_code == 1 and "no key" in missing.stderr


def test_keys_use_the_valkey_a_running_pantau_up_published(pantau_env: Path, valkey: ValkeyServer) -> None:
    pantau_env.mkdir(parents=True)
    (pantau_env / "engines.json").write_text(json.dumps({"redis_url": valkey.url, "pids": []}))
    result = CliRunner().invoke(keys_app, ["add", "via-up", "--role", "responder"])
    assert result.exit_code == 0, result.output
    assert verify(valkey.url, result.stdout.splitlines()[-1]) is not None


def run_keys(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`pantau keys ARGS` in a process of its own, with no PANTAU_* setting but the data dir."""
    return subprocess.run(
        [sys.executable, "-c", "from service.keys_cli import keys_app; keys_app()", *args],
        env=clean_environment(data_dir),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_without_a_redis_keys_persist_in_the_data_directory_for_pantau_up(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    # Left behind by a `pantau up` that was killed: its Valkey is gone, the file points nowhere.
    (data_dir / "engines.json").write_text(
        json.dumps({"redis_url": f"redis://127.0.0.1:{free_port()}/0", "pids": []})
    )
    added = run_keys(data_dir, "add", "first-admin", "--role", "admin")
    assert added.returncode == 0, added.stderr
    key = added.stdout.splitlines()[-1]

    listed = run_keys(data_dir, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [r["name"] for r in json.loads(listed.stdout)] == ["first-admin"]

    # What `pantau up` starts on the same data directory has the key.
    with ValkeyServer(data_dir=data_dir / "valkey") as engine:
        assert isinstance(engine, ValkeyServer)
        principal = verify(engine.url, key)
    assert principal is not None and principal.role is Role.admin
