"""What every `pantau` subcommand starts with: its settings, and logging set up from them."""

from __future__ import annotations

import logging
import sys

import typer

from config.settings import Settings, SettingsError, load_settings


def settings_or_exit() -> Settings:
    """The settings, with logging configured from them; exit 2 with the reason when they are bad."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        typer.echo(f"pantau: {exc}", err=True)
        raise typer.Exit(2) from None
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("aiokafka", "faust", "mode", "kafka", "httpx", "clickhouse_connect"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(settings.log_level)))
    return settings
