"""The relay's /metrics: contract names, values read at scrape time, promtool-clean."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.kit.pipeline import generate, outbox_counts, relay_env
from tests.support import AlpineServer, free_port, spawn, start_alpine, stop, wait_for

NAMES = (
    "relay_outbox_pending",
    "relay_outbox_oldest_pending_age_seconds",
    "relay_outbox_dead",
    "relay_outbox_parked",
    "relay_deliveries_total",
    "relay_delivery_seconds_bucket",
    "relay_end_to_end_seconds_bucket",
    "relay_last_success_timestamp_seconds",
    "relay_paused",
    "relay_signal_age_at_delivery_seconds_bucket",
)


@pytest.fixture
def alpine(pg_url: str, tmp_path: Path) -> Iterator[AlpineServer]:
    server = start_alpine(pg_url, tmp_path)
    yield server
    stop(server.process)


def sample(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert match, f"{name} missing"
    return float(match.group(1))


def test_metrics_names_values_and_promtool(alpine: AlpineServer, tmp_path: Path) -> None:
    port = free_port()
    env = relay_env(alpine, tmp_path, RELAY_METRICS_PORT=str(port))
    db = tmp_path / "signals.db"
    generate(env, 40)
    relay = spawn("relay", "run", env=env, log=tmp_path / "relay.log")
    try:
        wait_for(lambda: outbox_counts(db)[0] == 40, what="delivery")

        def scrape() -> str | None:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            except httpx.HTTPError:
                return None

        text = wait_for(scrape, what="the metrics endpoint")
    finally:
        stop(relay)
    for name in NAMES:
        assert re.search(rf"^{name}[ {{]", text, re.MULTILINE), name
    assert sample(text, "relay_outbox_pending") == 0
    assert sample(text, "relay_outbox_oldest_pending_age_seconds") == 0
    assert sample(text, "relay_outbox_dead") == 0
    assert sample(text, "relay_paused") == 0
    assert sample(text, "relay_last_success_timestamp_seconds") > 1.7e9
    assert sample(text, "relay_end_to_end_seconds_count") == 40
    assert sample(text, "relay_signal_age_at_delivery_seconds_count") == 40
    assert sample(text, "relay_outbox_parked") == 0
    assert 'relay_end_to_end_seconds_bucket{le="3600.0"}' in text

    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package prometheus); .ci/run installs it")
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_pending_and_lag_grow_while_alpine_is_away(tmp_path: Path) -> None:
    port = free_port()
    env = {
        "ARGO_DB": str(tmp_path / "signals.db"),
        "ARGO_AUDIT_LOG": str(tmp_path / "signals.log"),
        "ALPINE_API_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens there
        "ARGO_API_KEY": "unused-key-0123456789",
        "RELAY_METRICS_PORT": str(port),
    }
    generate(env, 10)
    relay = spawn("relay", "run", env=env, log=tmp_path / "relay.log")
    try:

        def lagging() -> str | None:
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            except httpx.HTTPError:
                return None
            failing = 'relay_deliveries_total{result="connection_error"}' in text
            lag = sample(text, "relay_outbox_oldest_pending_age_seconds")
            return text if failing and lag > 0 else None

        text = wait_for(lagging, what="a positive lag")
    finally:
        stop(relay)
    assert sample(text, "relay_outbox_pending") == 10
    assert sample(text, "relay_outbox_dead") == 0
