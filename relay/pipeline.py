"""Windows out at once: in a backlog the next window is claimed and sent while the
previous one's POSTs are in flight, so the relay's claim and Alpine's insert overlap;
with a doorbell that can be poked, a commit made while a window is out is claimed and
sent at once instead of after that window settles. Windows are settled one at a time,
strictly in claim order."""

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
    """One claim attempt: the data_version read before it, and the window if any."""

    version: int
    claim: Claim | None = None


R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


class WindowPhases(Protocol[R_co]):
    """The steps of a window, as the relay runs them; R_co is what settling reports."""

    @property
    def batch_size(self) -> int: ...

    def claim_window(self) -> Claimed: ...

    def send_window(self, claim: Claim, stop: threading.Event) -> list[Sent]: ...

    def settle_window(self, version: int, claim: Claim, sent: list[Sent]) -> R_co: ...

    def nothing_due(self, version: int) -> R_co: ...

    def changed_since(self, version: int) -> bool:
        """Whether another connection committed since `version` was read."""
        ...

    def may_claim(self) -> bool:
        """False while relay-wide pacing (outage, pause, rate limit) says wait."""
        ...


class Nudge(Protocol):
    """A wake-up the pipeline can wait on and ring itself (the SQLite doorbell)."""

    def wait(self, timeout: float) -> bool: ...

    def poke(self) -> None: ...


@dataclass(frozen=True, slots=True)
class _Out:
    version: int
    claim: Claim
    sent: Future[list[Sent]]


class Pipeline(Generic[R]):
    """Runs windows through `phases`, keeping up to `depth` of them out.

    A window is claimed ahead while the one before it came back full (a backlog) or,
    given a `nudge`, while another connection has committed since the last claim. Without
    a nudge a window that is not full is sent in the caller's thread and settled before
    the next claim. Per-signal order holds across windows because a later event is due
    only once its creation is *delivered*, not claimed.
    """

    def __init__(
        self,
        phases: WindowPhases[R],
        depth: int,
        nudge: Nudge | None = None,
        poll_seconds: float = 0.01,
    ) -> None:
        self._phases = phases
        self._depth = max(1, depth)
        self._nudge = nudge if self._depth > 1 else None
        self._poll = poll_seconds
        self._out: deque[_Out] = deque()
        self._claimed_version = 0
        self._pool = ThreadPoolExecutor(max_workers=self._depth, thread_name_prefix="window")

    @property
    def busy(self) -> bool:
        """True while a window claimed ahead is still out (it must be settled)."""
        return bool(self._out)

    def step(self, stop: threading.Event) -> R:
        """Settle the oldest window out, claiming (and sending) ahead meanwhile; its
        report, or the phases' report of nothing due."""
        if not self._out:
            claimed = self._claim()
            if claimed.claim is None:
                return self._phases.nothing_due(claimed.version)
            if self._nudge is None and (
                self._depth == 1 or len(claimed.claim.rows) < self._phases.batch_size
            ):
                sent = self._phases.send_window(claimed.claim, stop)
                return self._phases.settle_window(claimed.version, claimed.claim, sent)
            self._send_ahead(claimed.version, claimed.claim, stop)
        while True:
            self._claim_ahead(stop)
            if self._nudge is None or self._out[0].sent.done():
                return self._settle_oldest()
            # The window's own completion pokes the nudge, so this wait ends at once.
            self._nudge.wait(self._poll)

    def finish(self) -> list[R]:
        """Settle every window still out (on stop, or before `drain` returns)."""
        reports: list[R] = []
        while self._out:
            reports.append(self._settle_oldest())
        return reports

    def close(self) -> None:
        self.finish()
        self._pool.shutdown(wait=True)

    def _claim(self) -> Claimed:
        claimed = self._phases.claim_window()
        self._claimed_version = claimed.version
        return claimed

    def _claim_ahead(self, stop: threading.Event) -> None:
        while len(self._out) < self._depth and not stop.is_set() and self._phases.may_claim():
            backlog = len(self._out[-1].claim.rows) >= self._phases.batch_size
            fresh = self._nudge is not None and self._phases.changed_since(self._claimed_version)
            if not (backlog or fresh):
                return
            claimed = self._claim()
            if claimed.claim is None:
                return
            self._send_ahead(claimed.version, claimed.claim, stop)

    def _send_ahead(self, version: int, claim: Claim, stop: threading.Event) -> None:
        future = self._pool.submit(self._phases.send_window, claim, stop)
        if self._nudge is not None:
            nudge = self._nudge
            future.add_done_callback(lambda _: nudge.poke())
        self._out.append(_Out(version, claim, future))

    def _settle_oldest(self) -> R:
        out = self._out.popleft()
        return self._phases.settle_window(out.version, out.claim, out.sent.result())
