"""Alpine's configuration, from the environment (flags override host and port)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from alpine.errors import ConfigError

DEFAULT_DATABASE_URL = "sqlite:///data/alpine.db"
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_RATE_LIMIT = 2000.0


@dataclass(frozen=True, slots=True)
class AlpineSettings:
    database_url: str
    api_keys: tuple[str, ...]
    signing_secrets: tuple[str, ...]
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    rate_limit: float = DEFAULT_RATE_LIMIT
    rate_burst: float = 2 * DEFAULT_RATE_LIMIT
    tiers_file: str | None = None
    subscriber_rate: float = 20.0
    subscriber_burst: float = 40.0
    stream_heartbeat_seconds: float = 15.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AlpineSettings:
        """Read the ALPINE_* variables (see docs/configuration.md)."""
        env = environ if environ is not None else os.environ
        url = env.get("ALPINE_DATABASE_URL", "").strip() or DEFAULT_DATABASE_URL
        if not url.startswith(("postgresql+psycopg://", "postgresql://", "sqlite:///")):
            raise ConfigError(
                "ALPINE_DATABASE_URL must be postgresql+psycopg://... or sqlite:///..."
            )
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        keys = tuple(k.strip() for k in env.get("ALPINE_API_KEYS", "").split(",") if k.strip())
        for key in keys:
            if len(key) < 16 or not key.isascii():
                raise ConfigError("ALPINE_API_KEYS: each key must be 16+ ASCII characters")
        secrets = tuple(
            s.strip() for s in env.get("ALPINE_SIGNING_SECRET", "").split(",") if s.strip()
        )
        if any(not s.startswith("whsec_") for s in secrets):
            raise ConfigError("ALPINE_SIGNING_SECRET must be whsec_<base64>, comma-separated")
        max_body = int(_number(env, "ALPINE_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES))
        rate = _number(env, "ALPINE_RATE_LIMIT", DEFAULT_RATE_LIMIT)
        burst = _number(env, "ALPINE_RATE_BURST", 2 * rate)
        sub_rate = _number(env, "ALPINE_SUBSCRIBER_RATE_LIMIT", 20.0)
        return cls(
            url,
            keys,
            secrets,
            max_body,
            rate,
            burst,
            tiers_file=env.get("ALPINE_TIERS_FILE", "").strip() or None,
            subscriber_rate=sub_rate,
            subscriber_burst=_number(env, "ALPINE_SUBSCRIBER_RATE_BURST", 2 * sub_rate),
            stream_heartbeat_seconds=_number(env, "ALPINE_STREAM_HEARTBEAT_SECONDS", 15.0) or 15.0,
        )


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc
    if not value >= 0 or value == float("inf"):
        raise ConfigError(f"{name} must be a finite number >= 0, got {raw!r}")
    return value
