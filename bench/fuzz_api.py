"""The API fuzzing pass of tests/integration/test_api_fuzz.py, with many more examples.

Same app, same engines (Tansu, Valkey, chdb in a temporary directory), same generated requests,
same checks (no 5xx; status code, content type, headers and body as the schema says), same seeded
alerts, silence and key. Where the test stops at the first failure, this goes on: every operation
but the live feed gets `--examples` requests as the admin, then `--no-key-examples` valid requests
each sent with no key and with bad ones (401 expected, 200 for the public routes). It prints the
operations, the requests tried and a tally of status codes per operation, then every distinct
failure with a curl command that reproduces it. Exit status 1 on any 5xx or failed check.

Without `--seed` the requests are the same every run (and the first ones are the test's); a seed
draws others.

    .venv/bin/python bench/fuzz_api.py [--examples 500] [--no-key-examples 20] [--seed N]
        [--only "POST /silences"]...
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from schemathesis import Case, GenerationMode, Response
from schemathesis.errors import FailureGroup

from config.settings import load_settings
from service.engines import TansuBroker, ValkeyServer
from storage.client import open_client
from storage.migrate import Migrator
from tests.integration.harness import Harness
from tests.integration.test_api_fuzz import (
    BAD_KEYS,
    BASE_URL,
    CHECKS,
    OPERATIONS,
    PUBLIC,
    STREAM,
    Sender,
    Tally,
    fuzz_app,
    fuzz_as_admin,
    fuzz_operation,
    load_schema,
    operation_for,
)


@dataclass
class Findings:
    """Distinct failures (operation, check title, status), with the first request that showed each."""

    first: dict[tuple[str, str, int], str] = field(default_factory=dict)
    count: dict[tuple[str, str, int], int] = field(default_factory=dict)

    def record(self, case: Case, response: Response, title: str, detail: str = "") -> None:
        key = (case.operation.label, title, response.status_code)
        self.count[key] = self.count.get(key, 0) + 1
        if key not in self.first:
            curl = case.as_curl_command(headers=dict(response.request.headers), base_url=BASE_URL)
            self.first[key] = f"{detail.strip()}\n    {curl}\n    -> {response.content[:300]!r}"

    def check(self, case: Case, response: Response) -> None:
        """Validate as the test does, but record failures and go on."""
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:
            for failure in group.exceptions:
                self.record(case, response, failure.title, failure.message)

    def check_refused(self, case: Case, response: Response) -> None:
        self.check(case, response)
        expected = 200 if case.operation.label in PUBLIC else 401
        if response.status_code != expected:
            self.record(case, response, f"expected {expected} without a valid key")


def print_tally(title: str, tally: Tally, seconds: float) -> None:
    total = sum(tally.examples.values())
    print(f"\n{title}: {len(tally.examples)} operations, {total} requests in {seconds:.1f} s")
    for label in OPERATIONS:
        if label in tally.examples:
            statuses = ", ".join(f"{status}: {n}" for status, n in tally.of(label).items())
            print(f"  {label:<34} {tally.examples[label]:>6}   {statuses}")
    overall: dict[int, int] = {}
    for (_, status), n in tally.statuses.items():
        overall[status] = overall.get(status, 0) + n
    print("  all statuses: " + ", ".join(f"{s}: {n}" for s, n in sorted(overall.items())))


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=500, help="requests per operation, as admin")
    parser.add_argument("--no-key-examples", type=int, default=20, help="requests per operation, no key")
    parser.add_argument("--seed", type=int, default=None, help="draw other requests than the test's")
    parser.add_argument("--only", action="append", default=[], help='an operation, e.g. "GET /alerts"')
    args = parser.parse_args()
    labels = [label for label in OPERATIONS if label != STREAM and (not args.only or label in args.only)]
    if args.only and len(labels) != len(args.only):
        parser.error(f"unknown operations in --only; they are: {', '.join(OPERATIONS)}")

    findings = Findings()
    data = Path(tempfile.mkdtemp(prefix="pantau-fuzz-"))
    with TansuBroker() as broker, ValkeyServer() as valkey:
        assert isinstance(broker, TansuBroker) and isinstance(valkey, ValkeyServer)
        dsn = f"chdb://{data / 'clickhouse'}"
        settings = load_settings(
            kafka_brokers=broker.brokers, redis_url=valkey.url, clickhouse_dsn=dsn, data_dir=data
        )
        client = open_client(dsn, database="fuzz")
        Migrator(client).up()
        async with Harness(settings=settings, client=client) as harness:
            app = fuzz_app(harness)
            schema = load_schema(app)
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
                admin = Tally()
                started = time.perf_counter()
                run_admin = functools.partial(fuzz_as_admin, harness, http, schema, labels, seed=args.seed)
                await run_admin(max_examples=args.examples, tally=admin, check=findings.check)
                print_tally("as admin", admin, time.perf_counter() - started)

                no_key = Tally()
                sender = Sender(http, asyncio.get_running_loop(), no_key)
                variants = [None, *({"Authorization": f"Bearer {k}"} for k in BAD_KEYS)]
                started = time.perf_counter()
                # The live feed too: the key is checked before anything streams.
                for label in labels if args.only else [*labels, STREAM]:
                    operation = operation_for(schema, label)
                    strategy = operation.as_strategy(generation_mode=GenerationMode.POSITIVE)
                    run = functools.partial(
                        fuzz_operation, operation, sender, strategy=strategy, headers=variants, seed=args.seed
                    )
                    check = findings.check_refused
                    await asyncio.to_thread(run, max_examples=args.no_key_examples, check=check)
                print_tally("without a key or with a bad one", no_key, time.perf_counter() - started)

    server_errors = sum(n for t in (admin, no_key) for (_, status), n in t.statuses.items() if status >= 500)
    print(f"\n5xx answers: {server_errors}; distinct failures: {len(findings.first)}")
    for (label, title, status), text in sorted(findings.first.items()):
        seen = findings.count[label, title, status]
        print(f"\n[{label}] {title} ({status}), seen {seen} times\n    {text}")
    return 1 if server_errors or findings.first else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
