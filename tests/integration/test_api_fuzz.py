"""A fuzzing pass over the API's own OpenAPI schema (schemathesis), against the real engines.

Whatever a client sends, the API answers without a 5xx, and what it answers matches its schema:
status code, content type, headers and body. Every operation but the live feed gets about 25
generated requests, valid and invalid (schemathesis' positive and negative modes), sent with the
bootstrap admin key so the handlers are reached. A few alerts, a silence and a key are seeded first
and some requests name them, so the routes that take an id get past their 404; a few valid bodies
are nudged past the rules a schema cannot say (a silence's "one of ends_at and duration_minutes").
A smaller pass sends valid requests with no key and with bad ones: 401, but for the public routes.

`/alerts/stream` never ends, so it is left out of the generated pass: it gets a handful of bad
inputs, refused (422) before anything streams. Valid requests to it are never sent here.

FastAPI's schema leaves out the errors the routes raise themselves (401, 403 and 429 from api/auth.py,
404 for an unknown id, 409, 400 and 413 for a bad or oversize body); `documented` adds them, with
FastAPI's `{"detail": ...}` body, so the status-code check holds every other status to the schema.

Hypothesis draws the requests on a worker thread and sends each one to the app on the test's event
loop, where the harness's clients live (schemathesis' own ASGI client would run the app on a loop of
its own). The runs are derandomized: the same requests every time. More examples and a tally of the
answers: `bench/fuzz_api.py`.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import hypothesis
import pytest
import requests
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from pydantic import SecretStr
from schemathesis import GenerationMode
from schemathesis.schemas import APIOperation, BaseSchema

from alerts.issue_store import IssueStore
from alerts.state import AlertState
from api.app import create_app, make_context
from config.settings import Settings
from pantau.domain import Alert, Severity, SignalKind, utcnow
from tests.factories import make_issue
from tests.integration.harness import Harness

ADMIN_KEY = "fuzz-test-admin-key-0123456789"
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
BASE_URL = "http://pantau"
STREAM = "GET /alerts/stream"
PUBLIC = frozenset({"GET /healthz", "GET /readyz", "GET /metrics", "GET /status"})
# A well-formed key that was never issued, and something that is not a key at all.
BAD_KEYS = ("pk_0123456789ab_" + "A" * 43, "not-a-key")
REQUEST_SECONDS = 20.0
ADMIN_EXAMPLES = 25
NO_KEY_EXAMPLES = 5

# What every answer is held to. Left out: the checks that send requests of their own (ignored_auth
# and the like: they would go through schemathesis' ASGI client, on another event loop), and
# negative_data_rejection, which counts the API's deliberate leniency as a failure (a post's
# `mentions: ""` read as no mentions, `until=0` read as epoch seconds, as pydantic reads them).
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_headers_conformance,
    schemathesis.checks.response_schema_conformance,
]

PATH_PARAMETER = re.compile(r"{(\w+)}")
AUTH_ERRORS = {401: "No key, or a bad one.", 403: "The key's role is too small.", 429: "Rate limited."}
ERROR_BODY = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}


def fuzz_settings(max_examples: int, *, derandomize: bool = True) -> hypothesis.settings:
    """Bounded runs, deterministic unless a seed is given. The health checks left out are about
    generation being slow or filtering much, which round trips to the engines and a strict schema
    trip by design."""
    return hypothesis.settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=derandomize,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
        print_blob=False,
    )


def label_of(method: str, path: str) -> str:
    return f"{method.upper()} {path}"


def documented(document: dict[str, Any]) -> dict[str, Any]:
    """The app's schema plus the error statuses its routes raise themselves (see the docstring)."""
    document = copy.deepcopy(document)
    for path, item in document["paths"].items():
        for method, operation in item.items():
            label = label_of(method, path)
            extra: dict[int, str] = {}
            if label not in PUBLIC:
                extra |= AUTH_ERRORS
            if PATH_PARAMETER.search(path):
                extra[404] = "Nothing has that id."
            if "requestBody" in operation:
                extra |= {400: "The body cannot be read.", 413: "The body is too large."}
            if label == "POST /keys":
                extra[409] = "An active key has that name."
            for status, description in extra.items():
                operation["responses"].setdefault(
                    str(status),
                    {"description": description, "content": {"application/json": {"schema": ERROR_BODY}}},
                )
    return document


def _labels() -> list[str]:
    """The operations, read from the app's schema (the routes do not depend on the settings)."""
    document = create_app(Settings.model_construct()).openapi()
    return [label_of(method, path) for path, item in document["paths"].items() for method in item]


OPERATIONS = _labels()


def fuzz_app(harness: Harness) -> FastAPI:
    """The API on the harness's engines, the rate limit off (the fuzzer is one very busy key)."""
    settings = harness.settings.model_copy(
        update={"admin_key": SecretStr(ADMIN_KEY), "api_rate_limit_per_minute": 0}
    )
    return create_app(settings, make_context(settings, harness.store, harness.redis, harness.producer))


def load_schema(app: FastAPI) -> BaseSchema:
    """The app's schema, with a config of its own (no schemathesis.toml is looked for). The key is
    sent by the tests, not generated; unknown query parameters are not sent: the API ignores them,
    as HTTP APIs do, so a request with them is not bad input."""
    config = schemathesis.Config()
    config.projects.default.generation.update(allow_extra_parameters=False, with_security_parameters=False)
    return schemathesis.openapi.from_dict(documented(app.openapi()), config=config)


def operation_for(schema: BaseSchema, label: str) -> APIOperation:
    method, path = label.split(" ", 1)
    operation: APIOperation = schema[path][method]
    return operation


def has_inputs(operation: APIOperation) -> bool:
    raw = operation.definition.raw
    return bool(raw.get("parameters") or raw.get("requestBody"))


# -- seeded data, and valid bodies past the rules a schema cannot say ------------------------------
@dataclass
class Seeded:
    """Ids that exist, by path parameter name: requests that name them get past the 404."""

    ids: dict[str, list[str]] = field(default_factory=dict)


def seed_alert(i: int) -> Alert:
    at = utcnow().replace(microsecond=0) - timedelta(hours=2, minutes=10 * i)
    return Alert(
        id=f"fuzz-alert-{i}",
        fingerprint=f"fuzz-fp-{i}",
        kind=SignalKind.volume_burst,
        key_kind="target",
        key="raka-wibisana",
        target="raka-wibisana",
        severity=Severity.warning,
        title=f"fuzz alert {i}",
        evidence=(f"x:fuzz-post-{i}",),
        first_seen=at,
        last_seen=at + timedelta(minutes=1),
        created_at=at,
        updated_at=at,
        labels={"kind": "volume_burst", "target": "raka-wibisana", "severity": "warning"},
    )


async def seed_data(harness: Harness, client: httpx.AsyncClient) -> Seeded:
    """Three alerts (two live in Redis, one only in history), an issue, a silence and an API key."""
    alerts = [seed_alert(i) for i in range(3)]
    issue = make_issue("fuzzissue", posts=40, growth=3.0, targets=("raka-wibisana",))
    await IssueStore(harness.redis, harness.settings.app_id).save(None, [issue])
    await asyncio.to_thread(harness.store.upsert_alerts, alerts, event="opened")
    state = AlertState(harness.redis)
    for alert in alerts[:2]:
        await state.put(alert, event="opened")
    silence = await client.post(
        "/silences",
        json={"matchers": ['target="raka-wibisana"'], "duration_minutes": 60, "comment": "seeded"},
        headers=AUTH,
    )
    assert silence.status_code == 201, silence.text
    key = await client.post("/keys", json={"name": "fuzz-seed", "role": "viewer"}, headers=AUTH)
    assert key.status_code == 201, key.text
    return Seeded(
        ids={
            "alert_id": [a.id for a in alerts],
            "issue_id": [issue.id],
            "silence_id": [silence.json()["id"]],
            "key": [key.json()["id"], "fuzz-seed"],
        }
    )


def _silence_from_now(case: schemathesis.Case) -> schemathesis.Case:
    """A generated silence, starting now and lasting `duration_minutes` (exactly one end given)."""
    if isinstance(case.body, dict):
        body = {k: v for k, v in case.body.items() if k not in ("starts_at", "ends_at")}
        body["duration_minutes"] = body.get("duration_minutes") or 60
        case.body = body
    return case


def _posts_from_now(case: schemathesis.Case) -> schemathesis.Case:
    """Generated posts, stamped a minute ago (ingestion refuses times before 2000 or in the future)."""
    if isinstance(case.body, dict) and isinstance(case.body.get("posts"), list):
        stamp = (utcnow() - timedelta(minutes=1)).isoformat()
        posts = [{**p, "created_at": stamp} if isinstance(p, dict) else p for p in case.body["posts"]]
        case.body = {**case.body, "posts": posts}
    return case


NUDGES: dict[str, Callable[[schemathesis.Case], schemathesis.Case]] = {
    "POST /silences": _silence_from_now,
    "POST /ingest": _posts_from_now,
}


def case_strategy(
    operation: APIOperation, seeded: Seeded, modes: Iterable[GenerationMode]
) -> st.SearchStrategy[schemathesis.Case]:
    """Generated cases in `modes`; valid ones naming each seeded id; nudged valid ones."""
    strategies = [operation.as_strategy(generation_mode=mode) for mode in modes]
    for name in PATH_PARAMETER.findall(operation.path):
        for value in seeded.ids.get(name, []):
            strategies.append(
                operation.as_strategy(generation_mode=GenerationMode.POSITIVE, path_parameters={name: value})
            )
    nudge = NUDGES.get(operation.label)
    if nudge is not None:
        strategies.append(operation.as_strategy(generation_mode=GenerationMode.POSITIVE).map(nudge))
    return st.one_of(strategies)


# -- sending -----------------------------------------------------------------------------------
@dataclass
class Tally:
    examples: Counter[str] = field(default_factory=Counter)
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)

    def of(self, label: str) -> dict[int, int]:
        return {status: n for (op, status), n in sorted(self.statuses.items()) if op == label}


def latin1(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("latin-1")


class Sender:
    """Sends schemathesis cases, from a worker thread, to the app on the event loop it lives on."""

    def __init__(self, client: httpx.AsyncClient, loop: asyncio.AbstractEventLoop, tally: Tally) -> None:
        self.client = client
        self.loop = loop
        self.tally = tally

    def send(self, case: schemathesis.Case, headers: dict[str, str] | None) -> schemathesis.Response:
        """`headers` None: no Authorization header at all, not even one the generator made up."""
        kwargs = case.as_transport_kwargs(base_url=BASE_URL, headers=headers)
        prepared = requests.Request(**kwargs).prepare()
        if headers is None:
            prepared.headers.pop("Authorization", None)
        future = asyncio.run_coroutine_threadsafe(self._send(prepared), self.loop)
        response = future.result()
        self.tally.examples[case.operation.label] += 1
        self.tally.statuses[case.operation.label, response.status_code] += 1
        return response

    async def _send(self, prepared: requests.PreparedRequest) -> schemathesis.Response:
        body = prepared.body.encode() if isinstance(prepared.body, str) else prepared.body
        assert body is None or isinstance(body, bytes), type(body)  # never a stream or a file here
        # Headers go on the wire as Latin-1, whatever the generator put in them.
        wire_headers = [(latin1(k), latin1(v)) for k, v in prepared.headers.items()]
        started = time.perf_counter()
        # Bounded: a request that streams forever (the live feed let through) fails, not hangs.
        request = self.client.request(
            prepared.method or "GET", prepared.url or "/", headers=wire_headers, content=body
        )
        response = await asyncio.wait_for(request, REQUEST_SECONDS)
        return schemathesis.Response(
            status_code=response.status_code,
            headers={k: response.headers.get_list(k) for k in response.headers},
            content=response.content,
            request=prepared,
            elapsed=time.perf_counter() - started,
            verify=True,
            message=response.reason_phrase,
            encoding=response.encoding,
        )


Check = Callable[[schemathesis.Case, schemathesis.Response], None]


def conforms(case: schemathesis.Case, response: schemathesis.Response) -> None:
    case.validate_response(response, checks=CHECKS)


def fuzz_operation(
    operation: APIOperation,
    sender: Sender,
    *,
    max_examples: int,
    strategy: st.SearchStrategy[schemathesis.Case],
    headers: Iterable[dict[str, str] | None],
    check: Check,
    seed: int | None = None,
) -> None:
    """One Hypothesis run over `operation`, each case sent once per entry of `headers`. It blocks:
    call it off the event loop. Without `seed`, the same cases every time."""
    variants = list(headers)

    @fuzz_settings(max_examples, derandomize=seed is None)
    @hypothesis.given(case=strategy)
    def fuzz(case: schemathesis.Case) -> None:
        for variant in variants:
            check(case, sender.send(case, variant))

    if seed is not None:
        fuzz = hypothesis.seed(seed)(fuzz)
    fuzz()


def modes_for(operation: APIOperation) -> list[GenerationMode]:
    # An operation without parameters or a body has nothing to get wrong but the key.
    if has_inputs(operation):
        return [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    return [GenerationMode.POSITIVE]


async def fuzz_as_admin(
    harness: Harness,
    client: httpx.AsyncClient,
    schema: BaseSchema,
    labels: Iterable[str],
    *,
    max_examples: int,
    tally: Tally,
    check: Check = conforms,
    seed: int | None = None,
) -> None:
    """The generated pass with the admin key over `labels`, seeded first."""
    seeded = await seed_data(harness, client)
    sender = Sender(client, asyncio.get_running_loop(), tally)
    for label in labels:
        operation = operation_for(schema, label)
        strategy = case_strategy(operation, seeded, modes_for(operation))
        run = functools.partial(fuzz_operation, operation, sender, strategy=strategy, headers=[AUTH])
        await asyncio.to_thread(run, max_examples=max_examples, check=check, seed=seed)


@pytest.fixture
async def api(harness: Harness) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = fuzz_app(harness)
    # A handler's exception comes back as the 500 a client would get, for the checks to see.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield app, client


# -- the tests ---------------------------------------------------------------------------------
@pytest.mark.parametrize("label", [label for label in OPERATIONS if label != STREAM])
async def test_an_operation_fuzzed_as_admin_answers_no_5xx_and_matches_its_schema(
    label: str, api: tuple[FastAPI, httpx.AsyncClient], harness: Harness
) -> None:
    app, client = api
    schema = load_schema(app)
    tally = Tally()
    await fuzz_as_admin(harness, client, schema, [label], max_examples=ADMIN_EXAMPLES, tally=tally)
    statuses = tally.of(label)
    # An operation without inputs has one request to make; Hypothesis stops once it has made it.
    assert tally.examples[label] >= (10 if has_inputs(operation_for(schema, label)) else 1), statuses
    assert any(200 <= status < 300 for status in statuses), f"the handler never succeeded: {statuses}"
    assert all(status < 500 for status in statuses), statuses


async def test_without_a_key_or_with_a_bad_one_only_the_public_routes_answer(
    api: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = api
    schema = load_schema(app)
    tally = Tally()
    sender = Sender(client, asyncio.get_running_loop(), tally)
    variants: list[dict[str, str] | None] = [None, *({"Authorization": f"Bearer {k}"} for k in BAD_KEYS)]
    variants.append({"Authorization": ADMIN_KEY})  # the right key, without the scheme

    def refused(case: schemathesis.Case, response: schemathesis.Response) -> None:
        case.validate_response(response, checks=CHECKS)
        if case.operation.label in PUBLIC:
            assert response.status_code == 200, (case.operation.label, response.status_code)
        else:
            assert response.status_code == 401, (case.operation.label, response.status_code)
            assert response.headers["www-authenticate"][0].startswith("Bearer")

    for label in OPERATIONS:  # the live feed too: the key is checked before anything streams
        operation = operation_for(schema, label)
        strategy = operation.as_strategy(generation_mode=GenerationMode.POSITIVE)
        run = functools.partial(fuzz_operation, operation, sender, strategy=strategy, headers=variants)
        await asyncio.to_thread(run, max_examples=NO_KEY_EXAMPLES, check=refused)
    assert set(tally.examples) == set(OPERATIONS)
    assert sum(tally.examples.values()) >= 2 * len(OPERATIONS) * len(variants)


@pytest.mark.parametrize(
    ("params", "headers"),
    [
        ({}, {"Last-Event-ID": "not-an-id"}),
        ({}, {"Last-Event-ID": "1-"}),
        ({}, {"Last-Event-ID": "-1-1"}),
        ({}, {"Last-Event-ID": "1-2-3"}),
        ({}, {"Last-Event-ID": "1" * 40 + "-" + "1" * 40}),  # over 64 characters
        ({"status": "bogus"}, {}),
        ({"severity": ["critical", "bogus"]}, {}),
        ({"kind": "not_a_kind"}, {}),
        ({"target": "x" * 101}, {}),
        ({"status": "open", "severity": "critical"}, {"Last-Event-ID": "🙂".encode()}),
    ],
)
async def test_the_live_feed_refuses_bad_input_before_it_streams(
    api: tuple[FastAPI, httpx.AsyncClient], params: dict[str, Any], headers: dict[str, str | bytes]
) -> None:
    _, client = api
    # Bounded: were the input let through, the feed would stream forever.
    wire_headers = [(latin1(k), latin1(v)) for k, v in {**AUTH, **headers}.items()]
    response = await asyncio.wait_for(
        client.get("/alerts/stream", params=params, headers=wire_headers), REQUEST_SECONDS
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/json"
    assert isinstance(response.json()["detail"], list)


def silence(**times: Any) -> dict[str, Any]:
    return {"matchers": ['target="raka-wibisana"'], "comment": "x", **times}


def one_post(created_at: str) -> dict[str, Any]:
    author = {"id": "a1", "handle": "user_a1"}
    return {"posts": [{"platform": "x", "id": "1", "author": author, "text": "t", "created_at": created_at}]}


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        # Years before 1000 do not format as ClickHouse reads them; past datetime.max in UTC
        # overflows; the day before year 1 does not exist. Each of these was a 500.
        ("GET", "/alerts?since=0168-01-11T00:21:53Z", None),
        ("GET", "/alerts?until=0001-01-01T00:00:00%2B01:00", None),
        ("GET", "/alerts?since=9999-12-31T23:59:59-05:00", None),
        ("GET", "/summary/targets?until=0001-01-01T00:30:00Z", None),
        ("GET", "/summary/targets?until=0265-12-15T14:04:52Z", None),
        ("GET", "/summary/targets?since=9999-12-31T23:59:59-05:00", None),
        ("POST", "/silences", silence(starts_at="9999-12-31T23:59:00Z", duration_minutes=5)),
        ("POST", "/silences", silence(ends_at="9999-12-31T23:00:00-05:00")),
        ("POST", "/silences", silence(ends_at="0001-01-01T00:00:00+05:00")),
        ("POST", "/ingest", one_post("9999-12-31T23:00:00-05:00")),
    ],
)
async def test_a_time_out_of_range_is_a_422_not_a_500(
    api: tuple[FastAPI, httpx.AsyncClient], method: str, url: str, body: dict[str, Any] | None
) -> None:
    _, client = api
    response = await client.request(method, url, json=body, headers=AUTH)
    assert response.status_code == 422, response.text


async def test_a_post_that_cannot_be_encoded_is_a_422_naming_it(
    api: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    """Found by the fuzzing: the 422 said `{"detail": "..."}`, not the documented list of errors."""
    _, client = api
    body = one_post(utcnow().isoformat())
    body["posts"].insert(0, {**body["posts"][0], "id": "2", "extra": 2**70})  # past orjson's 64 bits
    response = await client.post("/ingest", json=body, headers=AUTH)
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "posts", 0] and "cannot be encoded" in error["msg"]


@pytest.mark.parametrize(
    "url",
    [
        "/alerts?since=1900-01-01T00:00:00Z&until=2299-12-31T23:59:59Z",
        "/summary/targets?until=1900-01-01T00:30:00Z",
        "/summary/targets?since=2299-12-30T00:00:00Z&until=2299-12-31T00:00:00Z",
    ],
)
async def test_times_at_the_ends_of_the_range_are_answered(
    api: tuple[FastAPI, httpx.AsyncClient], url: str
) -> None:
    _, client = api
    response = await client.get(url, headers=AUTH)
    assert response.status_code == 200, response.text
