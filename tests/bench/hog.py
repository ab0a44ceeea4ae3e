"""A CPU hog for the bench: one busy-loop child process at nice 0, bounded in time.

`python -m tests.bench --hog` runs the latency rounds beside one (one of the two cores
taken), as `python -m tests.bench.tail --hog` does for the profile: the issue-26 targets
must hold on a loaded box too.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager


def start(seconds: float) -> subprocess.Popen[bytes]:
    """One core busy at nice 0 for at most `seconds` (it ends itself if its parent dies)."""
    spin = (
        f"import time\nend = time.monotonic() + {seconds:.0f}\nwhile time.monotonic() < end: pass"
    )
    return subprocess.Popen([sys.executable, "-c", spin], stdout=subprocess.DEVNULL)


@contextmanager
def hogging(enabled: bool, seconds: float) -> Iterator[None]:
    """A hog for the duration of the block (at most `seconds`), when `enabled`."""
    hog = start(seconds) if enabled else None
    try:
        yield
    finally:
        if hog is not None:
            hog.kill()
            hog.wait(5)
