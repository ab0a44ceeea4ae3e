"""Test-only crash points: SIGKILL this process at a named line, to prove that a crash
there loses nothing (the fault matrix, tests/faults/).

Set `RELAY_TEST_CRASH_AT=<point>[:<n>]` to die the n-th time (default 1st) the process
reaches `<point>`. Unset (always, in production) every call is one dictionary lookup.
Points: `after_claim` (claimed, nothing sent), `after_send` (Alpine has the request, the
answer is not read), `before_settle` (Alpine answered, nothing recorded), `in_settle`
(inside the settle transaction, before its COMMIT).
"""

from __future__ import annotations

import os
import signal

_SETTING = os.environ.get("RELAY_TEST_CRASH_AT", "")
_POINT, _, _NTH = _SETTING.partition(":")
_reached = 0


def crash_point(name: str) -> None:
    """Die by SIGKILL here if the test hook names this point (and this is the n-th time)."""
    global _reached
    if not _POINT or name != _POINT:
        return
    _reached += 1
    if _reached >= int(_NTH or 1):
        os.kill(os.getpid(), signal.SIGKILL)
