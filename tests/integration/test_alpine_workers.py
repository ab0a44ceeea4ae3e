"""`alpine serve --workers 2`: two real worker processes on one PostgreSQL database."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.kit.pgdb import count_signals
from tests.support import AlpineServer, signal_payload, start_alpine, stop

PATH = "/api/v1/argo/sync/signal"
CONCURRENT = 24
MAX_ROUNDS = 10


@pytest.fixture
def metrics_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_1.db").write_bytes(b"stale, from an earlier run")
    return folder


def two_workers(pg_url: str, tmp_path: Path, metrics_dir: Path, **env: str) -> AlpineServer:
    extra = {"ALPINE_WORKERS": "2", "ALPINE_METRICS_DIR": str(metrics_dir), **env}
    return start_alpine(pg_url, tmp_path, extra_env=extra)


@pytest.fixture
def workers(pg_url: str, tmp_path: Path, metrics_dir: Path) -> Iterator[AlpineServer]:
    server = two_workers(pg_url, tmp_path, metrics_dir)
    yield server
    stop(server.process)


def worker_pids(metrics_dir: Path) -> set[str]:
    """Processes that have written a request histogram (that is, answered a request)."""
    return {p.stem.split("_")[1] for p in metrics_dir.glob("histogram_*.db")}


def burst(server: AlpineServer, body: dict[str, Any], count: int) -> list[httpx.Response]:
    """`count` POSTs released at once, each on its own connection (so both workers take some)."""
    answers: list[httpx.Response] = []
    gate = threading.Barrier(count)

    def send() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            gate.wait(timeout=30)
            answers.append(client.post(PATH, json=body, headers={"X-API-Key": server.api_key}))

    threads = [threading.Thread(target=send) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return answers


def test_concurrent_identical_posts_over_two_workers_store_one_row_and_metrics_count_all(
    workers: AlpineServer, pg_url: str, metrics_dir: Path
) -> None:
    payload = signal_payload()
    answers: list[httpx.Response] = []
    for _ in range(MAX_ROUNDS):  # until both workers have answered some of them
        answers += burst(workers, payload, CONCURRENT)
        if len(worker_pids(metrics_dir)) == 2:
            break
    assert len(worker_pids(metrics_dir)) == 2, "the kernel gave every connection to one worker"
    assert not (metrics_dir / "counter_1.db").exists()  # emptied at start
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] * (len(answers) - 1) + [201], statuses
    assert len({a.json()["alpine_signal_id"] for a in answers}) == 1
    assert count_signals(pg_url) == 1

    with workers.client() as client:
        text = client.get("/metrics").text
    served = re.search(rf'alpine_request_seconds_count{{route="{PATH}"}} ([0-9.]+)', text)
    assert served and float(served.group(1)) == len(answers), text
    assert f'alpine_signals_received_total{{result="duplicate"}} {len(answers) - 1}.0' in text
    assert 'alpine_signals_received_total{result="created"} 1.0' in text


def test_a_rate_limit_means_the_same_with_two_workers(
    pg_url: str, tmp_path: Path, metrics_dir: Path
) -> None:
    server = two_workers(
        pg_url, tmp_path, metrics_dir, ALPINE_RATE_LIMIT="0.01", ALPINE_RATE_BURST="5"
    )
    try:
        answers: list[httpx.Response] = []
        for _ in range(MAX_ROUNDS):
            answers += burst(server, signal_payload(), CONCURRENT)
            if len(worker_pids(metrics_dir)) == 2:
                break
        assert len(worker_pids(metrics_dir)) == 2
        allowed = [a for a in answers if a.status_code != 429]
        assert len(allowed) == 5, sorted(a.status_code for a in answers)  # one bucket, not two
    finally:
        stop(server.process)


def test_workers_above_one_need_postgresql(tmp_path: Path) -> None:
    from tests.support import cli

    env = {
        "ALPINE_DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}",
        "ALPINE_API_KEYS": "k" * 20,
        "ALPINE_WORKERS": "2",
    }
    result = cli("alpine", "serve", env=env)
    assert result.returncode == 2 and "ALPINE_WORKERS" in result.stderr
