"""`make demo`: Alpine (embedded SQLite), the generator and the relay on loopback.

Runs for DEMO_SECONDS (default 30), prints signals as Alpine stores them, kills the
relay with SIGKILL halfway and starts a new one, then drains and prints a summary.
Exits 0 only if every generated signal reached Alpine exactly once.

It prints the subscriber page's address and an elite token first: open the page while
the demo runs to watch the signals arrive. DEMO_KEEP=1 keeps Alpine serving after the
summary until Ctrl-C.
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
WORK = Path(os.environ.get("DEMO_WORKDIR", ROOT / "demo-run")).resolve()
SECONDS = float(os.environ.get("DEMO_SECONDS", "30"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def spawn(name: str, *args: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    log = (WORK / f"{name}.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", *args], env=env, stdout=log, stderr=log, cwd=ROOT
    )


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"alpine exited; see {WORK / 'alpine.log'}")
        try:
            if httpx.get(f"{url}/api/v1/argo/sync/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    sys.exit("alpine did not become healthy in time")


class AlpineView:
    """Reads what Alpine has stored (the demo's window; Argo never does this)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self.last_id = 0
        self.lags_ms: list[float] = []

    def new_rows(self) -> list[tuple[sqlite3.Row, float]]:
        """Rows stored since the last call, each with its lag in milliseconds."""
        with sqlite3.connect(self._path, timeout=10) as conn:
            conn.row_factory = sqlite3.Row
            rows = conn.execute(
                "SELECT id, symbol, action, entry_price, confidence, timestamp, received_at"
                " FROM signals WHERE id > ? ORDER BY id",
                (self.last_id,),
            ).fetchall()
        if rows:
            self.last_id = rows[-1]["id"]
        lags = [
            (parse(row["received_at"]) - parse(row["timestamp"])).total_seconds() * 1000
            for row in rows
        ]
        self.lags_ms.extend(lags)
        return list(zip(rows, lags, strict=True))

    def count(self) -> int:
        with sqlite3.connect(self._path, timeout=10) as conn:
            return int(conn.execute("SELECT count(DISTINCT signal_id) FROM signals").fetchone()[0])

    def outcomes(self) -> int:
        with sqlite3.connect(self._path, timeout=10) as conn:
            return int(conn.execute("SELECT count(outcome) FROM signals").fetchone()[0])


def argo_outcomes(db: Path) -> int:
    with sqlite3.connect(db, timeout=10) as conn:
        return int(conn.execute("SELECT count(outcome) FROM signals").fetchone()[0])


def outbox(db: Path) -> tuple[int, int, int]:
    """(generated, delivered, pending)."""
    with sqlite3.connect(db, timeout=10) as conn:
        generated = conn.execute("SELECT count(*) FROM signals").fetchone()[0]
        delivered, pending = conn.execute(
            "SELECT count(delivered_at), count(*) - count(delivered_at) - count(dead_at)"
            " FROM sync_outbox"
        ).fetchone()
    return int(generated), int(delivered), int(pending)


def subscriber_token(env: dict[str, str]) -> str:
    """A new elite subscriber's bearer token (`alpine subscribers add` prints it last)."""
    added = subprocess.run(
        [sys.executable, "-m", "alpine", "subscribers", "add", "demo", "--tier", "elite"],
        env=env,
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return added.stdout.strip().splitlines()[-1]


def keep_serving(url: str) -> None:
    say(f"DEMO_KEEP: Alpine keeps serving {url}/ until Ctrl-C")
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        print()


def show(view: AlpineView) -> None:
    for row, lag in view.new_rows():
        say(
            f"  Alpine stored #{row['id']:<4} {row['symbol']:<8} {row['action']:<4}"
            f" @ {row['entry_price']:>10.2f}  conf {row['confidence']:5.1f}  lag {lag:6.1f} ms"
        )


def main() -> int:
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir()
    key = "demo-" + secrets.token_hex(16)
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARGO_", "ALPINE_", "RELAY_"))}
    env |= {
        "ALPINE_DATABASE_URL": f"sqlite:///{WORK / 'alpine.db'}",
        "ALPINE_API_KEYS": key,
        "ALPINE_SIGNING_SECRET": secret,
        "ARGO_API_KEY": key,
        "ALPINE_API_URL": url,
        "ARGO_DB": str(WORK / "signals.db"),
        "ARGO_AUDIT_LOG": str(WORK / "signals.log"),
        "ARGO_METRICS_PORT": "0",
        "RELAY_METRICS_PORT": str(free_port()),
        "RELAY_LEASE_SECONDS": "3",
    }
    subprocess.run([sys.executable, "-m", "alpine", "db", "upgrade"], env=env, check=True, cwd=ROOT)
    token = subscriber_token(env)
    alpine = spawn("alpine", "alpine", "serve", "--port", str(port), env=env)
    wait_healthy(url, alpine)
    say(f"Alpine listening on {url} (embedded SQLite, signed requests)")
    say(f"subscriber page: {url}/  (open it now to watch signals arrive)")
    say(f"  sign in with this elite token: {token}")
    generator = spawn("argo", "argo", "run", "--interval", "0.2", "--expire-after", "20s", env=env)
    relay = spawn("relay", "relay", "run", env=env)
    say(f"generator and relay started; running for {SECONDS:.0f} s (logs in {WORK})")
    view = AlpineView(WORK / "alpine.db")
    db = WORK / "signals.db"
    started = time.monotonic()
    killed = restarted = False
    try:
        while time.monotonic() - started < SECONDS:
            time.sleep(0.25)
            show(view)
            elapsed = time.monotonic() - started
            if not killed and elapsed > SECONDS * 0.4:
                relay.send_signal(signal.SIGKILL)
                relay.wait()
                killed = True
                say("!! relay killed with SIGKILL; signals keep committing to the outbox")
            if killed and not restarted and elapsed > SECONDS * 0.55:
                backlog = outbox(db)[2]
                relay = spawn("relay", "relay", "run", env=env)
                restarted = True
                say(
                    f"!! new relay started; {backlog} event(s) waited in the outbox meanwhile,"
                    " plus the dead relay's leased rows"
                )
        generator.send_signal(signal.SIGTERM)
        generator.wait(15)
        say("generator stopped; waiting for the relay to drain the outbox")
        deadline = time.monotonic() + 30
        while outbox(db)[2] > 0 and time.monotonic() < deadline:
            time.sleep(0.2)
            show(view)
        show(view)
        if os.environ.get("DEMO_KEEP") == "1":
            keep_serving(url)
    finally:
        for process in (generator, relay, alpine):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(15)
    generated, delivered, pending = outbox(db)
    stored = view.count()
    lags = sorted(view.lags_ms) or [0.0]
    print()
    print("summary")
    print(f"  generated   {generated}")
    print(f"  delivered   {delivered}")
    print(f"  pending     {pending}")
    print(f"  in Alpine   {stored} (lost {generated - stored})")
    closed, applied = argo_outcomes(db), view.outcomes()
    print(f"  outcomes    {closed} closed in Argo (target, stop, expiry), {applied} in Alpine")
    print(
        f"  lag         p50 {statistics.median(lags):.1f} ms, max {lags[-1]:.1f} ms"
        " (signal timestamp to Alpine received_at; signals made while the relay was"
        " down show in max)"
    )
    ok = generated > 0 and pending == 0 and stored == generated and closed == applied
    verdict = "OK: every signal and outcome arrived exactly once" if ok else "FAILED"
    print("  result      " + verdict)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
