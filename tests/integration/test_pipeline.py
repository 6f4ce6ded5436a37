"""The whole path, posts.raw to ClickHouse and alerts, on the real broker, Valkey and chdb."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import orjson
from clickhouse_connect.driver.client import Client
from prometheus_client import REGISTRY

from config.settings import Settings
from detectors.ensemble import DetectorSet
from pantau import bus
from pantau.domain import utcnow
from tests.integration.harness import Harness, issue_posts, post, utc, wait_for

START = utc(2026, 11, 20, 10, 0)


async def test_every_post_is_stored_once_even_when_sent_twice(harness: Harness) -> None:
    posts = [
        post(str(i), f"Pak Raka hebat nomor {i} #uji", START + timedelta(seconds=i), author=f"a{i % 37}")
        for i in range(300)
    ]
    await harness.send(posts)
    await harness.send(posts[:100])  # a collector repeating itself within a batch
    await harness.start_worker()

    async def all_stored() -> bool:
        return await harness.post_count() >= 300

    await wait_for(all_stored, seconds=40, what="300 posts stored")
    duplicates_before = sample("pantau_posts_duplicate_total")
    # Later, the same posts again: already in ClickHouse, in other batches.
    await harness.send(posts)

    async def second_copies_seen() -> bool:
        return sample("pantau_posts_duplicate_total") - duplicates_before >= 300

    await wait_for(second_copies_seen, seconds=40, what="the second copies to reach the store stage")

    c = harness.client
    assert c.command("SELECT count() FROM posts") == 300  # physical rows, without FINAL
    assert c.command("SELECT uniqExact(id) FROM posts") == 300
    assert c.command("SELECT uniqExactMerge(posts) FROM minute_stats WHERE target = ''") == 300
    assert c.command("SELECT count() FROM post_targets WHERE target = 'raka-wibisana'") == 300
    stored = c.query("SELECT id, source, raw, sentiment, targets FROM posts WHERE id = 'x:7'").result_rows
    assert stored[0][0] == "x:7" and stored[0][1] == "test"
    assert orjson.loads(stored[0][2])["text"] == "Pak Raka hebat nomor 7 #uji"
    assert stored[0][3] == "positive" and stored[0][4] == ["raka-wibisana"]


async def test_a_message_too_large_for_the_pipeline_goes_to_the_dlq(harness: Harness) -> None:
    limit = harness.settings.max_post_message_bytes
    huge = post("huge", '"' * limit, START)  # quotes double when the raw payload is re-escaped
    await harness.send([post("before", "sebelum", START), huge, post("after", "sesudah", START)])
    await harness.start_worker()

    async def both_stored() -> bool:
        return await harness.post_count() == 2

    await wait_for(both_stored, what="the posts around the oversized one")
    (letter,) = await harness.read_topic(bus.DLQ, expect=1)
    assert letter["stage"] == "normalise" and f"over the {limit}-byte limit" in letter["reason"]


async def test_malformed_messages_go_to_the_dlq_and_the_stream_goes_on(harness: Harness) -> None:
    good = [post("g1", "pertama", START), post("g2", "kedua", START + timedelta(seconds=1))]
    await harness.send_raw(
        [
            bus_envelope(good[0]),
            b"{not json",
            orjson.dumps({"platform": "x", "id": "m1", "text": "tanpa waktu", "author": {"id": "z"}}),
            orjson.dumps([1, 2, 3]),
            bus_envelope(good[1]),
        ]
    )
    await harness.start_worker()

    async def good_stored() -> bool:
        return await harness.post_count() == 2

    await wait_for(good_stored, what="both good posts stored")
    letters = await harness.read_topic(bus.DLQ, expect=3)
    assert len(letters) == 3
    reasons = sorted(letter["reason"] for letter in letters)
    assert any(r.startswith("not JSON") for r in reasons)
    assert any("created_at" in r for r in reasons)
    assert any("expected a JSON object" in r for r in reasons)
    assert all(letter["stage"] == "normalise" and letter["topic"] == bus.RAW for letter in letters)
    assert {letter["raw"] for letter in letters} >= {"{not json", "[1,2,3]"}

    async def dead_letters_stored() -> bool:
        return bool(harness.client.command("SELECT count() FROM dead_letters") == 3)

    await wait_for(dead_letters_stored, what="dead letters in ClickHouse")


async def test_a_worker_restarted_mid_stream_loses_nothing_and_duplicates_nothing(harness: Harness) -> None:
    total = 6000
    posts = [post(f"r{i}", f"posting {i}", START + timedelta(milliseconds=100 * i)) for i in range(total)]
    await harness.send(posts)
    await harness.start_worker()

    async def some_stored() -> bool:
        return await harness.post_count() > 0

    await wait_for(some_stored, interval=0.02, what="the first stored batch")
    await harness.stop_worker()  # mid-stream: batches in flight, offsets partly committed
    after_stop = await harness.post_count()
    assert 0 < after_stop < total, "the restart must happen mid-stream for this test to mean anything"

    await harness.start_worker()

    async def all_stored() -> bool:
        return await harness.post_count() >= total

    await wait_for(all_stored, seconds=60, what="every post stored after the restart")
    await asyncio.sleep(1.0)
    assert harness.client.command("SELECT count() FROM posts") == total
    assert harness.client.command("SELECT uniqExact(id) FROM posts") == total


async def test_a_burst_becomes_one_issue_with_one_alert_in_redis_and_clickhouse(harness: Harness) -> None:
    start = utcnow().replace(microsecond=0) - timedelta(minutes=30)
    # The burst ends the stream: its issue pages as time passes with no post.
    await harness.send(issue_posts("ujiburst", start))
    await harness.start_worker()

    async def alert_stored() -> bool:
        return bool(harness.client.command("SELECT count() FROM alerts FINAL WHERE key_kind = 'issue'"))

    await wait_for(alert_stored, seconds=30, what="an issue's alert")
    row = harness.client.query(
        "SELECT id, kind, key_kind, key, status, title, numbers['posts'], length(evidence) FROM alerts FINAL"
    ).result_rows
    assert len(row) == 1, row  # one alert for the happening, not one per key it moved
    alert_id, kind, key_kind, issue_id, status, title, posts, evidence = row[0]
    assert (kind, key_kind, status) == ("volume_burst", "issue", "open")
    assert "#ujiburst" in title or "ramai" in title, title
    assert posts >= 8 and evidence >= 3
    live = await harness.redis.get(f"pantau:alert:{alert_id}")
    assert live is not None and orjson.loads(live)["fingerprint"] == issue_id
    issue = await harness.redis.get(f"pantau:{harness.settings.app_id}:issue:{issue_id}")
    assert issue is not None and orjson.loads(issue)["posts"] >= 8

    # The warehouse has the issue for analysts and dashboards, and its posts (the checkpoint's).
    async def posts_stored() -> bool:
        query = "SELECT count() FROM issue_posts FINAL WHERE issue_id = {id:String}"
        return bool(harness.client.command(query, parameters={"id": issue_id}) >= 8)

    await wait_for(posts_stored, seconds=30, what="the issue's posts in the warehouse")
    stored = harness.store.stored_issue(issue_id)
    assert stored is not None and stored.label and stored.posts >= 8

    async def all_are_stored_posts() -> bool:
        query = (
            "SELECT count() FROM issue_posts WHERE issue_id = {id:String} "
            "AND post_id NOT IN (SELECT id FROM posts)"
        )
        return bool(harness.client.command(query, parameters={"id": issue_id}) == 0)

    await wait_for(all_are_stored_posts, seconds=30, what="the issue's posts among the stored posts")


def sample(name: str) -> float:
    """A counter of this process's worker (the harness runs it in the test's event loop)."""
    return REGISTRY.get_sample_value(name) or 0.0


def bus_envelope(p: dict[str, object]) -> bytes:
    from pantau.normalise import make_envelope

    return make_envelope(p, source="test")


async def test_a_record_the_broker_refuses_goes_to_the_dlq_and_its_batch_goes_on(
    harness: Harness, settings: Settings
) -> None:
    # Allow a message the normaliser takes but whose Post, with the raw payload escaped inside it,
    # is over the broker's 1 MiB per message.
    harness.settings = settings.model_copy(update={"max_post_message_bytes": 524288})
    # 261,000 quotes: about 522 kB in the envelope (each escaped once), over 1 MiB in the Post
    # (escaped twice in its raw copy).
    big = post("besar", '"' * 261_000, START)
    await harness.send([post("kecil", "kecil", START), big, post("lagi", "lagi", START)])
    await harness.start_worker()

    async def both_stored() -> bool:
        return await harness.post_count() == 2

    await wait_for(both_stored, what="the posts around the one the broker refused")
    (letter,) = await harness.read_topic(bus.DLQ, expect=1)
    assert letter["stage"] == "normalise" and "cannot send to posts" in letter["reason"]


async def test_detectors_resume_from_their_checkpoint_after_a_restart(harness: Harness) -> None:
    """The detect stage saves its detectors with its offsets; a new worker starts from them instead
    of relearning every baseline, and re-reads only what came after the checkpoint."""
    harness.settings = harness.settings.model_copy(update={"detector_checkpoint_seconds": 0.2})
    posts = [
        post(f"c{i}", f"Pak Raka meninjau pasar nomor {i}", START + timedelta(minutes=i), author=f"a{i}")
        for i in range(120)
    ]
    await harness.send(posts)
    await harness.start_worker()
    prefix = f"pantau:{harness.settings.app_id}:detectors:"
    key = ("target", "raka-wibisana")

    async def target_posts_checkpointed() -> int:
        saved = [await harness.redis.get(k) for k in await harness.redis.keys(prefix + "*")]
        states = [DetectorSet.loads(data) for data in saved if data]
        return sum(
            len(s.volume._keys[key].recent_ids) for s in states if s is not None and key in s.volume._keys
        )

    async def checkpointed() -> bool:
        return await target_posts_checkpointed() == 120

    await wait_for(checkpointed, seconds=40, what="a checkpoint holding every post")
    await asyncio.sleep(2.5)  # the acks made with it reach a commit (every second)
    await harness.stop_worker()
    consumed_before = REGISTRY.get_sample_value("pantau_stage_messages_total", {"stage": "detect"}) or 0.0

    await harness.start_worker()
    assert harness.running is not None
    detection = harness.running.detection
    await harness.send(
        [post("c-after", "Pak Raka lagi nomor 999", START + timedelta(minutes=121), author="z")]
    )

    async def resumed() -> bool:
        state = next((s for s in detection.sets.values() if key in s.volume._keys), None)
        return state is not None and len(state.volume._keys[key].recent_ids) == 121

    await wait_for(resumed, seconds=40, what="the restarted worker to add the new post to the restored state")
    assert detection.restored > 0
    consumed = (
        REGISTRY.get_sample_value("pantau_stage_messages_total", {"stage": "detect"}) or 0.0
    ) - consumed_before
    # The new post's few observations, not the 120 posts' hundreds again.
    assert consumed < 20, consumed


async def test_a_post_older_than_the_retention_is_dead_lettered_not_counted_as_stored(
    settings: Settings, clickhouse: Client
) -> None:
    recent = datetime.now(UTC) - timedelta(days=1)
    archive = [post("2013", "arsip lama", utc(2013, 6, 1)), post("now", "kabar baru", recent)]
    async with Harness(
        settings=settings.model_copy(update={"posts_ttl_days": 400}), client=clickhouse
    ) as old:
        await old.send(archive)
        await old.start_worker()

        async def both_handled() -> bool:
            return bool(
                await old.post_count() == 1 and clickhouse.command("SELECT count() FROM dead_letters") == 1
            )

        await wait_for(both_handled, what="the recent post stored and the old one dead-lettered")
        (reason,) = clickhouse.query("SELECT reason FROM dead_letters").result_rows[0]
        assert "older than the 400-day retention" in reason and "PANTAU_BACKFILL" in reason
        assert clickhouse.command("SELECT count() FROM posts WHERE native_id = '2013'") == 0
        assert clickhouse.command("SELECT uniqExactMerge(posts) FROM minute_stats WHERE target = ''") == 1
