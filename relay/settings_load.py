"""Building a RelayConfig from its layers: defaults, config file ([relay]), secret stores,
environment, flags; and remembering where each value came from (`relay config show`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from argo.process.redact import redact_dsn
from argo.process.sources import (
    Origin,
    Source,
    SourceError,
    config_file,
    environment_of,
    read_section,
    secret_from_aws,
    secret_from_environment,
)
from relay.config import RelayConfig, check_range, parse_bool, parse_text
from relay.errors import ConfigError

SECTION = "relay"
_SETTABLE = {spec.name: spec for spec in fields(RelayConfig) if spec.metadata.get("env")}
_FILE_ONLY = {"aws_secrets"}


@dataclass(frozen=True, slots=True)
class Loaded:
    """The effective settings, the source of each, and the file that was read."""

    config: RelayConfig
    sources: dict[str, Source]
    file: Path | None
    aws_secrets: bool


def load(
    flags: Mapping[str, Any],
    *,
    config_path: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Loaded:
    """Flags over environment over secret stores over the config file over defaults."""
    env = environment_of(environ)
    try:
        path = config_file(config_path, env)
        table = read_section(path, SECTION)
    except SourceError as exc:
        raise ConfigError(str(exc)) from exc
    values: dict[str, Any] = {}
    sources = {name: Source(Origin.DEFAULT) for name in _SETTABLE}
    aws = _from_file(table, path, values, sources)
    if aws:
        _from_aws(env, values, sources)
    _from_environment(env, values, sources)
    for name, value in flags.items():
        if value is not None:
            check_range(_SETTABLE[name], value, "--" + name.replace("_", "-"))
            values[name] = value
            sources[name] = Source(Origin.FLAG, "--" + name.replace("_", "-"))
    return Loaded(RelayConfig(**values), sources, path, aws)


def config_from_env(environ: Mapping[str, str] | None = None) -> RelayConfig:
    """The defaults under the config file (ARGO_ALPINE_CONFIG), the secret stores and
    every set environment variable, checked."""
    return load({}, environ=environ).config


def _from_file(
    table: Mapping[str, Any], path: Path | None, values: dict[str, Any], sources: dict[str, Source]
) -> bool:
    """Apply the [relay] table; whether it turns on AWS Secrets Manager."""
    for key, raw in table.items():
        if key in _FILE_ONLY:
            continue
        spec = _SETTABLE.get(key)
        if spec is None:
            raise ConfigError(f"unknown key {key!r} in [{SECTION}] of {path}")
        values[key] = _typed(spec, raw, f"{key} in [{SECTION}] of {path}")
        sources[key] = Source(Origin.FILE, str(path))
    aws = table.get("aws_secrets", False)
    if not isinstance(aws, bool):
        raise ConfigError(f"aws_secrets in [{SECTION}] of {path} must be true or false")
    return aws


def _typed(spec: dataclasses.Field[Any], raw: Any, where: str) -> Any:
    """A TOML value for a field: the right type and within bounds."""
    kind = str(spec.type).removesuffix(" | None")
    if kind == "bool" and isinstance(raw, bool):
        value: Any = raw
    elif kind == "int" and isinstance(raw, int) and not isinstance(raw, bool):
        value = raw
    elif kind == "float" and isinstance(raw, int | float) and not isinstance(raw, bool):
        value = float(raw)
    elif kind in ("str", "Path") and isinstance(raw, str):
        value = Path(raw) if kind == "Path" else raw
    else:
        raise ConfigError(f"{where} must be a {kind}, got {raw!r}")
    check_range(spec, value, where)
    return value


def _from_aws(env: Mapping[str, str], values: dict[str, Any], sources: dict[str, Source]) -> None:
    for name, spec in _SETTABLE.items():
        secret_name = spec.metadata.get("aws")
        if not secret_name:
            continue
        try:
            value = secret_from_aws(secret_name, env)
        except SourceError as exc:
            raise ConfigError(str(exc)) from exc
        if value is not None:
            values[name] = value
            sources[name] = Source(Origin.AWS, secret_name)


def _from_environment(
    env: Mapping[str, str], values: dict[str, Any], sources: dict[str, Source]
) -> None:
    for name, spec in _SETTABLE.items():
        variable = spec.metadata["env"]
        credential = spec.metadata.get("credential")
        if credential:
            try:
                found = secret_from_environment(variable, credential, env)
            except SourceError as exc:
                raise ConfigError(str(exc)) from exc
            if found is not None:
                values[name], sources[name] = found
            continue
        raw = env.get(variable, "").strip()
        if raw:
            values[name] = (
                parse_bool(raw, variable)
                if spec.type == "bool"
                else parse_text(spec, raw, variable)
            )
            sources[name] = Source(Origin.ENVIRONMENT, variable)


def reread_credentials(
    loaded: Loaded, environ: Mapping[str, str] | None = None
) -> tuple[str | None, str | None]:
    """The API key and signing secret as their stores hold them now (a rotation without a
    restart: systemd credentials, *_FILE files and AWS can change under a running relay).
    A value that came from a flag or the file stays as it was."""
    env = environment_of(environ)
    current: dict[str, Any] = {}
    for name in ("api_key", "signing_secret"):
        spec, source = _SETTABLE[name], loaded.sources[name]
        value = getattr(loaded.config, name)
        try:
            if source.origin in (Origin.CREDENTIAL, Origin.SECRET_FILE, Origin.ENVIRONMENT):
                found = secret_from_environment(
                    spec.metadata["env"], spec.metadata["credential"], env
                )
                value = found[0] if found else value
            elif source.origin is Origin.AWS:
                value = secret_from_aws(spec.metadata["aws"], env) or value
        except SourceError:
            pass  # keep the one we have; the next 401 tries again
        current[name] = value
    return current["api_key"], current["signing_secret"]


def redacted(loaded: Loaded) -> list[tuple[str, str, str]]:
    """(setting, value, source) for `relay config show`; secrets never shown."""
    rows = []
    for name, spec in _SETTABLE.items():
        value = getattr(loaded.config, name)
        if spec.metadata.get("credential"):
            shown = "<redacted>" if value else "-"
        else:
            shown = "-" if value is None else redact_dsn(str(value))
        rows.append((name, shown, str(loaded.sources[name])))
    return rows
