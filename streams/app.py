"""The Faust app: one thin agent per stage, each calling pure code and sending the result on.

Delivery is at least once. Every agent takes batches without acking (`noack_take`), does its work,
waits until what it sent has reached the broker (or ClickHouse has the rows), and only then acks,
so Faust commits an offset only after the effect of its message is durable. A message a stage
cannot use goes to `posts.dlq` with the reason and is acked: it never stops a stage.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import faust
from aiokafka.errors import MessageSizeTooLargeError
from pydantic import ValidationError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential

from alerts.dispatcher import AlertingSource
from alerts.issues import apply_issue
from alerts.state import AlertState
from config.settings import Settings
from config.watchlist import Watchlist
from detectors.base import STREAM_KEY, Observation, ObservationBatch, observations
from detectors.issues import IssueEvent, IssueInput
from nlp.classifier import Classifier
from pantau import bus, metrics
from pantau.domain import Alert, DeadLetter, EnrichedPost, Enrichment, Post, decode, encode, utcnow
from pantau.normalise import InvalidPost, Retention, normalise
from storage.repository import ClickHouseStore
from streams.detection import DetectionState
from streams.issues import IssueState

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class Pipeline:
    """What the agents work with; built once per worker process."""

    settings: Settings
    store: ClickHouseStore
    alert_state: AlertState
    classifier: Classifier
    detection: DetectionState
    issues: IssueState
    watchlist: Watchlist
    alerting: AlertingSource
    model_executor: Executor = field(default_factory=lambda: ThreadPoolExecutor(1, "pantau-model"))


def faust_app(settings: Settings) -> faust.App:
    return faust.App(
        settings.app_id,
        broker=[f"kafka://{b}" for b in bus.bootstrap_servers(settings.kafka_brokers)],
        store="memory://",
        datadir=str(settings.data_dir / "faust"),
        autodiscover=False,
        web_enabled=False,
        processing_guarantee="at_least_once",
        topic_replication_factor=settings.topic_replication,
        topic_partitions=settings.topic_partitions,
        table_standby_replicas=0,
        broker_session_timeout=settings.broker_session_timeout,
        broker_heartbeat_interval=1.0,
        broker_rebalance_timeout=settings.broker_session_timeout,
        broker_commit_interval=1.0,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        # Faust's wait for "empty" streams on stop and rebalance never ends with noack_take (its
        # events stay unacked until the batch is done), so it is off. The cost: with several
        # workers, a batch in flight during a rebalance can be stored by both; ReplacingMergeTree
        # collapses the copy and the aggregates count distinct ids.
        stream_wait_empty=False,
        logging_config=None,
    )


def build_agents(app: faust.App, pipe: Pipeline) -> None:
    s = pipe.settings

    def topic(name: str) -> Any:
        return app.topic(
            name, value_serializer="raw", key_serializer="raw", partitions=s.topic_partitions, internal=False
        )

    raw_t, posts_t, enriched_t = topic(bus.RAW), topic(bus.POSTS), topic(bus.ENRICHED)
    by_key_t, signals_t, dlq_t = topic(bus.BY_KEY), topic(bus.SIGNALS), topic(bus.DLQ)

    async def dead_letter(stage: str, event: Any, reason: str) -> Awaitable[Any]:
        metrics.DEAD_LETTERS.labels(stage).inc()
        value = event.value if isinstance(event.value, bytes) else str(event.value).encode()
        message = event.message
        letter = DeadLetter(
            stage=stage,
            reason=reason[:2000],
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            raw=value[: s.dlq_max_raw_bytes].decode("utf-8", "replace"),
            failed_at=utcnow(),
        )
        log.warning(
            "dead letter from %s at %s/%d/%d: %s",
            stage,
            message.topic,
            message.partition,
            message.offset,
            reason[:200],
        )
        return await dlq_t.send(key=message.key, value=encode(letter))  # type: ignore[no-any-return]

    async def send_or_dead_letter(
        stage: str, event: Any, target: Any, key: bytes, value: bytes
    ) -> Awaitable[Any]:
        """Send one record on; a record the broker will never take (too large, say) goes to the DLQ
        instead of crashing the stage and stranding the rest of its batch."""
        try:
            return await target.send(key=key, value=value)  # type: ignore[no-any-return]
        except Exception as exc:
            if not _never_sendable(exc):
                raise  # a broker hiccup: the batch is not acked and comes again
            return await dead_letter(stage, event, f"cannot send to {target.get_topic_name()}: {exc!r}")

    async def finish(stream: Any, events: Sequence[Any], pending: list[Awaitable[Any]]) -> None:
        """Wait until everything sent for this batch is on the broker, then ack the batch."""
        if pending:
            await asyncio.gather(*pending)
        for event in events:
            await stream.ack(event)

    def decode_all(
        stage: str, model: type[T], events: Sequence[Any]
    ) -> tuple[list[tuple[Any, T]], list[tuple[Any, str]]]:
        good, bad = [], []
        for event in events:
            try:
                good.append((event, decode(model, event.value)))  # type: ignore[type-var]
            except (ValidationError, ValueError) as exc:
                bad.append((event, f"{stage}: cannot decode {model.__name__}: {exc}"))
        return good, bad

    @app.agent(raw_t, name="normalise")
    async def normalise_agent(stream: Any) -> None:
        async for events in stream.noack_take(s.enrich_batch_size * 4, within=s.enrich_batch_seconds):
            metrics.MESSAGES_IN.labels("normalise").inc(len(events))
            pending = []
            retention = None if s.backfill else Retention(days=s.posts_ttl_days, now=utcnow())
            for event in events:
                try:
                    post = normalise(
                        event.value,
                        max_text_chars=s.max_post_text_chars,
                        max_message_bytes=s.max_post_message_bytes,
                        retention=retention,
                    )
                except InvalidPost as exc:
                    pending.append(await dead_letter("normalise", event, exc.reason))
                    continue
                metrics.observe_source(
                    post.source,
                    received_at=post.received_at.timestamp(),
                    created_at=post.created_at.timestamp(),
                )
                pending.append(
                    await send_or_dead_letter("normalise", event, posts_t, post.id.encode(), encode(post))
                )
            await finish(stream, events, pending)

    def classify(posts: list[Post]) -> list[Enrichment]:
        """Runs in the model executor, on the whole batch the stage took: the classifier sorts it by
        length and runs the model in `model_batch_size` slices, so the larger the batch, the less
        padding."""
        return pipe.classifier.classify(posts)

    @app.agent(posts_t, name="enrich")
    async def enrich_agent(stream: Any) -> None:
        loop = asyncio.get_running_loop()
        async for events in stream.noack_take(s.enrich_batch_size * 8, within=s.enrich_batch_seconds):
            started = time.perf_counter()
            metrics.MESSAGES_IN.labels("enrich").inc(len(events))
            good, bad = decode_all("enrich", Post, events)
            pending = [await dead_letter("enrich", e, reason) for e, reason in bad]
            posts = [post for _, post in good]
            enrichments: list[Enrichment | None]
            in_flight = metrics.BATCHES_IN_FLIGHT.labels("enrich")
            in_flight.inc()
            try:
                enrichments = list(await loop.run_in_executor(pipe.model_executor, classify, posts))
            except Exception:
                log.exception("classifier failed on a batch of %d; classifying one by one", len(posts))
                enrichments = []
                for event, post in good:
                    try:
                        enrichments.extend(await loop.run_in_executor(pipe.model_executor, classify, [post]))
                    except Exception as exc:
                        enrichments.append(None)
                        pending.append(await dead_letter("enrich", event, f"classifier failed: {exc!r}"))
            finally:
                in_flight.dec()
            now = utcnow()
            for (event, post), enrichment in zip(good, enrichments, strict=True):
                if enrichment is None:
                    continue
                item = EnrichedPost(post=post, enrichment=enrichment, enriched_at=now)
                pending.append(
                    await send_or_dead_letter("enrich", event, enriched_t, post.id.encode(), encode(item))
                )
            await finish(stream, events, pending)
            metrics.BATCH_SECONDS.labels("enrich").observe(time.perf_counter() - started)

    @app.agent(enriched_t, name="store")
    async def store_agent(stream: Any) -> None:
        async for events in stream.noack_take(s.store_batch_size, within=s.store_batch_seconds):
            started = time.perf_counter()
            metrics.MESSAGES_IN.labels("store").inc(len(events))
            good, bad = decode_all("store", EnrichedPost, events)
            pending = [await dead_letter("store", e, reason) for e, reason in bad]
            items = [item for _, item in good]
            new, refused = await retry_forever(
                asyncio.to_thread, pipe.store.insert_new_posts_isolating, items
            )
            event_of = {item.post.id: event for event, item in good}
            for item, reason in refused:
                pending.append(await dead_letter("store", event_of[item.post.id], reason))
            metrics.POSTS_STORED.inc(len(new))
            stored_at = utcnow()
            for item in new:
                metrics.POST_LATENCY.observe(max(0.0, (stored_at - item.post.received_at).total_seconds()))
            metrics.POSTS_DUPLICATE.inc(len(items) - len(new) - len(refused))
            await finish(stream, events, pending)
            metrics.BATCH_SECONDS.labels("store").observe(time.perf_counter() - started)

    @app.agent(enriched_t, name="fan-out")
    async def fan_out_agent(stream: Any) -> None:
        async for events in stream.noack_take(s.store_batch_size, within=s.enrich_batch_seconds):
            good, bad = decode_all("fan-out", EnrichedPost, events)
            pending = [await dead_letter("fan-out", e, reason) for e, reason in bad]
            # One message per key and batch, so a busy key's observations travel together; but
            # never larger than MAX_BY_KEY_BYTES (the stream key carries text and an embedding per
            # post, and a backlog batch of them would pass the broker's message limit).
            by_key: dict[str, list[tuple[Any, Observation]]] = defaultdict(list)
            for event, item in good:
                for obs in observations(item):
                    by_key[obs.routing_key].append((event, obs))
            for routing_key, group in by_key.items():
                for chunk in chunked_by_size(group):
                    value = encode(ObservationBatch(observations=tuple(obs for _, obs in chunk)))
                    pending.append(
                        await send_or_dead_letter(
                            "fan-out", chunk[0][0], by_key_t, routing_key.encode(), value
                        )
                    )
            await finish(stream, events, pending)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def forget_revoked(app: faust.App, revoked: set[Any], **_: Any) -> None:
        """A partition that moves away takes its state with it: what this worker learned since the
        last checkpoint is dropped with its unacked messages, which the new owner re-reads."""
        mine = {tp.partition for tp in revoked if tp.topic == by_key_t.get_topic_name()}
        if mine:
            pipe.detection.forget(mine)
        if any(tp.topic == signals_t.get_topic_name() for tp in revoked):
            pipe.issues.forget()

    @app.timer(interval=s.detector_checkpoint_seconds)  # type: ignore[untyped-decorator]
    async def checkpoint_when_idle() -> None:
        """A quiet stream still gets its last messages checkpointed and acked."""
        if pipe.detection.unacked and pipe.detection.due() and not pipe.detection.in_flight:
            await retry_forever(pipe.detection.checkpoint)
        if pipe.issues.unacked and pipe.issues.due() and not pipe.issues.in_flight:
            await retry_forever(pipe.issues.checkpoint)

    @app.timer(interval=ISSUE_IDLE_SECONDS)  # type: ignore[untyped-decorator]
    async def issues_when_idle() -> None:
        """An issue whose moment has settled pages, and a quiet one closes, though no post comes."""
        issues = pipe.issues
        if issues.in_flight:
            return
        issues.in_flight += 1
        try:
            for issue_event in await issues.idle(utcnow()):
                await retry_forever(handle_issue_event, pipe, issue_event)
        finally:
            issues.in_flight -= 1

    @app.agent(by_key_t, name="detect")
    async def detect_agent(stream: Any) -> None:
        detection = pipe.detection
        async for events in stream.noack_take(s.store_batch_size, within=s.enrich_batch_seconds):
            good, bad = decode_all("detect", ObservationBatch, events)
            pending = [await dead_letter("detect", e, reason) for e, reason in bad]
            work = [(event.message.partition, batch.observations) for event, batch in good]
            metrics.MESSAGES_IN.labels("detect").inc(sum(len(o) for _, o in work))
            # The events are acked only with the checkpoint that holds their effect, and only once
            # what they produced is on the broker.
            detection.in_flight += 1
            try:
                await detect_batch(detection, stream, events, good, work, pending)
            finally:
                detection.in_flight -= 1
            if detection.due():
                await retry_forever(detection.checkpoint)

    async def detect_batch(
        detection: DetectionState,
        stream: Any,
        events: Sequence[Any],
        good: Sequence[tuple[Any, ObservationBatch]],
        work: Sequence[tuple[int, Sequence[Observation]]],
        pending: list[Awaitable[Any]],
    ) -> None:
        """Run the batch through the detectors; send its stream observations and signals to the
        issue stage and wait until the broker has them."""
        signals = await detection.process(stream, events, work)
        # The issue stage reads every post's stream observation and every signal, on one key
        # (one partition): the posts first, so a signal finds the posts it names.
        stream_posts = [
            (event, obs)
            for event, batch in good
            for obs in batch.observations
            if obs.key_kind == "stream" and obs.key == STREAM_KEY
        ]
        for chunk in chunked_by_size(stream_posts):
            if chunk:
                value = encode(IssueInput(posts=tuple(obs for _, obs in chunk)))
                pending.append(await signals_t.send(key=ISSUES_KEY, value=value))
        for signal in signals:
            metrics.SIGNALS.labels(signal.kind.value).inc()
            pending.append(await signals_t.send(key=ISSUES_KEY, value=encode(IssueInput(signal=signal))))
        if pending:
            await asyncio.gather(*pending)

    @app.agent(signals_t, name="alert")
    async def alert_agent(stream: Any) -> None:
        issues = pipe.issues
        async for events in stream.noack_take(s.store_batch_size, within=0.1):
            metrics.MESSAGES_IN.labels("alert").inc(len(events))
            good, bad = decode_all("alert", IssueInput, events)
            pending = [await dead_letter("alert", e, reason) for e, reason in bad]
            if pending:
                await asyncio.gather(*pending)
            # Acked with the checkpoint that holds their effect (dead letters included), and only
            # once their alerts are stored.
            issues.in_flight += 1
            try:
                for issue_event in await issues.process(stream, events, [item for _, item in good]):
                    await retry_forever(handle_issue_event, pipe, issue_event)
            finally:
                issues.in_flight -= 1
            # Not while the idle timer is turning events into alerts: its effect must be stored
            # before a checkpoint may include (and ack) it.
            if issues.due() and not issues.in_flight:
                await retry_forever(issues.checkpoint)

    @app.agent(dlq_t, name="dead-letters")
    async def dead_letter_agent(stream: Any) -> None:
        async for events in stream.noack_take(s.store_batch_size, within=s.store_batch_seconds):
            letters = []
            for event in events:
                try:
                    letters.append(decode(DeadLetter, event.value))
                except (ValidationError, ValueError):
                    log.error("unreadable dead letter at offset %d skipped", event.message.offset)
            await retry_forever(asyncio.to_thread, pipe.store.insert_dead_letters, letters)
            await finish(stream, events, [])


MAX_BY_KEY_BYTES = 400_000
ISSUES_KEY = b"issues"
ISSUE_IDLE_SECONDS = 1.0


def chunked_by_size(group: list[tuple[Any, Observation]], limit: int = MAX_BY_KEY_BYTES) -> list[list[Any]]:
    """Consecutive runs of a key's observations whose JSON stays under `limit` bytes."""
    chunks: list[list[Any]] = [[]]
    size = 0
    for item in group:
        observation = item[1]
        # An estimate: the fixed fields take well under 400 bytes; text and embedding are the bulk.
        length = (
            400 + len(observation.text.encode()) + len(observation.embedding) + 30 * len(observation.terms)
        )
        if chunks[-1] and size + length > limit:
            chunks.append([])
            size = 0
        chunks[-1].append(item)
        size += length
    return chunks


async def handle_issue_event(pipe: Pipeline, event: IssueEvent) -> None:
    """Publish the issue for the API, then open, update or resolve its one alert (Redis
    atomically, so a concurrent acknowledgement is kept; then the ClickHouse history). A crash
    between the steps repeats them harmlessly: the same event gives the same alert."""
    rules = pipe.alerting.current()
    issue = event.issue

    def decide(current: Alert | None) -> Alert | None:
        return apply_issue(
            current, event.kind, issue, now=utcnow(), watchlist=pipe.watchlist, rules=rules.severity
        )

    # The issue first: whoever reads the alert can open its issue.
    await pipe.issues.publish(issue)
    closing = event.kind in ("merged", "closed")
    alert, change = await pipe.alert_state.apply(
        issue.id, decide, update_event="resolved" if closing else "updated"
    )
    if alert is not None and change is not None:
        await asyncio.to_thread(pipe.store.upsert_alerts, [alert], event=change)
        metrics.ALERT_EVENTS.labels(change).inc()
        log.info("alert %s %s (issue %s, %s): %s", alert.id, change, issue.id, event.reason, alert.title)


def _never_sendable(exc: BaseException) -> bool:
    """A record the broker refuses for itself (too large), whatever the retries; Faust wraps it."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, MessageSizeTooLargeError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _log_retry(state: RetryCallState) -> None:
    metrics.STORE_RETRIES.inc()
    log.warning("retrying after %r", state.outcome.exception() if state.outcome else None)


async def retry_forever(operation: Callable[..., Awaitable[T]], *args: Any) -> T:
    """Retry an infrastructure call with backoff until it works; the batch waits (backpressure)."""
    async for attempt in AsyncRetrying(
        wait=wait_exponential(multiplier=0.1, max=10),
        retry=retry_if_exception_type(Exception),
        reraise=True,
        before_sleep=_log_retry,
    ):
        with attempt:
            return await operation(*args)
    raise AssertionError("unreachable")
