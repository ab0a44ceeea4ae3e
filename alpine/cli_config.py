"""`alpine --config PATH` and `alpine config show`: the `[alpine]` section of the file."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from alpine.settings_load import load, redacted
from alpine.sources import CONFIG_VARIABLE

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="TOML config file, section [alpine] [env ARGO_ALPINE_CONFIG;"
    " default /etc/argo-alpine/argo-alpine.toml when it exists].",
)


def use_config(context: click.Context, config_path: Path | None) -> None:
    """Read `[alpine]` once (a bad file is exit 2 here) and make its `host`, `port` and
    `workers` the defaults of `serve`, below flags and environment variables."""
    if config_path is not None:
        # The key refresh and `serve --workers` processes read the same file.
        os.environ[CONFIG_VARIABLE] = str(config_path)
    loaded = load()
    context.default_map = {"serve": loaded.serve_defaults} if loaded.serve_defaults else None


@click.group(name="config")
def config() -> None:
    """The effective settings."""


@config.command(name="show")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def config_show(as_json: bool) -> None:
    """Every setting, its effective value and where it came from (secrets redacted)."""
    loaded = load()
    rows = redacted(loaded)
    if as_json:
        report: dict[str, Any] = {"config_file": str(loaded.file) if loaded.file else None}
        report |= {name: {"value": value, "source": source} for name, value, source in rows}
        click.echo(json.dumps(report))
        return
    click.echo(f"config file: {loaded.file or '(none)'}")
    for name, value, source in rows:
        click.echo(f"  {name:<26} {value:<32} {source}")
