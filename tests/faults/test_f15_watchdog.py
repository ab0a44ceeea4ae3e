"""F15: the relay loop stalled (a third connection holds Argo's SQLite write lock with
`BEGIN EXCLUSIVE` while rows come due): the systemd watchdog pings (`WATCHDOG=1` on a
fake NOTIFY_SOCKET, a real AF_UNIX datagram socket this test binds) stop within one
interval of the stall, so systemd would restart a hung relay; they resume when the lock
is released, `READY=1` came before any ping, and everything is delivered once."""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from argo.signals import open_signals
from argo.timeutil import utc_now
from tests.faults.harness import counts, wait_settled
from tests.faults.invariants import check, seconds, size
from tests.kit.alpine import Alpine
from tests.kit.factories import make_signals
from tests.kit.pipeline import generate, relay_env
from tests.support import spawn, stop, wait_for

RESCAN = 1.0  # the relay's rescan for rows coming due (RelayConfig.rescan_seconds)


class FakeSystemd:
    """Receives sd_notify datagrams on a socket of its own; notes when each arrived."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.messages: list[tuple[float, str]] = []
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(path))
        self._sock.settimeout(0.1)
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._closed.is_set():
            try:
                data = self._sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            self.messages.append((time.monotonic(), data.decode("utf-8", "replace")))

    def pings(self) -> list[float]:
        return [at for at, text in list(self.messages) if "WATCHDOG=1" in text.splitlines()]

    def first(self, line: str) -> float | None:
        return next((at for at, text in list(self.messages) if line in text.splitlines()), None)

    def close(self) -> None:
        self._closed.set()
        self._thread.join(5)
        self._sock.close()


@contextmanager
def fake_systemd(path: Path) -> Iterator[FakeSystemd]:
    listener = FakeSystemd(path)
    try:
        yield listener
    finally:
        listener.close()


@contextmanager
def write_locked(db: Path) -> Iterator[None]:
    """A third connection holding `BEGIN EXCLUSIVE` on Argo's database."""
    conn = sqlite3.connect(db, isolation_level=None, timeout=30)
    try:
        conn.execute("BEGIN EXCLUSIVE")
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


def test_f15_watchdog_pings_stop_while_the_loop_is_stalled(
    alpine: Alpine, pg_url: str, tmp_path: Path
) -> None:
    stalls, per_stall = size(2, 5), size(20, 200)
    interval = seconds(1.0, 2.0)  # WatchdogSec for this relay: it pings every interval / 2
    held = seconds(3.0, 12.0)  # how long each stall lasts (under the 30 s lock wait)
    db = tmp_path / "signals.db"
    env = relay_env(alpine, tmp_path)
    generate(env, 20)
    with fake_systemd(tmp_path / "notify.sock") as systemd:
        relay_env_watchdog = dict(
            env, NOTIFY_SOCKET=str(systemd.path), WATCHDOG_USEC=str(int(interval * 1e6))
        )
        relay = spawn("relay", "run", env=relay_env_watchdog, log=tmp_path / "relay.log")
        try:
            wait_for(lambda: systemd.first("READY=1"), timeout=30, what="READY=1")
            wait_for(lambda: len(systemd.pings()) >= 3, timeout=30, what="watchdog pings")
            ready, first_ping = systemd.first("READY=1"), systemd.pings()[0]
            assert ready is not None and ready <= first_ping, "WATCHDOG=1 before READY=1"
            wait_settled(db, timeout=60)
            gaps: list[float] = []
            for number in range(stalls):
                store = open_signals(db)
                try:
                    # Rows that come due 1.5 s from now, while the lock is held: the relay's
                    # claim then waits on the write lock, and its loop stands still.
                    due_at = utc_now() + timedelta(seconds=1.5)
                    store.add_many(make_signals(per_stall, seed=100 + number), due_at)
                finally:
                    store.close()
                due = time.monotonic() + 1.5
                with write_locked(db):
                    locked = time.monotonic()
                    time.sleep(held)  # the stall's own duration
                    released = time.monotonic()
                stalled_pings = [p for p in systemd.pings() if locked <= p <= released]
                late = [p for p in stalled_pings if p > due + RESCAN + interval]
                assert not late, (
                    f"stall {number}: {len(late)} WATCHDOG=1 pings more than one interval"
                    f" ({interval}s) after the loop stalled"
                )
                assert relay.poll() is None, "the relay died while its database was locked"
                resumed = wait_for(
                    lambda r=released: [p for p in systemd.pings() if p > r],  # type: ignore[misc]
                    timeout=interval + 5,
                    what="watchdog pings to resume",
                )[0]
                assert resumed - released <= interval + 1.0, "pings resumed late"
                before = max((p for p in systemd.pings() if p < locked), default=locked)
                gaps.append(resumed - before)
                assert resumed - before > interval, "no stall systemd could have noticed"
                wait_settled(db, timeout=60)
        finally:
            stop(relay)
        pings = len(systemd.pings())
    check(
        "F15 watchdog on a stalled loop",
        db=db,
        pg_url=pg_url,
        env=env,
        n=counts(db)[2],
        faults=stalls,
        notes=f"WATCHDOG_USEC {interval:g}s, {stalls} stalls of {held:g}s; ping gaps"
        f" {', '.join(f'{g:.1f}s' for g in gaps)}; {pings} pings; READY=1 first",
    )
