"""YAML configuration files whose every error names the file, the line and the field.

The alerting rules and the sources share this: the node tree keeps each value's line, `${VAR}`
(or `${VAR:-default}`) is read from the environment so that secrets never sit in the file, and a
pydantic error location is mapped back to the line it came from.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from typing import Any

import yaml


class ConfigFileError(ValueError):
    """A bad configuration file: the message names the file, the line and what is wrong."""


ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def compose(text: str, source: str, error: type[ConfigFileError] = ConfigFileError) -> yaml.Node | None:
    """The node tree of the text (None when it is empty)."""
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise error(f"{source}{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None


def construct(
    node: yaml.Node, source: str, environ: dict[str, str], error: type[ConfigFileError] = ConfigFileError
) -> Any:
    """Plain data from the node tree, with `${VAR}` (or `${VAR:-default}`) read from the environment."""
    return _construct(node, yaml.SafeLoader(""), source, environ, error)


def _construct(
    node: yaml.Node,
    loader: yaml.SafeLoader,
    source: str,
    environ: dict[str, str],
    error: type[ConfigFileError],
) -> Any:
    if isinstance(node, yaml.MappingNode):
        mapping = {}
        for key_node, value_node in node.value:
            key = _construct(key_node, loader, source, environ, error)
            if not isinstance(key, str | int | float | bool) and key is not None:
                raise error(f"{source}:{key_node.start_mark.line + 1}: a key must be a plain word")
            mapping[key] = _construct(value_node, loader, source, environ, error)
        return mapping
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, loader, source, environ, error) for item in node.value]
    try:
        value = loader.construct_object(node)
    except (yaml.YAMLError, ValueError, TypeError) as exc:  # `!!int abc`, an unknown tag
        raise error(f"{source}:{node.start_mark.line + 1}: {exc}".splitlines()[0]) from None
    if not isinstance(value, str) or "${" not in value:
        return value

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if environ.get(name):
            return environ[name]
        if default is not None:
            return default
        # Empty counts as unset: compose passes an unset variable as '', and an empty secret would
        # quietly be sent as none.
        raise error(f"{source}:{node.start_mark.line + 1}: environment variable {name} is not set (or empty)")

    return ENV_REFERENCE.sub(substitute, value)


def located(
    source: str,
    root: yaml.Node,
    loc: tuple[int | str, ...],
    message: str,
    others: int,
    *,
    skip: Collection[str] = (),
    error: Callable[[str], ConfigFileError] = ConfigFileError,
) -> ConfigFileError:
    """The error for a pydantic location `loc`, on the line it points at. `skip` names the parts
    pydantic adds to a location that are not in the file (the chosen member of a tagged union)."""
    where = ".".join(str(part) for part in loc if part not in skip) or "(top level)"
    more = f" (and {others} more)" if others > 0 else ""
    message = message.removeprefix("Value error, ")  # pydantic's wrapping says nothing here
    return error(f"{source}:{line_of(root, loc, skip)}: {where}: {message}{more}")


def line_of(node: yaml.Node, loc: tuple[int | str, ...], skip: Collection[str] = ()) -> int:
    """The line (1-based) of the deepest node the error location reaches."""
    for part in loc:
        if part in skip:
            continue
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if k.value == part), None)
            if child is None:
                # An unknown key: point at the key itself.
                key = next((k for k, _ in node.value if k.value == part), None)
                return (key or node).start_mark.line + 1
            node = child
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            break
    return node.start_mark.line + 1
