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

from grafana_foundation_sdk.builders import bargauge, piechart, prometheus, stat, table, timeseries
from grafana_foundation_sdk.builders import common as common_builder
from grafana_foundation_sdk.builders import dashboard as dashboard_builder
from grafana_foundation_sdk.cog import builder as cog_builder
from grafana_foundation_sdk.cog import variants
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models import prometheus as prometheus_model

# The repository's dashboards folder; the generator is run from a checkout, not an installed package.
DASHBOARDS_DIR = Path(__file__).resolve().parents[1] / "dashboards"

# dashboards/provisioning/datasources/clickhouse.yaml provisions the datasource with this uid.
DATASOURCE = model.DataSourceRef(type_val="grafana-clickhouse-datasource", uid="pantau-clickhouse")
# dashboards/provisioning/datasources/prometheus.yaml provisions this one: the prometheus service of
# docker-compose, scraping the worker's metrics port and the API's /metrics.
PROMETHEUS = model.DataSourceRef(type_val="prometheus", uid="pantau-prometheus")
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

METRICS_NOTE = (
    "The rows Stages, Sources, and Spool and broker chart the processes' own Prometheus metrics (the "
    "worker's metrics port and the API's /metrics, scraped by docker-compose's prometheus service): "
    "live, each counting from its process's start. The Storage row is what reached ClickHouse."
)
# Counters are rated over Grafana's $__rate_interval: at least four scrapes, whatever the zoom.
RATE = "[$__rate_interval]"


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


def _target_shares(q: Queries, posts: str, per: str) -> list[timeseries.Panel]:
    """The selected target's sentiment and stance shares over time, stacked to 100%."""
    return [
        time_series(
            q(f"{measure}_share"),
            f"{measure.capitalize()} share: $target",
            f"Share of {posts} by {said}{per}.",
            display_name=f"${{__field.labels.{measure}}}",
            stacked=True,
            share=True,
            overrides=_colour_by_name(colours),
        )
        for measure, said, colours in (
            ("sentiment", "sentiment", ["negative", "neutral", "positive"]),
            ("stance", "the stance they take toward it", ["against", "none", "favor"]),
        )
    ]


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
    panel = _series_panel(
        DATASOURCE,
        [ClickHouseQueryBuilder(sql, Result.TIME_SERIES)],
        title,
        description,
        unit=unit,
        stacked=stacked,
        share=share,
        span=span,
        height=height,
    )
    if display_name is not None:
        panel.display_name(display_name)
    for name, properties in overrides:
        panel.override_by_name(name, properties)
    return panel


def metric(expr: str, legend: str, ref_id: str = "A") -> prometheus.Dataquery:
    """A PromQL range query; `legend` names each series from its labels ({{stage}})."""
    return (
        prometheus.Dataquery()
        .datasource(PROMETHEUS)
        .editor_mode(prometheus_model.QueryEditorMode.CODE)
        .expr(expr)
        .legend_format(legend)
        .range()
        .ref_id(ref_id)
    )


def metric_series(
    queries: Sequence[prometheus.Dataquery],
    title: str,
    description: str,
    *,
    unit: str = "short",
    span: int = 12,
    height: int = 8,
) -> timeseries.Panel:
    return _series_panel(
        PROMETHEUS,
        queries,
        title,
        description,
        unit=unit,
        stacked=False,
        share=False,
        span=span,
        height=height,
    )


def _series_panel(
    datasource: model.DataSourceRef,
    queries: Sequence[cog_builder.Builder[variants.Dataquery]],
    title: str,
    description: str,
    *,
    unit: str,
    stacked: bool,
    share: bool,
    span: int,
    height: int,
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(datasource)
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
    for query in queries:
        panel.with_target(query)
    if share:
        panel.max(1)
    return panel


def metric_state(
    expr: str, legend: str, title: str, description: str, *, states: dict[str, tuple[str, str]], span: int
) -> stat.Panel:
    """The latest value of each series as a coloured word: states maps a value to (word, colour)."""
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(PROMETHEUS)
        .with_target(metric(expr, legend))
        .span(span)
        .height(8)
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.NONE)
        .text_mode(common.BigValueTextMode.VALUE_AND_NAME)
        .reduce_options(common_builder.ReduceDataOptions().values(False).calcs(["lastNotNull"]).fields(""))
        .mappings(
            [
                model.ValueMap(
                    options={
                        value: model.ValueMappingResult(text=word, color=colour, index=index)
                        for index, (value, (word, colour)) in enumerate(states.items())
                    }
                )
            ]
        )
    )


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
    for panel in _target_shares(q, "the selected target's posts", ""):
        board.with_panel(panel)
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
    for panel in _target_shares(q, "the target's posts", ", per bucket"):
        board.with_panel(panel)
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
        "Throughput, batch times and latency per stage, dead letters, the sources' health, the spool "
        "and the broker, and what reached ClickHouse. " + METRICS_NOTE,
        time_from="now-3h",
    )
    _stages_row(board)
    _sources_row(board)
    _spool_and_broker_row(board)
    _storage_row(board, q)
    return board


def _stages_row(board: dashboard_builder.Dashboard) -> None:
    board.with_row(dashboard_builder.Row("Stages"))
    board.with_panel(
        metric_series(
            [metric(f"sum by (stage) (rate(pantau_stage_messages_total{RATE}))", "{{stage}}")],
            "Messages per second by stage",
            "Messages each stage of the worker consumes: normalise (from posts.raw), enrich (the "
            "models), store (ClickHouse), detect, alert. A stage below the one before it is falling "
            "behind. " + METRICS_NOTE,
            unit="mps",
        )
    )
    board.with_panel(
        metric_series(
            [
                metric(
                    "histogram_quantile(0.95, sum by (stage, le) "
                    f"(rate(pantau_stage_batch_seconds_bucket{RATE})))",
                    "{{stage}}",
                )
            ],
            "Batch time by stage (95th percentile)",
            "Seconds a stage spends on one batch; measured where the work is heavy: enrich (the "
            "models) and store (the ClickHouse write).",
            unit="s",
        )
    )
    board.with_panel(
        metric_series(
            [
                metric(
                    f"histogram_quantile({quantile}, sum by (le) "
                    f"(rate(pantau_post_latency_seconds_bucket{RATE})))",
                    name,
                    ref_id,
                )
                for ref_id, name, quantile in (("A", "p95", 0.95), ("B", "p50", 0.5))
            ],
            "Post latency: arrival to ClickHouse",
            "Seconds from a post's arrival at Pantau (received_at) to its row in ClickHouse, as the store "
            "stage measures it: the 95th percentile and the median.",
            unit="s",
            span=8,
        )
    )
    board.with_panel(
        metric_series(
            [metric("sum by (stage) (pantau_stage_batches_in_flight)", "{{stage}}")],
            "Batches in flight by stage",
            "Batches a stage has taken and not finished (enrich, store): one that stays up while the "
            "messages per second drop is a stage stuck on its model or on ClickHouse.",
            span=8,
        )
    )
    board.with_panel(
        metric_series(
            [metric(f"sum by (stage) (rate(pantau_dead_letters_total{RATE}))", "{{stage}}")],
            "Dead letters per second by stage",
            "Messages a stage sent to the dead-letter topic. The metric has the stage only; the reasons "
            "are in ClickHouse (Dead letters by stage and reason, in the Storage row).",
            unit="mps",
            span=8,
        )
    )


def _sources_row(board: dashboard_builder.Dashboard) -> None:
    board.with_row(dashboard_builder.Row("Sources"))
    board.with_panel(
        metric_state(
            "max by (source) (pantau_source_up)",
            "{{source}}",
            "Live sources up",
            "Each live source Pantau runs itself (config/sources.yaml): up while its last fetch or "
            "connection worked. Clients posting to POST /ingest have no such state.",
            states={"1": ("up", "green"), "0": ("down", "red")},
            span=6,
        )
    )
    board.with_panel(
        metric_series(
            [metric(f"sum by (source) (rate(pantau_source_posts_total{RATE}))", "{{source}}")],
            "Posts per second by source",
            "Posts normalised, by the source that brought them: live sources and POST /ingest clients "
            "alike (past 64 names, the rest share the label other).",
            unit="cps",
            span=6,
        )
    )
    board.with_panel(
        metric_series(
            [
                metric(
                    "time() - max by (source) (pantau_source_last_received_timestamp_seconds)", "{{source}}"
                )
            ],
            "Seconds since each source's last post",
            "How long ago the newest post of each source reached Pantau: a line that only climbs is "
            "a source gone quiet (or a quiet hour for it).",
            unit="s",
            span=6,
        )
    )
    board.with_panel(
        metric_series(
            [
                metric(
                    f"sum by (source, kind) (rate(pantau_source_errors_total{RATE}))", "{{source}}: {{kind}}"
                )
            ],
            "Source errors per second",
            "Failed fetches or connections of the live sources, by kind (network, http, auth, "
            "not_a_feed, config, crash, ...); each retries with a back-off.",
            unit="cps",
            span=6,
        )
    )


# The broker's memory: measured by the embedded broker's rollover check; Kafka reports its own.
BROKER_MEMORY_NOTE = (
    "The embedded broker's resident memory and the messages it holds, as its rollover check measures "
    "them every PANTAU_BROKER_ROLLOVER_CHECK_SECONDS (GET /status and pantau status report them "
    "too). A configured Kafka, as in docker-compose, reports its own memory; Pantau does not "
    "measure it, and these stay empty."
)


def _spool_and_broker_row(board: dashboard_builder.Dashboard) -> None:
    board.with_row(dashboard_builder.Row("Spool and broker"))
    spool_off = (
        " Flat or empty while the spool is off (PANTAU_SPOOL=auto spools only with the embedded "
        "broker; docker-compose's Kafka holds a post once it acknowledges it)."
    )
    board.with_panel(
        metric_series(
            [
                metric(f"sum by (job) (pantau_{name})", f"{legend} ({{{{job}}}})", ref_id)
                for ref_id, name, legend in (
                    ("A", "spool_posts", "held"),
                    ("B", "spool_unsent_posts", "unsent"),
                    ("C", "spool_in_flight_posts", "in flight"),
                )
            ],
            "Spooled posts",
            "Posts accepted and on disk in the spool, per process: held (not yet in ClickHouse), unsent "
            "(no broker has them yet), in flight (sent, not yet stored)." + spool_off,
            span=8,
        )
    )
    board.with_panel(
        metric_series(
            [metric("max by (job) (pantau_spool_oldest_seconds)", "{{job}}")],
            "Oldest spooled post's age",
            "Seconds since the oldest post still in the spool was accepted: it climbs while ClickHouse "
            "or the broker is behind." + spool_off,
            unit="s",
            span=8,
        )
    )
    board.with_panel(
        metric_series(
            [metric(f"sum by (job) (rate(pantau_spool_refused_total{RATE}))", "{{job}}")],
            "Posts refused, spool full",
            "Posts POST /ingest answered with 503 because the spool held PANTAU_SPOOL_MAX_POSTS "
            "already; the clients retry after Retry-After." + spool_off,
            unit="cps",
            span=8,
        )
    )
    embedded_only = (
        " Only the embedded broker rolls over (pantau up without PANTAU_KAFKA_BROKERS); with Kafka, "
        "as in docker-compose, this stays flat. " + BROKER_MEMORY_NOTE
    )
    board.with_panel(
        metric_series(
            [metric("max(pantau_broker_generation)", "generation")],
            "Broker topic generation",
            "How many times the embedded broker's topics rolled over (deleted and made again, empty) "
            "to bound its memory." + embedded_only,
            span=8,
        )
    )
    board.with_panel(
        metric_series(
            [metric(f"sum by (outcome) (increase(pantau_broker_rollovers_total{RATE}))", "{{outcome}}")],
            "Broker rollovers by outcome",
            "Rollovers of the embedded broker's topics: done, busy (put off: the pipeline did not "
            "drain in time) or failed (the next check tries again)." + embedded_only,
            span=8,
        )
    )
    board.with_panel(
        metric_series(
            [
                metric("max(pantau_broker_memory_bytes)", "resident memory", "A"),
            ],
            "Broker memory",
            BROKER_MEMORY_NOTE,
            unit="bytes",
            span=4,
        )
    )
    board.with_panel(
        metric_series(
            [metric("max(pantau_broker_held_messages)", "messages held", "A")],
            "Broker messages held",
            BROKER_MEMORY_NOTE,
            span=4,
        )
    )


def _storage_row(board: dashboard_builder.Dashboard, q: Queries) -> None:
    board.with_row(dashboard_builder.Row("Storage (ClickHouse)"))
    board.with_panel(
        time_series(
            q("posts_per_stage_per_minute"),
            "Posts per minute by stage",
            "Posts by the minute each stage handled them, from the times stored with each post: "
            "received (normalised from a source), enriched (classified), stored (written to "
            "ClickHouse). A stored line falling behind the others means the store is lagging. Unlike "
            "the Stages row, it covers any time range, across restarts.",
            display_name="${__field.labels.stage}",
        )
    )
    board.with_panel(
        time_series(
            q("stage_lag"),
            "Lag per stage (95th percentile)",
            "Seconds between stages for the posts stored each minute: the source's delay (written to "
            "received), enrichment (received to enriched), storing (enriched to stored), and received to "
            "stored overall.",
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
