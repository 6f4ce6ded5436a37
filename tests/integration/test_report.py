"""The daily brief against the real engine: the demo stream loaded (scripts/report_sample.py's
rule-based enrichment), its three happenings as issues, then the report built, rendered and checked
against numbers worked out here from the very posts loaded."""

from __future__ import annotations

import io
import shutil
from collections import Counter
from datetime import timedelta, timezone
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client
from PIL import Image

from config.settings import DEFAULT_WATCHLIST
from config.watchlist import load_watchlist
from scripts.report_sample import DemoLoaded, first_page_png, load_demo
from service.report import Chart, Period, Quote, Table, build_report, write_report
from storage.reports import ReportQueries
from storage.repository import POST_COLUMNS, post_row

pytestmark = pytest.mark.integration
WIB = timezone(timedelta(hours=7), "WIB")
WATCHLIST = load_watchlist(DEFAULT_WATCHLIST)


def colours(png: bytes) -> int:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    return len(image.getcolors(maxcolors=1 << 24) or [])


@pytest.fixture
def demo(clickhouse: Client) -> DemoLoaded:
    loaded = load_demo(clickhouse, WATCHLIST)
    # Every post a second time behind the writer's back (a crash-window copy): it must not count.
    clickhouse.insert("posts", [post_row(p) for p in loaded.posts], column_names=list(POST_COLUMNS))
    return loaded


def whole_stream(demo: DemoLoaded) -> Period:
    return Period(
        demo.first.replace(minute=0, second=0, microsecond=0),
        demo.last.replace(second=0) + timedelta(minutes=1),
    )


def test_queries_count_the_loaded_posts(clickhouse: Client, demo: DemoLoaded) -> None:
    period = whole_stream(demo)
    queries = ReportQueries(clickhouse)
    total, totals = queries.target_totals(period.since, period.until)
    assert total == len(demo.posts)
    expected = Counter(t.target for p in demo.posts for t in p.enrichment.targets)
    assert {c.target: c.posts for c in totals} == dict(expected)
    negative = Counter(
        t.target
        for p in demo.posts
        for t in p.enrichment.targets
        if p.enrichment.sentiment.value == "negative"
    )
    assert {c.target: c.negative for c in totals} == {t: negative.get(t, 0) for t in expected}
    # The trend's buckets add up to the totals.
    trends = queries.trends(period.since, period.until, timedelta(minutes=10))
    summed = Counter[str]()
    for point in trends:
        summed[point.counts.target] += point.counts.posts
    assert summed == Counter({"": len(demo.posts)}) + expected

    issues = queries.issues(period.since, period.until)
    by_id = {i.id: i for i in issues}
    assert set(by_id) == {f"issue-{e}" for e in demo.events}
    leak = by_id["issue-kpd_leak"]
    assert leak.posts == leak.posts_in_period == len(demo.events["kpd_leak"])
    per_ten_minutes = Counter(
        p.post.created_at.replace(minute=p.post.created_at.minute // 10 * 10, second=0, microsecond=0)
        for p in demo.events["kpd_leak"]
    )
    peak_start, peak_posts = per_ten_minutes.most_common(1)[0]
    assert (leak.peak_start, leak.peak_posts) == (peak_start, peak_posts)
    assert leak.per_target[0].target == "kartu-pangan-digital"
    assert leak.per_target[0].negative == leak.per_target[0].posts > 0
    engagement = sorted(
        (p.post.metrics.likes + p.post.metrics.reposts + p.post.metrics.replies + p.post.metrics.quotes)
        for p in demo.events["kpd_leak"]
        if not p.post.repost_of
    )
    assert [p.engagement for p in leak.top_posts] == engagement[::-1][:3]

    campaigns = queries.campaigns(period.since, period.until, issues)
    assert sorted(c.origin for c in campaigns) == ["alert", "issue"]
    wave = {p.post.id for p in demo.events["bima_buzzer"]}
    assert all(c.evidence and {e.id for e in c.evidence} <= wave for c in campaigns)
    assert all(len(c.accounts) == len(wave) for c in campaigns)


def test_an_issue_outside_the_period_is_left_out(clickhouse: Client, demo: DemoLoaded) -> None:
    sari = demo.events["sari_debate"]
    before_sari = Period(
        demo.first.replace(second=0, microsecond=0), sari[0].post.created_at.replace(second=0)
    )
    ids = {i.id for i in ReportQueries(clickhouse).issues(before_sari.since, before_sari.until)}
    assert "issue-sari_debate" not in ids and "issue-kpd_leak" in ids


@pytest.mark.parametrize("language", ["id", "en"])
def test_the_report_has_its_sections_and_charts_in_each_format(
    clickhouse: Client, demo: DemoLoaded, tmp_path: Path, language: str
) -> None:
    steps: list[str] = []
    document = build_report(clickhouse, whole_stream(demo), WATCHLIST, language, WIB, progress=steps.append)  # type: ignore[arg-type]
    assert steps == ["totals", "trends", "issues", "campaigns", "notable posts", "charts"]
    assert [s.key for s in document.sections] == [
        "summary", "issues", "trends", "share_of_voice", "campaigns", "notable",
    ]  # fmt: skip
    assert {c.name for c in document.charts} == {"volume", "sentiment", "stance", "share"}
    for chart in document.charts:
        assert colours(chart.png) > 2, chart.name
    issue_quotes = [b for b in document.section("issues").blocks if isinstance(b, Quote)]
    assert len(issue_quotes) == 9  # three issues, three top posts each
    [share_table] = [b for b in document.section("share_of_voice").blocks if isinstance(b, Table)]
    assert share_table.rows[0][0] == "Kartu Pangan Digital"

    md, html = tmp_path / f"brief-{language}.md", tmp_path / f"brief-{language}.html"
    written = write_report(document, "md", md)
    assert written[0] == md and len(written) == 5
    text = md.read_text(encoding="utf-8")
    for image in written[1:]:
        assert f"]({image.name})" in text and colours(image.read_bytes()) > 2
    assert ("Kampanye terkoordinasi" if language == "id" else "Coordinated campaigns") in text
    write_report(document, "html", html)
    page = html.read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 4
    assert "#KPDBocor" in page and "suara_tani_" in page


def test_the_pdf_renders_and_its_first_page_is_not_blank(
    clickhouse: Client, demo: DemoLoaded, tmp_path: Path
) -> None:
    document = build_report(clickhouse, whole_stream(demo), WATCHLIST, "id", WIB)
    [pdf] = write_report(document, "pdf", tmp_path / "brief.pdf")
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert sum(isinstance(b, Chart) for s in document.sections for b in s.blocks) == 4
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (Debian: poppler-utils) is not installed: the PDF was written but not drawn")
    page = first_page_png(pdf, tmp_path / "page.png")
    assert colours(page.read_bytes()) > 2
