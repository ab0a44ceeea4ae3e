"""Building AlpineSettings from its layers: defaults, the `[alpine]` section of the config
file, AWS Secrets Manager (aws_secrets = true), the secret stores and the environment;
and remembering where each value came from (`alpine config show`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alpine.errors import ConfigError
from alpine.receipts import SigningKey, parse_retired
from alpine.redact import redact_dsn
from alpine.settings import (
    DEFAULT_DATABASE_URL,
    DEFAULT_RATE_LIMIT,
    AlpineSettings,
    api_keys,
    database_url,
    number,
    signing_secrets,
)
from alpine.sources import (
    Origin,
    Source,
    SourceError,
    config_file,
    environment_of,
    read_section,
    secret_from_aws,
    secret_from_environment,
)

SECTION = "alpine"
SERVE_OPTIONS = {"host": "host", "port": "port", "workers": "workers"}  # flags of `serve`


def _text(raw: str, name: str) -> str | None:
    return raw.strip() or None


@dataclass(frozen=True, slots=True)
class Spec:
    """One setting: its field, file key, variable, parser and, for secrets, its stores."""

    field: str
    key: str
    env: str
    parse: Callable[[str, str], Any]
    credential: str | None = None
    aws: str | None = None


SPECS = (
    Spec("database_url", "database_url", "ALPINE_DATABASE_URL", database_url),
    Spec(
        "api_keys",
        "api_keys",
        "ALPINE_API_KEYS",
        api_keys,
        credential="alpine-api-keys",
        aws="argo-alpine/alpine-backend/argo-api-key",
    ),
    Spec(
        "signing_secrets",
        "signing_secret",
        "ALPINE_SIGNING_SECRET",
        signing_secrets,
        credential="alpine-signing-secret",
        aws="argo-alpine/alpine-backend/alpine-signing-secret",
    ),
    Spec(
        "max_body_bytes", "max_body_bytes", "ALPINE_MAX_BODY_BYTES", lambda r, n: int(number(r, n))
    ),
    Spec("rate_limit", "rate_limit", "ALPINE_RATE_LIMIT", number),
    Spec("rate_burst", "rate_burst", "ALPINE_RATE_BURST", number),
    Spec("tiers_file", "tiers_file", "ALPINE_TIERS_FILE", _text),
    Spec("subscriber_rate", "subscriber_rate_limit", "ALPINE_SUBSCRIBER_RATE_LIMIT", number),
    Spec("subscriber_burst", "subscriber_rate_burst", "ALPINE_SUBSCRIBER_RATE_BURST", number),
    Spec(
        "stream_heartbeat_seconds",
        "stream_heartbeat_seconds",
        "ALPINE_STREAM_HEARTBEAT_SECONDS",
        lambda r, n: number(r, n) or 15.0,
    ),
    Spec("key_refresh_seconds", "key_refresh_seconds", "ALPINE_KEY_REFRESH_SECONDS", number),
    Spec("late_after_seconds", "late_after_seconds", "ALPINE_LATE_AFTER_SECONDS", number),
    Spec(
        "receipt_key",
        "receipt_key",
        "ALPINE_RECEIPT_KEY",
        SigningKey.parse,
        credential="alpine-receipt-key",
        aws="argo-alpine/alpine-backend/alpine-receipt-key",
    ),
    Spec(
        "receipt_retired_keys",
        "receipt_retired_keys",
        "ALPINE_RECEIPT_RETIRED_KEYS",
        lambda r, n: tuple(parse_retired(r, n)),
    ),
)
_BY_KEY = {spec.key: spec for spec in SPECS}


@dataclass(frozen=True, slots=True)
class Loaded:
    """The effective settings, the source of each, the file read, and `serve` defaults."""

    settings: AlpineSettings
    sources: dict[str, Source]
    file: Path | None
    serve_defaults: dict[str, Any]


def load(environ: Mapping[str, str] | None = None, config_path: Path | None = None) -> Loaded:
    """Environment (secret stores first) over AWS over the config file over defaults."""
    env = environment_of(environ)
    try:
        path = config_file(config_path, env)
        table = read_section(path, SECTION)
    except SourceError as exc:
        raise ConfigError(str(exc)) from exc
    values: dict[str, Any] = {}
    sources = {spec.field: Source(Origin.DEFAULT) for spec in SPECS}
    serve = _from_file(table, path, values, sources)
    try:
        if table.get("aws_secrets", False):
            _from_aws(env, values, sources)
        _from_environment(env, values, sources)
    except SourceError as exc:
        raise ConfigError(str(exc)) from exc
    rate = values.get("rate_limit", DEFAULT_RATE_LIMIT)
    subscriber_rate = values.get("subscriber_rate", 20.0)
    settings = AlpineSettings(
        database_url=values.get("database_url", DEFAULT_DATABASE_URL),
        api_keys=values.get("api_keys", ()),
        signing_secrets=values.get("signing_secrets", ()),
        **{k: v for k, v in values.items() if k not in _STARTERS},
        rate_burst=values.get("rate_burst", 2 * rate),
        subscriber_burst=values.get("subscriber_burst", 2 * subscriber_rate),
        config_file=path,
    )
    return Loaded(settings, sources, path, serve)


_STARTERS = {"database_url", "api_keys", "signing_secrets", "rate_burst", "subscriber_burst"}


def settings_from_env(environ: Mapping[str, str] | None = None) -> AlpineSettings:
    """Every layer but flags, checked (see docs/configuration.md)."""
    return load(environ).settings


def _from_file(
    table: Mapping[str, Any], path: Path | None, values: dict[str, Any], sources: dict[str, Source]
) -> dict[str, Any]:
    """Apply the [alpine] table; the `serve` flag defaults it holds."""
    serve: dict[str, Any] = {}
    for key, raw in table.items():
        where = f"{key} in [{SECTION}] of {path}"
        if key == "aws_secrets":
            if not isinstance(raw, bool):
                raise ConfigError(f"{where} must be true or false")
            continue
        if key in SERVE_OPTIONS:
            if key != "host" and (not isinstance(raw, int) or isinstance(raw, bool)):
                raise ConfigError(f"{where} must be an integer, got {raw!r}")
            serve[SERVE_OPTIONS[key]] = raw
            continue
        spec = _BY_KEY.get(key)
        if spec is None:
            raise ConfigError(f"unknown key {key!r} in [{SECTION}] of {path}")
        values[spec.field] = spec.parse(_as_text(raw, where), where)
        sources[spec.field] = Source(Origin.FILE, str(path))
    return serve


def _as_text(raw: Any, where: str) -> str:
    """A TOML value as the text an environment variable would hold."""
    if isinstance(raw, bool):
        raise ConfigError(f"{where} must not be true/false")
    if isinstance(raw, str | int | float):
        return str(raw)
    if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
        return ",".join(raw)
    raise ConfigError(f"{where} must be a string or number")


def _from_aws(env: Mapping[str, str], values: dict[str, Any], sources: dict[str, Source]) -> None:
    for spec in SPECS:
        if spec.aws:
            found = secret_from_aws(spec.aws, env)
            if found is not None:
                values[spec.field] = spec.parse(found, f"AWS secret {spec.aws}")
                sources[spec.field] = Source(Origin.AWS, spec.aws)


def _from_environment(
    env: Mapping[str, str], values: dict[str, Any], sources: dict[str, Source]
) -> None:
    for spec in SPECS:
        if spec.credential:
            found = secret_from_environment(spec.env, spec.credential, env)
            if found is not None:
                values[spec.field] = spec.parse(found[0], spec.env)
                sources[spec.field] = found[1]
            continue
        raw = env.get(spec.env, "").strip()
        if raw:
            values[spec.field] = spec.parse(raw, spec.env)
            sources[spec.field] = Source(Origin.ENVIRONMENT, spec.env)


def redacted(loaded: Loaded) -> list[tuple[str, str, str]]:
    """(setting, value, source) for `alpine config show`; secrets never shown."""
    rows = []
    for spec in SPECS:
        value = getattr(loaded.settings, spec.field)
        if spec.credential:
            shown = "-" if not value else "<redacted>"
            if isinstance(value, (str, tuple)):
                shown = f"<redacted> ({len(value)})"
            elif isinstance(value, SigningKey):
                shown = f"<redacted> (key id {value.kid})"
        elif spec.field == "receipt_retired_keys":
            shown = ", ".join(key.kid for key in value) or "-"
        elif value is None:
            shown = "-"
        else:
            shown = redact_dsn(str(value))
        rows.append((spec.key, shown, str(loaded.sources[spec.field])))
    return rows
