"""docker-compose.yml against the code: settings names, services, start-up order, health checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from config.settings import Settings
from config.yaml_source import ENV_REFERENCE

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
REQUIRED_SERVICES = ("kafka", "clickhouse", "valkey", "grafana", "migrate", "worker", "api")


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
