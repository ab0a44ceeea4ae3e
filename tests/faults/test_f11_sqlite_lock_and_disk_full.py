"""F11: Argo's SQLite file under two faults of its own.

- Lock: a third connection holds `BEGIN IMMEDIATE` (the write lock) for ~10 s (fast
  ~3 s) while `argo run`, an `argo generate` burst and `relay run` all work on the file.
  None of them fails or exits: they wait for the lock (argo/db/sqlite.py retries it for up
  to 30 s) and carry on once it is released.
- Disk full: the generator runs in this process (the real SignalStore and Generator) and
  its own connection gets `PRAGMA max_page_count` = its current size + a few pages, so
  its commits fail with SQLITE_FULL, as on a full file system (max_page_count is a
  property of a connection: nothing outside the generator's process can set it). Each
  failing transaction fails whole (no signal without its event, none of the batch
  stored), the relay child keeps delivering meanwhile, and once the limit is raised the
  same Generator commits the batch it could not and goes on. A second test runs the
  generator's long-running loop (`Generator.run`, what `argo run` runs) into the same
  full disk: the loop must survive it and resume by itself.

Both end with I1 and 0 lost / 0 unexpected / 0 duplicate rows after the drain."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from argo.audit import AuditLog
from argo.engine.decide import EngineConfig
from argo.generator import Generator, SignalFactory
from argo.metrics import GeneratorMetrics
from argo.prices.sources import SyntheticPriceSource
from argo.signal import Signal
from argo.signals import open_signals
from argo.signals.port import SignalStore
from tests.faults.harness import counts, wait_settled
from tests.faults.invariants import check, seconds, size
from tests.kit.alpine import Alpine
from tests.kit.factories import make_signals
from tests.kit.pipeline import relay_env
from tests.support import spawn, stop, wait_for

SYMBOLS = ["AAPL", "NVDA", "BTC-USD"]
UNLIMITED = 1073741823  # SQLite's default max_page_count


@contextmanager
def write_lock(db: Path) -> Iterator[None]:
    """A third connection holding `BEGIN IMMEDIATE` (the write lock) on Argo's file."""
    conn = sqlite3.connect(db, isolation_level=None, timeout=30)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


def _tracebacks(*logs: Path) -> list[str]:
    return [log.name for log in logs if log.exists() and "Traceback" in log.read_text()]


def _signal_count(db: Path) -> int:
    with sqlite3.connect(db, timeout=30) as conn:
        return int(conn.execute("SELECT count(*) FROM signals").fetchone()[0])


def _stored(db: Path, signals: list[Signal]) -> int:
    ids = [s.signal_id for s in signals]
    with sqlite3.connect(db, timeout=30) as conn:
        marks = ",".join("?" * len(ids))
        signal_rows = conn.execute(
            f"SELECT count(*) FROM signals WHERE signal_id IN ({marks})", ids
        ).fetchone()[0]
        event_rows = conn.execute(
            f"SELECT count(*) FROM sync_outbox WHERE signal_id IN ({marks})", ids
        ).fetchone()[0]
    return int(signal_rows) + int(event_rows)


def _limit_to(conn: sqlite3.Connection, spare_pages: int) -> None:
    """Let the file grow by only `spare_pages` more pages on this connection."""
    pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
    conn.execute(f"PRAGMA max_page_count = {pages + spare_pages}")


@contextmanager
def in_process_generator(store: SignalStore, audit_log: Path, seed: int) -> Iterator[Generator]:
    """The real Generator on `store`, every signal the engine sees kept."""
    factory = SignalFactory(
        SyntheticPriceSource(SYMBOLS, seed), EngineConfig(base_threshold=0.0, cooldown_bars=0)
    )
    audit = AuditLog(audit_log)
    try:
        yield Generator(store, audit, factory, GeneratorMetrics())
    finally:
        audit.close()


class MaskedDiskFull(AssertionError):
    """A commit failed on a full disk, but the error said something else."""


class LoopEnded(AssertionError):
    """The generator's long-running loop ended on a full disk instead of riding it out."""


MASKED_REASON = (
    "argo bug: argo/db/sqlite.py write_transaction runs ROLLBACK unconditionally in its except"
    " branch; SQLITE_FULL has already rolled the transaction back, so ROLLBACK raises"
    " 'cannot rollback - no transaction is active' and that replaces the disk-full error"
)


def test_f11_write_lock_held_by_a_third_connection(
    alpine: Alpine, pg_url: str, tmp_path: Path
) -> None:
    held = seconds(3.0, 10.0)
    db = tmp_path / "signals.db"
    env = relay_env(alpine, tmp_path, ARGO_METRICS_PORT="0")
    open_signals(db).close()
    logs = [tmp_path / "relay.log", tmp_path / "argo-run.log", tmp_path / "argo-generate.log"]
    relay = spawn("relay", "run", env=env, log=logs[0])
    runner = spawn("argo", "run", "--interval", "0.1", "--threshold", "0", env=env, log=logs[1])
    try:
        wait_for(lambda: _signal_count(db) >= 5, timeout=60, what="argo run to commit")
        with write_lock(db):
            locked_at = _signal_count(db)
            burst = spawn(
                "argo", "generate", "--count", "200", "--batch-size", "20", env=env, log=logs[2]
            )
            time.sleep(held)  # the fault's own duration
            assert _signal_count(db) == locked_at, "a write went past the lock"
            alive = {"relay": relay.poll(), "argo run": runner.poll(), "argo generate": None}
            alive["argo generate"] = burst.poll()
        assert all(code is None for code in alive.values()), f"exited under the lock: {alive}"
        assert burst.wait(60) == 0, "argo generate failed after the lock was released"
        wait_for(
            lambda: _signal_count(db) > locked_at + 200,
            timeout=30,
            what="argo run to commit again after the lock",
        )
        assert relay.poll() is None and runner.poll() is None
    finally:
        stop(runner)
    try:
        drain_s = wait_settled(db, timeout=120)
        assert relay.poll() is None, "the relay died"
    finally:
        stop(relay)
    assert not _tracebacks(*logs), f"an exception escaped in {_tracebacks(*logs)}"
    check(
        "F11 SQLite write lock held",
        db=db,
        pg_url=pg_url,
        env=env,
        n=counts(db)[2],
        faults=1,
        drain_s=drain_s,
        notes=f"BEGIN IMMEDIATE held {held:g}s under argo run, argo generate and relay run;"
        " all waited and carried on, none exited",
    )


def test_f11_disk_full_fails_the_transaction_whole(
    alpine: Alpine, pg_url: str, tmp_path: Path
) -> None:
    fills = size(3, 20)
    db = tmp_path / "signals.db"
    env = relay_env(alpine, tmp_path)
    store = open_signals(db)
    relay = spawn("relay", "run", env=env, log=tmp_path / "relay.log")
    errors: list[str] = []
    try:
        with in_process_generator(store, tmp_path / "signals.log", seed=11) as generator:
            generator.store(make_signals(50, seed=1))
            for round_number in range(fills):
                _limit_to(store.connection, spare_pages=3)
                batch, error = _fill_until_full(generator, seed=1000 * (round_number + 1))
                errors.append(error)
                assert _stored(db, batch) == 0, "a failed transaction left rows behind"
                assert relay.poll() is None, "the relay died while Argo's disk was full"
                store.connection.execute(f"PRAGMA max_page_count = {UNLIMITED}")
                stored = generator.store(batch)  # the same generator, the same batch
                assert len(stored) == len(batch), "the batch did not commit afterwards"
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        drain_s = wait_settled(db, timeout=120)
        assert relay.poll() is None, "the relay died"
    finally:
        store.close()
        stop(relay)
    assert not _tracebacks(tmp_path / "relay.log"), "an exception escaped in the relay"
    said = sorted(set(errors))
    check(
        "F11 disk full (max_page_count)",
        db=db,
        pg_url=pg_url,
        env=env,
        n=counts(db)[2],
        faults=fills,
        drain_s=drain_s,
        notes=f"{fills} transactions failed whole and committed once the limit was raised;"
        f" the error said {said}",
    )
    masked = [e for e in errors if "full" not in e]
    if masked:
        raise MaskedDiskFull(f"{len(masked)} of {fills} disk-full commits raised {masked[0]!r}")


def test_f11_generator_loop_survives_a_full_disk(
    alpine: Alpine, pg_url: str, tmp_path: Path
) -> None:
    full_for = seconds(2.0, 10.0)
    db = tmp_path / "signals.db"
    env = relay_env(alpine, tmp_path)
    store = open_signals(db)
    relay = spawn("relay", "run", env=env, log=tmp_path / "relay.log")
    stop_loop = threading.Event()
    escaped: list[BaseException] = []
    try:
        with in_process_generator(store, tmp_path / "signals.log", seed=12) as generator:

            def loop() -> None:
                try:
                    generator.run(SYMBOLS, 0.05, stop_loop)
                except BaseException as exc:  # what would end `argo run`
                    escaped.append(exc)

            thread = threading.Thread(target=loop, daemon=True)
            thread.start()
            try:
                wait_for(lambda: _signal_count(db) >= 5, timeout=30, what="the loop to commit")
                _limit_to(store.connection, spare_pages=2)
                wait_for(
                    lambda: escaped or _full_now(store),
                    timeout=30,
                    what="the loop's commits to fail",
                )
                time.sleep(full_for)  # the disk stays full this long
                before = _signal_count(db)
                store.connection.execute(f"PRAGMA max_page_count = {UNLIMITED}")
                if not escaped:
                    wait_for(
                        lambda: escaped or _signal_count(db) > before,
                        timeout=30,
                        what="the loop to commit again once space is back",
                    )
            finally:
                stop_loop.set()
                thread.join(30)
        drain_s = wait_settled(db, timeout=120)
    finally:
        stop(relay)
        store.close()
    check(
        "F11 generator loop on a full disk",
        db=db,
        pg_url=pg_url,
        env=env,
        n=counts(db)[2],
        faults=1,
        drain_s=drain_s,
        notes=f"disk full {full_for:g}s under Generator.run;"
        + (f" the loop ended: {escaped[0]!r}" if escaped else " it resumed by itself"),
    )
    if escaped:
        raise LoopEnded(f"the generator loop ended on a full disk: {escaped[0]!r}")


def _fill_until_full(generator: Generator, seed: int) -> tuple[list[Signal], str]:
    """Commit batches until one fails (the file cannot grow); that batch and its error."""
    for attempt in range(1000):
        batch = make_signals(25, seed=seed + attempt)
        try:
            generator.store(batch)
        except sqlite3.OperationalError as exc:
            return batch, str(exc)
    raise AssertionError("the store never filled up")


def _full_now(store: SignalStore) -> bool:
    """Whether the generator's connection cannot grow the file any more."""
    conn = store.connection
    pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
    limit = int(conn.execute("PRAGMA max_page_count").fetchone()[0])
    return pages >= limit - 1
