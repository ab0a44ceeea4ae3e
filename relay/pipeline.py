"""Windows out at once: in a backlog the next window is claimed and sent while the
previous one's POSTs are in flight, so the relay's claim and Alpine's insert overlap.
Windows are settled one at a time, strictly in claim order."""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from argo.outbox import Claim
from relay.fate import Sent


@dataclass(frozen=True, slots=True)
class Claimed:
    """One claim attempt: the data_version read before it, the window if any, and the
    relay-wide setbacks (outages, pauses) counted when it was claimed."""

    version: int
    claim: Claim | None = None
    setbacks: int = 0


R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


class WindowPhases(Protocol[R_co]):
    """The steps of a window, as the relay runs them; R_co is what settling reports."""

    @property
    def batch_size(self) -> int: ...

    def claim_window(self) -> Claimed: ...

    def send_window(self, claim: Claim, stop: threading.Event) -> list[Sent]: ...

    def settle_window(self, claimed: Claimed, sent: list[Sent]) -> R_co: ...

    def nothing_due(self, version: int) -> R_co: ...

    def may_claim(self) -> bool:
        """False while relay-wide pacing (outage, pause, rate limit) says wait."""
        ...


@dataclass(frozen=True, slots=True)
class _Out:
    claimed: Claimed
    window: Claim  # claimed.claim, known not to be None
    sent: Future[list[Sent]]


class Pipeline(Generic[R]):
    """Runs windows through `phases`, keeping up to `depth` of them out.

    A window is claimed ahead only while the one before it came back full (a backlog):
    at a trickle every window is sent in the caller's thread and settled before the next
    claim, so a fresh row takes no thread hop. Per-signal order holds across windows
    because a later event is due only once its creation is *delivered*, not claimed.
    """

    def __init__(self, phases: WindowPhases[R], depth: int) -> None:
        self._phases = phases
        self._depth = max(1, depth)
        self._out: deque[_Out] = deque()
        self._pool = ThreadPoolExecutor(max_workers=self._depth, thread_name_prefix="window")

    @property
    def busy(self) -> bool:
        """True while a window claimed ahead is still out (it must be settled)."""
        return bool(self._out)

    def step(self, stop: threading.Event) -> R:
        """Settle the oldest window out, claiming (and sending) ahead if a backlog waits;
        its report, or the phases' report of nothing due."""
        if not self._out:
            claimed = self._phases.claim_window()
            if claimed.claim is None:
                return self._phases.nothing_due(claimed.version)
            if self._depth == 1 or len(claimed.claim.rows) < self._phases.batch_size:
                return self._phases.settle_window(
                    claimed, self._phases.send_window(claimed.claim, stop)
                )
            self._send_ahead(claimed, claimed.claim, stop)
        while (
            len(self._out) < self._depth
            and len(self._out[-1].window.rows) >= self._phases.batch_size
            and not stop.is_set()
            and self._phases.may_claim()
        ):
            claimed = self._phases.claim_window()
            if claimed.claim is None:
                break
            self._send_ahead(claimed, claimed.claim, stop)
        return self._settle_oldest()

    def finish(self) -> list[R]:
        """Settle every window still out (on stop, or before `drain` returns)."""
        reports: list[R] = []
        while self._out:
            reports.append(self._settle_oldest())
        return reports

    def close(self) -> None:
        self.finish()
        self._pool.shutdown(wait=True)

    def _send_ahead(self, claimed: Claimed, window: Claim, stop: threading.Event) -> None:
        future = self._pool.submit(self._phases.send_window, window, stop)
        self._out.append(_Out(claimed, window, future))

    def _settle_oldest(self) -> R:
        out = self._out.popleft()
        return self._phases.settle_window(out.claimed, out.sent.result())
