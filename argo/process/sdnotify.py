"""A minimal systemd notifier (sd_notify protocol); does nothing without NOTIFY_SOCKET."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping


class SystemdNotifier:
    """Sends READY=1, WATCHDOG=1, STOPPING=1 and STATUS= datagrams to systemd."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = environ if environ is not None else os.environ
        address = env.get("NOTIFY_SOCKET", "")
        # An "@" prefix names a socket in the abstract namespace.
        self._address = "\0" + address[1:] if address.startswith("@") else address
        watchdog_usec = env.get("WATCHDOG_USEC", "")
        self._watchdog_every = int(watchdog_usec) / 2e6 if watchdog_usec.isdigit() else 0.0
        self._last_watchdog = 0.0

    @property
    def enabled(self) -> bool:
        return bool(self._address)

    def notify(self, *assignments: str) -> None:
        """Send `KEY=value` lines as one datagram; errors are ignored (best effort)."""
        if not self._address:
            return
        message = "\n".join(assignments).encode("utf-8")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            try:
                sock.sendto(message, self._address)
            except OSError:
                pass

    def ready(self, status: str = "") -> None:
        self.notify("READY=1", *(f"STATUS={status}",) if status else ())

    def stopping(self) -> None:
        self.notify("STOPPING=1")

    def status(self, text: str) -> None:
        self.notify(f"STATUS={text}")

    def watchdog(self) -> None:
        """WATCHDOG=1, at most twice per WatchdogSec; call it from the loop that must progress."""
        now = time.monotonic()
        if self._address and now - self._last_watchdog >= self._watchdog_every:
            self._last_watchdog = now
            self.notify("WATCHDOG=1")
