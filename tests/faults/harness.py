"""Small helpers the fault scenarios share: real processes, counts, metrics, promtool."""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx
import pytest

from tests.support import ROOT, AlpineServer, spawn, stop, wait_for

RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"


def counts(db: Path) -> tuple[int, int, int]:
    """(delivered, dead, total) outbox rows."""
    with sqlite3.connect(db, timeout=30) as conn:
        row = conn.execute(
            "SELECT count(delivered_at), count(dead_at), count(*) FROM sync_outbox"
        ).fetchone()
    return int(row[0]), int(row[1]), int(row[2])


def attempts_charged(db: Path) -> int:
    with sqlite3.connect(db, timeout=30) as conn:
        return int(conn.execute("SELECT coalesce(sum(attempts), 0) FROM sync_outbox").fetchone()[0])


def settled(db: Path) -> bool:
    """Every outbox row delivered or dead."""
    delivered, dead, total = counts(db)
    return total > 0 and delivered + dead == total


def wait_settled(db: Path, timeout: float, what: str = "the outbox to drain") -> float:
    """Wait until every row is delivered or dead; the seconds it took."""
    started = time.monotonic()
    wait_for(lambda: settled(db), timeout=timeout, interval=0.05, what=what)
    return time.monotonic() - started


def start_alpine_like(
    previous: AlpineServer,
    database_url: str,
    workdir: Path,
    *,
    module: str = "alpine",
    extra_env: Mapping[str, str] | None = None,
    may_die: bool = False,
) -> AlpineServer:
    """Alpine again on `previous`'s port with its keys and secret (a restart); with
    `may_die`, its death (a crash point) before it answered healthy is no error."""
    port = int(previous.url.rsplit(":", 1)[1])
    env = {"ALPINE_DATABASE_URL": database_url, "ALPINE_API_KEYS": ",".join(previous.api_keys)}
    if previous.signing_secret:
        env["ALPINE_SIGNING_SECRET"] = previous.signing_secret
    env.update(extra_env or {})
    log = workdir / f"alpine-{port}.log"
    process = spawn(module, "serve", "--port", str(port), env=env, log=log)

    def healthy() -> bool:
        if process.poll() is not None:
            if may_die:
                return True
            raise AssertionError(f"alpine exited early ({process.returncode}):\n{log.read_text()}")
        try:
            answer = httpx.get(f"{previous.url}/api/v1/argo/sync/health", timeout=1.0)
        except httpx.HTTPError:
            return False
        return answer.status_code == 200

    wait_for(healthy, timeout=30, interval=0.05, what="alpine to become healthy")
    return AlpineServer(previous.url, previous.api_keys, previous.signing_secret, process, log)


def scrape(port: int) -> str | None:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return None


def sample(text: str, name: str) -> float | None:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else None


def promtool_fires(
    tmp_path: Path, series: Sequence[tuple[str, Sequence[float]]], alert: str, eval_minutes: int
) -> bool:
    """Whether `alert` of deploy/prometheus/alerts.yml fires at `eval_minutes`, given
    `series` (name with labels, one sample a minute), by `promtool test rules`."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package prometheus)")
    shutil.copy(RULES, tmp_path / "alerts.yml")
    inputs = "".join(
        f"      - series: '{name}'\n        values: \"{' '.join(f'{v:g}' for v in values)}\"\n"
        for name, values in series
    )
    test = (
        "rule_files:\n  - alerts.yml\nevaluation_interval: 1m\ntests:\n"
        f"  - interval: 1m\n    input_series:\n{inputs}"
        f"    alert_rule_test:\n      - eval_time: {eval_minutes}m\n"
        f"        alertname: {alert}\n        exp_alerts: []\n"
    )
    (tmp_path / "fires.test.yml").write_text(test)
    checked = subprocess.run(
        [promtool, "test", "rules", "fires.test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    # The test expects no alert: it fails exactly when the alert fires.
    if checked.returncode != 0 and "exp:" not in checked.stdout + checked.stderr:
        raise AssertionError(checked.stdout + checked.stderr)
    return checked.returncode != 0


def stop_all(*processes: object) -> None:
    for process in processes:
        if isinstance(process, subprocess.Popen):
            stop(process)
