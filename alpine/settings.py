"""Alpine's configuration, from the environment (flags override host and port)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from alpine.errors import ConfigError

DEFAULT_DATABASE_URL = "sqlite:///data/alpine.db"
DEFAULT_MAX_BODY_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class AlpineSettings:
    database_url: str
    api_keys: tuple[str, ...]
    signing_secret: str | None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES

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
        secret = env.get("ALPINE_SIGNING_SECRET", "").strip() or None
        if secret is not None and not secret.startswith("whsec_"):
            raise ConfigError("ALPINE_SIGNING_SECRET must look like whsec_<base64>")
        try:
            max_body = int(env.get("ALPINE_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES))
        except ValueError as exc:
            raise ConfigError("ALPINE_MAX_BODY_BYTES must be a whole number of bytes") from exc
        return cls(url, keys, secret, max_body)
