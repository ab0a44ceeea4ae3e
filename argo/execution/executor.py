"""The execution hook of `argo run --auto-execute`: stored signals → risk checks → broker.

Per cycle the generator calls, in this order:

1. `on_bar` for every bar it reads: the broker's fills of that bar (orders placed at an
   earlier cycle), handed to the outcome tracker so the P&L is measured from the fill;
2. `commit` the fills: order id, fill price and time with a `signal.executed` outbox
   event, in one transaction (argo.signals.store), then an audit line each;
3. `closed` with the outcomes committed: their P&L is realized in the risk book;
4. `consider` the signals just stored: each one that clears the risk checks becomes an
   order; each one that does not is skipped with a reason (log line, metric, audit line).

A fill that could not be committed is kept by the generator and committed at its next
cycle; until then the outcomes of that cycle wait too, so no outcome is ever stored with
a fill's P&L before the fill itself. When the run stops with fills still held, `stop`
tries once more and writes what still fails to the held-fills file (argo.execution.held)
with one log line; `restore` commits them at the next start.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from argo.audit import AuditLog
from argo.engine.outcomes import OutcomeTracker
from argo.execution.broker import Broker, OrderRejectedError
from argo.execution.held import HeldFills
from argo.execution.risk import RiskBook
from argo.metrics import GeneratorMetrics
from argo.prices.sources import Bar
from argo.signal import Outcome, Signal
from argo.signals.port import SignalStore
from argo.trades import Fill, Order, Skip, SkipReason

log = logging.getLogger(__name__)

_HALT_LABELS = {
    SkipReason.HALTED_DAILY_LOSS: "daily_loss",
    SkipReason.HALTED_DRAWDOWN: "max_drawdown",
}


class Executor:
    """Passes stored signals that clear the risk book to a broker; records the fills."""

    def __init__(
        self,
        store: SignalStore,
        audit: AuditLog,
        broker: Broker,
        book: RiskBook,
        metrics: GeneratorMetrics,
        held: HeldFills | None = None,
    ) -> None:
        self._store = store
        self._held = held
        self._audit = audit
        self._broker = broker
        self._book = book
        self._metrics = metrics
        self._halted: SkipReason | None = None

    @property
    def book(self) -> RiskBook:
        return self._book

    def restore(self, tracker: OutcomeTracker, now: datetime) -> None:
        """Commit the fills a previous run held (`stop`), then rebuild the risk book from the
        stored trades; open ones keep their fill's P&L."""
        self._apply_held(now)
        trades = self._store.trades()
        self._book.restore(trades)
        for trade in trades:
            if trade.open:
                tracker.filled(trade.signal_id, trade.fill_price)
        log.info(
            "execution: %d open positions, equity %.2f %%, drawdown %.2f %%",
            self._book.open_positions,
            self._book.equity,
            self._book.drawdown_pct,
            extra={"event": "execution_restored", "open": self._book.open_positions},
        )
        self._report(now)

    def on_bar(self, bar: Bar, now: datetime, tracker: OutcomeTracker) -> list[Fill]:
        """The fills `bar` gives; the tracker measures their signals' P&L from them."""
        fills = self._broker.on_bar(bar, now)
        for fill in fills:
            tracker.filled(fill.signal_id, fill.fill_price)
        return fills

    def commit(self, fills: Sequence[Fill], now: datetime) -> list[Fill]:
        """Store `fills` with their events in one transaction, then audit and count them.

        Raises what the store raises; nothing is recorded then (the caller retries)."""
        applied = self._store.record_executions(fills, now) if fills else []
        for fill in applied:
            self._metrics.executions.labels(fill.symbol, fill.action.value).inc()
            self._audit.execution_recorded(fill)
            log.info(
                "executed %s %s at %s (order %s)",
                fill.action.value,
                fill.symbol,
                fill.fill_price,
                fill.order_id,
                extra={
                    "event": "executed",
                    "signal_id": fill.signal_id,
                    "order_id": fill.order_id,
                    "fill_price": fill.fill_price,
                },
            )
        return applied

    def closed(self, outcomes: Sequence[Outcome], now: datetime) -> None:
        """Realize the P&L of the traded signals among `outcomes` (committed ones)."""
        for outcome in outcomes:
            if self._book.holds(outcome.signal_id):
                self._book.close(outcome.signal_id, outcome.profit_loss_pct, outcome.closed_at)
        self._report(now)

    def consider(self, signals: Sequence[Signal], now: datetime) -> list[Skip]:
        """Order each stored signal that clears the risk checks; the others are skipped."""
        self._report(now)
        skipped: list[Skip] = []
        for signal in signals:
            reason = self._book.check(signal.symbol, now)
            if reason is None:
                reason = self._place(signal, now)
            if reason is not None:
                skipped.append(self._skip(Skip(signal.signal_id, signal.symbol, reason)))
        self._metrics.open_positions.set(self._book.open_positions)
        return skipped

    def stop(self, held: Sequence[Fill], now: datetime) -> list[Skip]:
        """The run ends: commit the fills it still `held` (or write them to the held-fills
        file), then cancel the orders that have not filled; each is a skip."""
        if held:
            self._keep(held, now)
        skipped = []
        for order in self._broker.cancel_all():
            self._book.release(order.signal_id)
            skipped.append(self._skip(Skip(order.signal_id, order.symbol, SkipReason.UNFILLED)))
        self._metrics.open_positions.set(self._book.open_positions)
        return skipped

    def _keep(self, fills: Sequence[Fill], now: datetime) -> None:
        """Commit `fills` one last time; whatever fails, write them where `restore` finds
        them, so no fill is dropped at exit."""
        try:
            self.commit(fills, now)
            return
        except Exception as exc:  # any failure: the fills must outlive the process
            if self._held is None:
                raise
            self._held.save(fills)
            log.error(
                "%d fill(s) could not be committed at stop (%s); written to %s, applied at"
                " the next start",
                len(fills),
                exc,
                self._held.path,
                extra={"event": "fills_held", "fills": len(fills), "path": str(self._held.path)},
            )

    def _apply_held(self, now: datetime) -> None:
        """Commit the fills a stopped run wrote to the held-fills file, then remove it."""
        fills = self._held.load() if self._held is not None else []
        if not fills or self._held is None:
            return
        applied = self.commit(fills, now)
        self._held.clear()
        log.warning(
            "applied %d fill(s) held by the previous run (%d already stored) from %s",
            len(applied),
            len(fills) - len(applied),
            self._held.path,
            extra={"event": "held_fills_applied", "fills": len(applied)},
        )

    def _place(self, signal: Signal, now: datetime) -> SkipReason | None:
        order = Order(signal.signal_id, signal.symbol, signal.action, now)
        try:
            order_id = self._broker.submit(order)
        except OrderRejectedError as exc:
            log.warning(
                "broker %s rejected the order for %s: %s",
                self._broker.name,
                signal.signal_id,
                exc,
                extra={"event": "order_rejected", "signal_id": signal.signal_id},
            )
            return SkipReason.BROKER_REJECTED
        self._book.reserve(signal.signal_id, signal.symbol)
        log.info(
            "order %s placed for %s %s",
            order_id,
            signal.action.value,
            signal.symbol,
            extra={"event": "order_placed", "signal_id": signal.signal_id, "order_id": order_id},
        )
        return None

    def _skip(self, skip: Skip) -> Skip:
        self._metrics.executions_skipped.labels(skip.reason.value).inc()
        self._audit.execution_skipped(skip)
        log.info(
            "signal %s not executed: %s",
            skip.signal_id,
            skip.reason.value,
            extra={
                "event": "execution_skipped",
                "signal_id": skip.signal_id,
                "reason": skip.reason.value,
            },
        )
        return skip

    def _report(self, now: datetime) -> None:
        """Gauges, and one log line whenever a loss limit starts or stops halting."""
        halted = self._book.halt(now)
        for reason, label in _HALT_LABELS.items():
            self._metrics.execution_halted.labels(label).set(1 if halted is reason else 0)
        self._metrics.open_positions.set(self._book.open_positions)
        self._metrics.drawdown_pct.set(self._book.drawdown_pct)
        self._metrics.daily_pnl_pct.set(self._book.daily_pnl_pct(now))
        if halted is self._halted:
            return
        limits = self._book.limits
        if halted is not None:
            log.warning(
                "execution halted (%s): daily P&L %.2f %% (limit -%.2f %%), drawdown %.2f %%"
                " (limit %.2f %%); no new executions",
                halted.value,
                self._book.daily_pnl_pct(now),
                limits.daily_loss_limit_pct,
                self._book.drawdown_pct,
                limits.max_drawdown_pct,
                extra={"event": "execution_halted", "reason": halted.value},
            )
        elif self._halted is not None:
            log.warning(
                "execution resumed: the %s limit no longer holds",
                _HALT_LABELS[self._halted],
                extra={"event": "execution_resumed", "reason": self._halted.value},
            )
        self._halted = halted
