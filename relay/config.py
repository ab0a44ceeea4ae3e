"""The relay's settings: one frozen object, every default defined here once.

`relay.settings_load.config_from_env` reads the environment over the defaults; command-line flags
then override single fields (`with_overrides`). A malformed value is a ConfigError
naming the setting (exit code 2).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from relay.errors import ConfigError
from relay.receipts import ReceiptKeys

_FALSE = {"0", "false", "no", "off"}
_TRUE = {"1", "true", "yes", "on"}


def _env(
    env: str,
    help: str,
    *,
    low: float | None = None,
    high: float | None = None,
    credential: str | None = None,
    aws: str | None = None,
) -> dict[str, Any]:
    """Field metadata: its variable, help, bounds, and for secrets where stores keep it."""
    return {
        "env": env,
        "help": help,
        "low": low,
        "high": high,
        "credential": credential,
        "aws": aws,
    }


@dataclass(frozen=True, slots=True)
class RelayConfig:
    """Everything `relay run` needs to know, with the environment variable of each."""

    db_path: Path = field(
        default=Path("data/signals.db"), metadata=_env("ARGO_DB", "Argo's SQLite database")
    )
    alpine_url: str = field(
        default="http://127.0.0.1:9001",
        metadata=_env("ALPINE_API_URL", "Alpine's base URL", aws="argo-alpine/argo/alpine-api-url"),
    )
    api_key: str | None = field(
        default=None,
        metadata=_env(
            "ARGO_API_KEY",
            "key sent as X-API-Key",
            credential="argo-api-key",
            aws="argo-alpine/argo/argo-api-key",
        ),
    )
    signing_secret: str | None = field(
        default=None,
        metadata=_env(
            "ALPINE_SIGNING_SECRET",
            "Standard Webhooks secret(s) whsec_..., comma-separated",
            credential="alpine-signing-secret",
            aws="argo-alpine/argo/alpine-signing-secret",
        ),
    )
    alpine_receipt_keys: str | None = field(
        default=None,
        metadata=_env(
            "RELAY_ALPINE_RECEIPT_KEYS",
            "Alpine's receipt public keys KEY_ID:BASE64URL, comma-separated, or @FILE"
            " (`alpine keys export`); set: a delivery counts only with a receipt they verify",
        ),
    )
    sync_enabled: bool = field(
        default=True,
        metadata=_env(
            "ALPINE_SYNC_ENABLED", "false: `relay run` exits at once, events stay queued"
        ),
    )
    batch_size: int = field(
        default=200,
        metadata=_env(
            "RELAY_BATCH_SIZE", "rows claimed, and POSTed together, per window", low=1, high=500
        ),
    )
    lease_seconds: float = field(
        default=60.0,
        metadata=_env("RELAY_LEASE_SECONDS", "how long a claim lasts unless renewed", low=1.0),
    )
    posts_in_flight: int = field(
        default=8,
        metadata=_env("RELAY_POSTS_IN_FLIGHT", "single POSTs sent at once", low=1, high=32),
    )
    windows_in_flight: int = field(
        default=2,
        metadata=_env(
            "RELAY_WINDOWS_IN_FLIGHT",
            "full windows out at once in a backlog (the next is claimed while one is out)",
            low=1,
            high=4,
        ),
    )
    outage_cap_seconds: float = field(
        default=30.0,
        metadata=_env(
            "RELAY_OUTAGE_CAP_SECONDS", "longest whole-relay wait while Alpine is down", low=0.1
        ),
    )
    metrics_port: int = field(
        default=9102,
        metadata=_env(
            "RELAY_METRICS_PORT",
            "Prometheus endpoint on 127.0.0.1; 0 turns it off",
            low=0,
            high=65535,
        ),
    )
    request_timeout_seconds: float = field(
        default=10.0,
        metadata=_env("RELAY_REQUEST_TIMEOUT_SECONDS", "per read or write of one POST", low=0.1),
    )
    post_deadline_seconds: float = field(
        default=15.0,
        metadata=_env(
            "RELAY_POST_DEADLINE_SECONDS", "longest one POST may take, answer included", low=0.1
        ),
    )
    max_attempts: int = field(
        default=20,
        metadata=_env(
            "RELAY_MAX_ATTEMPTS", "failures of its own before a row is dead-lettered", low=1
        ),
    )
    max_age_hours: float = field(
        default=24.0,
        metadata=_env(
            "RELAY_MAX_AGE_HOURS",
            "hours of failing on its own before a row is dead-lettered",
            low=0.01,
        ),
    )
    retry_base_seconds: float = field(
        default=2.0,
        metadata=_env(
            "RELAY_RETRY_BASE_SECONDS",
            "first wait after a row fails on its own (doubles)",
            low=0.01,
        ),
    )
    retry_cap_seconds: float = field(
        default=3600.0,
        metadata=_env("RELAY_RETRY_CAP_SECONDS", "longest wait between a row's tries", low=0.01),
    )
    post_tries: int = field(
        default=2,
        metadata=_env(
            "RELAY_POST_TRIES",
            "POSTs of a window's row on a transport fault or 5xx before the row's own retry",
            low=1,
            high=5,
        ),
    )
    attempt_log: bool = field(
        default=True,
        metadata=_env(
            "RELAY_ATTEMPT_LOG", "record every POST in the outbox's attempt log (relay attempts)"
        ),
    )
    worker_id: str | None = None  # None: take this host's first free slot (relay.presence)
    use_batch_endpoint: bool = True
    idle_poll_seconds: float = 0.01
    rescan_seconds: float = 1.0
    outage_threshold: int = 3
    connect_timeout_seconds: float = 3.0
    heartbeat_seconds: float = 5.0

    def with_overrides(self, **flags: Any) -> RelayConfig:
        """A copy with the flags that were given (not None) applied and checked."""
        given = {key: value for key, value in flags.items() if value is not None}
        by_name = {spec.name: spec for spec in fields(self)}
        for key, value in given.items():
            check_range(by_name[key], value, "--" + key.replace("_", "-"))
        return dataclasses.replace(self, **given)

    @property
    def signing_secrets(self) -> list[str]:
        """The signing secret(s) as a list; checked."""
        return signing_secrets(self.signing_secret)

    def check_for_delivery(self) -> None:
        """Raise ConfigError for what `relay run` cannot start without."""
        if not self.api_key:
            raise ConfigError("no API key: set ARGO_API_KEY or --api-key")
        if not self.alpine_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"ALPINE_API_URL must start with http:// or https://: {self.alpine_url!r}"
            )
        signing_secrets(self.signing_secret)
        self.receipt_keys()

    def receipt_keys(self) -> ReceiptKeys | None:
        """The pinned receipt keys (None: receipts are kept unverified); checked."""
        if not self.alpine_receipt_keys:
            return None
        return ReceiptKeys.parse(self.alpine_receipt_keys)


def describe(name: str) -> str:
    """`help [env VAR; default D]` for a field, for --help texts."""
    spec = {f.name: f for f in fields(RelayConfig)}[name]
    default = spec.default
    shown = "" if default is None else f"; default {default}"
    return f"{_sentence(spec.metadata['help'])} [env {spec.metadata['env']}{shown}]."


_PARSERS: dict[Any, Callable[[str], Any]] = {
    "int": int,
    "float": float,
    "Path": Path,
    "str": str,
    "str | None": str,
}


def parse_text(spec: dataclasses.Field[Any], raw: str, name: str) -> Any:
    """A field's value from text (an environment variable), checked; `name` in errors."""
    if spec.type == "bool":
        return parse_bool(raw, name)
    try:
        value = _PARSERS[spec.type](raw.strip())
    except ValueError as exc:
        raise ConfigError(f"{name} must be a {spec.type}, got {raw!r}") from exc
    check_range(spec, value, name)
    return value


def check_range(spec: dataclasses.Field[Any], value: Any, name: str) -> None:
    """ConfigError naming `name` when `value` is outside the field's bounds."""
    low, high = spec.metadata.get("low"), spec.metadata.get("high")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"at least {low}" if high is None else f"between {low} and {high}"
        raise ConfigError(f"{name} must be {bounds}, got {value}")


def parse_bool(value: str, name: str) -> bool:
    """A clear yes/no (true/false, 1/0, yes/no, on/off); anything else is an error."""
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, got {value!r}")


def signing_secrets(value: str | None) -> list[str]:
    """Comma-separated Standard Webhooks secrets (`whsec_` + base64); empty means unsigned.

    Two are listed during a rotation; every request then carries both signatures.
    The one rule, the same on Alpine's side (alpine.settings.signing_secrets): each secret
    is `whsec_` followed by standard base64 (padding optional) of 24 to 64 bytes.
    """
    found = [s.strip() for s in (value or "").split(",") if s.strip()]
    for secret in found:
        body = secret.removeprefix("whsec_").rstrip("=")
        try:
            size = len(base64.b64decode(body + "=" * (-len(body) % 4), validate=True))
        except (binascii.Error, ValueError):
            size = 0
        if not secret.startswith("whsec_") or not 24 <= size <= 64:
            raise ConfigError(
                "ALPINE_SIGNING_SECRET must be whsec_ + base64 of 24 to 64 bytes, comma-separated"
            )
    return found


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]
