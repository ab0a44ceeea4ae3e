"""Lease time on the host's boot clock, so a wall-clock step never ends a lease.

Every process on a host reads the same CLOCK_BOOTTIME (it counts suspended time too,
so a lease still ends while the machine sleeps). Its values mean nothing on another
boot, so each reading carries the boot id: a lease taken on another boot is over.
SQLite lives on one host, so every relay that can open the outbox shares this clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


@dataclass(frozen=True, slots=True)
class LeaseTime:
    """A reading of the lease clock: which boot, and seconds since it."""

    epoch: str
    seconds: float

    def plus(self, seconds: float) -> LeaseTime:
        return LeaseTime(self.epoch, self.seconds + seconds)


LeaseClock = Callable[[], LeaseTime]


_CLOCK = getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC)


def _read_boot_id() -> str:
    try:
        return _BOOT_ID.read_text(encoding="ascii").strip()
    except OSError:
        # Not Linux: the boot's wall-clock time, to 100 s, stands in for its id.
        return f"boot-{round(time.time() - time.clock_gettime(_CLOCK), -2):.0f}"


_EPOCH = _read_boot_id()


def boot_clock() -> LeaseTime:
    """Now on this host's boot clock."""
    return LeaseTime(_EPOCH, time.clock_gettime(_CLOCK))


def steady_seconds() -> float:
    """Seconds on the boot clock: for durations (deadlines, renewals, backoff waits) that a
    wall-clock step must not stretch or cut."""
    return time.clock_gettime(_CLOCK)
