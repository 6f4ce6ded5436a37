"""X through the API v2 filtered stream: rules built from the watchlist (one per target, tagged
`pantau:<target>`, kept in step with it at every start), the stream read as newline-delimited
JSON, and recent search to fill the gap since the newest post seen after a disconnect or a restart.

Reconnects follow X's documented back-off: network errors linearly from 250 ms to 16 s, HTTP errors
exponentially from 5 s to 320 s, and 429 exponentially from a minute.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson

from config.sources import XSource
from config.watchlist import Watchlist
from pantau import metrics
from pantau.bus import RawSink
from pantau.normalise import make_envelope
from storage.positions import Positions
from streams.connectors.payloads import id_number
from streams.connectors.retry import Failures, SourceError, retry_after_seconds

log = logging.getLogger(__name__)

NEWEST_KEY = "newest_id"
RULE_TAG = "pantau:"
TWEET_FIELDS = "created_at,lang,author_id,referenced_tweets,entities,public_metrics"
PARAMS = {
    "tweet.fields": TWEET_FIELDS,
    "expansions": "author_id",
    "user.fields": "username",
}
MAX_BACKFILL_PAGES = 10


class XError(SourceError):
    """A stream or a request that failed: network, http, rate (429), auth."""


def watchlist_rules(watchlist: Watchlist, max_chars: int) -> dict[str, str]:
    """Per target (tag `pantau:<id>`), a rule naming it any way the watchlist knows: quoted names,
    and each multi-word alias also as one hashtag. Aliases that do not fit are left out."""
    rules = {}
    for target in watchlist.targets:
        terms: dict[str, None] = {}
        for alias in target.all_aliases:
            clean = alias.replace('"', "").strip()
            terms[f'"{clean}"' if " " in clean else clean] = None
            if " " in clean:
                terms["#" + clean.replace(" ", "")] = None
        value = ""
        for term in terms:
            candidate = f"{value} OR {term}" if value else term
            if len(f"({candidate})") > max_chars:
                break
            value = candidate
        if value:
            rules[f"{RULE_TAG}{target.id}"] = f"({value})"
    return rules


def backoff(kind: str, failures: int) -> float:
    """X's documented reconnect schedule for the kind of failure."""
    if kind == "network":
        return min(16.0, 0.25 * failures)
    if kind == "rate":
        return min(900.0, 60.0 * 2.0 ** (failures - 1))
    return min(320.0, 5.0 * 2.0 ** (failures - 1))


class XConnector:
    def __init__(
        self,
        config: XSource,
        sink: RawSink,
        positions: Positions,
        accept: Callable[[str], bool],
        rules: dict[str, str],
        *,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.config = config
        self.sink = sink
        self.positions = positions
        self.accept = accept
        self.rules = rules
        self.client = client or httpx.AsyncClient(
            base_url=str(config.api).rstrip("/"),
            headers={"Authorization": f"Bearer {config.bearer_token}"},
            timeout=httpx.Timeout(30.0, read=60.0),  # a keep-alive every 20 s
        )
        self.failures = Failures(config.name, backoff)
        self.synced = False

    @property
    def name(self) -> str:
        return self.config.name

    async def run(self) -> None:
        metrics.source_configured(self.name, "x")
        while True:
            try:
                if not self.synced:
                    await self.sync_rules()
                await self.stream()
            except XError as exc:
                await asyncio.sleep(self.failures.failed(exc))

    async def poll(self) -> int:
        """One page of recent search for the rules (for the test command); nothing is saved."""
        page = await self.request(
            "GET", "/2/tweets/search/recent", params={**PARAMS, "query": self.search_query()}
        )
        return await self.send(page, save=False)

    def search_query(self, max_chars: int = 512) -> str:
        """Whole rules joined with OR while they fit recent search's query length: never a cut term."""
        query = ""
        for rule in self.rules.values():
            candidate = f"{query} OR {rule}" if query else rule
            if len(candidate) > max_chars:
                break
            query = candidate
        return query

    async def sync_rules(self) -> None:
        """Make the stream's Pantau rules (tagged `pantau:`) exactly the wanted ones; others' untouched."""
        current = await self.request("GET", "/2/tweets/search/stream/rules")
        have = {r["tag"]: r for r in current.get("data") or [] if str(r.get("tag", "")).startswith(RULE_TAG)}
        stale = [r["id"] for tag, r in have.items() if self.rules.get(tag) != r.get("value")]
        missing = [{"value": v, "tag": t} for t, v in self.rules.items() if have.get(t, {}).get("value") != v]
        if stale:
            await self.request("POST", "/2/tweets/search/stream/rules", json={"delete": {"ids": stale}})
        if missing:
            await self.request("POST", "/2/tweets/search/stream/rules", json={"add": missing})
        self.synced = True
        log.info(
            "source %s: %d rules (%d added, %d removed)", self.name, len(self.rules), len(missing), len(stale)
        )

    async def backfill(self) -> int:
        """Recent search since the newest post seen, page by page (X gives newest first)."""
        since = await self.positions.get(self.name, NEWEST_KEY)
        if not since or not self.rules:
            return 0
        query = self.search_query()
        sent, token = 0, None
        newest: str | None = None
        for _ in range(MAX_BACKFILL_PAGES):
            params = {**PARAMS, "query": query, "since_id": str(since), "max_results": "100"}
            if token:
                params["next_token"] = token
            page = await self.request("GET", "/2/tweets/search/recent", params=params)
            sent += await self.send(page, save=False)
            newest = newest or (page.get("meta") or {}).get("newest_id")
            token = (page.get("meta") or {}).get("next_token")
            if not token:
                break
        else:
            log.warning(
                "source %s: the gap is longer than %d pages of recent search; older posts in it are not read",
                self.name,
                MAX_BACKFILL_PAGES,
            )
        if newest:
            await self.remember(newest)
        return sent

    async def stream(self) -> None:
        try:
            async with self.client.stream("GET", "/2/tweets/search/stream", params=PARAMS) as response:
                await self.check(response)
                self.failures.succeeded()
                if self.config.backfill:
                    # Filled only once the stream is open: a post made in between is in one or the
                    # other (or both: storage keeps one), never in neither.
                    try:
                        await self.backfill()
                    except XError as exc:
                        # A gap not filled (a week-old since_id, a query X refuses) must not keep
                        # the stream closed: say so and stream.
                        log.warning("source %s: backfill failed, streaming without it: %s", self.name, exc)
                async for line in response.aiter_lines():
                    if not line.strip():
                        continue  # keep-alive
                    try:
                        payload = orjson.loads(line)
                    except orjson.JSONDecodeError:
                        payload = None
                    if isinstance(payload, dict) and "data" in payload:
                        await self.send(
                            {"data": [payload["data"]], "includes": payload.get("includes") or {}}
                        )
                    elif isinstance(payload, dict) and "errors" in payload:
                        log.warning("source %s: the stream says: %s", self.name, str(payload["errors"])[:300])
                    else:
                        await self.sink.send_many(
                            [make_envelope({"x_stream_line": line[:10_000]}, source=self.name)]
                        )
        except httpx.HTTPError as exc:
            raise XError("network", f"{type(exc).__name__}: {exc}") from None
        raise XError("network", "the stream ended")

    async def send(self, page: dict[str, Any], *, save: bool = True) -> int:
        tweets = [t for t in page.get("data") or [] if isinstance(t, dict)]
        if not tweets:
            return 0
        includes = page.get("includes") or {}
        tweets.sort(key=lambda t: id_number(t.get("id")))
        wanted = [t for t in tweets if not isinstance(t.get("text"), str) or self.accept(t["text"])]
        envelopes = [make_envelope({"data": t, "includes": includes}, source=self.name) for t in wanted]
        sent = await self.sink.send_many(envelopes) if envelopes else 0
        if save:
            await self.remember(str(tweets[-1].get("id")))
        return sent

    async def remember(self, newest: str) -> None:
        known = await self.positions.get(self.name, NEWEST_KEY)
        if known is None or id_number(newest) > id_number(known):
            await self.positions.put(self.name, NEWEST_KEY, newest)

    async def request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = await self.client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise XError("network", f"{path}: {type(exc).__name__}") from None
        await self.check(response)
        try:
            body = response.json()
        except ValueError:
            raise XError("http", f"{path}: not JSON") from None
        return body if isinstance(body, dict) else {}

    async def check(self, response: httpx.Response) -> None:
        status = response.status_code
        if status < 400:
            return
        await response.aread()
        if status == 429:
            reset = response.headers.get("x-rate-limit-reset")
            wait = retry_after_seconds(response.headers.get("Retry-After"))
            if wait is None and reset and reset.isdigit():
                wait = max(0.0, float(reset) - time.time())  # the window's end, in epoch seconds
            # A reset already past (clock skew) must not mean at once.
            raise XError(
                "rate", "HTTP 429: rate limited", max(wait or 0.0, backoff("rate", self.failures.count + 1))
            )
        if status in (401, 403):
            raise XError("auth", f"HTTP {status}: the bearer token or the plan does not allow this")
        raise XError("http", f"HTTP {status}")

    async def aclose(self) -> None:
        await self.client.aclose()
