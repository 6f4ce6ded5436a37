"""What every router shares: the clients behind the API, how a route gets them, and the API's types
for times and ids."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi import Path as PathParam
from pydantic import AfterValidator
from redis.asyncio import Redis

from alerts.dispatcher import SilenceStore
from alerts.feed import FeedHub
from alerts.issue_store import IssueStore
from alerts.state import AlertState
from api.auth import Authenticator, KeyStore, RateLimiter
from config.settings import Settings
from config.watchlist import Watchlist, load_watchlist
from pantau.bus import RawProducer
from pantau.domain import as_utc
from pantau.metrics import StageRates
from storage.repository import ClickHouseStore
from storage.spool import SpoolWriter
from storage.summaries import SummaryQueries

# ClickHouse's DateTime64 range. A time outside it is bad input (422) where it enters, not a query
# or a date sum that fails later (500): years before 1000 do not even format as ClickHouse reads them.
EARLIEST_TIME = datetime(1900, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(2299, 12, 31, 23, 59, 59, tzinfo=UTC)


def _time_in_range(value: datetime) -> datetime:
    """The time in UTC (naive = UTC), if it lies in [EARLIEST_TIME, LATEST_TIME]."""
    try:
        utc: datetime | None = as_utc(value)
    except OverflowError:  # e.g. 9999-12-31T23:00-05:00 is past datetime.max in UTC
        utc = None
    if utc is None or not EARLIEST_TIME <= utc <= LATEST_TIME:
        raise ValueError(f"must lie between {EARLIEST_TIME:%Y-%m-%d} and {LATEST_TIME:%Y-%m-%d} (UTC)")
    return utc


ApiTime = Annotated[datetime, AfterValidator(_time_in_range)]
AlertId = Annotated[str, PathParam(max_length=64, pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]


@dataclass
class ApiContext:
    settings: Settings
    store: ClickHouseStore
    alert_state: AlertState
    issues: IssueStore
    producer: RawProducer
    silences: SilenceStore
    feed: FeedHub
    summaries: SummaryQueries
    watchlist: Watchlist
    authenticator: Authenticator
    # With the spool on, accepted posts are written there (and forwarded from there to the broker).
    spool_writer: SpoolWriter | None = None
    # Per-stage throughput, sampled by the app while it runs.
    rates: StageRates = field(default_factory=StageRates)
    # The embedded broker's process, for its memory in GET /status (None: a broker elsewhere).
    broker_pid: int | None = None


def make_context(
    settings: Settings,
    store: ClickHouseStore,
    redis: Redis,
    producer: RawProducer,
    spool_writer: SpoolWriter | None = None,
) -> ApiContext:
    """The API's clients and stores, sharing one ClickHouse client and one Redis connection pool."""
    return ApiContext(
        settings=settings,
        store=store,
        alert_state=AlertState(
            redis, dedup_ttl_seconds=settings.alert_dedup_ttl_seconds, feed_maxlen=settings.alert_feed_maxlen
        ),
        issues=IssueStore(redis, settings.app_id),
        producer=producer,
        silences=SilenceStore(redis),
        feed=FeedHub(redis),
        summaries=SummaryQueries(store.client),
        watchlist=load_watchlist(settings.watchlist_path),
        authenticator=Authenticator(
            KeyStore(redis),
            admin_key=settings.admin_key,
            rate_limiter=RateLimiter(redis, per_minute=settings.api_rate_limit_per_minute),
        ),
        spool_writer=spool_writer,
    )


def get_context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context


Context = Annotated[ApiContext, Depends(get_context)]
