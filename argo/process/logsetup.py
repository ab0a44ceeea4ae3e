"""Logging for Argo's and the relay's commands: one line per event, stable event names."""

from __future__ import annotations

import logging

from argo.process.redact import redact_dsn


class _EventFormatter(logging.Formatter):
    """Appends `key=value` for the `extra` fields a record carries; a database password in
    the line is redacted (`redact_dsn`), whatever put it there."""

    _STANDARD = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        extras = {k: v for k, v in vars(record).items() if k not in self._STANDARD}
        if extras:
            base += " " + " ".join(f"{k}={v}" for k, v in extras.items())
        return redact_dsn(base)


def setup_logging(verbosity: int) -> None:
    """WARNING by default, INFO with -v, DEBUG with -vv; to stderr."""
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    handler = logging.StreamHandler()
    handler.setFormatter(_EventFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(max(level, logging.WARNING))
