"""Pantau's Grafana dashboards, defined once here and written as JSON for Grafana to provision.

The SQL is not in this module: every panel, variable and annotation names a block of
dashboards/queries.sql, where each query is plain ClickHouse SQL with query parameters, runnable as
it stands and run by the tests against the real engine. `grafana_sql` turns the parameters back into
the datasource plugin's macros and the dashboards' variables.

    python -m service.dashboards           # writes dashboards/json/*.json
    python -m service.dashboards --check   # exits 1 when the committed JSON differs from this
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Sequence
from enum import Enum
from pathlib import Path

from grafana_foundation_sdk.builders import bargauge, piechart, stat, table, text, timeseries
from grafana_foundation_sdk.builders import common as common_builder
from grafana_foundation_sdk.builders import dashboard as dashboard_builder
from grafana_foundation_sdk.cog import builder as cog_builder
from grafana_foundation_sdk.cog import variants
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models import text as text_model

# The repository's dashboards folder; the generator is run from a checkout, not an installed package.
DASHBOARDS_DIR = Path(__file__).resolve().parents[1] / "dashboards"

# dashboards/provisioning/datasources/clickhouse.yaml provisions the datasource with this uid.
DATASOURCE = model.DataSourceRef(type_val="grafana-clickhouse-datasource", uid="pantau-clickhouse")
GRAFANA_ANNOTATIONS = model.DataSourceRef(type_val="grafana", uid="-- Grafana --")
TAG = "pantau"

WAR_ROOM_UID, TARGET_UID, ISSUE_UID, OPERATIONS_UID = (
    "pantau-war-room",
    "pantau-target",
    "pantau-issue",
    "pantau-operations",
)
# Data links from a table cell to a drill-down, keeping the time range.
ISSUE_LINK = f"/d/{ISSUE_UID}?var-issue=${{__value.raw}}&${{__url_time_range}}"
TARGET_LINK = f"/d/{TARGET_UID}?var-target=${{__value.raw}}&${{__url_time_range}}"

PROMETHEUS_NOTE = (
    "Only what reached ClickHouse shows here. The API serves Prometheus text at /metrics and the worker "
    "on its metrics port (9108 in docker-compose): messages in per stage, batch sizes and latencies, "
    "consumer lag, notifier retries. docker-compose runs no Prometheus; point one at those endpoints "
    "to chart them."
)


# -- the SQL ----------------------------------------------------------------------------------------

_BLOCK_NAME = re.compile(r"--\s*name:\s*([a-z0-9_]+)\s*")
_TIME_FILTER = re.compile(r"([\w.]+) >= \{from:DateTime64\(3\)\} AND \1 <= \{to:DateTime64\(3\)\}")
_PARAMETER = re.compile(r"\{(\w+):([^{}]+)\}")
_MACROS = {
    ("from", "DateTime64(3)"): "$__fromTime",
    ("to", "DateTime64(3)"): "$__toTime",
    ("interval_s", "UInt32"): "$__interval_s",
}


def parse_queries(text: str) -> dict[str, str]:
    """The `-- name: NAME` blocks of queries.sql, without comments or the closing semicolon."""
    blocks: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        match = _BLOCK_NAME.fullmatch(line)
        if match:
            if match.group(1) in blocks:
                raise ValueError(f"queries.sql: block {match.group(1)!r} appears twice")
            current = blocks[match.group(1)] = []
        elif current is not None and not line.lstrip().startswith("--"):
            current.append(line)
    return {name: "\n".join(lines).strip().rstrip(";").strip() for name, lines in blocks.items()}


def grafana_sql(sql: str) -> str:
    """A queries.sql block with its query parameters written as Grafana macros and variables."""
    sql = _TIME_FILTER.sub(r"$__timeFilter(\1)", sql)

    def macro(match: re.Match[str]) -> str:
        name, kind = match.group(1), match.group(2)
        if (name, kind) in _MACROS:
            return _MACROS[name, kind]
        if kind == "String":
            return f"${{{name}:sqlstring}}"  # a dashboard variable, quoted and escaped by Grafana
        raise ValueError(f"no Grafana form for the query parameter {match.group(0)}")

    return _PARAMETER.sub(macro, sql)


class Queries:
    """The blocks of queries.sql in Grafana's form, remembering which ones the dashboards use."""

    def __init__(self, text: str) -> None:
        self.blocks = parse_queries(text)
        self.used: set[str] = set()

    def __call__(self, name: str) -> str:
        if name not in self.blocks:
            raise KeyError(f"queries.sql has no block {name!r}")
        self.used.add(name)
        return grafana_sql(self.blocks[name])


# -- the ClickHouse datasource's query (the SDK has no builder for this plugin) ----------------------


class Result(Enum):
    """How the plugin shapes a result: `format` and `queryType` of its SQL-mode query."""

    TIME_SERIES = (0, "timeseries")
    TABLE = (1, "table")


class ClickHouseQuery(variants.Dataquery):
    """A query of the grafana-clickhouse-datasource plugin in its SQL editor mode."""

    def __init__(self, raw_sql: str, result: Result, ref_id: str = "A") -> None:
        self.raw_sql = raw_sql
        self.result = result
        self.ref_id = ref_id

    def to_json(self) -> dict[str, object]:
        return {
            "datasource": DATASOURCE,
            "editorType": "sql",
            "format": self.result.value[0],
            "queryType": self.result.value[1],
            "rawSql": self.raw_sql,
            "refId": self.ref_id,
        }


class ClickHouseQueryBuilder(cog_builder.Builder[variants.Dataquery]):
    def __init__(self, raw_sql: str, result: Result) -> None:
        self._query = ClickHouseQuery(raw_sql, result)

    def build(self) -> variants.Dataquery:
        return self._query


class ClickHouseAnnotationTarget(model.AnnotationTarget):
    """An annotation query run by the plugin: columns time, title, text and tags become the marks.

    The SDK types an annotation's target as the built-in Grafana one (limit, tags, type); the plugin
    reads its SQL query from the same key instead."""

    def __init__(self, raw_sql: str) -> None:
        super().__init__()
        self.raw_sql = raw_sql

    def to_json(self) -> dict[str, object]:
        return ClickHouseQuery(self.raw_sql, Result.TABLE, ref_id="annotation").to_json()


class ClickHouseAnnotationTargetBuilder(cog_builder.Builder[model.AnnotationTarget]):
    def __init__(self, raw_sql: str) -> None:
        self._target = ClickHouseAnnotationTarget(raw_sql)

    def build(self) -> model.AnnotationTarget:
        return self._target


# -- panel helpers ----------------------------------------------------------------------------------

COLOURS = {
    "negative": "red",
    "neutral": "text",
    "positive": "green",
    "against": "red",
    "none": "text",
    "favor": "green",
}


def _fixed_colour(colour: str) -> model.DynamicConfigValue:
    return model.DynamicConfigValue(id_val="color", value={"mode": "fixed", "fixedColor": colour})


def _unit(unit: str) -> model.DynamicConfigValue:
    return model.DynamicConfigValue(id_val="unit", value=unit)


def _link(title: str, url: str) -> model.DynamicConfigValue:
    return model.DynamicConfigValue(id_val="links", value=[{"title": title, "url": url}])


def _colour_by_name(names: Sequence[str]) -> list[tuple[str, list[model.DynamicConfigValue]]]:
    return [(name, [_fixed_colour(COLOURS[name])]) for name in names]


Overrides = Sequence[tuple[str, list[model.DynamicConfigValue]]]


def time_series(
    sql: str,
    title: str,
    description: str,
    *,
    unit: str = "short",
    display_name: str | None = None,
    stacked: bool = False,
    share: bool = False,
    overrides: Overrides = (),
    span: int = 12,
    height: int = 8,
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .with_target(ClickHouseQueryBuilder(sql, Result.TIME_SERIES))
        .span(span)
        .height(height)
        .unit("percentunit" if share else unit)
        .min(0)
        .color_scheme(dashboard_builder.FieldColor().mode(model.FieldColorModeId.PALETTE_CLASSIC))
        .draw_style(common.GraphDrawStyle.LINE)
        .line_width(1)
        .fill_opacity(20 if stacked else 10)
        .show_points(common.VisibilityMode.NEVER)
        .span_nulls(False)
        .stacking(
            common_builder.StackingConfig()
            .mode(common.StackingMode.NORMAL if stacked else common.StackingMode.NONE)
            .group("A")
        )
        .legend(
            common_builder.VizLegendOptions()
            .display_mode(common.LegendDisplayMode.LIST)
            .placement(common.LegendPlacement.BOTTOM)
            .show_legend(True)
        )
        .tooltip(
            common_builder.VizTooltipOptions()
            .mode(common.TooltipDisplayMode.MULTI)
            .sort(common.SortOrder.DESCENDING)
        )
    )
    if share:
        panel.max(1)
    if display_name is not None:
        panel.display_name(display_name)
    for name, properties in overrides:
        panel.override_by_name(name, properties)
    return panel


def table_panel(
    sql: str,
    title: str,
    description: str,
    *,
    overrides: Overrides = (),
    span: int = 12,
    height: int = 10,
) -> table.Panel:
    panel = (
        table.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .with_target(ClickHouseQueryBuilder(sql, Result.TABLE))
        .span(span)
        .height(height)
        .show_header(True)
        .cell_height(common.TableCellHeight.SM)
    )
    for name, properties in overrides:
        panel.override_by_name(name, properties)
    return panel


def bar_gauge(
    sql: str, title: str, description: str, *, unit: str = "short", span: int = 6, height: int = 10
) -> bargauge.Panel:
    """One bar per result row (the row's text column names it)."""
    return (
        bargauge.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .with_target(ClickHouseQueryBuilder(sql, Result.TABLE))
        .span(span)
        .height(height)
        .unit(unit)
        .min(0)
        .color_scheme(dashboard_builder.FieldColor().mode(model.FieldColorModeId.CONTINUOUS_BL_PU))
        .orientation(common.VizOrientation.HORIZONTAL)
        .display_mode(common.BarGaugeDisplayMode.BASIC)
        .show_unfilled(True)
        .reduce_options(common_builder.ReduceDataOptions().values(True).calcs([]).fields(""))
    )


def pie(
    sql: str, title: str, description: str, *, overrides: Overrides = (), span: int = 6
) -> piechart.Panel:
    panel = (
        piechart.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .with_target(ClickHouseQueryBuilder(sql, Result.TABLE))
        .span(span)
        .height(8)
        .reduce_options(common_builder.ReduceDataOptions().values(True).calcs([]).fields(""))
    )
    for name, properties in overrides:
        panel.override_by_name(name, properties)
    return panel


def numbers(sql: str, title: str, description: str, *, span: int = 24) -> stat.Panel:
    """Every numeric column of a one-row result as its own figure."""
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .with_target(ClickHouseQueryBuilder(sql, Result.TABLE))
        .span(span)
        .height(4)
        .color_mode(common.BigValueColorMode.NONE)
        .graph_mode(common.BigValueGraphMode.NONE)
        .reduce_options(common_builder.ReduceDataOptions().values(False).calcs(["lastNotNull"]).fields(""))
    )


def note(title: str, content: str, *, span: int = 24, height: int = 4) -> text.Panel:
    return (
        text.Panel()
        .title(title)
        .mode(text_model.TextMode.MARKDOWN)
        .content(content)
        .span(span)
        .height(height)
    )


def target_variable(q: Queries) -> dashboard_builder.QueryVariable:
    return (
        dashboard_builder.QueryVariable("target")
        .label("Target")
        .description("A watchlist target")
        .datasource(DATASOURCE)
        .query(q("target_variable"))
        .refresh(model.VariableRefresh.ON_DASHBOARD_LOAD)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
        .include_all(False)
        .multi(False)
    )


def builtin_annotations() -> dashboard_builder.AnnotationQuery:
    return (
        dashboard_builder.AnnotationQuery()
        .name("Annotations & Alerts")
        .datasource(GRAFANA_ANNOTATIONS)
        .enable(True)
        .hide(True)
        .icon_color("rgba(0, 211, 255, 1)")
        .type("dashboard")
        .built_in(1)
    )


def issue_onsets(q: Queries) -> dashboard_builder.AnnotationQuery:
    return (
        dashboard_builder.AnnotationQuery()
        .name("Issue onsets")
        .datasource(DATASOURCE)
        .enable(True)
        .icon_color("orange")
        .target(ClickHouseAnnotationTargetBuilder(q("issue_onsets")))
    )


def new_dashboard(uid: str, title: str, description: str, *, time_from: str) -> dashboard_builder.Dashboard:
    return (
        dashboard_builder.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags([TAG])
        .editable()
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .timezone("browser")
        .time(time_from, "now")
        .refresh("30s")
        .timepicker(dashboard_builder.TimePicker().refresh_intervals(["10s", "30s", "1m", "5m", "15m"]))
        .link(
            dashboard_builder.DashboardLink("Pantau")
            .type(model.DashboardLinkType.DASHBOARDS)
            .tags([TAG])
            .as_dropdown(True)
            .keep_time(True)
            .include_vars(False)
        )
        .annotation(builtin_annotations())
    )


# -- the dashboards ---------------------------------------------------------------------------------

TIME_COLUMN = [_unit("dateTimeAsLocal")]


def war_room(q: Queries) -> dashboard_builder.Dashboard:
    board = (
        new_dashboard(
            WAR_ROOM_UID,
            "Pantau war room",
            "Issues now, volume and share of voice per target, sentiment and stance, coordinated "
            "campaigns, hashtags and open alerts.",
            time_from="now-6h",
        )
        .with_variable(target_variable(q))
        .annotation(issue_onsets(q))
    )
    board.with_panel(
        table_panel(
            q("issues_now"),
            "Issues now",
            "Issues not yet closed that were active in the time range, live (paged) first, then by "
            "growth: the strongest signal's ratio to its own baseline. Click an id for its drill-down.",
            overrides=[
                ("id", [_link("Open the issue", ISSUE_LINK)]),
                ("growth_ratio", [model.DynamicConfigValue(id_val="decimals", value=1)]),
                ("opened_at", TIME_COLUMN),
                ("last_activity", TIME_COLUMN),
            ],
            span=24,
            height=9,
        )
    )
    board.with_panel(
        time_series(
            q("posts_per_minute"),
            "Posts per minute",
            "All posts, counted once per id, per minute.",
            display_name="posts",
        )
    )
    board.with_panel(
        time_series(
            q("posts_per_minute_by_target"),
            "Posts per minute by target",
            "Posts naming each watched target, per minute.",
            display_name="${__field.labels.target}",
        )
    )
    board.with_panel(
        bar_gauge(
            q("share_of_voice"),
            "Share of voice",
            "Each target's share of the posts that name a watched target in the time range.",
            unit="percentunit",
        )
    )
    board.with_panel(
        table_panel(
            q("sentiment_stance_by_target"),
            "Sentiment and stance per target",
            "For each target, its posts in the time range and the shares of them by sentiment and by "
            "stance toward it. Click a target for its drill-down.",
            overrides=[
                ("target", [_link("Open the target", TARGET_LINK)]),
                *[(name, [_unit("percentunit")]) for name in ("positive", "neutral", "negative")],
                *[(name, [_unit("percentunit")]) for name in ("favor", "no_stance", "against")],
            ],
            span=18,
        )
    )
    board.with_panel(
        time_series(
            q("sentiment_share"),
            "Sentiment share: $target",
            "Share of the selected target's posts by sentiment.",
            display_name="${__field.labels.sentiment}",
            stacked=True,
            share=True,
            overrides=_colour_by_name(["negative", "neutral", "positive"]),
        )
    )
    board.with_panel(
        time_series(
            q("stance_share"),
            "Stance share: $target",
            "Share of the selected target's posts by the stance they take toward it.",
            display_name="${__field.labels.stance}",
            stacked=True,
            share=True,
            overrides=_colour_by_name(["against", "none", "favor"]),
        )
    )
    board.with_panel(
        table_panel(
            q("coordinated_campaigns"),
            "Coordinated campaigns",
            "Alerts of coordinated posting in the time range: many accounts posting near-identical text "
            "within a short window. account_ids lists the accounts the detector saw.",
            overrides=[("created_at", TIME_COLUMN), ("target", [_link("Open the target", TARGET_LINK)])],
            span=12,
        )
    )
    board.with_panel(
        bar_gauge(
            q("top_hashtags"),
            "Top hashtags (last hour)",
            "Hashtags by distinct posts in the hour before the end of the time range.",
        )
    )
    board.with_panel(
        table_panel(
            q("open_alerts"),
            "Open alerts",
            "Alerts not yet resolved, newest first.",
            overrides=[("created_at", TIME_COLUMN), ("severity", _severity_colours())],
            span=6,
        )
    )
    return board


def _severity_colours() -> list[model.DynamicConfigValue]:
    return [
        model.DynamicConfigValue(id_val="custom.cellOptions", value={"type": "color-background"}),
        model.DynamicConfigValue(
            id_val="mappings",
            value=[
                model.ValueMap(
                    options={
                        "critical": model.ValueMappingResult(color="red", index=0),
                        "warning": model.ValueMappingResult(color="orange", index=1),
                        "info": model.ValueMappingResult(color="blue", index=2),
                    }
                )
            ],
        ),
    ]


def target_drilldown(q: Queries) -> dashboard_builder.Dashboard:
    board = (
        new_dashboard(
            TARGET_UID,
            "Pantau target",
            "One target over any time range: volume, sentiment and stance, the accounts and hashtags "
            "around it, its issues, alerts and latest posts. Time series group into buckets that grow "
            "with the range (one minute at the least).",
            time_from="now-24h",
        )
        .with_variable(target_variable(q))
        .annotation(issue_onsets(q))
    )
    board.with_panel(
        time_series(
            q("target_posts_over_time"),
            "Posts and accounts: $target",
            "Distinct posts naming the target per bucket, and distinct accounts posting them.",
            span=24,
        )
    )
    board.with_panel(
        time_series(
            q("sentiment_share"),
            "Sentiment share: $target",
            "Share of the target's posts by sentiment, per bucket.",
            display_name="${__field.labels.sentiment}",
            stacked=True,
            share=True,
            overrides=_colour_by_name(["negative", "neutral", "positive"]),
        )
    )
    board.with_panel(
        time_series(
            q("stance_share"),
            "Stance share: $target",
            "Share of the target's posts by the stance they take toward it, per bucket.",
            display_name="${__field.labels.stance}",
            stacked=True,
            share=True,
            overrides=_colour_by_name(["against", "none", "favor"]),
        )
    )
    board.with_panel(
        table_panel(
            q("target_top_accounts"),
            "Top accounts: $target",
            "Accounts posting about the target, by the reposts and likes their posts got.",
            span=16,
        )
    )
    board.with_panel(
        bar_gauge(
            q("target_hashtags"),
            "Hashtags: $target",
            "Hashtags on the target's posts in the time range.",
            span=8,
        )
    )
    board.with_panel(
        table_panel(
            q("target_issues"),
            "Issues: $target",
            "Issues naming the target, active in the time range. Click an id for its drill-down.",
            overrides=[
                ("id", [_link("Open the issue", ISSUE_LINK)]),
                ("opened_at", TIME_COLUMN),
                ("last_activity", TIME_COLUMN),
            ],
        )
    )
    board.with_panel(
        table_panel(
            q("target_alerts"),
            "Alerts: $target",
            "Alerts on the target created in the time range, in their latest state.",
            overrides=[("created_at", TIME_COLUMN), ("severity", _severity_colours())],
        )
    )
    board.with_panel(
        table_panel(
            q("target_latest_posts"),
            "Latest posts: $target",
            "The newest posts naming the target, with the stance each takes toward it.",
            overrides=[("created_at", TIME_COLUMN)],
            span=24,
            height=12,
        )
    )
    return board


def issue_drilldown(q: Queries) -> dashboard_builder.Dashboard:
    issue_variable = (
        dashboard_builder.QueryVariable("issue")
        .label("Issue")
        .description("An issue, newest activity first (label, status and id)")
        .datasource(DATASOURCE)
        .query(q("issue_variable"))
        .refresh(model.VariableRefresh.ON_DASHBOARD_LOAD)
        .sort(model.VariableSort.DISABLED)
        .include_all(False)
        .multi(False)
    )
    board = new_dashboard(
        ISSUE_UID,
        "Pantau issue",
        "One issue: what it is, how it grew, who carried it, the words of its label, and how its posts "
        "feel about the targets they name.",
        time_from="now-24h",
    ).with_variable(issue_variable)
    board.with_panel(
        table_panel(
            q("issue_summary"),
            "Issue",
            "Its label, status, targets, the kinds of signal behind it, and its times.",
            overrides=[
                (name, TIME_COLUMN) for name in ("first_post_at", "opened_at", "paged_at", "last_activity")
            ],
            span=24,
            height=4,
        )
    )
    board.with_panel(
        numbers(
            q("issue_numbers"),
            "Size and growth",
            "Posts, accounts, voices (accounts writing their own posts), reposts, its rate and growth, "
            "and the accounts seen in coordinated waves.",
        )
    )
    board.with_panel(
        time_series(
            q("issue_posts_over_time"),
            "Posts over time",
            "The issue's posts by the time they were written, per bucket.",
            display_name="posts",
            span=16,
        )
    )
    board.with_panel(
        bar_gauge(
            q("issue_label_terms"),
            "Label terms",
            "Each item of the issue's label, and how many of its posts carry it.",
            span=8,
            height=8,
        )
    )
    board.with_panel(
        table_panel(
            q("issue_accounts"),
            "Accounts",
            "Accounts that posted or reposted into the issue; coordinated = 1 marks accounts seen in a "
            "coordinated wave.",
            span=12,
        )
    )
    board.with_panel(
        pie(
            q("issue_sentiment"),
            "Sentiment of its posts",
            "The issue's posts by sentiment.",
            overrides=_colour_by_name(["negative", "neutral", "positive"]),
        )
    )
    board.with_panel(
        table_panel(
            q("issue_stance"),
            "Stance toward each target",
            "For each target its posts name, how many take each stance toward it.",
            span=6,
        )
    )
    board.with_panel(
        table_panel(
            q("issue_post_list"),
            "Posts",
            "The issue's posts, oldest first: its origin at the top.",
            overrides=[("created_at", TIME_COLUMN)],
            span=24,
            height=12,
        )
    )
    return board


def operations(q: Queries) -> dashboard_builder.Dashboard:
    board = new_dashboard(
        OPERATIONS_UID,
        "Pantau operations",
        "Throughput and lag per stage as ClickHouse records them, dead letters, and notification "
        "deliveries. " + PROMETHEUS_NOTE,
        time_from="now-3h",
    )
    board.with_panel(note("Where the rest of the metrics are", PROMETHEUS_NOTE, height=3))
    board.with_panel(
        time_series(
            q("posts_per_stage_per_minute"),
            "Posts per minute by stage",
            "Posts by the minute each stage handled them: received (normalised from a source), "
            "enriched (classified), stored (written to ClickHouse). A stored line falling behind the "
            "others means the store is lagging. " + PROMETHEUS_NOTE,
            display_name="${__field.labels.stage}",
        )
    )
    board.with_panel(
        time_series(
            q("stage_lag"),
            "Lag per stage (95th percentile)",
            "Seconds between stages for the posts stored each minute: the source's delay (written to "
            "received), enrichment (received to enriched), storing (enriched to stored), and received to "
            "stored overall. " + PROMETHEUS_NOTE,
            unit="s",
        )
    )
    board.with_panel(
        time_series(
            q("dead_letters_per_minute"),
            "Dead letters per minute by stage",
            "Messages a stage could not use, per minute (a redelivered message counts once).",
            display_name="${__field.labels.stage}",
        )
    )
    board.with_panel(
        table_panel(
            q("dead_letters"),
            "Dead letters by stage and reason",
            "Messages a stage could not use in the time range, by stage and reason; the messages "
            "themselves are in the dead_letters table for inspection and replay.",
            overrides=[("last_failed_at", TIME_COLUMN)],
        )
    )
    board.with_panel(
        time_series(
            q("notification_deliveries"),
            "Notification deliveries by status",
            "Deliveries of alert notifications per bucket: delivered, failed (after the notifier's "
            "retries), or no_channels (the route's receiver has no channel).",
            display_name="${__field.labels.status}",
            overrides=[
                ("delivered", [_fixed_colour("green")]),
                ("failed", [_fixed_colour("red")]),
                ("no_channels", [_fixed_colour("orange")]),
            ],
        )
    )
    board.with_panel(
        table_panel(
            q("notification_failures"),
            "Notifications not delivered",
            "Each delivery that failed or had no channel, newest first, with the error of its last attempt.",
            overrides=[("started_at", TIME_COLUMN)],
        )
    )
    return board


DASHBOARDS: dict[str, Callable[[Queries], dashboard_builder.Dashboard]] = {
    "war-room.json": war_room,
    "target.json": target_drilldown,
    "issue.json": issue_drilldown,
    "operations.json": operations,
}


def _numbered(board: model.Dashboard) -> model.Dashboard:
    """Panels get ids in the order they appear: stable across runs, so links to a panel keep working."""
    for number, panel in enumerate(board.panels or [], start=1):
        panel.id_val = number
    return board


def render_dashboards(queries_sql: str) -> dict[str, str]:
    """Each dashboard's file name and JSON text, built from the queries.sql text given."""
    queries = Queries(queries_sql)
    rendered = {
        name: json.dumps(_numbered(build(queries).build()), cls=JSONEncoder, indent=2) + "\n"
        for name, build in DASHBOARDS.items()
    }
    unused = set(queries.blocks) - queries.used
    if unused:
        raise ValueError(f"queries.sql blocks no dashboard uses: {sorted(unused)}")
    return rendered


def differences(directory: Path) -> list[str]:
    """What in directory/json is not what the definition writes (missing, changed or extra files)."""
    rendered = render_dashboards((directory / "queries.sql").read_text(encoding="utf-8"))
    json_dir = directory / "json"
    found = {path.name for path in json_dir.glob("*.json")} if json_dir.is_dir() else set()
    problems = [f"missing: {name}" for name in sorted(set(rendered) - found)]
    problems += [f"not generated: {name}" for name in sorted(found - set(rendered))]
    problems += [
        f"differs: {name}"
        for name in sorted(set(rendered) & found)
        if (json_dir / name).read_text(encoding="utf-8") != rendered[name]
    ]
    return problems


def write(directory: Path) -> list[Path]:
    """Writes every dashboard into directory/json, removing JSON files no dashboard is written to."""
    rendered = render_dashboards((directory / "queries.sql").read_text(encoding="utf-8"))
    json_dir = directory / "json"
    json_dir.mkdir(parents=True, exist_ok=True)
    for stale in json_dir.glob("*.json"):
        if stale.name not in rendered:
            stale.unlink()
    written = []
    for name, content in rendered.items():
        path = json_dir / name
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m service.dashboards",
        description="Write Pantau's Grafana dashboards (dashboards/json) from their one definition.",
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if the committed JSON differs"
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=DASHBOARDS_DIR,
        help="the dashboards folder, holding queries.sql and json/ (default: the repository's)",
    )
    args = parser.parse_args(argv)
    if args.check:
        problems = differences(args.dir)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print("run `python -m service.dashboards` and commit the result", file=sys.stderr)
            return 1
        return 0
    for path in write(args.dir):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
