"""The API keys and signing secrets in force, re-read from their stores on an interval.

A key rotated where it is kept (a systemd credential or `*_FILE` file rewritten, a new
version in AWS Secrets Manager, the config file) is in force within
`key_refresh_seconds`, without a restart. A store that cannot be read, or that holds a
malformed or empty key list, keeps the keys in force (and says so in the log, never
showing a key): a half-written file must not lock every sender out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from alpine.auth import ApiKeys, SignatureVerifier
from alpine.errors import ConfigError
from alpine.settings import AlpineSettings
from alpine.settings_load import settings_from_env

log = logging.getLogger("alpine.auth")


def _reload() -> AlpineSettings:
    return settings_from_env()


class KeyRing:
    """Current keys and verifier; `refresh_due()` then `refresh()` from a worker thread."""

    def __init__(
        self,
        settings: AlpineSettings,
        reload: Callable[[], AlpineSettings] = _reload,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._interval = settings.key_refresh_seconds
        self._reload, self._clock = reload, clock
        self._apply(settings)
        self._next = clock() + self._interval

    def _apply(self, settings: AlpineSettings) -> None:
        self._secrets = settings.signing_secrets
        self.keys = ApiKeys.of(settings.api_keys)
        self.verifier = (
            SignatureVerifier(settings.signing_secrets) if settings.signing_secrets else None
        )

    def refresh_due(self) -> bool:
        """Whether the stores should be read again now; claims the refresh when it is."""
        if self._interval <= 0 or self._clock() < self._next:
            return False
        self._next = self._clock() + self._interval
        return True

    def refresh(self) -> None:
        """Read the stores again and put changed keys or secrets in force."""
        try:
            fresh = self._reload()
        except ConfigError as exc:
            log.warning(
                "keeping the API keys in force: %s", exc, extra={"event": "key_refresh_failed"}
            )
            return
        if not fresh.api_keys:
            log.warning(
                "keeping the API keys in force: the store holds none",
                extra={"event": "key_refresh_failed"},
            )
            return
        if fresh.api_keys != tuple(k.decode() for k in self.keys.keys) or (
            fresh.signing_secrets != self._secrets
        ):
            self._apply(fresh)
            log.warning(
                "API keys or signing secrets changed",
                extra={"event": "keys_rotated", "key_ids": list(self.keys.ids)},
            )
