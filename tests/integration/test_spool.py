"""storage.spool on a real SQLite file and a real chdb engine: what is accepted stays until stored."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from clickhouse_connect.driver.client import Client

from pantau.domain import DeadLetter, EnrichedPost, Enrichment, Sentiment, utcnow
from pantau.normalise import make_envelope
from storage.migrate import Migrator
from storage.repository import ClickHouseStore
from storage.spool import Accepted, Spool, SpoolForwarder, SpoolFull, SpoolKeeper, SpoolWriter, accept
from streams.rollover import wait_until_stored
from tests.factories import make_post

LIMITS = {"max_text_chars": 10_000, "max_message_bytes": 262_144}


def envelope(post_id: str, text: str = "harga beras naik lagi") -> bytes:
    return make_envelope(
        {"platform": "x", "id": post_id, "text": text, "author": {"id": f"a{post_id}"},
         "created_at": utcnow().isoformat()},
        source="test",
    )  # fmt: skip


def writer(spool: Spool) -> SpoolWriter:
    return SpoolWriter(
        spool, max_text_chars=LIMITS["max_text_chars"], max_message_bytes=LIMITS["max_message_bytes"]
    )


def opened(path: Path, max_posts: int = 1000) -> Spool:
    return Spool(path, max_posts=max_posts).open_now()


def test_accepting_an_envelope_knows_the_id_its_post_is_stored_under() -> None:
    good = accept(envelope("7"), **LIMITS)
    refused = accept(b"not json", **LIMITS)
    assert good.post_id == "x:7"
    assert refused == Accepted(b"not json", None)


def test_posts_move_from_unsent_to_sent_to_gone(tmp_path: Path) -> None:
    spool = opened(tmp_path / "spool.sqlite3")
    spool.append_now([accept(envelope(str(i)), **LIMITS) for i in range(5)])

    unsent = spool.unsent_now(3)
    spool.mark_sent_now([row.seq for row in unsent])

    assert [row.post_id for row in unsent] == ["x:0", "x:1", "x:2"]
    assert spool.depth_now().posts == 5 and spool.depth_now().unsent == 2
    waiting = spool.waiting_now(0, 10)
    assert [row.post_id for row in waiting] == ["x:0", "x:1", "x:2"]
    assert spool.waiting_now(waiting[0].seq, 10) == waiting[1:]
    spool.remove_now([waiting[1].seq])
    assert spool.depth_now().posts == 4
    assert spool.resend_now() == 2
    assert [row.post_id for row in spool.unsent_now(10)] == ["x:0", "x:2", "x:3", "x:4"]
    assert {row.attempts for row in spool.unsent_now(10) if row.post_id in ("x:0", "x:2")} == {1}
    spool.close()


async def test_concurrent_appends_share_commits_and_each_returns_once_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = opened(tmp_path / "spool.sqlite3")
    commits: list[int] = []
    append_now = spool.append_now

    def counted(items: list[Accepted], *, sent: bool = False) -> None:
        commits.append(len(items))
        append_now(items, sent=sent)

    monkeypatch.setattr(spool, "append_now", counted)
    await asyncio.gather(*(spool.append([accept(envelope(f"{i}"), **LIMITS)]) for i in range(200)))

    assert sum(commits) == 200
    assert len(commits) < 50, commits  # grouped: one fsync for many requests
    reopened = opened(tmp_path / "spool.sqlite3")
    assert reopened.depth_now().posts == 200
    spool.close()
    reopened.close()


async def test_a_full_spool_refuses_only_the_request_that_does_not_fit(tmp_path: Path) -> None:
    spool = opened(tmp_path / "spool.sqlite3", max_posts=10)
    results = await asyncio.gather(
        spool.append([accept(envelope(f"a{i}"), **LIMITS) for i in range(6)]),
        spool.append([accept(envelope(f"b{i}"), **LIMITS) for i in range(6)]),
        spool.append([accept(envelope(f"c{i}"), **LIMITS) for i in range(4)]),
        return_exceptions=True,
    )
    assert [type(r) for r in results] == [type(None), SpoolFull, type(None)]
    assert spool.depth_now().posts == 10
    spool.close()


APPEND_THEN_DIE = """
import os, signal, sys
from pathlib import Path
from storage.spool import Spool, accept
spool = Spool(Path(sys.argv[1]), max_posts=10_000).open_now()
for i in range(20):
    spool.append_now([accept(f'{{"envelope": 1, "payload": {{"id": "{i}"}}}}'.encode(), max_text_chars=100,
                      max_message_bytes=10_000)])
    print(i, flush=True)  # acknowledged
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_what_was_acknowledged_survives_a_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite3"
    result = subprocess.run(
        [sys.executable, "-c", APPEND_THEN_DIE, str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == -signal.SIGKILL
    acknowledged = len(result.stdout.split())
    assert acknowledged == 20
    assert opened(path).depth_now().posts == acknowledged


def test_a_wal_cut_off_mid_record_keeps_the_commits_before_it(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite3"
    spool = opened(path)
    for i in range(3):
        spool.append_now([accept(envelope(f"{i}-{j}"), **LIMITS) for j in range(10)])
    wal = Path(f"{path}-wal")
    # Copy the files as a crash would leave them (no checkpoint at close), then cut the WAL.
    copy = tmp_path / "copy.sqlite3"
    copy.write_bytes(path.read_bytes())
    cut = wal.read_bytes()
    Path(f"{copy}-wal").write_bytes(cut[: len(cut) - 100])
    spool.close()

    kept = opened(copy).depth_now().posts

    assert kept == 20  # the last commit was cut: its frames fail their checksum and are ignored


def test_a_damaged_spool_is_set_aside_in_one_log_line_and_a_new_one_works(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "spool.sqlite3"
    path.write_bytes(b"this is not a database" * 100)

    with caplog.at_level(logging.ERROR, logger="storage.spool"):
        spool = opened(path)

    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and str(path) in errors[0] and "damaged" in errors[0], errors
    assert list(tmp_path.glob("spool.sqlite3.damaged-*"))
    spool.append_now([accept(envelope("1"), **LIMITS)])
    assert spool.depth_now().posts == 1
    spool.close()


async def test_the_forwarder_sends_in_order_marks_sent_and_keeps_posts_when_sending_fails(
    tmp_path: Path,
) -> None:
    spool = opened(tmp_path / "spool.sqlite3")
    await writer(spool).send_many([envelope(str(i)) for i in range(7)])
    sent: list[bytes] = []

    async def broker_down(values: list[bytes]) -> int:
        raise ConnectionError("broker down")

    async def broker(values: list[bytes]) -> int:
        sent.extend(values)
        return len(values)

    with pytest.raises(ConnectionError):
        await SpoolForwarder(spool, broker_down, batch=5).forward_once()
    assert spool.depth_now().unsent == 7
    forwarder = SpoolForwarder(spool, broker, batch=5)
    assert await forwarder.forward_once() == 5
    assert await forwarder.forward_once() == 2
    assert await forwarder.forward_once() == 0

    assert [orjson.loads(v)["payload"]["id"] for v in sent] == [str(i) for i in range(7)]
    assert spool.depth_now().unsent == 0
    spool.close()


async def test_the_forwarder_keeps_a_backlog_in_the_spool_once_enough_posts_are_in_the_pipeline(
    tmp_path: Path,
) -> None:
    spool = opened(tmp_path / "spool.sqlite3")
    await writer(spool).send_many([envelope(str(i)) for i in range(25)])
    sent: list[int] = []

    async def broker(values: list[bytes]) -> int:
        sent.append(len(values))
        return len(values)

    forwarder = SpoolForwarder(spool, broker, batch=4, max_in_flight=10)
    assert [await forwarder.forward_once() for _ in range(4)] == [4, 4, 2, 0]
    assert spool.in_flight_now() == 10
    assert spool.depth_now().unsent == 15

    # ClickHouse got three of them: the keeper removes them and as many more may go.
    spool.remove_now([row.seq for row in spool.waiting_now(0, 3)])
    assert await forwarder.forward_once() == 3
    assert await forwarder.forward_once() == 0
    assert sum(sent) == 13 and spool.in_flight_now() == 10
    spool.close()


async def test_waiting_for_the_sent_posts_to_be_stored_gives_up_only_without_progress(tmp_path: Path) -> None:
    spool = opened(tmp_path / "spool.sqlite3")
    await writer(spool).send_many([envelope(str(i)) for i in range(6)])
    spool.mark_sent_now([row.seq for row in spool.unsent_now(6)])

    async def stored_slowly() -> None:  # longer in all than the stall limit, but never stalled
        for row in spool.waiting_now(0, 6):
            await asyncio.sleep(0.15)
            spool.remove_now([row.seq])

    trimming = asyncio.create_task(stored_slowly())
    assert await wait_until_stored(spool, stall_seconds=0.5, poll_seconds=0.05)
    await trimming

    await writer(spool).send_many([envelope("stuck")])
    spool.mark_sent_now([row.seq for row in spool.unsent_now(1)])
    assert not await wait_until_stored(spool, stall_seconds=0.3, poll_seconds=0.05)
    spool.close()


async def test_the_keeper_removes_what_clickhouse_holds_and_recovery_sends_the_rest_again(
    tmp_path: Path, clickhouse: Client
) -> None:
    Migrator(clickhouse).up()
    store = ClickHouseStore(clickhouse)
    spool = opened(tmp_path / "spool.sqlite3")
    lost = envelope("lost")
    await writer(spool).send_many([envelope("stored"), lost, b"not json", b"[1, 2]"])
    await spool.mark_sent([row.seq for row in await spool.unsent(10)])
    # ClickHouse holds the first post, and the dead letter of the third (as the normaliser writes it).
    stored = make_post("harga beras naik lagi").model_copy(update={"id": "x:stored"})
    store.insert_new_posts(
        [EnrichedPost(post=stored, enrichment=Enrichment(lang="id", sentiment=Sentiment.neutral,
                                                         sentiment_score=0.5), enriched_at=utcnow())]
    )  # fmt: skip
    store.insert_dead_letters(
        [DeadLetter(stage="normalise", reason="not JSON", topic="posts.raw", partition=0, offset=3,
                    raw="not json", failed_at=utcnow() - timedelta(seconds=1))]
    )  # fmt: skip
    keeper = SpoolKeeper(spool, store, dlq_max_raw_bytes=65536, batch=2)  # several passes

    again = await keeper.recover()

    left = await spool.unsent(10)
    assert again == 2
    assert [(row.post_id, row.envelope) for row in left] == [("x:lost", lost), (None, b"[1, 2]")]
    assert spool.depth_now().posts == 2
    spool.close()


async def test_under_a_steady_stream_the_keeper_comes_back_to_posts_stored_after_it_checked_them(
    tmp_path: Path, clickhouse: Client
) -> None:
    """Found by the soak: new posts kept the tail from running dry, so a pass never ended and the
    posts checked while still on their way stayed in the spool for as long as the stream went on."""
    Migrator(clickhouse).up()
    store = ClickHouseStore(clickhouse)
    spool = opened(tmp_path / "spool.sqlite3")
    keeper = SpoolKeeper(spool, store, dlq_max_raw_bytes=65536, batch=2)
    on_their_way: list[str] = []
    for step in range(8):
        ids = [f"{step}-{i}" for i in range(2)]  # two new posts arrive before every check
        await writer(spool).send_many([envelope(i) for i in ids])
        await spool.mark_sent([row.seq for row in await spool.unsent(10)])
        store.insert_new_posts([stored_item(f"x:{i}") for i in on_their_way])  # they land a step late
        on_their_way = ids
        await keeper.trim_once()

    left = {row.post_id for row in await spool.waiting(0, 100)}
    assert left <= {"x:6-0", "x:6-1", "x:7-0", "x:7-1"}, sorted(left)
    spool.close()


def stored_item(post_id: str) -> EnrichedPost:
    post = make_post("harga beras naik lagi").model_copy(update={"id": post_id})
    return EnrichedPost(
        post=post, enrichment=Enrichment(lang="id", sentiment=Sentiment.neutral, sentiment_score=0.5),
        enriched_at=utcnow(),
    )  # fmt: skip


def test_pantau_keeps_no_spool_file_open_after_close(tmp_path: Path) -> None:
    spool = opened(tmp_path / "spool.sqlite3")
    spool.close()
    holders = [
        fd
        for fd in os.listdir("/proc/self/fd")
        if os.path.realpath(f"/proc/self/fd/{fd}").startswith(str(tmp_path / "spool.sqlite3"))
    ]
    assert holders == []
