"""The HTTP API's OpenAPI document is a contract with clients: a change to it must be deliberate."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

from api.app import create_app
from config.settings import Settings

SNAPSHOT = Path(__file__).resolve().parent.parent / "data" / "openapi.json"


def test_the_openapi_document_is_the_committed_one() -> None:
    """Routes, parameters, models, tags and their order, exactly. After a deliberate API change,
    regenerate the snapshot with `pantau openapi --out tests/data/openapi.json`."""
    current = json.dumps(create_app(Settings()).openapi(), indent=2) + "\n"
    expected = SNAPSHOT.read_text(encoding="utf-8")

    diff = "".join(
        difflib.unified_diff(
            expected.splitlines(keepends=True), current.splitlines(keepends=True), "snapshot", "now", n=2
        )
    )
    assert current == expected, f"the OpenAPI document changed:\n{diff[:4000]}"
