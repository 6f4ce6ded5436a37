"""The daily brief against the real engine, on the demo stream as the service stores it
(`replayed_demo`: the real models, detectors and issue tracker): the report gathered, composed,
rendered and checked against numbers worked out here from the rows the replay stored."""

from __future__ import annotations

import io
import shutil
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client
from markupsafe import escape
from PIL import Image

from config.reports import ReportLanguage
from config.settings import DEFAULT_WATCHLIST
from config.watchlist import load_watchlist
from scripts.report_sample import first_page_png
from service.report import (
    GATHER_STEPS,
    TEXTS,
    Chart,
    Paragraph,
    Period,
    Quote,
    Table,
    build_report,
    format_number,
    gather,
    write_report,
)
from storage.reports import COORDINATED, ReportQueries
from tests.integration.conftest import ReplayedWarehouse

pytestmark = pytest.mark.integration
WIB = timezone(timedelta(hours=7), "WIB")
WATCHLIST = load_watchlist(DEFAULT_WATCHLIST)
NAMES = {t.id: t.name for t in WATCHLIST.targets}
SECTIONS = ("summary", "issues", "trends", "share_of_voice", "campaigns", "notable")
TOP_POSTS_PER_ISSUE = 3  # what gather asks storage.reports for
PEAK = timedelta(minutes=10)  # an issue's peak: its busiest window of this length


@dataclass(frozen=True)
class StoredPost:
    id: str
    created_at: datetime
    sentiment: str
    stances: dict[str, str]  # target -> stance toward it
    engagement: int
    original: bool  # not a repost


@dataclass(frozen=True)
class StoredIssue:
    id: str
    label: tuple[str, ...]
    posts: int
    first_post_at: datetime
    last_activity: datetime
    coordination: tuple[str, ...]
    members: tuple[StoredPost, ...]


@dataclass(frozen=True)
class StoredDemo:
    """The replay's rows as read back here (FINAL: each row once), for the expected figures."""

    posts: tuple[StoredPost, ...]
    issues: tuple[StoredIssue, ...]  # the paged ones, not merged away: those a brief reports
    period: Period  # whole minutes around the stream

    def issue(self, issue_id: str) -> StoredIssue:
        return next(i for i in self.issues if i.id == issue_id)


def rows(client: Client, sql: str, **parameters: Any) -> list[dict[str, Any]]:
    result = client.query(sql, parameters=parameters)
    return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]


def utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@pytest.fixture(scope="module")
def stored(replayed_demo: ReplayedWarehouse) -> StoredDemo:
    client = replayed_demo.client
    posts = {
        row["id"]: StoredPost(
            id=row["id"],
            created_at=utc(row["created_at"]),
            sentiment=str(row["sentiment"]),
            stances=dict(zip(row["targets"], map(str, row["stances"]), strict=True)),
            engagement=int(row["engagement"]),
            original=row["repost_of"] == "",
        )
        for row in rows(
            client,
            "SELECT id, created_at, sentiment, targets, stances, repost_of,"
            " toUInt64(likes) + reposts + replies + quotes AS engagement FROM posts FINAL",
        )
    }
    # The brief names accounts by handle; issues keep their ids.
    handles = {
        row["author_id"]: row["handle"]
        for row in rows(
            client,
            "SELECT author_id, argMax(author_handle, created_at) AS handle"
            " FROM posts FINAL GROUP BY author_id",
        )
    }
    members: dict[str, list[StoredPost]] = {}
    for row in rows(client, "SELECT issue_id, post_id FROM issue_posts FINAL"):
        members.setdefault(row["issue_id"], []).append(posts[row["post_id"]])
    issues = tuple(
        StoredIssue(
            id=row["id"],
            label=tuple(row["label"]),
            posts=int(row["posts"]),
            first_post_at=utc(row["first_post_at"]),
            last_activity=utc(row["last_activity"]),
            coordination=tuple(handles.get(a, a) for a in row["coordination"]),
            members=tuple(sorted(members.get(row["id"], []), key=lambda p: (p.created_at, p.id))),
        )
        for row in rows(
            client,
            "SELECT id, label, posts, first_post_at, last_activity, coordination FROM issues FINAL"
            " WHERE merged_into = '' AND paged_at IS NOT NULL",
        )
    )
    times = [p.created_at for p in posts.values()]
    period = Period(
        min(times).replace(minute=0, second=0, microsecond=0),
        max(times).replace(second=0, microsecond=0) + timedelta(minutes=1),
    )
    return StoredDemo(posts=tuple(posts.values()), issues=issues, period=period)


def colours(png: bytes) -> int:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    return len(image.getcolors(maxcolors=1 << 24) or [])


def expected_target_counts(posts: tuple[StoredPost, ...]) -> dict[str, tuple[int, int, int, int]]:
    """Per target: posts naming it, and of those the negative ones, in favour and against."""
    counts: dict[str, Counter[str]] = {}
    for post in posts:
        for target, stance in post.stances.items():
            tally = counts.setdefault(target, Counter())
            tally.update(["posts", f"sentiment:{post.sentiment}", f"stance:{stance}"])
    return {
        target: (c["posts"], c["sentiment:negative"], c["stance:favor"], c["stance:against"])
        for target, c in counts.items()
    }


def peak_window(moment: datetime) -> datetime:
    """The start of the PEAK-long window holding `moment` (windows counted from the epoch)."""
    seconds = PEAK.total_seconds()
    return datetime.fromtimestamp(moment.timestamp() // seconds * seconds, UTC)


def in_period(moment: datetime, period: Period) -> bool:
    return period.since <= moment < period.until


# -- the data -------------------------------------------------------------------------------------


def test_totals_and_trends_count_the_stored_posts(
    replayed_demo: ReplayedWarehouse, stored: StoredDemo
) -> None:
    period, queries = stored.period, ReportQueries(replayed_demo.client)
    total, totals = queries.target_totals(period.since, period.until)
    assert total == len(stored.posts)
    expected = expected_target_counts(stored.posts)
    assert {c.target: (c.posts, c.negative, c.favor, c.against) for c in totals} == expected
    assert [c.posts for c in totals] == sorted((c.posts for c in totals), reverse=True)
    # The trend's buckets add up to the totals ('' is every post).
    summed = Counter[str]()
    for point in queries.trends(period.since, period.until, timedelta(minutes=10)):
        summed[point.counts.target] += point.counts.posts
    assert summed == Counter({"": len(stored.posts)} | {t: n[0] for t, n in expected.items()})


def test_the_issues_are_the_paged_ones_as_stored(
    replayed_demo: ReplayedWarehouse, stored: StoredDemo
) -> None:
    period = stored.period
    issues = ReportQueries(replayed_demo.client).issues(period.since, period.until)
    assert len(issues) == len(stored.issues) > 0
    assert [i.posts for i in issues] == sorted((i.posts for i in issues), reverse=True)
    for issue in issues:
        expected = stored.issue(issue.id)
        assert (issue.label, issue.posts, issue.coordination) == (
            expected.label,
            expected.posts,
            expected.coordination,
        )
        assert issue.posts_in_period == sum(in_period(p.created_at, period) for p in expected.members)
        per_bucket = Counter(peak_window(p.created_at) for p in expected.members)
        busiest = max(per_bucket.values())
        assert issue.peak_posts == busiest
        assert issue.peak_start in {start for start, n in per_bucket.items() if n == busiest}
        by_target = {c.target: (c.posts, c.negative, c.favor, c.against) for c in issue.per_target}
        assert by_target == expected_target_counts(expected.members), issue.label
        engagement = sorted((p.engagement for p in expected.members if p.original), reverse=True)
        assert [p.engagement for p in issue.top_posts] == engagement[:TOP_POSTS_PER_ISSUE]
        assert {p.id for p in issue.top_posts} <= {p.id for p in expected.members}


def expected_campaigns(client: Client, stored: StoredDemo) -> list[tuple[str, str]]:
    """(origin, id) of the period's coordinated campaigns: the issues with coordinated accounts,
    and the coordinated-posting alerts that are not about one of those issues (such an alert is
    that issue's campaign, listed once, from the issue)."""
    coordinated = {i.id for i in stored.issues if i.coordination}
    alerts = rows(
        client,
        "SELECT id, key_kind, key FROM alerts FINAL WHERE kind = {kind:String}"
        " AND last_seen >= {since:DateTime64(3, 'UTC')} AND first_seen < {until:DateTime64(3, 'UTC')}",
        kind=COORDINATED,
        since=stored.period.since,
        until=stored.period.until,
    )
    other_alerts = [a["id"] for a in alerts if not (a["key_kind"] == "issue" and a["key"] in coordinated)]
    return sorted([("issue", i) for i in coordinated] + [("alert", a) for a in other_alerts])


def test_campaigns_come_from_the_coordinated_issues_and_alerts(
    replayed_demo: ReplayedWarehouse, stored: StoredDemo
) -> None:
    client, period = replayed_demo.client, stored.period
    queries = ReportQueries(client)
    campaigns = queries.campaigns(period.since, period.until, queries.issues(period.since, period.until))
    assert any(i.coordination for i in stored.issues), "the demo's buzzer wave: an issue with coordination"
    assert sorted((c.origin, c.id) for c in campaigns) == expected_campaigns(client, stored)
    for campaign in (c for c in campaigns if c.origin == "issue"):
        issue = stored.issue(campaign.id)
        assert (campaign.accounts, campaign.posts) == (issue.coordination, issue.posts)
        assert campaign.evidence and {p.id for p in campaign.evidence} <= {p.id for p in issue.members}


def test_notable_posts_are_the_most_engaged_originals(
    replayed_demo: ReplayedWarehouse, stored: StoredDemo
) -> None:
    period = stored.period
    notable = ReportQueries(replayed_demo.client).notable_posts(period.since, period.until, limit=8)
    engagement = sorted((p.engagement for p in stored.posts if p.original), reverse=True)
    assert [p.engagement for p in notable] == engagement[:8]


def test_an_issue_outside_the_period_is_left_out(
    replayed_demo: ReplayedWarehouse, stored: StoredDemo
) -> None:
    latest = max(stored.issues, key=lambda i: i.first_post_at)
    before_it = Period(stored.period.since, latest.first_post_at.replace(second=0, microsecond=0))
    ids = {i.id for i in ReportQueries(replayed_demo.client).issues(before_it.since, before_it.until)}
    assert latest.id not in ids
    assert ids == {
        i.id
        for i in stored.issues
        if i.first_post_at < before_it.until and i.last_activity >= before_it.since
    }
    assert ids, "the demo's earlier happenings are in the period"


def test_a_second_copy_of_every_row_changes_nothing(
    replayed_demo: ReplayedWarehouse, clickhouse: Client, stored: StoredDemo
) -> None:
    """Rows written twice (a crash window, a retried checkpoint) count once: a fresh database holding
    the replay's rows twice over gives the brief the very same data."""
    replayed_demo.copy_into(clickhouse, times=2)
    twice = gather(ReportQueries(clickhouse), stored.period)
    once = gather(ReportQueries(replayed_demo.client), stored.period)
    assert twice == once


# -- the document ---------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["id", "en"])
def test_the_report_has_its_sections_and_charts_in_each_format(
    replayed_demo: ReplayedWarehouse, stored: StoredDemo, tmp_path: Path, language: ReportLanguage
) -> None:
    steps: list[str] = []
    document = build_report(
        replayed_demo.client, stored.period, WATCHLIST, language, WIB, progress=steps.append
    )
    text = TEXTS[language]
    assert steps == [*GATHER_STEPS, "charts"]
    assert [(s.key, s.title) for s in document.sections] == [(key, text[key]) for key in SECTIONS]
    assert {c.name for c in document.charts} == {"volume", "sentiment", "stance", "share"}
    for chart in document.charts:
        assert colours(chart.png) > 2, chart.name

    targets = expected_target_counts(stored.posts)
    coordinated = [i for i in stored.issues if i.coordination]
    assert document.section("summary").blocks == (
        Paragraph(
            text["summary_text"].format(
                posts=format_number(len(stored.posts), language),
                targets=len(targets),
                issues=len(stored.issues),
                campaigns=len(expected_campaigns(replayed_demo.client, stored)),
            )
        ),
    )
    evidence = [b for b in document.section("campaigns").blocks if isinstance(b, Quote)]
    assert evidence, "the coordinated wave's posts are quoted as evidence"
    issue_quotes = [b for b in document.section("issues").blocks if isinstance(b, Quote)]
    assert len(issue_quotes) == sum(
        min(TOP_POSTS_PER_ISSUE, sum(p.original for p in i.members)) for i in stored.issues
    )
    [share_table] = [b for b in document.section("share_of_voice").blocks if isinstance(b, Table)]
    busiest = min(targets, key=lambda t: (-targets[t][0], t))  # most posts; on a tie, by id
    assert share_table.rows[0][:2] == (NAMES[busiest], format_number(targets[busiest][0], language))

    md, page_html = tmp_path / f"brief-{language}.md", tmp_path / f"brief-{language}.html"
    written = write_report(document, "md", md)
    assert written[0] == md and len(written) == 1 + len(document.charts)
    markdown = md.read_text(encoding="utf-8")
    for image in written[1:]:
        assert f"]({image.name})" in markdown and colours(image.read_bytes()) > 2
    assert all(f"## {text[key]}" in markdown for key in SECTIONS)
    write_report(document, "html", page_html)
    page = page_html.read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == len(document.charts)
    for issue in stored.issues:
        assert escape(" · ".join(issue.label)) in page, issue.label
    for issue in coordinated:
        assert escape(f"@{issue.coordination[0]}") in page, issue.label


def test_the_pdf_renders_and_its_first_page_is_not_blank(
    replayed_demo: ReplayedWarehouse, stored: StoredDemo, tmp_path: Path
) -> None:
    document = build_report(replayed_demo.client, stored.period, WATCHLIST, "id", WIB)
    [pdf] = write_report(document, "pdf", tmp_path / "brief.pdf")
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert sum(isinstance(b, Chart) for s in document.sections for b in s.blocks) == 4
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (Debian: poppler-utils) is not installed: the PDF was written but not drawn")
    page = first_page_png(pdf, tmp_path / "page.png")
    assert colours(page.read_bytes()) > 2
