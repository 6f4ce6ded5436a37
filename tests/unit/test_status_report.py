"""service.status_report: GET /status laid out for a person."""

from __future__ import annotations

from service.status_report import describe_status

REPORT = {
    "at": "2026-12-01T23:50:00Z",
    "stages": [
        {"stage": "normalise", "topic": "posts.raw", "lag": 1200, "per_second": 55.25, "consumed": 30000.0},
        {"stage": "enrich", "topic": "posts", "lag": None, "per_second": None, "consumed": 0.0},
    ],
    "dead_letters": 3.0,
    "spool": {"enabled": True, "posts": 1500, "unsent": 12, "oldest_seconds": 42.0},
    "broker": {
        "reachable": True,
        "rss_bytes": 180 * 2**20,
        "messages_held": {"posts.raw": 30000, "posts": 0},
    },
    "engines": {"pantau": "0.1.0", "clickhouse": "25.8.1", "redis": "valkey 9.0.1"},
}


def test_the_report_reads_as_a_table_and_a_few_lines() -> None:
    text = describe_status(REPORT, "http://127.0.0.1:8000")
    lines = text.splitlines()
    assert lines[0] == "Pantau at http://127.0.0.1:8000, 2026-12-01T23:50:00Z"
    assert lines[3].split() == ["normalise", "posts.raw", "1,200", "55.2", "30,000"]
    assert lines[4].split() == ["enrich", "posts", "-", "-", "0"]  # unknown is '-', not 0
    assert "spool         1,500 posts waiting for ClickHouse (12 unsent), oldest 42 s" in lines
    assert "broker        reachable; RSS 180 MiB, holds posts.raw 30,000, posts 0" in lines
    assert lines[-1] == "engines       pantau 0.1.0, clickhouse 25.8.1, redis valkey 9.0.1"


def test_a_missing_spool_and_an_unreachable_broker_say_so() -> None:
    report = {
        **REPORT,
        "spool": {"enabled": False, "posts": 0, "unsent": 0, "oldest_seconds": None},
        "broker": {"reachable": False, "rss_bytes": None, "messages_held": {}},
    }
    text = describe_status(report, "http://x")
    assert "spool         off" in text
    assert "broker        UNREACHABLE; holds -" in text


def test_a_broker_whose_topics_rolled_over_gives_its_generation() -> None:
    broker = {**REPORT["broker"], "generation": 3}  # type: ignore[dict-item]
    text = describe_status({**REPORT, "broker": broker}, "http://x")
    assert "broker        reachable; RSS 180 MiB, holds posts.raw 30,000, posts 0, topic generation 3" in text


def test_each_source_gets_a_line_with_its_posts_and_how_fresh_they_are() -> None:
    sources = [{"source": "demo", "posts": 1234.0, "idle_seconds": 2.4, "lag_seconds": 61.0}]
    text = describe_status({**REPORT, "sources": sources}, "http://x")
    assert "source        demo: 1,234 posts, newest arrived 2 s ago, 61 s old" in text.splitlines()


def test_a_live_source_says_whether_it_is_up_and_what_failed_last() -> None:
    down = {"kind": "feed", "up": False, "errors": 3, "reconnects": 1, "retry_in_seconds": 40.2}
    sources = [
        {"source": "berita", "posts": 0.0, "idle_seconds": None, "lag_seconds": None,
         "live": {**down, "last_error": "https://x/feed.xml: HTTP 503"}},
        {"source": "dunia", "posts": 12.0, "idle_seconds": 5.0, "lag_seconds": 300.0,
         "live": {**down, "up": True, "errors": 0, "reconnects": 0, "last_error": ""}},
    ]  # fmt: skip
    lines = describe_status({**REPORT, "sources": sources}, "http://x").splitlines()
    assert (
        "source        berita: 0 posts; feed DOWN, 3 errors, 1 reconnects, next try in 40 s: "
        "https://x/feed.xml: HTTP 503"
    ) in lines
    assert (
        "source        dunia: 12 posts, newest arrived 5 s ago, 300 s old; feed up, 0 errors, 0 reconnects"
        in lines
    )
