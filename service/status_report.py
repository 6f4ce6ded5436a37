"""`pantau status` as a person reads it: GET /status laid out as a table and a few lines."""

from __future__ import annotations

from typing import Any

STAGE_HEADER = f"{'stage':<14}{'topic':<16}{'lag':>10}{'per s':>10}{'consumed':>12}"


def number(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def describe_status(report: dict[str, Any], base: str) -> str:
    lines = [f"Pantau at {base}, {report['at']}", "", STAGE_HEADER]
    for stage in report["stages"]:
        lines.append(
            f"{stage['stage']:<14}{stage['topic']:<16}{number(stage['lag']):>10}"
            f"{number(stage['per_second'], 1):>10}{number(stage['consumed']):>12}"
        )
    lines += ["", f"dead letters  {number(report['dead_letters'])} since start", spool_line(report["spool"])]
    for source in report.get("sources", []):
        lines.append(source_line(source))
    broker = report["broker"]
    held = ", ".join(f"{topic} {count:,}" for topic, count in broker["messages_held"].items()) or "-"
    memory = f"RSS {broker['rss_bytes'] / 2**20:,.0f} MiB, " if broker["rss_bytes"] else ""
    state = "reachable" if broker["reachable"] else "UNREACHABLE"
    generation = f", topic generation {broker['generation']}" if broker.get("generation") else ""
    lines.append(f"broker        {state}; {memory}holds {held}{generation}")
    lines.append(
        "engines       " + ", ".join(f"{name} {version}" for name, version in report["engines"].items())
    )
    return "\n".join(lines)


def spool_line(spool: dict[str, Any]) -> str:
    if not spool["enabled"]:
        return "spool         off"
    waiting = f"{number(spool['posts'])} posts waiting for ClickHouse ({number(spool['unsent'])} unsent)"
    oldest = "" if spool["oldest_seconds"] is None else f", oldest {number(spool['oldest_seconds'])} s"
    return f"spool         {waiting}{oldest}"


def source_line(source: dict[str, Any]) -> str:
    brought = f"{number(source['posts'])} posts"
    if source.get("idle_seconds") is not None:
        brought += (
            f", newest arrived {number(source['idle_seconds'])} s ago, {number(source['lag_seconds'])} s old"
        )
    live = source.get("live")
    if not live:
        return f"source        {source['source']}: {brought}"
    state = {True: "up", False: "DOWN", None: "starting"}[live["up"]]
    health = f"{live['kind']} {state}, {live['errors']} errors, {live['reconnects']} reconnects"
    if live["up"] is False:
        health += f", next try in {number(live['retry_in_seconds'])} s: {live['last_error']}"
    return f"source        {source['source']}: {brought}; {health}"
