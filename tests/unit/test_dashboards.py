"""The Grafana dashboards: generated from one definition, their SQL all from dashboards/queries.sql.

The macro mapping below is this test's own, written from the plugin's documented macros, so that
the generator's conversion is checked against an independent reading, not against itself.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

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
    assert "runs no Prometheus" in operations


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


def test_every_query_uses_the_provisioned_datasource() -> None:
    provisioned = yaml.safe_load(
        (DASHBOARDS_DIR / "provisioning" / "datasources" / "clickhouse.yaml").read_text()
    )
    source = provisioned["datasources"][0]
    expected = {"type": source["type"], "uid": source["uid"]}
    for file_name, board in committed().items():
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                assert target["datasource"] == expected == panel["datasource"], (
                    f"{file_name} {panel['title']}"
                )
                assert target["editorType"] == "sql"
                assert (target["format"], target["queryType"]) in {(0, "timeseries"), (1, "table")}
        for variable in board["templating"].get("list", []):
            assert variable["datasource"] == expected


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
