"""docker-compose.yml and the Dockerfile against the code: settings names, services, start-up order,
health checks, the commands they run."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from config.settings import Settings
from config.yaml_source import ENV_REFERENCE

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
REQUIRED_SERVICES = ("kafka", "clickhouse", "valkey", "prometheus", "grafana", "migrate", "worker", "api")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))  # resolves anchors and `<<` merges
    assert isinstance(data, dict)
    return data


def environment(service: dict[str, Any]) -> dict[str, Any]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # the KEY=value list form
        return dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return dict(env)


def test_required_services_exist(compose: dict[str, Any]) -> None:
    assert set(REQUIRED_SERVICES) <= set(compose["services"])


def test_pantau_env_names_are_settings_fields(compose: dict[str, Any]) -> None:
    known = {f"PANTAU_{name.upper()}" for name in Settings.model_fields} | {"PANTAU_CONFIG_FILE"}
    found: dict[str, set[str]] = {}
    for name, service in compose["services"].items():
        for var in environment(service):
            if var.startswith("PANTAU_"):
                found.setdefault(var, set()).add(name)
    for var in compose.get("x-pantau-env", {}):
        found.setdefault(var, set()).add("x-pantau-env")
    unknown = {var: sorted(where) for var, where in found.items() if var not in known}
    assert not unknown, f"not settings fields: {unknown}"
    # The shared block reached every Pantau process.
    for name in ("migrate", "worker", "api"):
        assert "PANTAU_CLICKHOUSE_DSN" in environment(compose["services"][name])


def test_app_services_wait_for_migrations(compose: dict[str, Any]) -> None:
    for name in ("worker", "api"):
        depends = compose["services"][name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"


def test_healthy_dependencies_have_health_checks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    checked = 0
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        if isinstance(depends, list):
            continue
        for target, spec in depends.items():
            assert target in services, f"{name} depends on unknown service {target}"
            if (spec or {}).get("condition") == "service_healthy":
                assert "healthcheck" in services[target], (
                    f"{name} waits for {target}, which has no healthcheck"
                )
                assert services[target]["healthcheck"].get("test")
                checked += 1
    assert checked >= 4


def test_clickhouse_image_is_26(compose: dict[str, Any]) -> None:
    image = compose["services"]["clickhouse"]["image"]
    name, _, tag = image.rpartition(":")
    assert name.endswith("clickhouse-server")
    assert tag.startswith("26")


def test_migrate_runs_once(compose: dict[str, Any]) -> None:
    migrate = compose["services"]["migrate"]
    assert migrate["command"] == ["migrate", "up"]
    assert migrate["restart"] == "no"


def test_production_valkey_is_bounded_and_never_evicts(compose: dict[str, Any]) -> None:
    command = compose["services"]["valkey"]["command"]
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"
    assert command[command.index("--maxmemory") + 1].endswith("mb")


def test_the_worker_gets_every_secret_the_sources_file_names(compose: dict[str, Any]) -> None:
    """A source configured in production reads its secret from the worker's environment."""
    shipped = (COMPOSE.parent / "config" / "sources.yaml").read_text(encoding="utf-8")
    named = {found[0] for found in ENV_REFERENCE.findall(shipped)} - {"VAR"}
    assert named >= {"X_BEARER_TOKEN", "TELEGRAM_SESSION"}
    assert named <= set(environment(compose["services"]["worker"]))


# -- Prometheus: what it scrapes, and how Grafana reaches it -----------------------------------------

DATASOURCES = COMPOSE.parent / "dashboards" / "provisioning" / "datasources"


def bind_mounts(service: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """A service's ./host-path mounts: host path -> (container path, mode)."""
    mounts = {}
    for volume in service.get("volumes", []):
        if volume.startswith("./"):
            host, container, *mode = volume.split(":")
            mounts[host] = (container, mode[0] if mode else "rw")
    return mounts


@pytest.fixture(scope="module")
def prometheus_config(compose: dict[str, Any]) -> dict[str, Any]:
    """The file the prometheus service runs with: the one its --config.file names, as mounted."""
    service = compose["services"]["prometheus"]
    [config_path] = [arg.split("=", 1)[1] for arg in service["command"] if arg.startswith("--config.file=")]
    [host_path] = [host for host, (container, _) in bind_mounts(service).items() if container == config_path]
    path = COMPOSE.parent / host_path
    assert path.is_file(), f"{host_path} is mounted but not in the repository"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def scrape_jobs(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {job["job_name"]: job for job in config["scrape_configs"]}


def test_prometheus_is_a_pinned_3x_image_with_a_volume_and_a_health_check(compose: dict[str, Any]) -> None:
    service = compose["services"]["prometheus"]
    name, _, tag = service["image"].rpartition(":")
    assert name == "prom/prometheus"
    assert re.fullmatch(r"v3\.\d+\.\d+", tag), f"pin an exact 3.x release, not {tag!r}"
    assert "/-/ready" in " ".join(service["healthcheck"]["test"])
    [data_volume] = [v for v in service["volumes"] if not v.startswith("./")]
    volume_name, data_path = data_volume.split(":")[:2]
    assert volume_name in compose["volumes"]
    assert f"--storage.tsdb.path={data_path}" in service["command"]


def test_prometheus_config_is_mounted_read_only(compose: dict[str, Any]) -> None:
    mounts = bind_mounts(compose["services"]["prometheus"])
    assert mounts["./dashboards/prometheus/prometheus.yml"] == ("/etc/prometheus/prometheus.yml", "ro")


def test_prometheus_is_not_published_like_the_other_backends(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert not any("ports" in services[name] for name in ("kafka", "clickhouse", "valkey"))
    assert "ports" not in services["prometheus"]


def test_the_prometheus_config_scrapes_the_worker_and_the_api(prometheus_config: dict[str, Any]) -> None:
    jobs = scrape_jobs(prometheus_config)
    assert set(jobs) == {"worker", "api"}
    for job in jobs.values():
        assert job.get("metrics_path", "/metrics") == "/metrics"
        [static] = job["static_configs"]
        assert len(static["targets"]) == 1


def test_the_scrape_targets_are_where_compose_serves_the_metrics(
    compose: dict[str, Any], prometheus_config: dict[str, Any]
) -> None:
    services = compose["services"]
    jobs = scrape_jobs(prometheus_config)
    worker_env, api_env = environment(services["worker"]), environment(services["api"])
    # Bound to every interface, or another container cannot reach them.
    assert worker_env["PANTAU_WORKER_METRICS_HOST"] == api_env["PANTAU_API_HOST"] == "0.0.0.0"
    port = worker_env["PANTAU_WORKER_METRICS_PORT"]
    assert Settings(worker_metrics_port=port).worker_metrics_port > 0  # a port, not 0 (no metrics)
    assert jobs["worker"]["static_configs"][0]["targets"] == [f"worker:{port}"]
    assert port in [str(p) for p in services["worker"]["expose"]]
    assert jobs["api"]["static_configs"][0]["targets"] == [f"api:{api_env['PANTAU_API_PORT']}"]


def test_grafana_reads_the_compose_prometheus(
    compose: dict[str, Any], prometheus_config: dict[str, Any]
) -> None:
    provisioned = yaml.safe_load((DATASOURCES / "prometheus.yaml").read_text(encoding="utf-8"))
    [source] = provisioned["datasources"]
    assert source["type"] == "prometheus" and source["uid"] == "pantau-prometheus"
    url = urlsplit(source["url"])
    assert url.hostname == "prometheus"
    assert str(url.port) in [str(p) for p in compose["services"]["prometheus"]["expose"]]
    # $__rate_interval is four of these: it must be the real scrape interval.
    assert source["jsonData"]["timeInterval"] == prometheus_config["global"]["scrape_interval"]
    grafana = compose["services"]["grafana"]
    assert "prometheus" in grafana["depends_on"]
    assert bind_mounts(grafana)["./dashboards/provisioning"] == ("/etc/grafana/provisioning", "ro")


def pantau_invocations(text: str) -> list[list[str]]:
    """Each `pantau ...` command line in a shell script or Dockerfile, as its words up to an option."""
    found = []
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        for match in re.finditer(r"(?:^|[\s/])pantau((?:\s+[a-z][a-z-]*)+)", line):
            found.append(match.group(1).split())
    return found


@pytest.mark.parametrize("path", ["Dockerfile", "scripts/demo"])
def test_the_pantau_commands_the_image_and_the_demo_run_exist(path: str) -> None:
    import typer.main

    from service.cli import app

    group = typer.main.get_command(app)
    invocations = pantau_invocations((COMPOSE.parent / path).read_text(encoding="utf-8"))
    assert invocations, f"{path} runs no pantau command"
    for words in invocations:
        assert isinstance(group, typer.core.TyperGroup)
        assert words[0] in group.commands, f"{path}: `pantau {' '.join(words)}` is not a command"
