"""`pantau watchlist check`: what in the watchlist would find the wrong target, or every post."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from config.watchlist import WatchlistError, load_watchlist
from nlp.watchlist_check import check_watchlist
from service.console import settings_or_exit

watchlist_app = typer.Typer(help="The watchlist (config/watchlist.yaml): check it.", no_args_is_help=True)


@watchlist_app.command("check")
def check(
    path: Annotated[
        Path | None, typer.Option(help="The watchlist to check (default: the configured one).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as one JSON object.")] = False,
) -> None:
    """Aliases two targets share, common words and short lowercase words as aliases: one line each
    (exit 1 when there is any; 2 when the watchlist cannot be read)."""
    watchlist_path = path if path is not None else settings_or_exit().watchlist_path
    try:
        watchlist = load_watchlist(watchlist_path)
    except WatchlistError as exc:
        typer.echo(f"pantau: {exc}", err=True)
        raise typer.Exit(2) from None
    findings = check_watchlist(watchlist)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "watchlist": str(watchlist_path),
                    "targets": len(watchlist.targets),
                    "findings": [asdict(f) for f in findings],
                },
                ensure_ascii=False,
            )
        )
    else:
        for finding in findings:
            typer.echo(f"{finding.problem}\t{finding.why}")
        if not findings:
            typer.echo(f"{watchlist_path}: {len(watchlist.targets)} targets, nothing found")
    if findings:
        raise typer.Exit(1)
