"""The news feed connector against a loopback HTTP server speaking RSS and Atom: conditional GETs,
429 with Retry-After, a connection cut mid-document, malformed documents and articles, duplicates,
out-of-order items, and a restart that neither loses nor repeats."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from redis.asyncio import Redis

from api.routes.operations import reported_status
from config.sources import FeedSource
from config.watchlist import load_watchlist
from nlp.targets import TargetMatcher
from pantau import bus
from pantau.normalise import InvalidPost, normalise
from service.engines import TansuBroker, ValkeyServer
from storage.positions import Positions
from storage.source_board import SourceReport, publish, read
from streams.connectors.feeds import FeedConnector, FeedError, keyword_filter
from tests.environment import clean_environment
from tests.integration.sources_harness import LoopbackServer, RecordingSink, Reply, Request

WATCHLIST = Path(__file__).resolve().parents[2] / "config" / "watchlist.yaml"


def rss(items: Iterable[tuple[str, str, str, str]], title: str = "Kabar Politik") -> bytes:
    """items: (guid, title, summary, RFC 822 date)."""
    body = "".join(
        f"<item><guid>{guid}</guid><title>{t}</title><link>https://news.example/{guid}</link>"
        f"<description><![CDATA[{summary}]]></description><pubDate>{date}</pubDate></item>"
        for guid, t, summary, date in items
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>{title}</title>'
        f"<language>id</language><link>https://news.example/</link>{body}</channel></rss>"
    ).encode()


ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>World Desk</title>
<entry><id>urn:uuid:1</id><title>Sari Lestari visits Jakarta flood victims</title>
<link href="https://world.example/a/1"/><updated>2026-11-20T08:00:00Z</updated>
<summary type="html">&lt;p&gt;The candidate &lt;b&gt;promised&lt;/b&gt; new drains.&lt;/p&gt;
</summary></entry>
</feed>"""

DAY = "Fri, 20 Nov 2026"
ITEMS = [
    ("a3", "Raka Wibisana kampanye di Medan", "<p>Ribuan warga <b>hadir</b>.</p>", f"{DAY} 10:00:00 +0700"),
    ("a1", "Harga beras naik lagi", "Pasar ramai.", f"{DAY} 08:00:00 +0700"),  # names no target
    ("a2", "Bima Hartono dikritik soal subsidi", "Debat memanas.", f"{DAY} 09:00:00 +0700"),
]


class FeedServer(LoopbackServer):
    """Serves whatever `respond(path, request_headers)` says."""

    def __init__(self) -> None:
        super().__init__()
        self.respond: Callable[[str, dict[str, str]], Reply] = lambda path, headers: Reply(404)

    def answer(self, request: Request) -> Reply:
        return self.respond(request.path, request.headers)

    @property
    def requests(self) -> list[tuple[str, dict[str, str]]]:
        return [(r.path, r.headers) for r in self.received]


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as feeds:
        yield feeds


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def connector(
    server: FeedServer, tmp_path: Path, sink: RecordingSink, *paths: str, clock: Clock | None = None
) -> FeedConnector:
    config = FeedSource.model_validate(
        {"name": "berita", "kind": "feed", "urls": [f"{server.url}{p}" for p in paths]}
    )
    matcher = TargetMatcher(load_watchlist(WATCHLIST))
    return FeedConnector(
        config,
        sink,
        Positions(tmp_path / "positions.sqlite3"),
        keyword_filter(config.keywords, also=lambda text: bool(matcher.match(text))),
        clock=clock or Clock(),
    )


async def test_articles_naming_a_target_become_posts_oldest_first(server: FeedServer, tmp_path: Path) -> None:
    server.respond = lambda path, headers: Reply(200, rss(ITEMS), {"ETag": '"v1"'})
    sink = RecordingSink()
    assert await connector(server, tmp_path, sink, "/politik.xml").poll() == 2

    assert [text.splitlines()[0] for text in sink.texts()] == [
        "Bima Hartono dikritik soal subsidi",
        "Raka Wibisana kampanye di Medan",
    ]
    post = normalise(sink.envelopes[1])
    assert post.platform == "news" and post.source == "berita" and post.lang == "id"
    assert post.text == "Raka Wibisana kampanye di Medan\n\nRibuan warga hadir."
    assert post.url == "https://news.example/a3"
    assert post.author_handle == "Kabar Politik" and post.author_id == "127.0.0.1"
    assert post.created_at.isoformat() == "2026-11-20T03:00:00+00:00"


async def test_an_unchanged_feed_costs_one_304_and_a_changed_one_sends_only_what_is_new(
    server: FeedServer, tmp_path: Path
) -> None:
    version = {"etag": '"v1"', "items": ITEMS}

    def respond(path: str, headers: dict[str, str]) -> Reply:
        if headers.get("if-none-match") == version["etag"]:
            return Reply(304)
        return Reply(200, rss(version["items"]), {"ETag": str(version["etag"])})  # type: ignore[arg-type]

    server.respond = respond
    sink = RecordingSink()
    feeds = connector(server, tmp_path, sink, "/politik.xml")
    assert await feeds.poll() == 2
    assert await feeds.poll() == 0
    assert server.requests[-1][1]["if-none-match"] == '"v1"'

    new = ("a4", "Sari Lestari unggul di survei", "Survei terbaru.", f"{DAY} 11:00:00 +0700")
    version.update(etag='"v2"', items=[new, *ITEMS])
    assert await feeds.poll() == 1
    assert [text.splitlines()[0] for text in sink.texts()][-1] == "Sari Lestari unggul di survei"


async def test_a_restart_neither_loses_nor_repeats(server: FeedServer, tmp_path: Path) -> None:
    """A server that ignores conditional GETs: the remembered article ids do the work."""
    served = [ITEMS]
    server.respond = lambda path, headers: Reply(200, rss(served[-1]))
    sink = RecordingSink()
    assert await connector(server, tmp_path, sink, "/politik.xml").poll() == 2

    new = ("a5", "Raka Wibisana menjawab kritik", "Konferensi pers.", f"{DAY} 12:00:00 +0700")
    served.append([new, *ITEMS])
    restarted = connector(server, tmp_path, sink, "/politik.xml")
    assert await restarted.poll() == 1
    ids = [normalise(e).id for e in sink.envelopes]
    assert len(ids) == len(set(ids)) == 3


async def test_a_429_waits_as_long_as_retry_after_says_and_a_failing_feed_does_not_hold_others(
    server: FeedServer, tmp_path: Path
) -> None:
    def respond(path: str, headers: dict[str, str]) -> Reply:
        if path == "/busy.xml":
            return Reply(429, b"slow down", {"Retry-After": "120"})
        return Reply(200, rss(ITEMS))

    server.respond = respond
    clock = Clock()
    sink = RecordingSink()
    feeds = connector(server, tmp_path, sink, "/busy.xml", "/politik.xml", clock=clock)
    busy, fine = (f"{server.url}/busy.xml", f"{server.url}/politik.xml")
    assert await feeds.poll_url(busy) == 0
    assert feeds.schedules[busy].due == clock.now + 120
    assert await feeds.poll_url(fine) == 2
    assert feeds.schedules[fine].due == clock.now + feeds.config.poll_seconds


async def test_failures_back_off_exponentially_and_a_cut_connection_loses_nothing(
    server: FeedServer, tmp_path: Path
) -> None:
    replies = [Reply(500), Reply(500), Reply(200, rss(ITEMS), cut_after=200), Reply(200, rss(ITEMS))]
    server.respond = lambda path, headers: replies.pop(0)
    clock = Clock()
    sink = RecordingSink()
    feeds = connector(server, tmp_path, sink, "/politik.xml", clock=clock)
    url = f"{server.url}/politik.xml"
    waits = []
    for _ in range(3):
        assert await feeds.poll_url(url) == 0
        waits.append(feeds.schedules[url].due - clock.now)
    # 5 s, 10 s, 20 s, each jittered by [0.5, 1.5).
    assert 2.5 <= waits[0] < 7.5 and 5 <= waits[1] < 15 and 10 <= waits[2] < 30
    assert feeds.schedules[url].failures == 3
    assert await feeds.poll_url(url) == 2
    assert feeds.schedules[url].failures == 0


async def test_a_page_that_is_not_a_feed_is_a_clear_error(server: FeedServer, tmp_path: Path) -> None:
    server.respond = lambda path, headers: Reply(200, b"<html><body>Maintenance</body></html>")
    feeds = connector(server, tmp_path, RecordingSink(), "/politik.xml")
    with pytest.raises(FeedError, match="not a feed") as caught:
        await feeds.poll()
    assert caught.value.kind == "not_a_feed"


async def test_an_article_without_id_or_text_reaches_the_dead_letters_with_its_reason(
    server: FeedServer, tmp_path: Path
) -> None:
    broken = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
        b"<item><pubDate>x</pubDate></item></channel></rss>"
    )
    server.respond = lambda path, headers: Reply(200, broken)
    sink = RecordingSink()
    feeds = connector(server, tmp_path, sink, "/politik.xml")
    assert await feeds.poll() == 1
    with pytest.raises(InvalidPost, match="id"):
        normalise(sink.envelopes[0])
    assert await feeds.poll() == 0  # dead-lettered once, not at every poll


async def test_a_feed_failing_in_any_way_backs_off_alone(
    server: FeedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.respond = lambda path, headers: Reply(200, rss(ITEMS))
    clock = Clock()
    feeds = connector(server, tmp_path, RecordingSink(), "/politik.xml", clock=clock)

    async def broken(*args: object) -> int:
        raise OverflowError("date value out of range")

    monkeypatch.setattr(feeds.sink, "send_many", broken)
    url = f"{server.url}/politik.xml"
    assert await feeds.poll_url(url) == 0
    assert feeds.schedules[url].failures == 1 and feeds.schedules[url].due > clock.now


async def test_atom_feeds_and_keywords_from_the_source(server: FeedServer, tmp_path: Path) -> None:
    server.respond = lambda path, headers: Reply(200, ATOM)
    sink = RecordingSink()
    assert await connector(server, tmp_path, sink, "/world.atom").poll() == 1
    post = normalise(sink.envelopes[0])
    assert post.text == "Sari Lestari visits Jakarta flood victims\n\nThe candidate promised new drains."
    assert post.url == "https://world.example/a/1" and post.author_handle == "World Desk"

    drains_only = keyword_filter(["drains"])
    assert drains_only("new DRAINS promised") and not drains_only("drainspotting")


# -- the console script: `pantau sources`, and a feed running inside `pantau up` --------------------

PANTAU = str(Path(sys.executable).parent / "pantau")
ADMIN_KEY = "feed-test-admin-key-0123456789"


def sources_file(tmp_path: Path, server: FeedServer, poll_seconds: float = 1.0) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(
        "sources:\n"
        "  - name: berita\n"
        "    kind: feed\n"
        f"    poll_seconds: {poll_seconds}\n"
        f"    urls: ['{server.url}/politik.xml']\n"
        "  - name: mati\n"
        "    kind: feed\n"
        "    enabled: false\n"
        "    urls: ['http://127.0.0.1:9/none.xml']\n"
    )
    return path


def pantau(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = clean_environment(tmp_path / "var", **env)
    return subprocess.run(
        [PANTAU, *args], env=environment, capture_output=True, text=True, timeout=120, check=False
    )


def test_sources_test_prints_normalised_posts_and_marks_nothing_as_read(
    server: FeedServer, tmp_path: Path
) -> None:
    server.respond = lambda path, headers: Reply(200, rss(ITEMS))
    env = {"PANTAU_SOURCES_PATH": str(sources_file(tmp_path, server))}
    listed = pantau(tmp_path, "sources", "list", **env)
    assert listed.returncode == 0 and "berita\tfeed\tenabled" in listed.stdout
    assert "mati\tfeed\tdisabled" in listed.stdout

    for _ in range(2):  # the second run prints the same: the test kept no position
        result = pantau(tmp_path, "sources", "test", "berita", "--limit", "1", **env)
        assert result.returncode == 0, result.stderr
        [line] = result.stdout.splitlines()
        assert json.loads(line)["text"].startswith("Bima Hartono dikritik")
        assert "2 posts passed the filter, 1 printed" in result.stderr

    down = pantau(tmp_path, "sources", "test", "mati", **env)
    assert down.returncode == 2 and down.stdout == ""
    assert down.stderr.startswith("pantau sources test: mati: network: ")
    unknown = pantau(tmp_path, "sources", "test", "nope", **env)
    assert unknown.returncode == 2 and "config: no source 'nope'" in unknown.stderr


def test_a_bad_sources_file_stops_start_up_naming_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "sources.yaml"
    bad.write_text("sources:\n  - name: berita\n    kind: feed\n    urls: [ftp://x]\n")
    result = pantau(tmp_path, "up", PANTAU_SOURCES_PATH=str(bad))
    assert result.returncode == 2
    assert f"pantau: {bad}:4: sources.0.urls.0: URL scheme" in result.stderr


def get_json(url: str) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def wait_for(check: Callable[[], Any], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            found = check()
            if found:
                return found
        time.sleep(0.5)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


STORED_IDS = (
    "import json, sys; from storage.client import open_client; c = open_client(sys.argv[1]); "
    "print(json.dumps([r[0] for r in c.query('SELECT native_id FROM posts FINAL').result_rows]))"
)


def stored_ids(data_dir: Path) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", STORED_IDS, f"chdb://{(data_dir / 'clickhouse').resolve()}"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return list(json.loads(result.stdout))


def test_a_feed_runs_inside_pantau_up_and_a_restart_neither_loses_nor_repeats(
    server: FeedServer, tmp_path: Path
) -> None:
    served = [ITEMS]
    server.respond = lambda path, headers: Reply(200, rss(served[-1]))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    environment = clean_environment(
        tmp_path / "var",
        PANTAU_API_PORT=str(port),
        PANTAU_ADMIN_KEY=ADMIN_KEY,
        PANTAU_SOURCES_PATH=str(sources_file(tmp_path, server)),
    )

    def stored_here() -> float:
        with urllib.request.urlopen(f"{base}/metrics", timeout=10) as response:
            lines = response.read().decode().splitlines()
        return sum(float(line.split()[1]) for line in lines if line.startswith("pantau_posts_stored_total "))

    def run_until(posts: int) -> dict[str, Any]:
        """Until the feed has brought `posts` and ClickHouse holds them, then a clean stop."""
        with (tmp_path / "up.log").open("ab") as log:
            process = subprocess.Popen([PANTAU, "up"], env=environment, stdout=log, stderr=log)
            try:
                wait_for(lambda: stored_here() >= posts, 120, f"{posts} posts from the feed stored")
                [source] = [s for s in get_json(f"{base}/sources") if s["name"] == "berita"]
                process.send_signal(signal.SIGTERM)
                assert process.wait(45) == 0
                return dict(source)
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait(10)

    first = run_until(2)
    assert first["status"]["posts"] == 2 and first["status"]["live"]["up"] is True
    served.append([("a6", "Sari Lestari berdebat", "Debat kedua.", f"{DAY} 13:00:00 +0700"), *ITEMS])
    # Restarted, the source sends only the new article: it remembers the others.
    assert run_until(1)["status"]["posts"] == 1
    ids = stored_ids(tmp_path / "var")
    assert len(ids) == len(set(ids)) == 3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_health_published_by_one_process_is_read_by_another(valkey: ValkeyServer) -> None:
    redis = Redis.from_url(valkey.url)
    try:
        now = time.time()
        fresh = SourceReport(
            "feed", False, 3, 1, "http://x/f.xml: HTTP 503", 40.0, 12.0, now - 5, now - 300, now
        )
        gone = SourceReport("x", True, 0, 0, "", 0.0, 1.0, now - 900, now - 900, now - 600)
        await publish(redis, {"berita": fresh, "lama": gone})
        assert await read(redis) == {"berita": fresh}  # a report older than two minutes: its runner is gone
        status = reported_status("berita", fresh, now)
        assert status.posts == 12.0 and status.idle_seconds == 5.0 and status.lag_seconds == 300.0
        assert status.live is not None and status.live.up is False and status.live.retry_in_seconds == 40.0
    finally:
        await redis.aclose()


def test_pantau_collect_runs_one_source_into_kafka_and_publishes_its_health(
    server: FeedServer, tmp_path: Path, broker: TansuBroker, valkey: ValkeyServer
) -> None:
    server.respond = lambda path, headers: Reply(200, rss(ITEMS))
    environment = clean_environment(
        tmp_path / "var",
        PANTAU_KAFKA_BROKERS=broker.brokers,
        PANTAU_REDIS_URL=valkey.url,
        PANTAU_SOURCES_PATH=str(sources_file(tmp_path, server)),
    )
    asyncio.run(bus.ensure_topics(broker.brokers, 1))
    log = (tmp_path / "collect.log").open("wb")
    process = subprocess.Popen([PANTAU, "collect", "berita"], env=environment, stdout=log, stderr=log)
    try:

        async def raw_messages() -> list[bytes]:
            consumer = AIOKafkaConsumer(
                "posts.raw", bootstrap_servers=broker.brokers, auto_offset_reset="earliest", group_id=None
            )
            await consumer.start()
            try:
                found: list[bytes] = []
                deadline = time.monotonic() + 60
                while len(found) < 2 and time.monotonic() < deadline:
                    batch = await consumer.getmany(timeout_ms=1000)
                    found += [m.value for messages in batch.values() for m in messages if m.value]
                return found
            finally:
                await consumer.stop()

        texts = sorted(normalise(m).text.splitlines()[0] for m in asyncio.run(raw_messages()))
        assert texts == ["Bima Hartono dikritik soal subsidi", "Raka Wibisana kampanye di Medan"]

        async def published() -> dict[str, SourceReport]:
            redis = Redis.from_url(valkey.url)
            try:
                return await read(redis)
            finally:
                await redis.aclose()

        def reported_up() -> SourceReport | None:
            report = asyncio.run(published()).get("berita")
            return report if report is not None and report.up else None

        report = wait_for(reported_up, 30, "the health report")
        assert report.kind == "feed" and report.posts == 2
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
        assert "pantau collect: berita stopped" in (tmp_path / "collect.log").read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        log.close()
