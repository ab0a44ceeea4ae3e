"""PostgreSQL stopped under a running Alpine: 503s, then recovery by itself.

Uses a private throwaway cluster, never the shared one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.kit.private_postgres import PrivateCluster, create_cluster, destroy
from tests.support import cli, signal_payload, start_alpine, stop, wait_for


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    created = create_cluster()
    if created is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    created.start()
    yield created
    destroy(created)


def test_database_outage_answers_503_and_recovers(cluster: PrivateCluster, tmp_path: Path) -> None:
    upgrade = cli("alpine", "db", "upgrade", env={"ALPINE_DATABASE_URL": cluster.url})
    assert upgrade.returncode == 0, upgrade.stderr
    server = start_alpine(cluster.url, tmp_path)
    headers = {"X-API-Key": server.api_key}
    try:
        with server.client() as client:
            first = client.post("/api/v1/argo/sync/signal", json=signal_payload(), headers=headers)
            assert first.status_code == 201

            cluster.stop()
            during = client.post(
                "/api/v1/argo/sync/signal",
                json=signal_payload(timestamp="2026-11-22T10:00:01Z"),
                headers=headers,
            )
            assert during.status_code == 503, during.text
            assert during.json()["detail"] == "database unavailable; retry later"
            assert client.get("/api/v1/argo/sync/health").status_code == 503

            cluster.start()

            def recovered() -> bool:
                try:
                    again = client.post(
                        "/api/v1/argo/sync/signal",
                        json=signal_payload(timestamp="2026-11-22T10:00:01Z"),
                        headers=headers,
                    )
                except httpx.HTTPError:
                    return False
                return again.status_code == 201

            wait_for(recovered, timeout=30, interval=0.2, what="alpine to recover")
            assert client.get("/api/v1/argo/sync/health").status_code == 200
            assert server.process.poll() is None
    finally:
        stop(server.process)
