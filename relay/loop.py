"""The driver: claim → send → decide → settle → wait. Decisions live in relay.fate,
relay-wide waits in relay.pacing, presence in relay.presence; this only sequences them."""

from __future__ import annotations

import gc
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from argo.outbox import Claim, EventType, OutboxRow, OutboxStore, steady_seconds
from argo.outbox.doorbell import Wakeup
from argo.process.crashpoints import crash_point
from argo.timeutil import from_text, utc_now
from relay.deliver import Deliverer
from relay.fate import Decision, Fate, Rules, Sent, Verdict, decide, needs_probe
from relay.metrics import RelayMetrics
from relay.pacing import Pacing, RelayState
from relay.pipeline import Claimed, Pipeline
from relay.presence import Presence
from relay.retry import Jitter, full_jitter
from relay.send import WindowSender

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LoopSettings:
    worker_id: str
    batch_size: int
    lease_seconds: float
    idle_poll_seconds: float = 0.01
    rescan_seconds: float = 1.0
    retry_cap_seconds: float = 3600.0  # a retry further ahead means the clock stepped back
    windows_in_flight: int = 2
    attempt_log: bool = True  # every POST recorded in outbox_attempts


@dataclass(frozen=True, slots=True)
class WindowReport:
    """What one window did; `version` is the data_version read before its claim."""

    version: int
    claimed: int = 0
    delivered: int = 0
    charged: int = 0
    dead: int = 0
    released: int = 0
    verdict: Verdict = Verdict.IDLE
    reason: str = ""


class Stopped(StrEnum):
    """Why `relay run --once` ended before the outbox was drained."""

    OUTAGE = "outage"
    PAUSED = "paused"
    RATE_LIMITED = "rate_limited"
    DEADLINE = "deadline"
    STOPPING = "stopping"


@dataclass(frozen=True, slots=True)
class DrainReport:
    delivered: int = 0
    charged: int = 0
    dead: int = 0
    released: int = 0
    stopped: Stopped | None = None
    reason: str = ""


class Relay:
    """Moves outbox rows to Alpine; one instance per process."""

    def __init__(
        self,
        outbox: OutboxStore,
        sender: WindowSender,
        deliverer: Deliverer,
        rules: Rules,
        pacing: Pacing,
        presence: Presence,
        metrics: RelayMetrics,
        settings: LoopSettings,
        *,
        clock: Callable[[], datetime] = utc_now,
        jitter: Jitter = full_jitter,
        doorbell: Wakeup | None = None,
        on_rejected: Callable[[], bool] | None = None,
    ) -> None:
        self._outbox = outbox
        self._sender = sender
        self._deliverer = deliverer
        self._rules = rules
        self.pacing = pacing
        self._presence = presence
        self._metrics = metrics
        self._settings = settings
        self._clock = clock
        self._jitter = jitter
        self._doorbell = doorbell
        self._on_rejected = on_rejected
        # One connection: windows out renew their leases from their own threads.
        self._db = threading.Lock()

    @property
    def batch_size(self) -> int:
        return self._settings.batch_size

    def run_once(self, stop: threading.Event | None = None) -> WindowReport:
        """Claim one window of due rows, send them, decide every fate once, settle."""
        stop = stop or threading.Event()
        claimed = self.claim_window()
        if claimed.claim is None:
            return WindowReport(claimed.version)
        return self.settle_window(claimed, self.send_window(claimed.claim, stop))

    def claim_window(self) -> Claimed:
        """Lease the next window of due rows, if any."""
        s = self._settings
        with self._db:
            # Read before the claim, so a commit made while the window is out wakes the next.
            version = self._outbox.data_version()
            now = self._clock()
            if not self._outbox.has_due(now, s.retry_cap_seconds):
                return Claimed(version)
            claim = self._outbox.claim(
                s.worker_id,
                now,
                s.lease_seconds,
                s.batch_size,
                s.retry_cap_seconds,
                log_attempts=s.attempt_log,
            )
        if not claim.rows:
            return Claimed(version)
        crash_point("after_claim")
        return Claimed(version, claim, self.pacing.setbacks)

    def send_window(self, claim: Claim, stop: threading.Event) -> list[Sent]:
        """POST a claimed window (in any thread), renewing its lease while it is out."""
        return self._sender.send(claim.rows, stop, lambda: self._renew(claim))

    def _renew(self, claim: Claim) -> frozenset[int]:
        with self._db:
            return self._outbox.renew(claim, self._clock(), self._settings.lease_seconds)

    def settle_window(self, claimed: Claimed, sent: list[Sent]) -> WindowReport:
        """Decide every row's fate once and write them in one transaction."""
        claim = claimed.claim
        assert claim is not None, "only a window that holds rows is settled"
        alpine_up = self._probe() if needs_probe(sent, self._rules) else None
        decided_at = self._clock()
        decision = decide(sent, self._rules, decided_at, self._jitter, alpine_up)
        settlement = decision.settlement
        if not self._settings.attempt_log:
            settlement = replace(settlement, attempts=None)
        crash_point("before_settle")
        with self._db:
            held = self._outbox.settle(claim, settlement, decided_at)
        if held < len(claim.rows):
            log.warning(
                "lease lost for part of a window",
                extra={"event": "lease_lost", "rows": len(claim.rows) - held},
            )
        self._after(sent, decision, decided_at, claimed.setbacks)
        return WindowReport(
            claimed.version,
            claimed=len(claim.rows),
            delivered=decision.count(Fate.DELIVERED),
            charged=decision.count(Fate.CHARGED),
            dead=decision.count(Fate.DEAD),
            released=decision.count(Fate.RELEASED),
            verdict=decision.verdict,
            reason=decision.reason,
        )

    def nothing_due(self, version: int) -> WindowReport:
        return WindowReport(version)

    def may_claim(self) -> bool:
        return self.pacing.wait_seconds() <= 0

    def _probe(self) -> bool:
        healthy, said = self._deliverer.health()
        log.info("health probe", extra={"event": "probe", "healthy": healthy, "said": said})
        return healthy

    def _after(self, sent: list[Sent], decision: Decision, now: datetime, setbacks: int) -> None:
        """Metrics, logs and relay-wide pacing for a settled window."""
        delivered = set(decision.settlement.delivered)
        for item in sent:
            if item.row.id in delivered:
                self._observe_delivery(item.row, now)
                self._observe_attempts(item.row.tried + len(item.reply.tries))
        if delivered:
            self._metrics.last_success.set(now.timestamp())
        for dead in decision.settlement.dead:
            log.warning(
                "dead letter",
                extra={"event": "dead_letter", "outbox_id": dead.row_id, "error": dead.error},
            )
        change = self.pacing.note(
            decision.verdict, decision.reason, decision.retry_after, since=setbacks
        )
        if change is None:
            return
        self._metrics.paused.set(1 if change.state is RelayState.PAUSED else 0)
        with self._db:
            self._presence.changed(change.state, change.reason)
        _log_change(change.state, change.reason, change.wait_seconds)
        if change.state is RelayState.PAUSED and _credentials_refused(sent):
            self._try_rotated_credentials()

    def _try_rotated_credentials(self) -> None:
        """After a 401/403, read the key and signing secret from their stores again: a key
        rotated there is used at once, without a restart."""
        if self._on_rejected is not None and self._on_rejected():
            log.warning(
                "credentials changed in their store; retrying now",
                extra={"event": "credentials_reloaded"},
            )
            self.pacing.resume_now()

    def _observe_attempts(self, posts: int) -> None:
        self._metrics.delivered_events.inc()
        self._metrics.attempts_per_delivery.observe(posts)
        if posts == 1:
            self._metrics.delivered_first_try.inc()

    def _observe_delivery(self, row: OutboxRow, now: datetime) -> None:
        self._metrics.end_to_end_seconds.observe(max((now - row.created_at).total_seconds(), 0))
        if row.event_type == EventType.SIGNAL_CREATED:
            stamp = _signal_timestamp(row.payload)
            if stamp is not None:
                age = max((now - stamp).total_seconds(), 0.0)
                self._metrics.signal_age_at_delivery.observe(age)

    def run(self, stop: threading.Event) -> None:
        """Deliver until `stop` is set; new rows are noticed within ~10 ms."""
        # Start-up's objects (imports, settings, clients) never become garbage: keep them
        # out of every later full collection, which otherwise scans them all while a
        # fresh row waits (one took 113 ms on a loaded box).
        gc.collect()
        gc.freeze()
        self._presence.started()
        pipeline = Pipeline(self, self._settings.windows_in_flight)
        try:
            while not stop.is_set():
                self._beat()
                wait = self.pacing.wait_seconds()
                if wait > 0 and not pipeline.busy:
                    stop.wait(min(wait, 1.0))
                    continue
                report = pipeline.step(stop)
                if report.delivered or report.claimed >= self._settings.batch_size:
                    continue  # more may be due at once (an outcome behind its creation)
                if pipeline.busy:
                    continue
                if report.verdict in (Verdict.IDLE, Verdict.FLOWING):
                    self._wait_for_work(stop, report.version)
        finally:
            pipeline.close()
            self._presence.stopped()

    def _beat(self) -> None:
        with self._db:  # the heartbeat shares the outbox's connection
            self._presence.beat()

    def _wait_for_work(self, stop: threading.Event, version: int) -> None:
        """Sleep until a writer rings the doorbell, another connection commits after
        `version` (read between waits, for writers that do not ring), or
        `rescan_seconds` pass (retries coming due)."""
        poll = self._settings.idle_poll_seconds
        for _ in range(max(1, int(self._settings.rescan_seconds / poll))):
            if self._outbox.data_version() != version:
                return
            rang = self._doorbell.wait(poll) if self._doorbell else stop.wait(poll)
            if rang or stop.is_set():
                return
            self._beat()

    def drain(self, stop: threading.Event, deadline_seconds: float | None = None) -> DrainReport:
        """Deliver everything due, then return (`relay run --once`).

        Waits out a rate limit; stops early, saying why, on an outage, a pause, the
        deadline or `stop`.
        """
        totals = DrainReport()
        started = steady_seconds()
        pipeline = Pipeline(self, self._settings.windows_in_flight)
        try:
            while True:
                early = self._stopped_early(stop, started, deadline_seconds)
                if early is not None:
                    return _with(_add_all(totals, pipeline.finish()), *early)
                wait = self.pacing.wait_seconds()
                if wait > 0 and not pipeline.busy:
                    stop.wait(wait)
                    continue
                report = pipeline.step(stop)
                totals = _add(totals, report)
                ended = _ended(report)
                if ended is not None:
                    return _with(_add_all(totals, pipeline.finish()), *ended)
                if not report.claimed and not pipeline.busy:
                    return totals
        finally:
            pipeline.close()

    def _stopped_early(
        self, stop: threading.Event, started: float, deadline_seconds: float | None
    ) -> tuple[Stopped, str] | None:
        if stop.is_set():
            return Stopped.STOPPING, "asked to stop"
        if deadline_seconds is not None and steady_seconds() - started >= deadline_seconds:
            return Stopped.DEADLINE, f"still delivering after {deadline_seconds:g} s"
        wait = self.pacing.wait_seconds()
        if deadline_seconds is not None and steady_seconds() - started + wait > deadline_seconds:
            return Stopped.RATE_LIMITED, f"Alpine asks to wait {wait:.0f} s, past the deadline"
        return None


def _credentials_refused(sent: list[Sent]) -> bool:
    return any(item.reply.status in (401, 403) for item in sent)


def _signal_timestamp(payload: str) -> datetime | None:
    try:
        return from_text(json.loads(payload)["timestamp"])
    except (ValueError, KeyError, TypeError):
        return None


def _log_change(state: RelayState, reason: str, wait: float) -> None:
    messages = {
        RelayState.RUNNING: ("delivery resumed", logging.WARNING),
        RelayState.OUTAGE: ("alpine failing for everything; backing off", logging.WARNING),
        RelayState.PAUSED: (
            "alpine does not answer as the Alpine we expect; delivery paused, no attempts"
            " spent. Check ARGO_API_KEY against ALPINE_API_KEYS, ALPINE_SIGNING_SECRET on"
            " both sides, and ALPINE_API_URL",
            logging.ERROR,
        ),
        RelayState.RATE_LIMITED: ("rate limited by alpine", logging.WARNING),
    }
    message, level = messages[state]
    log.log(level, message, extra={"event": state.value, "error": reason, "wait": round(wait, 3)})


def _add(totals: DrainReport, report: WindowReport) -> DrainReport:
    return DrainReport(
        delivered=totals.delivered + report.delivered,
        charged=totals.charged + report.charged,
        dead=totals.dead + report.dead,
        released=totals.released + report.released,
    )


def _add_all(totals: DrainReport, reports: list[WindowReport]) -> DrainReport:
    for report in reports:
        totals = _add(totals, report)
    return totals


def _ended(report: WindowReport) -> tuple[Stopped, str] | None:
    """Why a drain stops after this window: Alpine down for everything, or paused."""
    if report.verdict is Verdict.OUTAGE:
        return Stopped.OUTAGE, report.reason
    if report.verdict is Verdict.PAUSE:
        return Stopped.PAUSED, report.reason
    return None


def _with(totals: DrainReport, stopped: Stopped, reason: str) -> DrainReport:
    return DrainReport(
        totals.delivered, totals.charged, totals.dead, totals.released, stopped, reason
    )
