"""The daily brief: a period's issues, per-target trends, share of voice, coordinated campaigns and
notable posts, in Indonesian or English, as HTML, PDF or Markdown.

Three steps, each usable alone: `gather` reads the period from ClickHouse (storage.reports), `compose`
turns the data into a `Document` (sections of headings, paragraphs, tables, charts and quoted
posts; pure, no I/O), and `render` writes the document in one format. `build_report` runs the first
two; `pantau report` and the scheduled briefs (service.report_schedule) call it.
"""

from __future__ import annotations

import base64
import io
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path

from clickhouse_connect.driver.client import Client
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from jinja2 import Environment, StrictUndefined

from config.reports import ReportFormat, ReportLanguage, parse_span
from config.watchlist import Watchlist
from pantau.domain import as_utc
from service.report_charts import (
    BOLD_FONT,
    REGULAR_FONT,
    bucket_starts,
    line_chart,
    net_series,
    printable,
    share_chart,
    volume_series,
)
from storage.reports import (
    MAX_SPAN,
    Campaign,
    ReportData,
    ReportIssue,
    ReportPost,
    ReportQueries,
    TargetCounts,
)

FORMATS: tuple[ReportFormat, ...] = ("html", "pdf", "md")
MAX_TREND_TARGETS = 6
MAX_QUOTE_CHARS = 400
MAX_ACCOUNTS_LISTED = 12

Progress = Callable[[str], None]

# -- texts ----------------------------------------------------------------------------------------

TEXTS: dict[ReportLanguage, dict[str, str]] = {
    "id": {
        "title": "Ringkasan harian Pantau",
        "period": "Periode {since} – {until}",
        "summary": "Ringkasan",
        "summary_text": "{posts} unggahan dalam periode ini; {targets} target pantauan disebut; "
        "{issues} isu; {campaigns} kampanye terkoordinasi.",
        "no_posts": "Tidak ada unggahan dalam periode ini.",
        "issues": "Isu",
        "no_issues": "Tidak ada isu dalam periode ini.",
        "issue_line": "Puncak: {peak} ({peak_posts} unggahan dalam {peak_minutes} menit). Ukuran: {posts} "
        "unggahan dari {accounts} akun ({voices} menulis sendiri, {reposts} unggah ulang); "
        "{in_period} dalam periode ini. Pertumbuhan {growth}x. Status: {status}.",
        "issue_no_peak": "Ukuran: {posts} unggahan dari {accounts} akun. Status: {status}.",
        "coordinated_accounts": "Akun dalam gelombang terkoordinasi: {accounts}",
        "top_posts": "Unggahan teratas",
        "target": "Target",
        "posts": "Unggahan",
        "share": "Porsi",
        "negative": "Negatif",
        "neutral": "Netral",
        "positive": "Positif",
        "favor": "Mendukung",
        "against": "Menentang",
        "trends": "Tren per target",
        "no_trends": "Tidak ada target pantauan yang disebut dalam periode ini.",
        "volume_chart": "Volume unggahan per {bucket}",
        "sentiment_chart": "Sentimen bersih (positif − negatif, porsi unggahan)",
        "stance_chart": "Sikap bersih (mendukung − menentang, porsi unggahan)",
        "share_of_voice": "Porsi perhatian",
        "share_note": "Porsi setiap target dari semua sebutan target (unggahan yang menyebut dua target "
        "dihitung untuk keduanya).",
        "share_chart": "Porsi perhatian",
        "campaigns": "Kampanye terkoordinasi",
        "no_campaigns": "Tidak ada kampanye terkoordinasi yang terdeteksi.",
        "campaign_line": "{first} – {last}: {posts} unggahan, {accounts} akun. Target: {targets}.",
        "campaign_text": "Teks yang diulang: “{text}”",
        "evidence": "Bukti",
        "accounts": "Akun: {accounts}",
        "notable": "Unggahan menonjol",
        "no_notable": "Tidak ada unggahan dalam periode ini.",
        "engagement": "{n} interaksi",
        "none": "tidak ada",
        "more": "dan {n} lainnya",
        "status_live": "aktif",
        "status_closed": "selesai",
        "status_candidate": "kandidat",
        "hour": "jam",
        "hours": "{n} jam",
        "day": "hari",
        "minutes": "{n} menit",
        "files": "Berkas: {files}",
        "top_issues": "Isu teratas:",
    },
    "en": {
        "title": "Pantau daily brief",
        "period": "Period {since} – {until}",
        "summary": "Summary",
        "summary_text": "{posts} posts in the period; {targets} watched targets named; {issues} issues; "
        "{campaigns} coordinated campaigns.",
        "no_posts": "No posts in this period.",
        "issues": "Issues",
        "no_issues": "No issues in this period.",
        "issue_line": "Peak: {peak} ({peak_posts} posts in {peak_minutes} minutes). Size: {posts} posts "
        "from {accounts} accounts ({voices} wrote their own, {reposts} reposts); {in_period} in "
        "this period. Growth {growth}x. Status: {status}.",
        "issue_no_peak": "Size: {posts} posts from {accounts} accounts. Status: {status}.",
        "coordinated_accounts": "Accounts in coordinated waves: {accounts}",
        "top_posts": "Top posts",
        "target": "Target",
        "posts": "Posts",
        "share": "Share",
        "negative": "Negative",
        "neutral": "Neutral",
        "positive": "Positive",
        "favor": "Favour",
        "against": "Against",
        "trends": "Trends per target",
        "no_trends": "No watched target was named in this period.",
        "volume_chart": "Posts per {bucket}",
        "sentiment_chart": "Net sentiment (positive − negative, share of posts)",
        "stance_chart": "Net stance (favour − against, share of posts)",
        "share_of_voice": "Share of voice",
        "share_note": "Each target's share of all target mentions (a post naming two targets counts "
        "for both).",
        "share_chart": "Share of voice",
        "campaigns": "Coordinated campaigns",
        "no_campaigns": "No coordinated campaign was detected.",
        "campaign_line": "{first} – {last}: {posts} posts, {accounts} accounts. Targets: {targets}.",
        "campaign_text": "Repeated text: “{text}”",
        "evidence": "Evidence",
        "accounts": "Accounts: {accounts}",
        "notable": "Notable posts",
        "no_notable": "No posts in this period.",
        "engagement": "{n} interactions",
        "none": "none",
        "more": "and {n} more",
        "status_live": "live",
        "status_closed": "closed",
        "status_candidate": "candidate",
        "hour": "hour",
        "hours": "{n} hours",
        "day": "day",
        "minutes": "{n} minutes",
        "files": "Files: {files}",
        "top_issues": "Top issues:",
    },
}

_MONTHS = {
    "id": ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des"),
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
}


def format_time(value: datetime, language: ReportLanguage, zone: tzinfo) -> str:
    local = value.astimezone(zone)
    return f"{local.day} {_MONTHS[language][local.month - 1]} {local.year} {local:%H:%M} {local.tzname()}"


def format_number(value: int, language: ReportLanguage) -> str:
    # Indonesian groups thousands with a full stop.
    text = f"{value:,}"
    return text.replace(",", ".") if language == "id" else text


def format_share(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "–"


# -- the period -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    since: datetime
    until: datetime

    @property
    def span(self) -> timedelta:
        return self.until - self.since


def _floor_minute(value: datetime) -> datetime:
    return value.replace(second=0, microsecond=0)


def parse_instant(value: str, *, now: datetime, zone: tzinfo, option: str) -> datetime:
    """'now', an ISO date (midnight in `zone`) or an ISO date and time (in `zone` unless it names
    its own offset)."""
    text = value.strip()
    if text.lower() == "now":
        return as_utc(now)
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{option}: {value!r} is not 'now', a span (24h, 7d) or an ISO date or time"
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=zone)).astimezone(UTC)


def parse_period(since: str, until: str = "now", *, now: datetime, zone: tzinfo) -> Period:
    """`since`: a span before `until` ('24h', '7d', '90m', '2w') or an instant; `until`: an instant
    (see `parse_instant`). Both are floored to the minute, so the report covers whole minutes."""
    end = parse_instant(until, now=now, zone=zone, option="--until")
    try:
        start = end - parse_span(since)
    except ValueError:
        start = parse_instant(since, now=now, zone=zone, option="--since")
    period = Period(_floor_minute(start), _floor_minute(end))
    if period.since >= period.until:
        raise ValueError(f"--since ({period.since:%Y-%m-%d %H:%M} UTC) must be before --until")
    if period.span > MAX_SPAN:
        raise ValueError(f"--since: a report may span at most {MAX_SPAN.days} days")
    return period


def bucket_for(span: timedelta) -> timedelta:
    """Chart buckets: about 12 to 50 points whatever the period."""
    if span <= timedelta(hours=4):
        return timedelta(minutes=10)
    if span <= timedelta(days=2):
        return timedelta(hours=1)
    if span <= timedelta(days=8):
        return timedelta(hours=6)
    return timedelta(days=1)


# -- gathering ------------------------------------------------------------------------------------

GATHER_STEPS = ("totals", "trends", "issues", "campaigns", "notable posts")


def gather(
    queries: ReportQueries, period: Period, *, max_issues: int = 10, progress: Progress | None = None
) -> ReportData:
    """The period's data, one query step at a time (`progress` is told each step's name when done)."""

    def done(step: str) -> None:
        if progress is not None:
            progress(step)

    total, totals = queries.target_totals(period.since, period.until)
    done(GATHER_STEPS[0])
    bucket = bucket_for(period.span)
    trends = queries.trends(period.since, period.until, bucket)
    done(GATHER_STEPS[1])
    issues = queries.issues(period.since, period.until, limit=max_issues)
    done(GATHER_STEPS[2])
    campaigns = queries.campaigns(period.since, period.until, issues)
    done(GATHER_STEPS[3])
    notable = queries.notable_posts(period.since, period.until, limit=8)
    done(GATHER_STEPS[4])
    return ReportData(
        since=period.since,
        until=period.until,
        bucket=bucket,
        total_posts=total,
        totals=tuple(totals),
        trends=tuple(trends),
        issues=tuple(issues),
        campaigns=tuple(campaigns),
        notable_posts=tuple(notable),
    )


# -- the document ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Heading:
    text: str


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Chart:
    name: str  # a file-name part: volume, sentiment, stance, share
    title: str
    png: bytes


@dataclass(frozen=True)
class Quote:
    meta: str  # who, when, how engaged
    text: str
    url: str = ""


Block = Heading | Paragraph | Table | Chart | Quote


@dataclass(frozen=True)
class Section:
    key: str  # summary, issues, trends, share_of_voice, campaigns, notable
    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Document:
    language: ReportLanguage
    title: str
    subtitle: str
    sections: tuple[Section, ...]
    summary: str = field(default="", metadata={"doc": "Plain text for a chat message."})

    def section(self, key: str) -> Section:
        return next(s for s in self.sections if s.key == key)

    @property
    def charts(self) -> list[Chart]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, Chart)]


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Composer:
    def __init__(
        self, data: ReportData, watchlist: Watchlist, language: ReportLanguage, zone: tzinfo
    ) -> None:
        self.data, self.language, self.zone = data, language, zone
        self.t = TEXTS[language]
        self.names = {t.id: t.name for t in watchlist.targets}

    def name(self, target: str) -> str:
        return self.names.get(target, target)

    def time(self, value: datetime) -> str:
        return format_time(value, self.language, self.zone)

    def tick(self, value: datetime, *, single_day: bool) -> str:
        local = value.astimezone(self.zone)
        if single_day:
            return f"{local:%H:%M}"
        return f"{local.day} {_MONTHS[self.language][local.month - 1]} {local:%H:%M}"

    def number(self, value: int) -> str:
        return format_number(value, self.language)

    def listing(self, items: Sequence[str], limit: int) -> str:
        if not items:
            return self.t["none"]
        shown = ", ".join(items[:limit])
        return shown if len(items) <= limit else f"{shown} {self.t['more'].format(n=len(items) - limit)}"

    def quote(self, post: ReportPost) -> Quote:
        meta = " · ".join(
            [f"@{post.author}" if post.author else post.platform, self.time(post.created_at)]
            + [self.t["engagement"].format(n=self.number(post.engagement))] * (post.engagement > 0)
        )
        return Quote(meta=meta, text=_clip(post.text, MAX_QUOTE_CHARS), url=post.url)

    def counts_table(self, rows: Sequence[TargetCounts], *, with_share: bool) -> Table:
        t = self.t
        whole = sum(r.posts for r in rows)
        headers = (t["target"], t["posts"], *((t["share"],) if with_share else ()))
        headers += (t["negative"], t["neutral"], t["positive"], t["favor"], t["against"])
        body = tuple(
            (
                self.name(r.target),
                self.number(r.posts),
                *((format_share(r.posts, whole),) if with_share else ()),
                format_share(r.negative, r.posts),
                format_share(r.neutral, r.posts),
                format_share(r.positive, r.posts),
                format_share(r.favor, r.posts),
                format_share(r.against, r.posts),
            )
            for r in rows
        )
        return Table(headers, body)

    def bucket_name(self) -> str:
        bucket = self.data.bucket
        if bucket == timedelta(hours=1):
            return self.t["hour"]
        if bucket == timedelta(days=1):
            return self.t["day"]
        if bucket >= timedelta(hours=1):
            return self.t["hours"].format(n=int(bucket / timedelta(hours=1)))
        return self.t["minutes"].format(n=int(bucket / timedelta(minutes=1)))

    # sections

    def summary(self) -> Section:
        d, t = self.data, self.t
        text = t["summary_text"].format(
            posts=self.number(d.total_posts),
            targets=len(d.totals),
            issues=len(d.issues),
            campaigns=len(d.campaigns),
        )
        return Section("summary", t["summary"], (Paragraph(text),))

    def issue_blocks(self, issue: ReportIssue) -> list[Block]:
        t = self.t
        status = t.get(f"status_{issue.status}", issue.status)
        if issue.peak_start is not None:
            line = t["issue_line"].format(
                peak=self.time(issue.peak_start),
                peak_posts=self.number(issue.peak_posts),
                peak_minutes=10,
                posts=self.number(issue.posts),
                accounts=self.number(issue.accounts),
                voices=self.number(issue.voices),
                reposts=self.number(issue.reposts),
                in_period=self.number(issue.posts_in_period),
                growth=f"{issue.growth:.1f}",
                status=status,
            )
        else:
            line = t["issue_no_peak"].format(
                posts=self.number(issue.posts), accounts=self.number(issue.accounts), status=status
            )
        about = ", ".join(self.name(x) for x in issue.targets)
        blocks: list[Block] = [
            Heading(" · ".join(issue.label) + (f" ({about})" if about else "")),
            Paragraph(line),
        ]
        if issue.coordination:
            accounts = self.listing([f"@{a}" for a in issue.coordination], MAX_ACCOUNTS_LISTED)
            blocks.append(Paragraph(t["coordinated_accounts"].format(accounts=accounts)))
        if issue.per_target:
            blocks.append(self.counts_table(issue.per_target, with_share=False))
        if issue.top_posts:
            blocks.append(Paragraph(t["top_posts"]))
            blocks += [self.quote(p) for p in issue.top_posts]
        return blocks

    def issues(self) -> Section:
        blocks: list[Block] = [b for issue in self.data.issues for b in self.issue_blocks(issue)]
        return Section("issues", self.t["issues"], tuple(blocks) or (Paragraph(self.t["no_issues"]),))

    def trends(self) -> Section:
        d, t = self.data, self.t
        targets = [c.target for c in d.totals[:MAX_TREND_TARGETS]]
        if not targets:
            return Section("trends", t["trends"], (Paragraph(t["no_trends"]),))
        starts = bucket_starts(d.since, d.until, d.bucket)
        trend = [p for p in d.trends if p.counts.target in targets]
        charts = (
            (
                "volume",
                t["volume_chart"].format(bucket=self.bucket_name()),
                volume_series(trend, targets, starts),
                False,
            ),
            ("sentiment", t["sentiment_chart"], net_series(trend, targets, starts, "sentiment"), True),
            ("stance", t["stance_chart"], net_series(trend, targets, starts, "stance"), True),
        )
        labels = [self.tick(s, single_day=d.until - d.since <= timedelta(days=1)) for s in starts]
        blocks = tuple(
            Chart(name, title, line_chart(title, labels, series, self.names, symmetric=symmetric))
            for name, title, series, symmetric in charts
        )
        return Section("trends", t["trends"], blocks)

    def share_of_voice(self) -> Section:
        d, t = self.data, self.t
        if not d.totals:
            return Section("share_of_voice", t["share_of_voice"], (Paragraph(t["no_trends"]),))
        chart = Chart("share", t["share_chart"], share_chart(t["share_chart"], d.totals, self.names))
        table = self.counts_table(d.totals, with_share=True)
        return Section("share_of_voice", t["share_of_voice"], (chart, Paragraph(t["share_note"]), table))

    def campaigns(self) -> Section:
        t = self.t
        blocks: list[Block] = []
        for campaign in self.data.campaigns:
            blocks += self.campaign_blocks(campaign)
        return Section("campaigns", t["campaigns"], tuple(blocks) or (Paragraph(t["no_campaigns"]),))

    def campaign_blocks(self, campaign: Campaign) -> list[Block]:
        t = self.t
        blocks: list[Block] = [
            Heading(campaign.title or campaign.id),
            Paragraph(
                t["campaign_line"].format(
                    first=self.time(campaign.first_seen),
                    last=self.time(campaign.last_seen),
                    posts=self.number(campaign.posts),
                    accounts=self.number(len(campaign.accounts)),
                    targets=self.listing([self.name(x) for x in campaign.targets], 5),
                )
            ),
        ]
        if campaign.text:
            blocks.append(Paragraph(t["campaign_text"].format(text=_clip(campaign.text, 280))))
        if campaign.accounts:
            accounts = self.listing([f"@{a}" for a in campaign.accounts], MAX_ACCOUNTS_LISTED)
            blocks.append(Paragraph(t["accounts"].format(accounts=accounts)))
        if campaign.evidence:
            blocks.append(Paragraph(t["evidence"]))
            blocks += [self.quote(p) for p in campaign.evidence]
        return blocks

    def notable(self) -> Section:
        quotes = tuple(self.quote(p) for p in self.data.notable_posts)
        return Section("notable", self.t["notable"], quotes or (Paragraph(self.t["no_notable"]),))

    def chat_summary(self, title: str, subtitle: str, summary: Section) -> str:
        lines = [title, subtitle, "", *(b.text for b in summary.blocks if isinstance(b, Paragraph))]
        if self.data.issues:
            lines += ["", self.t["top_issues"]]
            lines += [
                f"• {' · '.join(i.label)}: {self.number(i.posts)} {self.t['posts'].lower()}"
                for i in self.data.issues[:3]
            ]
        return "\n".join(lines)


def compose(data: ReportData, watchlist: Watchlist, language: ReportLanguage, zone: tzinfo) -> Document:
    """The report's sections from its data (charts drawn here); no I/O."""
    composer = _Composer(data, watchlist, language, zone)
    t = TEXTS[language]
    subtitle = t["period"].format(since=composer.time(data.since), until=composer.time(data.until))
    summary = composer.summary()
    sections = (
        summary,
        composer.issues(),
        composer.trends(),
        composer.share_of_voice(),
        composer.campaigns(),
        composer.notable(),
    )
    return Document(
        language=language,
        title=t["title"],
        subtitle=subtitle,
        sections=sections,
        summary=composer.chat_summary(t["title"], subtitle, summary),
    )


def build_report(
    client: Client,
    period: Period,
    watchlist: Watchlist,
    language: ReportLanguage,
    zone: tzinfo,
    *,
    progress: Progress | None = None,
) -> Document:
    """Gather and compose (blocking: ClickHouse and matplotlib; async callers use a thread)."""
    data = gather(ReportQueries(client), period, progress=progress)
    document = compose(data, watchlist, language, zone)
    if progress is not None:
        progress("charts")
    return document


# -- rendering ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    """One format of a report: its own bytes, and for Markdown the chart files it refers to
    (names relative to the Markdown file)."""

    format: ReportFormat
    content: bytes
    files: dict[str, bytes] = field(default_factory=dict)

    @property
    def media_type(self) -> str:
        return {"html": "text/html", "pdf": "application/pdf", "md": "text/markdown"}[self.format]


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~])")


def _md(text: str) -> str:
    """Text as Markdown shows it literally: the characters that start emphasis, code, links, images,
    headings, tables, strike-through or inline HTML escaped (parentheses need not be: without an
    unescaped `]` before them they are no link), and line breaks made spaces."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def _is_web_url(url: str) -> bool:
    return url.startswith(("http://", "https://"))


def _percent_encode(char: str) -> str:
    return "".join(f"%{byte:02X}" for byte in char.encode("utf-8"))


def _autolink_url(url: str) -> str:
    """A URL as it may stand inside a Markdown `<...>` autolink: whitespace, `<`, `>` and control
    characters percent-encoded. A post's URL comes from its source; left as it is, a `>` or a space
    ends the autolink and what follows is read as Markdown, or as raw HTML."""
    return "".join(
        _percent_encode(char)
        if char.isspace() or char in "<>" or unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp")
        else char
        for char in url
    )


def render_markdown(document: Document, image_stem: str) -> Rendered:
    """Markdown with the charts as PNG files named `<image_stem>-<chart>.png` beside it."""
    lines = [f"# {_md(document.title)}", "", f"_{_md(document.subtitle)}_", ""]
    files: dict[str, bytes] = {}
    for section in document.sections:
        lines += [f"## {_md(section.title)}", ""]
        for block in section.blocks:
            if isinstance(block, Heading):
                lines += [f"### {_md(block.text)}", ""]
            elif isinstance(block, Paragraph):
                lines += [_md(block.text), ""]
            elif isinstance(block, Table):
                lines.append("| " + " | ".join(_md(h) for h in block.headers) + " |")
                lines.append("|" + "|".join("---" for _ in block.headers) + "|")
                lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in block.rows]
                lines.append("")
            elif isinstance(block, Chart):
                name = f"{image_stem}-{block.name}.png"
                files[name] = block.png
                lines += [f"![{_md(block.title)}]({name})", ""]
            else:
                link = f" · <{_autolink_url(block.url)}>" if _is_web_url(block.url) else ""
                lines += [f"> **{_md(block.meta)}**{link}  ", f"> {_md(block.text)}", ""]
    return Rendered("md", "\n".join(lines).encode("utf-8"), files)


_HTML = Environment(
    autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True
).from_string(
    """<!DOCTYPE html>
<html lang="{{ doc.language }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ doc.title }}</title>
<style>
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; color: #1d2733; max-width: 60rem;
       margin: 1.5rem auto; padding: 0 1rem; line-height: 1.45; }
h1 { margin-bottom: 0; } .period { color: #5b6674; margin-top: .2rem; }
h2 { border-bottom: 2px solid #3b6ea5; padding-bottom: .2rem; margin-top: 2rem; }
h3 { margin-bottom: .3rem; }
table { border-collapse: collapse; margin: .6rem 0; font-size: .9rem; }
th, td { border: 1px solid #d5dbe3; padding: .25rem .55rem; text-align: right; }
th:first-child, td:first-child { text-align: left; } th { background: #eef2f7; }
img { max-width: 100%; height: auto; display: block; margin: .6rem 0; }
blockquote { border-left: 3px solid #3b6ea5; margin: .5rem 0; padding: .2rem .8rem; background: #f6f8fb; }
blockquote .meta { color: #5b6674; font-size: .85rem; }
</style>
</head>
<body>
<h1>{{ doc.title }}</h1>
<p class="period">{{ doc.subtitle }}</p>
{% for section in doc.sections %}
<section id="{{ section.key }}">
<h2>{{ section.title }}</h2>
{% for block in section.blocks %}
{% if block.kind == "heading" %}
<h3>{{ block.text }}</h3>
{% elif block.kind == "paragraph" %}
<p>{{ block.text }}</p>
{% elif block.kind == "table" %}
<table><thead><tr>{% for h in block.headers %}<th>{{ h }}</th>{% endfor %}</tr></thead>
<tbody>{% for row in block.rows %}
<tr>{% for c in row %}<td>{{ c }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table>
{% elif block.kind == "chart" %}
<img alt="{{ block.title }}" src="data:image/png;base64,{{ block.data }}">
{% else %}
<blockquote><div class="meta">{{ block.meta }}
{% if block.url %} · <a href="{{ block.url }}">{{ block.url }}</a>{% endif %}</div>
<div>{{ block.text }}</div></blockquote>
{% endif %}
{% endfor %}
</section>
{% endfor %}
</body>
</html>
"""
)


def _html_block(block: Block) -> dict[str, object]:
    if isinstance(block, Heading):
        return {"kind": "heading", "text": block.text}
    if isinstance(block, Paragraph):
        return {"kind": "paragraph", "text": block.text}
    if isinstance(block, Table):
        return {"kind": "table", "headers": block.headers, "rows": block.rows}
    if isinstance(block, Chart):
        return {"kind": "chart", "title": block.title, "data": base64.b64encode(block.png).decode()}
    # Only web links: a post's URL comes from its source, and a javascript: link must not be clickable.
    url = block.url if _is_web_url(block.url) else ""
    return {"kind": "quote", "meta": block.meta, "text": block.text, "url": url}


def render_html(document: Document) -> Rendered:
    """One self-contained HTML file: the charts are embedded as base64 PNG."""
    sections = [
        {"key": s.key, "title": s.title, "blocks": [_html_block(b) for b in s.blocks]}
        for s in document.sections
    ]
    doc = {"language": document.language, "title": document.title, "subtitle": document.subtitle}
    return Rendered("html", _HTML.render(doc=doc | {"sections": sections}).encode("utf-8"))


_PDF_FONT = "dejavu"
_ACCENT = (59, 110, 165)
_GREY = (91, 102, 116)


class _Pdf(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(_PDF_FONT, size=8)
        self.set_text_color(*_GREY)
        self.cell(0, 6, str(self.page_no()), align="C")


def render_pdf(document: Document) -> Rendered:
    """A4 PDF in DejaVu Sans (embedded), charts inline. Every text passes through `printable`, so
    emoji, control characters and scripts the font lacks never reach the PDF library."""
    pdf = _Pdf(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(auto=True, margin=16)
    pdf.add_font(_PDF_FONT, "", str(REGULAR_FONT))
    pdf.add_font(_PDF_FONT, "B", str(BOLD_FONT))
    pdf.set_title(printable(document.title))
    pdf.set_creator("Pantau")
    pdf.set_lang(document.language)
    pdf.add_page()

    def text(
        value: str, size: float, *, bold: bool = False, colour: tuple[int, int, int] = (29, 39, 51)
    ) -> None:
        pdf.set_font(_PDF_FONT, "B" if bold else "", size)
        pdf.set_text_color(*colour)
        pdf.multi_cell(0, size * 0.5, printable(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    text(document.title, 18, bold=True)
    text(document.subtitle, 10, colour=_GREY)
    for section in document.sections:
        pdf.ln(4)
        text(section.title, 14, bold=True, colour=_ACCENT)
        pdf.set_draw_color(*_ACCENT)
        pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
        pdf.ln(2)
        for block in section.blocks:
            if isinstance(block, Heading):
                pdf.ln(1)
                text(block.text, 11, bold=True)
            elif isinstance(block, Paragraph):
                text(block.text, 9)
                pdf.ln(1)
            elif isinstance(block, Table):
                pdf.set_font(_PDF_FONT, size=8)
                pdf.set_text_color(29, 39, 51)
                pdf.set_draw_color(213, 219, 227)
                widths = (3.0, *([1.0] * (len(block.headers) - 1)))
                with pdf.table(col_widths=widths, line_height=4.5, text_align="LEFT") as table:
                    for row in (block.headers, *block.rows):
                        cells = table.row()
                        for cell in row:
                            cells.cell(printable(cell))
                pdf.ln(2)
            elif isinstance(block, Chart):
                pdf.image(io.BytesIO(block.png), w=pdf.epw)
                pdf.ln(2)
            else:
                pdf.set_draw_color(*_ACCENT)
                pdf.set_font(_PDF_FONT, size=7.5)
                pdf.set_text_color(*_GREY)
                meta = printable(block.meta + (f" · {block.url}" if block.url else ""))
                pdf.multi_cell(
                    0, 4, meta, border="L", padding=(0, 0, 0, 2), new_x=XPos.LMARGIN, new_y=YPos.NEXT
                )
                pdf.set_font(_PDF_FONT, size=8.5)
                pdf.set_text_color(29, 39, 51)
                pdf.multi_cell(
                    0,
                    4.5,
                    printable(block.text),
                    border="L",
                    padding=(0, 0, 0, 2),
                    new_x=XPos.LMARGIN,
                    new_y=YPos.NEXT,
                )
                pdf.ln(1.5)
    return Rendered("pdf", bytes(pdf.output()))


def render(document: Document, fmt: ReportFormat, *, image_stem: str = "report") -> Rendered:
    if fmt == "html":
        return render_html(document)
    if fmt == "pdf":
        return render_pdf(document)
    return render_markdown(document, image_stem)


def default_name(period: Period, language: ReportLanguage, fmt: ReportFormat, zone: tzinfo) -> str:
    return f"pantau-brief-{period.until.astimezone(zone):%Y%m%d-%H%M}-{language}.{fmt}"


def write_report(document: Document, fmt: ReportFormat, out: Path) -> list[Path]:
    """Render to `out` (and, for Markdown, its charts beside it); the paths written, `out` first."""
    rendered = render(document, fmt, image_stem=out.stem)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(rendered.content)
    written = [out]
    for name, content in rendered.files.items():
        (out.parent / name).write_bytes(content)
        written.append(out.parent / name)
    return written


def report_format(value: str) -> ReportFormat:
    for known in FORMATS:
        if value == known:
            return known
    raise ValueError(f"--format: {value!r} is not one of {', '.join(FORMATS)}")


def report_language(value: str) -> ReportLanguage:
    if value == "id":
        return "id"
    if value == "en":
        return "en"
    raise ValueError(f"--lang: {value!r} is not id or en")


def run_with_progress(
    client: Client,
    period: Period,
    watchlist: Watchlist,
    language: ReportLanguage,
    zone: tzinfo,
    *,
    show: bool,
) -> Document:
    """`build_report` with a progress bar on stderr when `show` (a terminal: never in a log)."""
    if not show:
        return build_report(client, period, watchlist, language, zone)
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("report", total=len(GATHER_STEPS) + 1)
        return build_report(
            client,
            period,
            watchlist,
            language,
            zone,
            progress=lambda step: bar.update(task, advance=1, description=step),
        )
