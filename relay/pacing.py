"""Relay-wide waits: backing off during an outage, pausing on a misconfiguration,
honouring a rate limit. One small object the driver asks how long to wait."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from relay.fate import Verdict
from relay.retry import Jitter, RetryPolicy, full_jitter

OUTAGE_POLICY = RetryPolicy(base_seconds=0.5, cap_seconds=30.0)
PAUSE_POLICY = RetryPolicy(base_seconds=5.0, cap_seconds=60.0)


class RelayState(StrEnum):
    """What the relay as a whole is doing (shown in `relay status` and the metrics)."""

    RUNNING = "running"
    OUTAGE = "outage"
    PAUSED = "paused"
    RATE_LIMITED = "rate_limited"


@dataclass(frozen=True, slots=True)
class Change:
    """A state change worth telling the operator about."""

    state: RelayState
    reason: str
    wait_seconds: float


class Pacing:
    """Tracks consecutive outage and pause windows and when delivery may resume."""

    def __init__(
        self,
        monotonic: Callable[[], float],
        outage_policy: RetryPolicy = OUTAGE_POLICY,
        pause_policy: RetryPolicy = PAUSE_POLICY,
        jitter: Jitter = full_jitter,
    ) -> None:
        self._monotonic = monotonic
        self._outage_policy = outage_policy
        self._pause_policy = pause_policy
        self._jitter = jitter
        self._outages = 0
        self._pauses = 0
        self._resume_at = 0.0
        self.state = RelayState.RUNNING
        self.reason = ""
        self.setbacks = 0  # outage and pause verdicts taken so far

    def wait_seconds(self) -> float:
        """Seconds until delivery may go on (0 when it may now)."""
        return max(self._resume_at - self._monotonic(), 0.0)

    def resume_now(self) -> None:
        """Deliver again at once (the configuration that caused a pause was fixed)."""
        self._resume_at = 0.0
        self._pauses = 0

    def note(
        self, verdict: Verdict, reason: str, retry_after: float, *, since: int | None = None
    ) -> Change | None:
        """Take a window's verdict; the state change it causes, if any.

        `since` is `setbacks` when the window was claimed: a window that was already out
        when another one's outage or pause was taken is the same setback, not the next
        one, so it does not grow the wait (two windows out would otherwise double it).
        """
        before = self.state
        wait = 0.0
        repeat = since is not None and since != self.setbacks
        if verdict in (Verdict.OUTAGE, Verdict.PAUSE) and not repeat:
            self.setbacks += 1
        if verdict is Verdict.OUTAGE:
            self._outages += 0 if repeat and self._outages else 1
            wait = self._outage_policy.delay_seconds(self._outages, self._jitter)
            self.state = RelayState.OUTAGE
        elif verdict is Verdict.PAUSE:
            self._pauses += 0 if repeat and self._pauses else 1
            wait = self._pause_policy.ceiling_seconds(self._pauses)
            self.state = RelayState.PAUSED
        elif verdict is Verdict.RATE_LIMITED:
            wait = retry_after
            self.state = RelayState.RATE_LIMITED
        elif verdict is Verdict.FLOWING:
            self._outages = self._pauses = 0
            self.state = RelayState.RUNNING
        else:
            return None
        self.reason = reason if self.state is not RelayState.RUNNING else ""
        self._resume_at = (
            max(self._resume_at, self._monotonic() + wait) if wait else self._resume_at
        )
        if self.state is before and (self.state is RelayState.RUNNING or repeat):
            return None
        return Change(self.state, self.reason, wait)
