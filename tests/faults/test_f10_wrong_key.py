"""F10: the relay's key is wrong, then the key it uses is rotated away at Alpine. Both
times the relay pauses (relay_paused 1, the RelayPaused alert fires, `relay status` says
401), charges no attempt and dead-letters nothing; once the right key is in its store
(a systemd credential file, re-read after the 401) everything is delivered, no restart."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from tests.faults.harness import (
    attempts_charged,
    counts,
    promtool_fires,
    sample,
    scrape,
    start_alpine_like,
    wait_settled,
)
from tests.faults.invariants import FULL, check, seconds, size
from tests.kit.pipeline import generate, relay_env, relay_status
from tests.support import AlpineServer, free_port, new_api_key, spawn, stop, wait_for

# Alpine is restarted with a new key: a real `alpine serve`.
pytestmark = pytest.mark.alpine_process


def _paused_for(port: int, env: dict[str, str], hold: float) -> tuple[list[float], str, int]:
    """Wait for the pause, then sample relay_paused once a second for `hold` seconds."""
    status = wait_for(
        lambda: (s := relay_status(env))["paused"] and s, timeout=30, what="the pause"
    )
    samples = []
    started = time.monotonic()
    while time.monotonic() - started < hold:
        text = scrape(port)
        value = sample(text, "relay_paused") if text else None
        if value is not None:
            samples.append(value)
        time.sleep(1.0)  # the pause lasts this long, one scrape a second
    return samples, str(status["paused_reason"]), int(status["dead"])


def test_f10_wrong_key_then_rotated_away(alpine: AlpineServer, pg_url: str, tmp_path: Path) -> None:
    n, hold = size(50, 500), seconds(2.0, 75.0)
    db = tmp_path / "signals.db"
    port = free_port()
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    env = relay_env(alpine, tmp_path, RELAY_METRICS_PORT=str(port))
    del env["ARGO_API_KEY"]
    env["CREDENTIALS_DIRECTORY"] = str(credentials)
    key_file = credentials / "argo-api-key"
    key_file.write_text(new_api_key())  # 1: a wrong key
    generate(env, n)
    log = tmp_path / "relay.log"
    relay = spawn("relay", "run", env=env, log=log)
    server = alpine
    failures, reasons, gauges = [], [], []
    try:
        for phase in ("wrong key", "key rotated away"):
            samples, reason, dead = _paused_for(port, env, hold)
            gauges.append(samples)
            reasons.append(reason)
            charged = attempts_charged(db)
            if "401" not in reason or dead or charged:
                failures.append(f"{phase}: paused {reason!r}, {dead} dead, {charged} attempts")
            if not samples or min(samples) != 1:
                failures.append(f"{phase}: relay_paused was {samples}, not 1 throughout")
            key_file.write_text(server.api_key)  # the fix: the right key in the store
            wait_settled(db, timeout=60, what=f"delivery after the {phase} was fixed")
            if phase == "wrong key":  # 2: Alpine drops that key for a new one
                new_key = new_api_key()
                stop(server.process)
                restarted = start_alpine_like(
                    server, pg_url, tmp_path, extra_env={"ALPINE_API_KEYS": new_key}
                )
                server = dataclasses.replace(restarted, api_keys=[new_key])
                generate(env, n, "--seed", "10")
        if relay.poll() is not None:
            failures.append(f"the relay exited ({relay.returncode}): it must not need a restart")
        if wait_for(lambda: not relay_status(env)["paused"], timeout=30, what="resume") is None:
            failures.append("still paused")
    finally:
        stop(relay)
    if "ARGO_API_KEY" not in log.read_text() and "argo-api-key" not in log.read_text():
        failures.append("the relay's log does not name the key setting to fix")
    minutes = max(2, int(hold // 60)) if FULL else 3
    series = [1.0] * (minutes + 1)  # the gauge as measured: 1 through the pause
    try:  # the restarted Alpine is stopped however this ends (a skip for want of promtool too)
        if not promtool_fires(
            tmp_path, [('relay_paused{job="argo-relay"}', series)], "RelayPaused", minutes
        ):
            failures.append("RelayPaused did not fire")
        check(
            "F10 wrong key, then rotated away",
            db=db,
            pg_url=pg_url,
            env=relay_env(server, tmp_path),
            n=counts(db)[2],
            faults=2,
            extra_failures=failures,
            notes=f"paused both times ({'; '.join(r[:50] for r in reasons)}), 0 attempts, 0 dead;"
            f" RelayPaused fired; delivered after the credential file changed, no restart",
        )
    finally:
        stop(server.process)
