"""`argo --config PATH` and `argo config show`: the `[argo]` section of the shared file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from argo.cli.config_file import ArgoConfig

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="TOML config file, section [argo] [env ARGO_ALPINE_CONFIG;"
    " default /etc/argo-alpine/argo-alpine.toml when it exists].",
)


def apply_config(context: click.Context, config_path: Path | None) -> ArgoConfig:
    """Read `[argo]` once for this process and hand its values to every command as
    click defaults (below flags and environment variables)."""
    group = context.command
    assert isinstance(group, click.Group)
    config = ArgoConfig.load(group, config_path)
    context.default_map = config.default_map(group)
    context.obj = config
    return config


@click.group(name="config")
def config() -> None:
    """The effective settings."""


@config.command(name="show")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def config_show(context: click.Context, as_json: bool) -> None:
    """Every setting, its effective value and where it came from (secrets redacted)."""
    root = context.find_root()
    loaded = root.obj if isinstance(root.obj, ArgoConfig) else ArgoConfig()
    group = root.command
    assert isinstance(group, click.Group)
    rows = loaded.rows(group)
    if as_json:
        report: dict[str, Any] = {"config_file": str(loaded.file) if loaded.file else None}
        report |= {name: {"value": value, "source": source} for name, value, source in rows}
        click.echo(json.dumps(report))
        return
    click.echo(f"config file: {loaded.file or '(none)'}")
    for name, value, source in rows:
        click.echo(f"  {name:<24} {value:<32} {source}")
