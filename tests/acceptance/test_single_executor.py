"""One `argo run --auto-execute` per database, as real processes on SQLite and PostgreSQL:
a second one refuses to start with one line (exit 1), and a holder killed with SIGKILL
never blocks the next start."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kit.relay import STORES, outbox_location
from tests.support import cli, spawn, stop, wait_for

RUN = ("run", "--auto-execute", "--interval", "0.05", "--metrics-port", "0", "--threshold", "0")


@pytest.fixture(params=STORES)
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    with outbox_location(request.param, tmp_path) as location:
        yield {"ARGO_DB": str(location), "ARGO_AUDIT_LOG": str(tmp_path / "signals.log")}


def _started(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    process = spawn("argo", *RUN, env=env, log=log)
    wait_for(
        lambda: "argo: generating for" in log.read_text() or process.poll() is not None,
        timeout=60,
        what="argo run to start",
    )
    assert process.poll() is None, log.read_text()
    return process


def test_a_second_executor_refuses_and_a_killed_one_blocks_nothing(
    env: dict[str, str], tmp_path: Path
) -> None:
    first = _started(env, tmp_path / "first.log")
    try:
        second = cli("argo", *RUN, env=env, timeout=60)
        assert second.returncode == 1, second.stderr
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and "another `argo run --auto-execute`" in lines[0], lines
        assert "argo: generating" not in second.stderr
        # Without --auto-execute a second generator may run (it keeps no risk book).
        plain = spawn("argo", *RUN[:1], *RUN[2:], env=env, log=tmp_path / "plain.log")
        try:
            wait_for(
                lambda: "argo: generating for" in (tmp_path / "plain.log").read_text(),
                timeout=60,
                what="a generator without --auto-execute to start",
            )
        finally:
            stop(plain)
        first.send_signal(signal.SIGKILL)
        first.wait(30)
        third = _started(env, tmp_path / "third.log")  # the dead holder's lock went with it
        third.send_signal(signal.SIGTERM)
        assert third.wait(30) == 0, (tmp_path / "third.log").read_text()
    finally:
        stop(first)
