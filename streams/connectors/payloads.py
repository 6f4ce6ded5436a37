"""Reading platforms' JSON defensively: a part of the wrong shape is treated as absent, so that the
normaliser, not the connector, names what is missing."""

from __future__ import annotations

from typing import Any


def mapping(value: Any) -> dict[str, Any]:
    """`value` if it is an object, else an empty one."""
    return value if isinstance(value, dict) else {}


def id_number(value: Any) -> int:
    """A platform's numeric id (sent as a string) for ordering; 0 when it is not one."""
    try:
        return int(str(value))
    except ValueError:
        return 0
