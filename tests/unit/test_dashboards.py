"""The Grafana dashboards: generated from one definition, their SQL all from dashboards/queries.sql.

The macro mapping below is this test's own, written from the plugin's documented macros, so that
the generator's conversion is checked against an independent reading, not against itself. Likewise
the Prometheus panels' metrics are checked against the metric definitions in the code, read here.
"""

from __future__ import annotations

import ast
import importlib
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

from service.dashboards import (
    DASHBOARDS,
    Queries,
    grafana_sql,
    main,
    parse_queries,
    render_dashboards,
)

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS_DIR = ROOT / "dashboards"
QUERIES_SQL = (DASHBOARDS_DIR / "queries.sql").read_text(encoding="utf-8")
BLOCKS = parse_queries(QUERIES_SQL)
MACROS = {
    r"\$__timeFilter\(([\w.]+)\)": r"\1 >= {from:DateTime64(3)} AND \1 <= {to:DateTime64(3)}",
    r"\$__fromTime\b": "{from:DateTime64(3)}",
    r"\$__toTime\b": "{to:DateTime64(3)}",
    r"\$__interval_s\b": "{interval_s:UInt32}",
    r"\$\{(\w+):sqlstring\}": r"{\1:String}",
}


def with_parameters(sql: str) -> str:
    for pattern, replacement in MACROS.items():
        sql = re.sub(pattern, replacement, sql)
    return sql


# Targets of this type are PromQL (checked below, against the metrics); every other target is SQL.
PROMETHEUS_TYPE = "prometheus"


def committed() -> dict[str, dict[str, Any]]:
    return {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted((DASHBOARDS_DIR / "json").glob("*.json"))
    }


def queries_of(board: dict[str, Any]) -> dict[str, str]:
    """Every SQL text of a dashboard, by where it is: panel targets, query variables, annotations."""
    found: dict[str, str] = {}
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            if target["datasource"]["type"] == PROMETHEUS_TYPE:
                continue
            found[f"panel {panel['title']!r} {target['refId']}"] = target["rawSql"]
    for variable in board.get("templating", {}).get("list", []):
        if variable["type"] == "query":
            query = variable["query"]
            found[f"variable {variable['name']}"] = query if isinstance(query, str) else query["rawSql"]
    for annotation in board.get("annotations", {}).get("list", []):
        if "rawSql" in annotation.get("target", {}):
            found[f"annotation {annotation['name']!r}"] = annotation["target"]["rawSql"]
    return found


def test_the_committed_json_is_what_the_definition_writes() -> None:
    rendered = render_dashboards(QUERIES_SQL)
    assert set(rendered) == {"war-room.json", "target.json", "issue.json", "operations.json"}
    on_disk = {
        path.name: path.read_text(encoding="utf-8") for path in (DASHBOARDS_DIR / "json").glob("*.json")
    }
    assert on_disk == rendered, "run `python -m service.dashboards` and commit dashboards/json"


def test_check_fails_on_a_changed_missing_or_extra_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(DASHBOARDS_DIR, tmp_path / "dashboards")
    folder = tmp_path / "dashboards"
    assert main(["--check", "--dir", str(folder)]) == 0

    war_room = folder / "json" / "war-room.json"
    war_room.write_text(
        war_room.read_text(encoding="utf-8").replace("Issues now", "Issues"), encoding="utf-8"
    )
    (folder / "json" / "target.json").unlink()
    (folder / "json" / "hand-made.json").write_text("{}", encoding="utf-8")
    assert main(["--check", "--dir", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "differs: war-room.json" in err
    assert "missing: target.json" in err
    assert "not generated: hand-made.json" in err

    assert main(["--dir", str(folder)]) == 0  # writing repairs all three
    assert not (folder / "json" / "hand-made.json").exists()
    assert main(["--check", "--dir", str(folder)]) == 0


def test_a_changed_query_changes_the_dashboards(tmp_path: Path) -> None:
    changed = QUERIES_SQL.replace("LIMIT 20;", "LIMIT 25;", 1)
    assert changed != QUERIES_SQL
    assert render_dashboards(changed)["war-room.json"] != render_dashboards(QUERIES_SQL)["war-room.json"]


def test_an_unused_block_is_refused() -> None:
    with pytest.raises(ValueError, match="orphan"):
        render_dashboards(QUERIES_SQL + "\n-- name: orphan\nSELECT 1;\n")


def test_a_duplicate_block_is_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        parse_queries("-- name: a\nSELECT 1;\n-- name: a\nSELECT 2;\n")


def test_grafana_sql_writes_the_macros() -> None:
    sql = (
        "SELECT toStartOfInterval(t, toIntervalSecond({interval_s:UInt32})) FROM x "
        "WHERE p.created_at >= {from:DateTime64(3)} AND p.created_at <= {to:DateTime64(3)} "
        "AND y > {to:DateTime64(3)} - INTERVAL 1 HOUR AND z < {from:DateTime64(3)} "
        "AND target = {target:String}"
    )
    assert grafana_sql(sql) == (
        "SELECT toStartOfInterval(t, toIntervalSecond($__interval_s)) FROM x "
        "WHERE $__timeFilter(p.created_at) "
        "AND y > $__toTime - INTERVAL 1 HOUR AND z < $__fromTime "
        "AND target = ${target:sqlstring}"
    )
    assert with_parameters(grafana_sql(sql)) == sql


def test_a_parameter_grafana_cannot_fill_is_refused() -> None:
    with pytest.raises(ValueError, match=r"\{limit:UInt32\}"):
        grafana_sql("SELECT 1 LIMIT {limit:UInt32}")


def test_an_unknown_block_name_is_an_error() -> None:
    with pytest.raises(KeyError, match="no_such_block"):
        Queries(QUERIES_SQL)("no_such_block")


def test_every_dashboard_query_is_a_block_and_every_block_is_used() -> None:
    in_file = {sql: name for name, sql in BLOCKS.items()}
    used: set[str] = set()
    for file_name, board in committed().items():
        found = queries_of(board)
        assert found, file_name
        for where, sql in found.items():
            as_block = with_parameters(sql)
            assert "$" not in as_block, f"{file_name} {where}: a macro the mapping does not know"
            assert as_block in in_file, f"{file_name} {where}: not a queries.sql block"
            used.add(in_file[as_block])
    assert used == set(BLOCKS), f"blocks no dashboard uses: {set(BLOCKS) - used}"


def test_each_dashboard_defines_the_variables_its_queries_use() -> None:
    for file_name, board in committed().items():
        variables = {v["name"] for v in board.get("templating", {}).get("list", [])}
        for where, sql in queries_of(board).items():
            needed = set(re.findall(r"\$\{(\w+):sqlstring\}", sql))
            assert needed <= variables, f"{file_name} {where} needs {needed - variables}"


def test_the_four_dashboards() -> None:
    boards = committed()
    assert {b["uid"] for b in boards.values()} == {
        "pantau-war-room",
        "pantau-target",
        "pantau-issue",
        "pantau-operations",
    }
    assert len({b["title"] for b in boards.values()}) == len(boards) == len(DASHBOARDS)
    assert {v["name"] for v in boards["target.json"]["templating"]["list"]} == {"target"}
    assert {v["name"] for v in boards["issue.json"]["templating"]["list"]} == {"issue"}
    onsets = [a for a in boards["war-room.json"]["annotations"]["list"] if a["name"] == "Issue onsets"]
    assert len(onsets) == 1 and "FROM issues FINAL" in onsets[0]["target"]["rawSql"]
    operations = json.dumps(boards["operations.json"])
    assert "notification_log" in operations and "dead_letters" in operations
    rows = [p["title"] for p in boards["operations.json"]["panels"] if p["type"] == "row"]
    assert rows == ["Stages", "Sources", "Spool and broker", "Storage (ClickHouse)"]
    for file_name in ("war-room.json", "target.json", "issue.json"):
        assert not prometheus_targets(boards[file_name]), f"{file_name} reads only ClickHouse"


def test_panels_are_laid_out_and_numbered() -> None:
    for file_name, board in committed().items():
        ids = [p["id"] for p in board["panels"]]
        assert ids == list(range(1, len(ids) + 1)), file_name
        cells: set[tuple[int, int]] = set()
        for panel in board["panels"]:
            grid = panel["gridPos"]
            assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, f"{file_name} {panel['title']}"
            area = {
                (x, y)
                for x in range(grid["x"], grid["x"] + grid["w"])
                for y in range(grid["y"], grid["y"] + grid["h"])
            }
            assert not area & cells, f"{file_name} {panel['title']} overlaps another panel"
            cells |= area


def provisioned_datasource(file_name: str) -> dict[str, str]:
    provisioned = yaml.safe_load((DASHBOARDS_DIR / "provisioning" / "datasources" / file_name).read_text())
    [source] = provisioned["datasources"]
    return {"type": source["type"], "uid": source["uid"]}


def test_every_query_uses_the_provisioned_datasource() -> None:
    clickhouse = provisioned_datasource("clickhouse.yaml")
    prometheus = provisioned_datasource("prometheus.yaml")
    assert prometheus["type"] == PROMETHEUS_TYPE
    for file_name, board in committed().items():
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                where = f"{file_name} {panel['title']} {target['refId']}"
                assert target["datasource"] == panel["datasource"], where
                if target["datasource"]["type"] == PROMETHEUS_TYPE:
                    assert target["datasource"] == prometheus, where
                    assert target["expr"] and target["range"] is True, where
                    continue
                assert target["datasource"] == clickhouse, where
                assert target["editorType"] == "sql"
                assert (target["format"], target["queryType"]) in {(0, "timeseries"), (1, "table")}
        for variable in board["templating"].get("list", []):
            assert variable["datasource"] == clickhouse


def test_grafana_provisions_every_generated_dashboard() -> None:
    """docker-compose mounts dashboards/json where the provider looks, and the home dashboard exists."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    grafana = compose["services"]["grafana"]
    mounts = dict(volume.split(":")[:2] for volume in grafana["volumes"] if volume.startswith("./"))
    provider = yaml.safe_load((DASHBOARDS_DIR / "provisioning" / "dashboards" / "pantau.yaml").read_text())
    path = provider["providers"][0]["options"]["path"]
    assert mounts["./dashboards/json"] == path
    assert mounts["./dashboards/provisioning"] == "/etc/grafana/provisioning"
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.startswith(path + "/")
    assert (DASHBOARDS_DIR / "json" / home.removeprefix(path + "/")).is_file()


# -- the Prometheus panels against the metrics the code defines --------------------------------------

# The packages of the processes Prometheus scrapes (pyproject's import-linter roots).
PACKAGES = ("config", "pantau", "nlp", "detectors", "storage", "alerts", "streams", "api", "service")
METRIC_CLASSES = {"Counter": "counter", "Gauge": "gauge", "Histogram": "histogram", "Summary": "summary"}
# Labels Prometheus adds to every series it scrapes (job_name and target of the scrape config).
TARGET_LABELS = frozenset({"job", "instance"})
PANTAU_NAME = re.compile(r"\bpantau_[a-z0-9_]+")
GROUPING = re.compile(r"\b(?:by|without)\s*\(([^()]*)\)")
SELECTOR = re.compile(r"\b(pantau_[a-z0-9_]+)\s*\{([^{}]*)\}")
MATCHER_LABEL = re.compile(r"(\w+)\s*(?:=~|!~|!=|=)")
AGGREGATION = re.compile(r"\b(?:sum|min|max|avg|count|group|stddev|stdvar|topk|bottomk|quantile)\s*\(")
LEGEND_LABEL = re.compile(r"\{\{\s*(\w+)\s*\}\}")


@dataclass(frozen=True)
class MetricDefinition:
    name: str  # as written in the code (a counter's may end in _total)
    kind: str
    labels: frozenset[str]
    module: str


def metric_definitions() -> list[MetricDefinition]:
    """Every `Counter("pantau_...", ...)` (Gauge, Histogram, Summary) call in the project's code."""
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call) or not node.args:
                    continue
                kind = METRIC_CLASSES.get(getattr(node.func, "id", getattr(node.func, "attr", "")))
                name = node.args[0]
                if kind is None or not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
                    continue
                if not name.value.startswith("pantau_"):
                    continue
                keywords = {k.arg: k.value for k in node.keywords}
                labels = node.args[2] if len(node.args) > 2 else keywords.get("labelnames")
                found.append(
                    MetricDefinition(
                        name.value, kind, frozenset(ast.literal_eval(labels) if labels else ()), module
                    )
                )
    return found


DEFINITIONS = metric_definitions()


def exposed_series(definition: MetricDefinition) -> dict[str, frozenset[str]]:
    """The series names a prometheus_client metric is scraped as, each with its label names."""
    base = definition.name.removesuffix("_total") if definition.kind == "counter" else definition.name
    labels = definition.labels
    if definition.kind == "counter":
        return {f"{base}_total": labels, f"{base}_created": labels}
    if definition.kind == "gauge":
        return {base: labels}
    totals = {f"{base}_count": labels, f"{base}_sum": labels, f"{base}_created": labels}
    if definition.kind == "histogram":
        return {**totals, f"{base}_bucket": labels | {"le"}}
    return {**totals, base: labels | {"quantile"}}


SERIES = {name: labels for d in DEFINITIONS for name, labels in exposed_series(d).items()}


def promql_problems(expr: str, legend: str) -> list[str]:
    """What in a panel's PromQL names a series, or a label of one, that Pantau does not export."""
    names = PANTAU_NAME.findall(expr)
    problems = [f"no metric exports the series {name}" for name in names if name not in SERIES]
    known = [SERIES[name] for name in names if name in SERIES]
    available = frozenset().union(*known) | TARGET_LABELS
    for metric_name, matchers in SELECTOR.findall(expr):
        for label in MATCHER_LABEL.findall(matchers):
            if label not in SERIES.get(metric_name, frozenset()) | TARGET_LABELS:
                problems.append(f"{metric_name} has no label {label}")
    grouped: set[str] = set()
    for clause in GROUPING.findall(expr):
        labels = {label.strip() for label in clause.split(",") if label.strip()}
        problems += [f"grouped by {label}, which no series here has" for label in labels - available]
        grouped |= labels
    # What the result's series still carry: the grouping labels if it aggregates, else all of them.
    result = grouped if grouped or AGGREGATION.search(expr) else available
    problems += [
        f"the legend names {label}, which the result has not"
        for label in set(LEGEND_LABEL.findall(legend)) - result
    ]
    return problems


def prometheus_targets(board: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (panel["title"], target)
        for panel in board["panels"]
        for target in panel.get("targets", [])
        if target["datasource"]["type"] == PROMETHEUS_TYPE
    ]


def test_the_metric_definitions_read_are_those_the_registry_holds() -> None:
    """Reading the code missed no metric and misread none: importing the defining modules registers
    exactly these families, with these types."""
    for module in {d.module for d in DEFINITIONS}:
        importlib.import_module(module)
    registered = {
        (family.name, family.type) for family in REGISTRY.collect() if family.name.startswith("pantau_")
    }
    read = {(d.name.removesuffix("_total"), d.kind) for d in DEFINITIONS}
    assert read == registered
    assert len(DEFINITIONS) == len(read), "a metric name defined twice"
    by_name = {d.name: d for d in DEFINITIONS}
    assert by_name["pantau_dead_letters_total"].labels == {"stage"}
    assert by_name["pantau_source_errors_total"].labels == {"source", "kind"}
    assert by_name["pantau_post_latency_seconds"].labels == frozenset()


def test_promql_problems_finds_unknown_series_and_labels() -> None:
    assert promql_problems("sum by (stage) (rate(pantau_stage_messages_total[5m]))", "{{stage}}") == []
    assert promql_problems("sum by (reason) (rate(pantau_dead_letters_total[5m]))", "{{reason}}") == [
        "grouped by reason, which no series here has"
    ]
    assert promql_problems("rate(pantau_stage_batch_seconds_total[5m])", "") == [
        "no metric exports the series pantau_stage_batch_seconds_total"
    ]
    assert promql_problems("pantau_spool_posts_bucket", "") == [
        "no metric exports the series pantau_spool_posts_bucket"
    ]
    assert promql_problems('pantau_source_up{stage="x"}', "{{source}}") == [
        "pantau_source_up has no label stage"
    ]
    assert promql_problems("max(pantau_source_up)", "{{source}}") == [
        "the legend names source, which the result has not"
    ]
    assert promql_problems("pantau_source_up", "{{source}} {{job}}") == []


def test_every_prometheus_panel_names_only_exported_metrics_and_labels() -> None:
    checked = 0
    for file_name, board in committed().items():
        for title, target in prometheus_targets(board):
            problems = promql_problems(target["expr"], target.get("legendFormat", ""))
            assert not problems, f"{file_name} {title!r} {target['refId']}: {problems}"
            assert PANTAU_NAME.search(target["expr"]), f"{file_name} {title!r}: reads no Pantau metric"
            checked += 1
    assert checked >= 15


def test_the_operations_dashboard_charts_stages_sources_spool_and_broker() -> None:
    exprs = [target["expr"] for _, target in prometheus_targets(committed()["operations.json"])]
    families = {
        name.removesuffix("_bucket").removesuffix("_total")
        for expr in exprs
        for name in PANTAU_NAME.findall(expr)
    }
    assert families >= {
        "pantau_stage_messages",
        "pantau_stage_batch_seconds",
        "pantau_stage_batches_in_flight",
        "pantau_post_latency_seconds",
        "pantau_dead_letters",
        "pantau_source_up",
        "pantau_source_posts",
        "pantau_source_last_received_timestamp_seconds",
        "pantau_source_errors",
        "pantau_spool_posts",
        "pantau_spool_unsent_posts",
        "pantau_spool_oldest_seconds",
        "pantau_broker_generation",
        "pantau_broker_rollovers",
        "pantau_broker_memory_bytes",
        "pantau_broker_held_messages",
    }
    assert any(expr.startswith("time() - ") and "last_received" in expr for expr in exprs)
