"""Alpine's configuration: one frozen object, every default defined here once.

`alpine.settings_load.settings_from_env` layers the defaults, the `[alpine]` section of
the config file (ARGO_ALPINE_CONFIG), AWS Secrets Manager, the secret stores and the environment
(alpine.settings_load); `alpine serve` flags override host, port and workers.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from pathlib import Path

from alpine.errors import ConfigError
from alpine.receipts import PublicKey, SigningKey

DEFAULT_DATABASE_URL = "sqlite:///data/alpine.db"
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_RATE_LIMIT = 2000.0
SECRET_BYTES = (24, 64)  # Standard Webhooks: a secret is 24 to 64 random bytes


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
    key_refresh_seconds: float = 30.0
    late_after_seconds: float = 300.0
    receipt_key: SigningKey | None = None  # signs receipts (alpine/receipts.py); None: none
    receipt_retired_keys: tuple[PublicKey, ...] = ()  # old receipts still verify with these
    config_file: Path | None = None


def database_url(raw: str, name: str) -> str:
    """A checked database URL; `postgresql://` is taken as `postgresql+psycopg://`."""
    url = raw.strip() or DEFAULT_DATABASE_URL
    if not url.startswith(("postgresql+psycopg://", "postgresql://", "sqlite:///")):
        raise ConfigError(f"{name} must be postgresql+psycopg://... or sqlite:///...")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def api_keys(raw: str, name: str) -> tuple[str, ...]:
    """Comma-separated API keys, each 16+ ASCII characters (the message never shows one)."""
    keys = tuple(k.strip() for k in raw.split(",") if k.strip())
    for key in keys:
        if len(key) < 16 or not key.isascii():
            raise ConfigError(f"{name}: each key must be 16+ ASCII characters")
    return keys


def signing_secrets(raw: str, name: str) -> tuple[str, ...]:
    """Comma-separated Standard Webhooks secrets; empty means unsigned.

    The one rule, the same on Argo's side (relay.config.signing_secrets): each secret is
    `whsec_` followed by standard base64 (padding optional) of 24 to 64 bytes.
    """
    found = tuple(s.strip() for s in raw.split(",") if s.strip())
    for secret in found:
        if not _is_secret(secret):
            raise ConfigError(
                f"{name} must be whsec_ + base64 of {SECRET_BYTES[0]} to {SECRET_BYTES[1]}"
                " bytes, comma-separated"
            )
    return found


def _is_secret(secret: str) -> bool:
    if not secret.startswith("whsec_"):
        return False
    body = secret.removeprefix("whsec_").rstrip("=")
    try:
        decoded = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    return SECRET_BYTES[0] <= len(decoded) <= SECRET_BYTES[1]


def number(raw: str, name: str) -> float:
    """A finite number >= 0 from text."""
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc
    if not value >= 0 or value == float("inf"):
        raise ConfigError(f"{name} must be a finite number >= 0, got {raw!r}")
    return value
