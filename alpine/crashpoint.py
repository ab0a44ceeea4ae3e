"""Test-only crash points for Alpine: SIGKILL this process at a named line, to prove that
a crash there loses nothing (the fault matrix, tests/faults/). Mirrors
argo/process/crashpoints.py; Alpine and Argo never import each other, so each side has
its own.

Set `ALPINE_TEST_CRASH_AT=<point>[:<n>]` to die the n-th time (default 1st) the process
reaches `<point>`. Unset (always, in production) every call is one string comparison.
Points: `after_commit` (an ingest's rows are committed in PostgreSQL, the 2xx is not
yet sent).
"""

from __future__ import annotations

import os
import signal
import threading

_SETTING = os.environ.get("ALPINE_TEST_CRASH_AT", "")
_POINT, _, _NTH = _SETTING.partition(":")
_reached = 0
_lock = threading.Lock()


def crash_point(name: str) -> None:
    """Die by SIGKILL here if the test hook names this point (and this is the n-th time)."""
    global _reached
    if not _POINT or name != _POINT:
        return
    with _lock:  # ingests commit on several threadpool threads at once
        _reached += 1
        if _reached >= int(_NTH or 1):
            os.kill(os.getpid(), signal.SIGKILL)
