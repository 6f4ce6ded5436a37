"""The daily brief without I/O: period parsing, sections built from hand-made data, the renderers'
escaping and text cleaning, the schedule's fire times, and config/reports.yaml validation."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from alerts.config import load_alerting
from config.reports import DEFAULT_REPORTS, ReportsConfigError, load_reports, parse_reports, parse_span
from config.settings import DEFAULT_ALERTING
from config.watchlist import Target, Watchlist
from service.report import (
    Chart,
    Heading,
    Paragraph,
    Quote,
    Table,
    bucket_for,
    compose,
    parse_period,
    render_html,
    render_markdown,
    render_pdf,
)
from service.report_charts import REPLACEMENT, printable
from service.report_schedule import next_fire_time
from storage.reports import Campaign, ReportData, ReportIssue, ReportPost, TargetCounts, TrendPoint

WIB = timezone(timedelta(hours=7), "WIB")
NOW = datetime(2026, 11, 20, 12, 34, 56, 789000, tzinfo=UTC)
RAKA, SARI = "raka-wibisana", "sari-lestari"
WATCHLIST = Watchlist(
    targets=(
        Target(id=RAKA, kind="candidate", name="Raka Wibisana", priority="critical"),
        Target(id=SARI, kind="candidate", name="Sari Lestari", priority="high"),
    )
)


def colours(png: bytes) -> int:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    return len(image.getcolors(maxcolors=1 << 24) or [])


# -- the period -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("since", "span"),
    [
        ("24h", timedelta(hours=24)),
        ("7d", timedelta(days=7)),
        ("90m", timedelta(minutes=90)),
        ("2w", timedelta(weeks=2)),
    ],
)
def test_a_span_ends_at_until_in_whole_minutes(since: str, span: timedelta) -> None:
    period = parse_period(since, "now", now=NOW, zone=WIB)
    assert period.until == datetime(2026, 11, 20, 12, 34, tzinfo=UTC)
    assert period.span == span


def test_iso_dates_are_desk_midnight_and_times_keep_their_own_offset() -> None:
    period = parse_period("2026-11-19", "2026-11-20T07:30", now=NOW, zone=WIB)
    assert period.since == datetime(2026, 11, 18, 17, tzinfo=UTC)  # 19 Nov 00:00 WIB
    assert period.until == datetime(2026, 11, 20, 0, 30, tzinfo=UTC)  # naive: WIB
    period = parse_period("24h", "2026-11-20T07:30:45+00:00", now=NOW, zone=WIB)
    assert period.until == datetime(2026, 11, 20, 7, 30, tzinfo=UTC)
    assert period.since == datetime(2026, 11, 19, 7, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("since", "until", "message"),
    [
        ("yesterday", "now", "--since"),
        ("24h", "tomorrow", "--until"),
        ("2026-11-21", "2026-11-20", "must be before"),
        ("0h", "now", "--since"),
        ("200d", "now", "at most"),
    ],
)
def test_a_bad_period_says_which_option(since: str, until: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_period(since, until, now=NOW, zone=WIB)


def test_spans_and_buckets() -> None:
    assert parse_span("1.5h") == timedelta(minutes=90)
    with pytest.raises(ValueError, match="not a span"):
        parse_span("24")
    assert bucket_for(timedelta(hours=3)) == timedelta(minutes=10)
    assert bucket_for(timedelta(hours=24)) == timedelta(hours=1)
    assert bucket_for(timedelta(days=7)) == timedelta(hours=6)
    assert bucket_for(timedelta(days=30)) == timedelta(days=1)


# -- sections -------------------------------------------------------------------------------------

SINCE = datetime(2026, 11, 20, 0, tzinfo=UTC)
UNTIL = SINCE + timedelta(hours=6)


def post(n: int, text: str, *, engagement: int = 0, url: str = "") -> ReportPost:
    return ReportPost(
        id=f"x:{n}", platform="x", author=f"user{n}", text=text, created_at=SINCE + timedelta(minutes=n),
        url=url or f"https://x.example/user{n}/status/{n}", engagement=engagement, sentiment="negative",
        targets=(RAKA,),
    )  # fmt: skip


def sample_data() -> ReportData:
    raka = TargetCounts(RAKA, posts=30, negative=18, neutral=6, positive=6, favor=3, against=21, no_stance=6)
    sari = TargetCounts(SARI, posts=10, negative=1, neutral=4, positive=5, favor=6, against=1, no_stance=3)
    trends = [
        TrendPoint(
            SINCE + timedelta(hours=h), TargetCounts(RAKA, posts=5, negative=3 if h > 2 else 0, positive=2)
        )
        for h in range(6)
    ] + [TrendPoint(SINCE + timedelta(hours=1), TargetCounts(SARI, posts=10, positive=5, favor=6, against=1))]
    issue = ReportIssue(
        id="issue-1", status="live", label=("#KPDBocor", "data bocor"), targets=(RAKA,),
        first_post_at=SINCE + timedelta(hours=2), last_activity=SINCE + timedelta(hours=3), paged_at=None,
        posts=120, accounts=90, voices=70, reposts=50, growth=8.0, signal_kinds=("volume_burst",),
        coordination=("buzzer1", "buzzer2"), first_posts=("x:1",), amplifiers={"user1": 3},
        posts_in_period=110, peak_start=SINCE + timedelta(hours=2, minutes=10), peak_posts=44,
        per_target=(TargetCounts(RAKA, posts=100, negative=90, against=80),),
        top_posts=(post(1, "Data bocor lagi 😡 #KPDBocor", engagement=321),),
    )  # fmt: skip
    campaign = Campaign(
        id="alert-9", origin="alert", title="Coordinated posting: 15 near-identical posts", targets=(SARI,),
        first_seen=SINCE + timedelta(hours=4), last_seen=SINCE + timedelta(hours=4, minutes=3),
        accounts=("tani_1", "tani_2"), posts=15, text="Pilih Sari!", evidence=(post(7, "Pilih Sari!"),),
    )  # fmt: skip
    return ReportData(
        since=SINCE, until=UNTIL, bucket=timedelta(hours=1), total_posts=55, totals=(raka, sari),
        trends=tuple(trends), issues=(issue,), campaigns=(campaign,),
        notable_posts=(post(3, "Hello", engagement=9),),
    )  # fmt: skip


def texts(blocks: tuple[object, ...]) -> str:
    parts = []
    for block in blocks:
        if isinstance(block, Heading | Paragraph):
            parts.append(block.text)
        elif isinstance(block, Quote):
            parts += [block.meta, block.text]
        elif isinstance(block, Table):
            parts += [" | ".join(row) for row in (block.headers, *block.rows)]
    return "\n".join(parts)


def test_sections_from_data_in_english() -> None:
    document = compose(sample_data(), WATCHLIST, "en", WIB)
    assert [s.key for s in document.sections] == [
        "summary", "issues", "trends", "share_of_voice", "campaigns", "notable",
    ]  # fmt: skip
    assert document.subtitle == "Period 20 Nov 2026 07:00 WIB – 20 Nov 2026 13:00 WIB"
    assert "55 posts in the period; 2 watched targets named; 1 issues; 1 coordinated campaigns" in texts(
        document.section("summary").blocks
    )
    issues = texts(document.section("issues").blocks)
    assert "#KPDBocor · data bocor (Raka Wibisana)" in issues
    assert "Peak: 20 Nov 2026 09:10 WIB (44 posts in 10 minutes)" in issues
    assert "Size: 120 posts from 90 accounts (70 wrote their own, 50 reposts); 110 in this period" in issues
    assert "@buzzer1, @buzzer2" in issues
    assert "Raka Wibisana | 100 | 90% | 0% | 0% | 0% | 80%" in issues
    assert "@user1 · 20 Nov 2026 07:01 WIB · 321 interactions" in issues
    share = texts(document.section("share_of_voice").blocks)
    assert "Raka Wibisana | 30 | 75% | 60% | 20% | 20% | 10% | 70%" in share
    assert "Sari Lestari | 10 | 25% | 10%" in share
    campaigns = texts(document.section("campaigns").blocks)
    assert "15 posts, 2 accounts. Targets: Sari Lestari" in campaigns
    assert "Pilih Sari!" in campaigns
    assert "• #KPDBocor · data bocor: 120 posts" in document.summary


def test_sections_in_indonesian_and_for_an_empty_period() -> None:
    empty = ReportData(
        since=SINCE, until=UNTIL, bucket=timedelta(hours=1), total_posts=0, totals=(), trends=()
    )
    document = compose(empty, WATCHLIST, "id", WIB)
    assert document.subtitle == "Periode 20 Nov 2026 07:00 WIB – 20 Nov 2026 13:00 WIB"
    assert texts(document.section("issues").blocks) == "Tidak ada isu dalam periode ini."
    assert texts(document.section("campaigns").blocks) == "Tidak ada kampanye terkoordinasi yang terdeteksi."
    assert document.charts == []  # nothing to draw: said in words instead
    full = compose(sample_data(), WATCHLIST, "id", WIB)
    assert "Puncak: 20 Nov 2026 09:10 WIB (44 unggahan dalam 10 menit)" in texts(
        full.section("issues").blocks
    )


def test_the_charts_are_drawn_and_not_blank() -> None:
    document = compose(sample_data(), WATCHLIST, "en", WIB)
    charts = {chart.name: chart for chart in document.charts}
    assert set(charts) == {"volume", "sentiment", "stance", "share"}
    for chart in charts.values():
        assert chart.png.startswith(b"\x89PNG")
        assert colours(chart.png) > 2, chart.name


# -- text cleaning and escaping -------------------------------------------------------------------


def test_printable_keeps_indonesian_drops_emoji_and_marks_other_scripts() -> None:
    assert printable("Harga naik lagi, rakyat menjerit! Café") == "Harga naik lagi, rakyat menjerit! Café"
    assert printable("Mantap 👍🏽 pak\u200d!") == "Mantap  pak!"
    assert printable("line\nbreak\ttab\x00") == "line break tab"
    assert printable("東京 Tokyo") == f"{REPLACEMENT} Tokyo"
    assert printable("Привет") == "Привет"  # Cyrillic is in the font


def test_markdown_escapes_post_text_and_refers_to_the_chart_files() -> None:
    data = sample_data()
    hostile = post(
        5, "[click](javascript:alert(1)) <b>x</b> *bold* | # not a heading", url="javascript:alert(1)"
    )
    data = replace(data, notable_posts=(hostile,))
    rendered = render_markdown(compose(data, WATCHLIST, "en", WIB), "brief")
    text = rendered.content.decode()
    assert r"\[click\](javascript:alert(1)) \<b\>x\</b\> \*bold\* \| \# not a heading" in text
    assert "<javascript:" not in text
    assert set(rendered.files) == {f"brief-{n}.png" for n in ("volume", "sentiment", "stance", "share")}
    assert all(f"]({name})" in text for name in rendered.files)


def test_a_markdown_post_link_cannot_break_out_of_its_autolink() -> None:
    hostile = (
        "https://x.example/a><img src=x onerror=alert(1)>",
        "https://x.example/b c\t<script>alert(2)</script>",
        "https://x.example/c\nd\x00e\u2028f",
    )
    data = replace(
        sample_data(), notable_posts=tuple(post(20 + i, "t", url=u) for i, u in enumerate(hostile))
    )
    text = render_markdown(compose(data, WATCHLIST, "en", WIB), "brief").content.decode()
    assert "<https://x.example/a%3E%3Cimg%20src=x%20onerror=alert(1)%3E>" in text
    assert "<https://x.example/b%20c%09%3Cscript%3Ealert(2)%3C/script%3E>" in text
    assert "<https://x.example/c%0Ad%00e%E2%80%A8f>" in text
    assert "<img" not in text and "<script" not in text
    # Every autolink is one whole token: no whitespace inside, closed on the line it opens on.
    links = re.findall(r"· <([^>]*)>", text)
    assert len(links) >= len(hostile) and not any(re.search(r"\s", link) for link in links)


def test_html_escapes_and_embeds_the_charts() -> None:
    data = sample_data()
    hostile = post(5, "<script>alert(1)</script>", url="javascript:alert(1)")
    data = replace(data, notable_posts=(hostile,))
    page = render_html(compose(data, WATCHLIST, "id", WIB)).content.decode()
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'href="javascript:' not in page
    assert page.count('src="data:image/png;base64,') == 4
    assert '<html lang="id">' in page


def test_pdf_renders_any_post_text() -> None:
    data = sample_data()
    texts_ = ("Emoji 😡🔥👍🏽 and 東京 and עברית and ﷽", "x" * 3000, "https://" + "a" * 500, "\x00\x1b[31m")
    posts = tuple(post(10 + i, t) for i, t in enumerate(texts_))
    data = replace(data, notable_posts=posts)
    pdf = render_pdf(compose(data, WATCHLIST, "en", WIB)).content
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) >= 2


def test_chart_blocks_are_in_the_trends_section() -> None:
    document = compose(sample_data(), WATCHLIST, "en", WIB)
    assert [b.name for b in document.section("trends").blocks if isinstance(b, Chart)] == [
        "volume", "sentiment", "stance",
    ]  # fmt: skip


# -- schedule -------------------------------------------------------------------------------------


def test_next_fire_time_reads_cron_in_the_desk_zone() -> None:
    jakarta = ZoneInfo("Asia/Jakarta")
    before = datetime(2026, 11, 19, 23, 59, tzinfo=UTC)  # 06:59 WIB
    assert next_fire_time("0 7 * * *", before, jakarta) == datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
    after = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)  # 07:00 WIB exactly: the next day's
    assert next_fire_time("0 7 * * *", after, jakarta) == datetime(2026, 11, 21, 0, 0, tzinfo=UTC)
    friday = datetime(2026, 11, 20, 3, tzinfo=UTC)
    assert next_fire_time("0 8 * * 1", friday, jakarta) == datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


# -- config/reports.yaml --------------------------------------------------------------------------

GOOD = """\
timezone: Asia/Jakarta
link: https://warroom.example.org/reports
reports:
  - name: morning
    cron: "0 7 * * *"
    since: 24h
    receivers: [desk]
  - name: weekly
    cron: "0 8 * * 1"
    since: 7d
    language: en
    formats: [pdf, md]
    receivers: [desk, leads]
    channels: [email, telegram]
"""


def test_the_shipped_reports_file_is_valid_against_the_shipped_alerting_file() -> None:
    receivers = {r.name for r in load_alerting(DEFAULT_ALERTING, environ={}).receivers}
    config = load_reports(DEFAULT_REPORTS, receivers=receivers, environ={})
    morning = next(r for r in config.reports if r.name == "morning-brief")
    assert (morning.cron, morning.span, morning.language) == ("0 7 * * *", timedelta(hours=24), "id")
    assert config.zone(UTC) == ZoneInfo("Asia/Jakarta")


def test_a_good_file() -> None:
    config = parse_reports(GOOD, receivers={"desk", "leads"}, environ={})
    weekly = config.reports[1]
    assert weekly.formats == ("pdf", "md") and weekly.channels == ("email", "telegram")
    assert weekly.span == timedelta(days=7)
    assert config.reports[0].formats == ("html", "pdf")


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        (
            'cron: "0 7 * * *"',
            'cron: "0 25 * * *"',
            ":5: reports.0.cron: '0 25 * * *' is not a cron expression",
        ),
        ('cron: "0 7 * * *"', 'cron: "0 0 7 * * *"', ":5: reports.0.cron:"),
        (
            "receivers: [desk, leads]",
            "receivers: [desk, lead]",
            ":13: reports.1.receivers.1: no receiver named 'lead'",
        ),
        (
            "channels: [email, telegram]",
            "channels: [email, fax]",
            ":14: reports.1.channels.1: Input should be",
        ),
        ("since: 24h", "since: yesterday", ":6: reports.0.since: 'yesterday' is not a span"),
        (
            "timezone: Asia/Jakarta",
            "timezone: Asia/Atlantis",
            ":1: timezone: 'Asia/Atlantis' is not a time zone",
        ),
        ("formats: [pdf, md]", "formats: [docx]", ":12: reports.1.formats.0: Input should be"),
    ],
)
def test_a_bad_field_is_named_with_its_line(old: str, new: str, where: str) -> None:
    assert old in GOOD
    with pytest.raises(ReportsConfigError) as caught:
        parse_reports(GOOD.replace(old, new), source="reports.yaml", receivers={"desk", "leads"}, environ={})
    assert str(caught.value).startswith("reports.yaml" + where), str(caught.value)


def test_slack_files_name_a_channel_per_receiver_or_one_for_all() -> None:
    slack = "slack_files:\n  bot_token: xoxb-1\n  channel_id: C0ALL\n  channels:\n    leads: C0LEADS\n"
    config = parse_reports(GOOD + slack, receivers={"desk", "leads"}, environ={})
    assert config.slack_files is not None
    assert config.slack_files.channel_for("leads") == "C0LEADS"
    assert config.slack_files.channel_for("desk") == "C0ALL"
    own = parse_reports(GOOD + slack.replace("  channel_id: C0ALL\n", ""), environ={})
    assert own.slack_files is not None and own.slack_files.channel_for("desk") == ""


@pytest.mark.parametrize(
    ("slack", "where"),
    [
        (
            "  channels:\n    desk: C0DESK\n    lead: C0LEADS\n",
            ":19: slack_files.channels.lead: no receiver named 'lead' in the alerting file's receivers",
        ),
        ("  channels: {desk: ''}\n", ":17: slack_files.channels.desk: String should have at least 1"),
        ("  channel_id: ''\n", ":16: slack_files: name a channel_id, or a channel for each receiver"),
    ],
)
def test_a_bad_slack_files_channel_is_named_with_its_line(slack: str, where: str) -> None:
    text = GOOD + "slack_files:\n  bot_token: xoxb-1\n" + slack
    with pytest.raises(ReportsConfigError) as caught:
        parse_reports(text, source="reports.yaml", receivers={"desk", "leads"}, environ={})
    assert str(caught.value).startswith("reports.yaml" + where), str(caught.value)


def test_an_unset_secret_and_an_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ReportsConfigError, match="REPORT_SLACK_BOT_TOKEN is not set"):
        parse_reports(
            GOOD + "slack_files: {bot_token: '${REPORT_SLACK_BOT_TOKEN}', channel_id: C1}\n", environ={}
        )
    with pytest.raises(ReportsConfigError, match="cannot read"):
        load_reports(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "yesterday"], "--since: 'yesterday' is not 'now', a span"),
        (["--format", "docx"], "--format: 'docx' is not one of html, pdf, md"),
        (["--lang", "fr"], "--lang: 'fr' is not id or en"),
    ],
)
def test_the_report_command_refuses_bad_options_before_reading_anything(
    args: list[str], message: str
) -> None:
    from typer.testing import CliRunner

    from service.cli import app

    result = CliRunner().invoke(app, ["report", *args])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
