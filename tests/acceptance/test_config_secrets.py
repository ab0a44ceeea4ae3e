"""No secret shows in Alpine's log, its /metrics, `alpine config show` or `argo config show`,
whichever store it came from and whatever happens to it (rotation, a malformed key list,
rejected requests)."""

from __future__ import annotations

from pathlib import Path

from tests.support import (
    cli,
    new_api_key,
    new_signing_secret,
    signal_payload,
    start_alpine,
    stop,
    wait_for,
)


def test_no_secret_leaks_from_alpine_or_argo(pg_url: str, tmp_path: Path) -> None:
    old, new, secret = new_api_key(), new_api_key(), new_signing_secret()
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "alpine-api-keys").write_text(old)
    secret_file = tmp_path / "signing"
    secret_file.write_text(secret)
    env = {
        "CREDENTIALS_DIRECTORY": str(credentials),
        "ALPINE_SIGNING_SECRET_FILE": str(secret_file),
        "ALPINE_KEY_REFRESH_SECONDS": "0.2",
        "ALPINE_API_KEYS": "",
    }
    server = start_alpine(pg_url, tmp_path, api_keys=[old], extra_env=env)
    try:
        with server.client() as client:
            post = client.post
            body = signal_payload()
            assert (
                post("/api/v1/argo/sync/signal", json=body, headers={"X-API-Key": old}).status_code
                == 401
            )
            assert (
                post("/api/v1/argo/sync/signal", json=body, headers={"X-API-Key": new}).status_code
                == 401
            )
            (credentials / "alpine-api-keys").write_text("too-short")  # malformed: kept old

            def refused() -> bool:
                post("/api/v1/argo/sync/signal", content=b"{}", headers={"X-API-Key": old})
                return "keeping the API keys in force" in server.log.read_text()

            wait_for(
                refused,
                timeout=20,
                what="the refresh to refuse the malformed list",
            )
            (credentials / "alpine-api-keys").write_text(f"{old},{new}")

            def accepted() -> bool:
                answer = post("/api/v1/argo/sync/signal", content=b"{}", headers={"X-API-Key": new})
                return answer.status_code == 401 and "signature" in answer.text

            wait_for(accepted, timeout=20, what="the new key (then the signature check)")
            metrics = client.get("/metrics").text
    finally:
        stop(server.process)
    log = server.log.read_text()
    alpine_env = env | {
        "ALPINE_DATABASE_URL": pg_url.replace("postgres@", "postgres:pw-0123456789@")
    }
    shown = cli("alpine", "config", "show", env=alpine_env).stdout
    shown += cli("alpine", "config", "show", "--json", env=alpine_env).stdout
    argo_env = {"ARGO_DB": "postgresql+psycopg://argo:pw-0123456789@db.internal/argo"}
    shown += cli("argo", "config", "show", env=argo_env).stdout
    assert "<redacted>" in shown
    for value in (old, new, secret, secret.removeprefix("whsec_"), "pw-0123456789"):
        for where, haystack in (("log", log), ("metrics", metrics), ("config show", shown)):
            assert value not in haystack, f"a secret leaked into the {where}"
