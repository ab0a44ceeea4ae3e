"""The delivery loop: claim a batch, deliver each row, settle the batch, wait for work.

Outage awareness: a failure whose cause is unclear makes the row a *suspect*. The
next success proves Alpine is up, so suspects failed on their own and are charged an
attempt. A run of `outage_threshold` failures with no success means Alpine is down or
failing for everything: the suspects are released uncharged and the relay as a whole
backs off. An outage therefore never turns rows into dead letters, and one poison row
cannot block the queue.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from argo.sdnotify import SystemdNotifier
from argo.timeutil import utc_now
from relay.deliver import BATCHABLE, Deliverer
from relay.errors import (
    DeliveryError,
    DeliveryRejectedError,
    PermanentDeliveryError,
    RateLimitedError,
    RetryableDeliveryError,
    UnreachableError,
)
from relay.metrics import RelayMetrics
from relay.retry import Jitter, RetryPolicy, full_jitter
from relay.store import BatchOutcome, DeadLetter, OutboxRow, OutboxStore, Retry
from relay.store_admin import WorkerState

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 5.0


# Whole-relay waits: while Alpine fails for everything, and while it rejects our key.
OUTAGE_POLICY = RetryPolicy(base_seconds=0.5, cap_seconds=30.0)
PAUSE_POLICY = RetryPolicy(base_seconds=5.0, cap_seconds=60.0)


class Halt(StrEnum):
    """Why a batch stopped before its last row."""

    OUTAGE = "outage"
    PAUSED = "paused"
    RATE_LIMITED = "rate_limited"
    STOPPING = "stopping"


@dataclass(frozen=True, slots=True)
class RelaySettings:
    worker_id: str
    batch_size: int = 100
    lease: timedelta = timedelta(seconds=60)
    idle_poll_seconds: float = 0.01
    rescan_seconds: float = 1.0
    outage_threshold: int = 3
    use_batch_endpoint: bool = True
    posts_in_flight: int = 8
    outage_policy: RetryPolicy = OUTAGE_POLICY
    pause_policy: RetryPolicy = PAUSE_POLICY


@dataclass(frozen=True, slots=True)
class BatchResult:
    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    released: int = 0
    halt: Halt | None = None


@dataclass
class _Batch:
    """What one batch has decided so far."""

    delivered: list[OutboxRow] = field(default_factory=list)
    retries: list[Retry] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    released: list[int] = field(default_factory=list)
    suspects: list[tuple[OutboxRow, str]] = field(default_factory=list)
    unreachable: int = 0  # failures that say nothing about the row (never charged)
    release_error: str | None = None
    halt: Halt | None = None


class Relay:
    """Moves outbox rows to Alpine; one instance per process."""

    def __init__(
        self,
        store: OutboxStore,
        deliverer: Deliverer,
        policy: RetryPolicy,
        metrics: RelayMetrics,
        settings: RelaySettings,
        *,
        clock: Callable[[], datetime] = utc_now,
        jitter: Jitter = full_jitter,
        notifier: SystemdNotifier | None = None,
    ) -> None:
        self._store = store
        self._deliverer = deliverer
        self._policy = policy
        self._metrics = metrics
        self._settings = settings
        self._clock = clock
        self._jitter = jitter
        self._failed_batches = 0
        self._paused_batches = 0
        self._resume_at = 0.0
        self._admin = store.admin()
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, settings.posts_in_flight), thread_name_prefix="relay-post"
        )
        self._notifier = notifier or SystemdNotifier({})
        self._state = WorkerState.RUNNING
        self._last_heartbeat = 0.0

    def close(self) -> None:
        """Stop the POST worker threads (after run or drain has returned)."""
        self._pool.shutdown(wait=True)

    @property
    def resume_in(self) -> float:
        """Seconds until a global backoff or pause ends (0 when delivering)."""
        return max(self._resume_at - time.monotonic(), 0.0)

    def run_once(self, stop: threading.Event | None = None) -> BatchResult:
        """Claim one batch of due rows, deliver them, and settle the results."""
        now = self._clock()
        if not self._store.has_due(now):
            return BatchResult()
        rows = self._store.claim(
            self._settings.worker_id, now, self._settings.lease, self._settings.batch_size
        )
        if not rows:
            return BatchResult()
        batch = self._deliver_all(rows, stop)
        self._settle(batch)
        return BatchResult(
            claimed=len(rows),
            delivered=len(batch.delivered),
            retried=len(batch.retries),
            dead=len(batch.dead),
            released=len(batch.released),
            halt=batch.halt,
        )

    def _deliver_all(self, rows: list[OutboxRow], stop: threading.Event | None) -> _Batch:
        batch = _Batch()
        # Leave a margin so results are written before the lease runs out.
        deadline = time.monotonic() + self._settings.lease.total_seconds() * 0.8
        batchable = [r for r in rows if r.event_type == BATCHABLE]
        if self._settings.use_batch_endpoint and len(batchable) > 1:
            fallback = {r.id for r in self._deliver_as_batch(batchable, batch)}
            rows = [r for r in rows if r.event_type != BATCHABLE or r.id in fallback]
        window = max(1, self._settings.posts_in_flight)
        for start in range(0, len(rows), window):
            if (stop is not None and stop.is_set()) or time.monotonic() > deadline:
                batch.halt = batch.halt or Halt.STOPPING
            if batch.halt is not None:
                batch.released.extend(r.id for r in rows[start:])
                break
            chunk = rows[start : start + window]
            # POSTs of a window overlap; their outcomes are applied one by one, in order.
            attempts = (
                self._pool.map(self._attempt, chunk)
                if len(chunk) > 1
                else [self._attempt(chunk[0])]
            )
            for row, outcome in zip(chunk, attempts, strict=True):
                self._apply(row, outcome, batch)
        if (
            batch.suspects
            or batch.halt is Halt.OUTAGE
            or (batch.unreachable and not batch.delivered)
        ):
            self._enter_outage(batch)
        return batch

    def _deliver_as_batch(self, rows: list[OutboxRow], batch: _Batch) -> list[OutboxRow]:
        """One POST for many rows; returns the rows to send one by one instead."""
        try:
            results = self._deliverer.deliver_batch(rows)
        except DeliveryRejectedError as exc:
            batch.released.extend(r.id for r in rows)
            self._pause(exc, batch)
            return []
        except RateLimitedError as exc:
            batch.released.extend(r.id for r in rows)
            self._rate_limited(exc, batch)
            return []
        except (RetryableDeliveryError, PermanentDeliveryError) as exc:
            # Single POSTs isolate a row that breaks the batch, and tell an outage apart.
            log.info(
                "batch failed; sending one by one",
                extra={"event": "batch_fallback", "error": str(exc)},
            )
            return rows
        for row, result in zip(rows, results, strict=True):
            if isinstance(result, PermanentDeliveryError):
                self._dead_letter(row, result, batch)
            else:
                self._on_success(row, batch)
        return []

    def _dead_letter(self, row: OutboxRow, exc: PermanentDeliveryError, batch: _Batch) -> None:
        log.warning(
            "dead letter", extra={"event": "dead_letter", "outbox_id": row.id, "error": str(exc)}
        )
        batch.dead.append(DeadLetter(row.id, str(exc)))

    def _rate_limited(self, exc: RateLimitedError, batch: _Batch) -> None:
        batch.halt = Halt.RATE_LIMITED
        self._resume_at = time.monotonic() + exc.retry_after
        log.warning("rate limited", extra={"event": "rate_limited", "wait": exc.retry_after})

    def _attempt(self, row: OutboxRow) -> DeliveryError | None:
        """Deliver one row; the DeliveryError that stopped it, or None when stored."""
        try:
            self._deliverer.deliver(row)
        except DeliveryError as exc:
            return exc
        return None

    def _apply(self, row: OutboxRow, failure: DeliveryError | None, batch: _Batch) -> None:
        """Decide a row's fate from the outcome of its POST."""
        if failure is None:
            self._on_success(row, batch)
        elif isinstance(failure, PermanentDeliveryError):
            self._dead_letter(row, failure, batch)
        elif isinstance(failure, DeliveryRejectedError):
            batch.released.append(row.id)
            self._pause(failure, batch)
        elif isinstance(failure, RateLimitedError):
            batch.released.append(row.id)
            self._rate_limited(failure, batch)
        elif isinstance(failure, UnreachableError):
            batch.released.append(row.id)
            batch.release_error = str(failure)
            batch.unreachable += 1
            if batch.unreachable + len(batch.suspects) >= self._settings.outage_threshold:
                batch.halt = Halt.OUTAGE
        else:
            batch.suspects.append((row, str(failure)))
            if len(batch.suspects) >= self._settings.outage_threshold:
                batch.halt = Halt.OUTAGE

    def _on_success(self, row: OutboxRow, batch: _Batch) -> None:
        now = self._clock()
        batch.delivered.append(row)
        self._metrics.end_to_end_seconds.observe(max((now - row.created_at).total_seconds(), 0))
        self._metrics.last_success.set(now.timestamp())
        if self._paused_batches:
            log.warning("delivery resumed", extra={"event": "resumed"})
            self._record_state(WorkerState.RUNNING)
        self._metrics.paused.set(0)
        self._failed_batches = self._paused_batches = 0
        # Alpine is up, so earlier failures in this run were the rows' own.
        for suspect, error in batch.suspects:
            self._charge(suspect, error, batch, now)
        batch.suspects.clear()

    def _charge(self, row: OutboxRow, error: str, batch: _Batch, now: datetime) -> None:
        attempts = row.attempts + 1
        if self._policy.is_exhausted(attempts, row.created_at, now):
            log.warning(
                "dead letter after retries",
                extra={"event": "dead_letter", "outbox_id": row.id, "attempts": attempts},
            )
            batch.dead.append(DeadLetter(row.id, f"gave up after {attempts} attempts: {error}"))
            return
        next_at = self._policy.next_attempt_at(attempts, now, self._jitter)
        batch.retries.append(Retry(row.id, attempts, next_at, error))

    def _enter_outage(self, batch: _Batch) -> None:
        self._failed_batches += 1
        wait = self._settings.outage_policy.delay_seconds(self._failed_batches, self._jitter)
        self._resume_at = max(self._resume_at, time.monotonic() + wait)
        last_error = batch.suspects[-1][1] if batch.suspects else batch.release_error
        batch.released.extend(row.id for row, _ in batch.suspects)
        batch.release_error = last_error
        batch.suspects.clear()
        batch.halt = batch.halt or Halt.OUTAGE
        log.warning(
            "alpine failing for everything; backing off",
            extra={"event": "outage", "wait": round(wait, 3), "error": last_error},
        )

    def _pause(self, exc: DeliveryRejectedError, batch: _Batch) -> None:
        self._paused_batches += 1
        wait = self._settings.pause_policy.ceiling_seconds(self._paused_batches)
        self._resume_at = time.monotonic() + wait
        self._metrics.paused.set(1)
        self._record_state(WorkerState.PAUSED, f"HTTP {exc.status}: {exc}")
        batch.halt = Halt.PAUSED
        batch.release_error = str(exc)
        log.error(
            "alpine rejected our credentials or address; delivery paused, no attempts spent."
            " Check ARGO_API_KEY against ALPINE_API_KEYS, ALPINE_SIGNING_SECRET on both"
            " sides, and ALPINE_API_URL",
            extra={"event": "paused", "status": exc.status, "error": str(exc), "wait": wait},
        )

    def _settle(self, batch: _Batch) -> None:
        self._store.settle(
            self._settings.worker_id,
            self._clock(),
            BatchOutcome(
                delivered=[row.id for row in batch.delivered],
                retries=batch.retries,
                dead=batch.dead,
                released=batch.released,
                release_error=batch.release_error,
            ),
        )

    def _record_state(self, state: WorkerState, detail: str | None = None) -> None:
        self._state = state
        self._last_heartbeat = time.monotonic()
        self._admin.record_worker(self._settings.worker_id, state, self._clock(), detail)
        self._notifier.status(f"{state.value}{': ' + detail if detail else ''}")

    def _heartbeat(self) -> None:
        """Liveness for systemd (every loop) and for `relay status` (every few seconds)."""
        self._notifier.watchdog()
        if time.monotonic() - self._last_heartbeat >= HEARTBEAT_SECONDS:
            self._last_heartbeat = time.monotonic()
            self._admin.record_worker(self._settings.worker_id, self._state, self._clock())

    def run(self, stop: threading.Event) -> None:
        """Deliver until `stop` is set; new rows are noticed within ~20 ms."""
        self._record_state(WorkerState.RUNNING)
        self._notifier.ready("delivering")
        try:
            while not stop.is_set():
                self._heartbeat()
                if self.resume_in > 0:
                    stop.wait(min(self.resume_in, 1.0))
                    continue
                result = self.run_once(stop)
                if result.halt is None and result.claimed < self._settings.batch_size:
                    self._wait_for_work(stop)
        finally:
            self._notifier.stopping()
            self._record_state(WorkerState.STOPPED)

    def _wait_for_work(self, stop: threading.Event) -> None:
        """Sleep until another connection commits, or `rescan_seconds` pass."""
        version = self._store.data_version()
        give_up = time.monotonic() + self._settings.rescan_seconds
        while not stop.wait(self._settings.idle_poll_seconds):
            self._notifier.watchdog()
            if self._store.data_version() != version or time.monotonic() >= give_up:
                return

    def drain(self, stop: threading.Event, max_wait_seconds: float = 300.0) -> BatchResult:
        """Deliver everything due, then return (`relay run --once`).

        Honours Retry-After; returns early with `halt` set on an outage or pause.
        """
        totals = BatchResult()
        try:
            while not stop.is_set():
                if self.resume_in > 0:
                    if self.resume_in > max_wait_seconds:
                        break
                    stop.wait(self.resume_in)
                result = self.run_once(stop)
                totals = _add(totals, result)
                if result.halt in (Halt.OUTAGE, Halt.PAUSED, Halt.STOPPING) or not result.claimed:
                    break
        finally:
            if self._state is not WorkerState.RUNNING:
                self._record_state(WorkerState.STOPPED, f"--once ended {self._state.value}")
        return totals


def _add(a: BatchResult, b: BatchResult) -> BatchResult:
    return BatchResult(
        claimed=a.claimed + b.claimed,
        delivered=a.delivered + b.delivered,
        retried=a.retried + b.retried,
        dead=a.dead + b.dead,
        released=a.released + b.released,
        halt=b.halt,
    )
