"""Reading the relay's settings: flags first, then environment, then defaults."""

from __future__ import annotations

import os
import secrets
import socket

from relay.errors import ConfigError

_FALSE = {"0", "false", "no", "off"}
_TRUE = {"1", "true", "yes", "on"}


def sync_enabled(environ: dict[str, str] | None = None) -> bool:
    """ALPINE_SYNC_ENABLED (default true); anything but a clear yes/no is an error."""
    value = (environ if environ is not None else os.environ).get("ALPINE_SYNC_ENABLED", "true")
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigError(f"ALPINE_SYNC_ENABLED must be true or false, got {value!r}")


def signing_secrets(value: str | None) -> list[str]:
    """Comma-separated Standard Webhooks secrets (`whsec_` + base64); empty means unsigned.

    Two are listed during a rotation; every request then carries both signatures.
    """
    secrets = [s.strip() for s in (value or "").split(",") if s.strip()]
    for secret in secrets:
        if not secret.startswith("whsec_") or len(secret) < 20:
            raise ConfigError("ALPINE_SIGNING_SECRET must be whsec_<base64>, comma-separated")
    return secrets


def new_worker_id() -> str:
    """host:pid:random, so leases name the process that holds them."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
