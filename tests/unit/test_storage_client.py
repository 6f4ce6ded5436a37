"""storage.client: what it asks of clickhouse-connect for a server DSN (no server needed)."""

from __future__ import annotations

from typing import Any

import pytest

from storage import client as storage_client


class Recorder:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.commands: list[str] = []

    def get_client(self, **kwargs: Any) -> Recorder:
        self.calls.append(kwargs)
        return self

    def command(self, sql: str) -> None:
        self.commands.append(sql)

    def close(self) -> None:
        pass


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    rec = Recorder()
    monkeypatch.setattr(storage_client.clickhouse_connect, "get_client", rec.get_client)
    return rec


def test_a_server_client_has_no_session_so_threads_can_share_it(recorder: Recorder) -> None:
    storage_client.open_client("http://pantau:secret@clickhouse:8123/pantau")
    assert all(call["autogenerate_session_id"] is False for call in recorder.calls)
    assert recorder.calls[-1]["database"] == "pantau"
    assert recorder.calls[0]["dsn"] == "http://pantau:secret@clickhouse:8123/default"
    assert recorder.commands == ["CREATE DATABASE IF NOT EXISTS `pantau`"]


def test_a_dsn_without_a_database_uses_default_and_creates_nothing(recorder: Recorder) -> None:
    storage_client.open_client("https://clickhouse:8443")
    assert len(recorder.calls) == 1 and recorder.calls[0]["database"] == "default"
    assert recorder.commands == []


def test_describe_hides_the_password() -> None:
    assert storage_client.describe("http://pantau:secret@clickhouse:8123/pantau") == (
        "http://pantau:***@clickhouse:8123/pantau"
    )
    assert storage_client.describe("chdb:///data/clickhouse") == "chdb:///data/clickhouse"
