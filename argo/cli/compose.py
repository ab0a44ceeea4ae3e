"""The composition root of `argo`: builds what a command needs from its settings and owns
the lifetimes (stores, audit log, metrics endpoint, executor lock) in one `ExitStack` per
command, closed in reverse order however the command ends. Each command parses its options,
enters one of these and calls one function, as `relay run` does with `relay.app.relay_app`.
"""

from __future__ import annotations

import os
import signal as signals_module
import threading
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from prometheus_client import start_http_server

from argo.audit import AuditLog
from argo.cli.options import existing_store
from argo.db.postgres import connect, database_url, upgrade
from argo.db.schema import ensure_schema
from argo.db.sqlite import connect as sqlite_connect
from argo.engine.outcomes import OutcomeTracker
from argo.execution.held import HeldFills, held_fills_path
from argo.execution.lock import execution_lock
from argo.execution.options import build_executor
from argo.generator import Generator, SignalFactory
from argo.metrics import GeneratorMetrics
from argo.process.redact import redact_dsn
from argo.process.tracing import configure as configure_tracing
from argo.signals import SignalStore, open_signals, open_signals_readonly


@dataclass(frozen=True, slots=True)
class Storage:
    """Where Argo writes: the database (SQLite file or PostgreSQL URL) and the audit log."""

    db_path: Path
    audit_log: Path
    synchronous: str = "FULL"


@dataclass(frozen=True, slots=True)
class RunSettings:
    """What `argo run` builds beyond the storage."""

    expiry: timedelta
    metrics_port: int
    execution: Mapping[str, Any]


@contextmanager
def burst(storage: Storage, factory: SignalFactory) -> Iterator[Generator]:
    """The generator of `argo generate`: store and audit log, closed on exit."""
    with ExitStack() as stack:
        store, audit = _writer(stack, storage)
        yield Generator(store, audit, factory, GeneratorMetrics())


@contextmanager
def long_run(
    storage: Storage, factory: SignalFactory, settings: RunSettings
) -> Iterator[Generator]:
    """The generator of `argo run`: with `--auto-execute` the database's executor lock
    first (ExecutionLockedError when another process trades on it), then the store, the
    metrics endpoint, the audit log, the executor and tracing (flushed at the end); all
    released on exit."""
    with ExitStack() as stack:
        if settings.execution["auto_execute"]:
            stack.enter_context(execution_lock(storage.db_path))
        metrics = GeneratorMetrics()
        store = open_signals(storage.db_path, synchronous=storage.synchronous)
        stack.callback(store.close)
        if settings.metrics_port:
            _serve_metrics(stack, storage, metrics, settings.metrics_port)
        audit = AuditLog(storage.audit_log)
        stack.callback(audit.close)
        held = HeldFills(held_fills_path(storage.db_path, storage.audit_log))
        executor = build_executor(settings.execution, store, audit, metrics, held)
        tracing = configure_tracing("argo", os.environ)  # OFF unless OTEL_* ask for OTLP
        stack.callback(tracing.shutdown)
        tracker = OutcomeTracker(settings.expiry)
        yield Generator(store, audit, factory, metrics, tracker, executor, tracing)


@contextmanager
def reader(db_path: Path, *, read_only: bool = False) -> Iterator[SignalStore]:
    """Argo's existing database (a usage error naming ARGO_DB when there is none)."""
    location = existing_store(db_path)
    store = open_signals_readonly(location) if read_only else open_signals(location)
    try:
        yield store
    finally:
        store.close()


def upgrade_schema(db_path: Path) -> str:
    """Create or migrate the schema at `db_path` (SQLite file or PostgreSQL URL); what was
    done, as one line (the URL without its password)."""
    url = database_url(db_path)
    if url is None:
        conn = sqlite_connect(db_path)
        try:
            return f"{db_path}: schema version {ensure_schema(conn)}"
        finally:
            conn.close()
    pg = connect(url)
    try:
        result = upgrade(pg)
    finally:
        pg.close()
    done = ", ".join(result.applied) if result.applied else "nothing to apply"
    return f"{redact_dsn(url)}: {done}; schema version {result.version}"


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT: the loop finishes its cycle and returns."""
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signals_module.signal(signals_module.SIGTERM, request_stop)
    signals_module.signal(signals_module.SIGINT, request_stop)
    return stop


def _writer(stack: ExitStack, storage: Storage) -> tuple[SignalStore, AuditLog]:
    store = open_signals(storage.db_path, synchronous=storage.synchronous)
    stack.callback(store.close)
    audit = AuditLog(storage.audit_log)
    stack.callback(audit.close)
    return store, audit


def _serve_metrics(
    stack: ExitStack, storage: Storage, metrics: GeneratorMetrics, port: int
) -> None:
    """Prometheus on 127.0.0.1:`port`, its outbox and outcome gauges read on a store of
    their own (the scrape thread never shares the writer's connection)."""
    backlog = open_signals(storage.db_path, synchronous=storage.synchronous)
    stack.callback(backlog.close)
    metrics.watch_outbox(backlog.outbox_backlog)
    metrics.watch_outcomes(lambda: backlog.outcome_stats().groups)
    start_http_server(port, addr="127.0.0.1", registry=metrics.registry)
