"""config.settings: defaults, env, YAML, validation messages; and the CLI's answer to bad settings."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from config.settings import DEFAULT_WATCHLIST, Settings, SettingsError, load_settings
from service.cli import app


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No PANTAU_* from the outer environment, and a cwd where relative paths land in tmp."""
    for name in list(os.environ):
        if name.startswith("PANTAU_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    yield


def write_yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pantau.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_are_valid() -> None:
    settings = load_settings()
    assert settings.topic_partitions == 4
    assert settings.kafka_brokers == settings.clickhouse_dsn == settings.redis_url == ""
    assert settings.watchlist_path == DEFAULT_WATCHLIST
    assert settings.embedded
    assert settings.burst_min_count == 5


def test_resolved_clickhouse_dsn_defaults_to_chdb_in_data_dir(tmp_path: Path) -> None:
    assert load_settings().resolved_clickhouse_dsn == f"chdb://{(tmp_path / 'var' / 'clickhouse').resolve()}"
    data = tmp_path / "elsewhere"
    assert load_settings(data_dir=data).resolved_clickhouse_dsn == f"chdb://{data / 'clickhouse'}"


def test_resolved_clickhouse_dsn_prefers_the_setting() -> None:
    dsn = "http://u:p@ch:8123/pantau"
    assert load_settings(clickhouse_dsn=dsn).resolved_clickhouse_dsn == dsn


def test_env_vars_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PANTAU_TOPIC_PARTITIONS", "12")
    monkeypatch.setenv("PANTAU_KAFKA_BROKERS", "k1:9092, k2:9093")
    monkeypatch.setenv("PANTAU_CLICKHOUSE_DSN", "chdb:///tmp/x")
    monkeypatch.setenv("PANTAU_REDIS_URL", "redis://v:6379/0")
    monkeypatch.setenv("PANTAU_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("PANTAU_BURST_RATIO", "4.5")
    monkeypatch.setenv("PANTAU_LOG_LEVEL", "DEBUG")
    settings = load_settings()
    assert settings.topic_partitions == 12
    assert settings.kafka_brokers == "k1:9092, k2:9093"
    assert settings.burst_ratio == 4.5
    assert settings.data_dir == tmp_path / "d"
    assert settings.log_level == "DEBUG"
    assert not settings.embedded


def test_keyword_arguments_win_over_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PANTAU_TOPIC_PARTITIONS", "12")
    assert load_settings(topic_partitions=3).topic_partitions == 3


def test_yaml_file_is_read_and_env_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = write_yaml(tmp_path, "topic_partitions: 7\napi_port: 9001\nburst_min_count: 20\n")
    monkeypatch.setenv("PANTAU_CONFIG_FILE", str(path))
    settings = load_settings()
    assert (settings.topic_partitions, settings.api_port, settings.burst_min_count) == (7, 9001, 20)
    monkeypatch.setenv("PANTAU_TOPIC_PARTITIONS", "9")
    settings = load_settings()
    assert (settings.topic_partitions, settings.api_port) == (9, 9001)


def test_unrelated_pantau_env_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PANTAU_SOMETHING_ELSE", "1")
    assert load_settings().topic_partitions == 4


@pytest.mark.parametrize(
    ("env", "value", "field"),
    [
        ("PANTAU_TOPIC_PARTITIONS", "0", "topic_partitions"),
        ("PANTAU_TOPIC_PARTITIONS", "many", "topic_partitions"),
        ("PANTAU_KAFKA_BROKERS", "nohostport", "kafka_brokers"),
        ("PANTAU_KAFKA_BROKERS", "k1:9092,k2:port", "kafka_brokers"),
        ("PANTAU_KAFKA_BROKERS", ":9092", "kafka_brokers"),
        ("PANTAU_CLICKHOUSE_DSN", "mysql://x", "clickhouse_dsn"),
        ("PANTAU_REDIS_URL", "http://x", "redis_url"),
        ("PANTAU_REDIS_URL", "not a url", "redis_url"),
        ("PANTAU_WATCHLIST_PATH", "/nonexistent/watchlist.yaml", "watchlist_path"),
        ("PANTAU_BURST_ALPHA", "1", "burst_alpha"),
        ("PANTAU_API_PORT", "70000", "api_port"),
        ("PANTAU_LOG_LEVEL", "TRACE", "log_level"),
        ("PANTAU_APP_ID", "has space", "app_id"),
        ("PANTAU_POSTS_TTL_DAYS", "-1", "posts_ttl_days"),
    ],
)
def test_invalid_env_names_field_and_env_var(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str, field: str
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert field in message
    assert env in message


def test_several_problems_are_all_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PANTAU_TOPIC_PARTITIONS", "0")
    monkeypatch.setenv("PANTAU_REDIS_URL", "http://x")
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert "PANTAU_TOPIC_PARTITIONS" in message
    assert "PANTAU_REDIS_URL" in message


def test_unknown_key_in_yaml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PANTAU_CONFIG_FILE", str(write_yaml(tmp_path, "topic_partitions: 2\nbogus_key: 1\n")))
    with pytest.raises(SettingsError, match="bogus_key"):
        load_settings()


def test_invalid_value_in_yaml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PANTAU_CONFIG_FILE", str(write_yaml(tmp_path, "topic_partitions: 0\n")))
    with pytest.raises(SettingsError, match="topic_partitions"):
        load_settings()


def test_config_file_pointing_nowhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PANTAU_CONFIG_FILE", str(tmp_path / "missing.yaml"))
    with pytest.raises(SettingsError, match="PANTAU_CONFIG_FILE"):
        load_settings()


@pytest.mark.parametrize("text", ["topic_partitions: [\n", "- a\n- b\n"], ids=["bad-yaml", "list"])
def test_broken_config_file_is_a_settings_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, text: str
) -> None:
    monkeypatch.setenv("PANTAU_CONFIG_FILE", str(write_yaml(tmp_path, text)))
    with pytest.raises(SettingsError, match="PANTAU_CONFIG_FILE"):
        load_settings()


def test_settings_class_forbids_unknown_keywords() -> None:
    with pytest.raises(SettingsError, match="nonsense"):
        load_settings(nonsense=1)
    assert "topic_partitions" in Settings.model_fields


# -- the CLI --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "value", "field"),
    [
        ("PANTAU_TOPIC_PARTITIONS", "0", "topic_partitions"),
        ("PANTAU_CLICKHOUSE_DSN", "mysql://x", "clickhouse_dsn"),
    ],
)
def test_cli_exits_2_naming_the_field(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: str, value: str, field: str
) -> None:
    monkeypatch.setenv(env, value)
    result = CliRunner().invoke(app, ["migrate", "status"])
    assert result.exit_code == 2, result.output
    assert field in result.stderr
    assert env in result.stderr
    assert not (tmp_path / "var").exists()  # no engine was opened


def test_cli_exits_2_on_a_broken_config_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PANTAU_CONFIG_FILE", str(write_yaml(tmp_path, "- a\n")))
    result = CliRunner().invoke(app, ["migrate", "status"])
    assert result.exit_code == 2
    assert "PANTAU_CONFIG_FILE" in result.stderr


def test_backfill_with_a_ttl_is_refused_naming_both_settings() -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(backfill=True, posts_ttl_days=400)
    assert "PANTAU_BACKFILL" in str(refused.value) and "PANTAU_POSTS_TTL_DAYS=0" in str(refused.value)
    assert load_settings(backfill=True, posts_ttl_days=0).backfill


def test_the_spool_is_on_with_the_memory_broker_unless_told_otherwise() -> None:
    assert load_settings().spool_enabled(memory_broker=True)
    assert not load_settings().spool_enabled(memory_broker=False)
    assert load_settings(spool="on").spool_enabled(memory_broker=False)
    assert not load_settings(spool="off").spool_enabled(memory_broker=True)


def test_the_topic_threshold_is_the_encoders_unless_the_settings_fix_one() -> None:
    from pantau.topic_bands import TopicBands
    from service.runtime import make_detector

    calibrated = TopicBands(0.944, 0.99)
    assert make_detector(load_settings(), calibrated).topics.similarity == 0.944
    assert make_detector(load_settings(topic_similarity=0.8), calibrated).topics.similarity == 0.8
    assert make_detector(load_settings()).topics.similarity == 0.88  # the frozen e5-small's
