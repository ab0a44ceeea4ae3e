"""Helpers shared by the tests: ports, polling, real child processes, signal payloads."""

from __future__ import annotations

import base64
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(
    condition: Callable[[], T | bool | None],
    *,
    timeout: float = 15.0,
    interval: float = 0.01,
    what: str = "condition",
) -> T:
    """Poll `condition` until it returns something truthy, or fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value  # type: ignore[return-value]
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def new_signing_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def new_api_key() -> str:
    return "test-key-" + secrets.token_hex(16)


def child_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The test's environment (already stripped of ARGO_/RELAY_/ALPINE_) plus `extra`."""
    env = dict(os.environ)
    env.update(extra)
    return env


def cli(
    module: str, *args: str, env: Mapping[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run `python -m module args...` to completion, capturing output."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        env=child_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def spawn(module: str, *args: str, env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start `python -m module args...` in the background, output to `log`."""
    handle = log.open("ab")
    try:
        return subprocess.Popen(
            [sys.executable, "-m", module, *args],
            env=child_env(env),
            stdout=handle,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    finally:
        handle.close()


def stop(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if it does not exit in time."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)


@dataclass
class AlpineServer:
    """A real `alpine serve` child process on loopback."""

    url: str
    api_keys: list[str]
    signing_secret: str | None
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def api_key(self) -> str:
        return self.api_keys[0]

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10.0)


def start_alpine(
    database_url: str,
    workdir: Path,
    *,
    api_keys: list[str] | None = None,
    signing_secret: str | None = None,
    extra_env: Mapping[str, str] | None = None,
    port: int | None = None,
    verbose: bool = False,
) -> AlpineServer:
    """Start Alpine (on a free port unless given; `verbose`: INFO lines in its log) and
    wait until its health answers 200."""
    keys = api_keys or [new_api_key()]
    port = port or free_port()
    env = {"ALPINE_DATABASE_URL": database_url, "ALPINE_API_KEYS": ",".join(keys)}
    if signing_secret:
        env["ALPINE_SIGNING_SECRET"] = signing_secret
    env.update(extra_env or {})
    log = workdir / f"alpine-{port}.log"
    options = ("-v",) if verbose else ()
    process = spawn("alpine", *options, "serve", "--port", str(port), env=env, log=log)
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"alpine exited early:\n{log.read_text()}")
        try:
            return httpx.get(f"{url}/api/v1/argo/sync/health", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(healthy, timeout=30, interval=0.05, what="alpine to become healthy")
    return AlpineServer(url, keys, signing_secret, process, log)


def signal_payload(**overrides: Any) -> dict[str, Any]:
    """A valid wire payload built with Argo's own code (hash included)."""
    from argo.signal import Action, AssetType, Regime, Signal

    fields: dict[str, Any] = {
        "symbol": "AAPL",
        "action": Action.BUY,
        "entry_price": 171.25,
        "target_price": 180.5,
        "stop_price": 165.0,
        "confidence": 93.5,
        "strategy": "test",
        "asset_type": AssetType.STOCK,
        "data_source": "unit-test",
        "timestamp": "2026-11-22T10:00:00.000001Z",
        "reasoning": "because the test says so",
        "regime": Regime.BULL,
    }
    fields.update(overrides)
    return Signal.create(**fields).to_payload()
