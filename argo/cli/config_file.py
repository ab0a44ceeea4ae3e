"""Argo's settings from the `[argo]` section of the shared TOML file.

Every `argo` option keeps its default and environment variable on its click option;
the file slots in between through click's `default_map`, which gives exactly the
contract's precedence: flags, then environment, then the file, then defaults. Keys are
the long option names with underscores (`--audit-log` → `audit_log`); a key that no
command takes, or a value its option rejects, is a ConfigError (exit 2) naming the key
and the file. One `ArgoConfig` is built per process, by the group (argo.cli.config).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from argo.errors import ConfigError
from argo.process.redact import redact_dsn
from argo.process.sources import (
    Origin,
    Source,
    SourceError,
    config_file,
    environment_of,
    read_section,
)

SECTION = "argo"
_SECRET_WORDS = ("key", "secret", "password", "token")
_GROUP_ONLY = {"verbose", "config"}


def option_key(param: click.Parameter) -> str | None:
    """The file key of an option: its longest `--long-name`, with underscores."""
    if not isinstance(param, click.Option):
        return None
    longs = [opt for opt in param.opts if opt.startswith("--")]
    if not longs:
        return None
    return max(longs, key=len).removeprefix("--").replace("-", "_")


def walk(group: click.Group) -> Iterator[tuple[tuple[str, ...], click.Option, str]]:
    """(command path, option, file key) for every keyed option under `group`."""
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            for path, option, sub_key in walk(command):
                yield (name, *path), option, sub_key
            continue
        for param in command.params:
            key = option_key(param)
            if key is not None and key not in _GROUP_ONLY and isinstance(param, click.Option):
                yield (name,), param, key


def is_secret(key: str) -> bool:
    """Whether a setting holds a secret (never shown, never logged)."""
    return any(word in key for word in _SECRET_WORDS)


@dataclass(frozen=True, slots=True)
class ArgoConfig:
    """The `[argo]` table, checked against the options the commands take."""

    file: Path | None = None
    values: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def load(
        cls,
        group: click.Group,
        config_path: Path | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> ArgoConfig:
        """Read and check the `[argo]` section (ConfigError naming key and file)."""
        env = environment_of(environ)
        try:
            path = config_file(config_path, env)
            table = read_section(path, SECTION)
        except SourceError as exc:
            raise ConfigError(str(exc)) from exc
        options: dict[str, list[click.Option]] = {}
        for _, option, key in walk(group):
            options.setdefault(key, []).append(option)
        checked: dict[str, Any] = {}
        for key, raw in table.items():
            if key not in options:
                raise ConfigError(f"unknown key {key!r} in [{SECTION}] of {path}")
            for option in options[key]:
                checked[key] = _converted(option, raw, f"{key} in [{SECTION}] of {path}")
        return cls(path, checked)

    def default_map(self, group: click.Group) -> dict[str, Any]:
        """click's nested `default_map`: each command gets the file values it takes."""
        tree: dict[str, Any] = {}
        for path, option, key in walk(group):
            if key in self.values and option.name:
                node = tree
                for part in path:
                    node = node.setdefault(part, {})
                node[option.name] = self.values[key]
        return tree

    def rows(
        self, group: click.Group, environ: Mapping[str, str] | None = None
    ) -> list[tuple[str, str, str]]:
        """(setting, effective value, source) for `argo config show`, secrets redacted."""
        env = environment_of(environ)
        seen: dict[str, tuple[str, str, str]] = {}
        for _, option, key in walk(group):
            if key in seen:
                continue
            value, source = self._effective(option, key, env)
            if value is None or value == "":
                shown = "-"
            elif is_secret(key):
                shown = "<redacted>"
            else:
                shown = redact_dsn(str(value))
            seen[key] = (key, shown, str(source))
        return sorted(seen.values())

    def _effective(
        self, option: click.Option, key: str, env: Mapping[str, str]
    ) -> tuple[Any, Source]:
        variables = [option.envvar] if isinstance(option.envvar, str) else option.envvar or []
        for variable in variables:
            if env.get(variable, "").strip():
                return env[variable].strip(), Source(Origin.ENVIRONMENT, variable)
        if key in self.values:
            return self.values[key], Source(Origin.FILE, str(self.file))
        default = option.default
        return (None if callable(default) else default), Source(Origin.DEFAULT)


def _converted(option: click.Option, raw: Any, where: str) -> Any:
    """`raw` through the option's own type, so file and flag obey the same rules."""
    if isinstance(raw, dict | list) and not option.multiple:
        raise ConfigError(f"{where} must be a single value, got {raw!r}")
    try:
        return option.type.convert(raw, option, None)
    except click.BadParameter as exc:
        raise ConfigError(f"{where}: {exc.message}") from exc
    except (TypeError, ValueError) as exc:  # e.g. a number where a path belongs
        raise ConfigError(f"{where}: {raw!r} is not a valid value ({exc})") from exc
