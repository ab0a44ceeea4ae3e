"""A key rotated in its store (systemd credential, AWS Secrets Manager) is picked up after
Alpine's 401 without a restart, and no secret ever shows in logs, metrics or output."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.test_relay_config import put_secret, secrets_manager  # noqa: F401
from tests.kit.pipeline import assert_exactly_once, generate, outbox_counts, relay_env, relay_status
from tests.support import (
    AlpineServer,
    cli,
    free_port,
    new_api_key,
    new_signing_secret,
    spawn,
    start_alpine,
    stop,
    wait_for,
)


@pytest.fixture
def rotated_alpine(pg_url: str, tmp_path: Path) -> Iterator[tuple[AlpineServer, str, str]]:
    """Alpine that already accepts only the new key; (server, old key, new key)."""
    old, new = new_api_key(), new_api_key()
    server = start_alpine(pg_url, tmp_path, api_keys=[new], signing_secret=new_signing_secret())
    yield server, old, new
    stop(server.process)


@pytest.mark.parametrize("store", ["credential", "aws"])
def test_a_key_rotated_in_its_store_is_used_without_a_restart(
    rotated_alpine: tuple[AlpineServer, str, str],
    pg_url: str,
    tmp_path: Path,
    store: str,
    request: pytest.FixtureRequest,
) -> None:
    alpine, old, new = rotated_alpine
    port = free_port()
    env = relay_env(alpine, tmp_path, RELAY_METRICS_PORT=str(port))
    del env["ARGO_API_KEY"]
    rotate: Callable[[str], None]
    if store == "credential":
        credentials = tmp_path / "credentials"
        credentials.mkdir()
        env["CREDENTIALS_DIRECTORY"] = str(credentials)

        def rotate(key: str) -> None:
            (credentials / "argo-api-key").write_text(key)

    else:
        aws = request.getfixturevalue("secrets_manager")
        env.update(aws)
        config = tmp_path / "argo-alpine.toml"
        config.write_text("[relay]\naws_secrets = true\n")
        env["ARGO_ALPINE_CONFIG"] = str(config)

        def rotate(key: str) -> None:
            put_secret(aws, "argo-alpine/argo/argo-api-key", key)

    rotate(old)
    generate(env, 20)
    db = tmp_path / "signals.db"
    log = tmp_path / "relay.log"
    relay = spawn("relay", "run", env=env, log=log)
    try:
        wait_for(lambda: relay_status(env)["paused"], timeout=20, what="the relay to pause on 401")
        rotate(new)
        wait_for(lambda: outbox_counts(db)[0] == 20, timeout=60, what="delivery with the new key")
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert relay.poll() is None  # no restart
    finally:
        stop(relay)
    assert assert_exactly_once(pg_url, db) == 20
    text = log.read_text()
    assert "credentials_reloaded" in text
    shown = cli("relay", "config", "show", env=env).stdout + cli("relay", "status", env=env).stdout
    for secret in (old, new, str(alpine.signing_secret)):
        for where, haystack in (("log", text), ("metrics", metrics), ("output", shown)):
            assert secret not in haystack, f"a secret leaked into the {where}"
