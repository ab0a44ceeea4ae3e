"""Where each Alpine setting comes from (environment > secret stores > AWS > the `[alpine]`
section > defaults), one signing-secret rule on both sides, and API keys rotated in their
store picked up by a running server without a restart."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest

from tests.integration.test_relay_config import put_secret, secrets_manager  # noqa: F401
from tests.support import cli, new_api_key, start_alpine, stop, wait_for


def show(*args: str, env: dict[str, str]) -> dict[str, dict[str, str]]:
    result = cli("alpine", *args, "config", "show", "--json", env=env)
    assert result.returncode == 0, result.stderr
    report: dict[str, dict[str, str]] = json.loads(result.stdout)
    return report


def test_precedence_environment_file_default(tmp_path: Path) -> None:
    path = tmp_path / "argo-alpine.toml"
    path.write_text(
        "[alpine]\nrate_limit = 50\nmax_body_bytes = 2048\nlate_after_seconds = 120\n"
        'api_keys = ["file-key-0123456789abcdef"]\nport = 9011\n\n[argo]\nseed = 1\n'
    )
    report = show("--config", str(path), env={"ALPINE_RATE_LIMIT": "75"})
    assert report["config_file"] == str(path)  # type: ignore[comparison-overlap]
    assert report["rate_limit"] == {"value": "75.0", "source": "environment ALPINE_RATE_LIMIT"}
    assert report["max_body_bytes"] == {"value": "2048", "source": f"config file {path}"}
    assert report["late_after_seconds"]["value"] == "120.0"
    assert report["key_refresh_seconds"] == {"value": "30.0", "source": "default"}
    assert report["rate_burst"]["value"] == "150.0"  # twice the effective rate
    assert report["api_keys"]["value"].startswith("<redacted>")
    assert show(env={"ARGO_ALPINE_CONFIG": str(path)})["rate_limit"]["value"] == "50.0"


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ("[alpine]\nrate_limt = 5\n", "unknown key 'rate_limt' in [alpine]"),
        ("[alpine]\nrate_limit = 'fast'\n", "rate_limit in [alpine]"),
        ("[alpine]\nrate_limit = -1\n", "rate_limit in [alpine]"),
        ("[alpine]\ndatabase_url = 'mysql://x'\n", "database_url in [alpine]"),
        ("[alpine]\nport = 'high'\n", "port in [alpine]"),
        ("[alpine]\naws_secrets = 1\n", "aws_secrets in [alpine]"),
        ("[alpine\nbroken", "not valid TOML"),
    ],
)
def test_a_bad_file_is_exit_2_naming_the_key_and_the_file(
    tmp_path: Path, body: str, named: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(body)
    result = cli("alpine", "--config", str(path), "config", "show", env={})
    assert result.returncode == 2, result.stderr
    assert named in result.stderr and str(path) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


BAD_SECRETS = [
    "secret-without-prefix-0123456789",
    "whsec_short",
    "whsec_" + "!" * 32,  # not base64
    "whsec_" + base64.b64encode(b"x" * 16).decode(),  # too few bytes
    "whsec_" + base64.b64encode(b"x" * 65).decode(),  # too many bytes
]


@pytest.mark.parametrize("secret", BAD_SECRETS)
def test_both_sides_reject_the_same_bad_signing_secrets(secret: str, tmp_path: Path) -> None:
    env = {
        "ALPINE_SIGNING_SECRET": secret,
        "ARGO_DB": str(tmp_path / "none.db"),
        "ARGO_API_KEY": new_api_key(),
    }
    commands = {"alpine": ("config", "show"), "relay": ("run", "--once")}
    for program, command in commands.items():
        result = cli(program, *command, env=env)
        assert result.returncode == 2, (program, result.stdout, result.stderr)
        assert "ALPINE_SIGNING_SECRET" in result.stderr
        assert secret not in result.stderr + result.stdout


def test_both_sides_accept_a_good_signing_secret_unpadded_too(tmp_path: Path) -> None:
    good = "whsec_" + base64.b64encode(b"k" * 32).decode().rstrip("=")
    from alpine.settings import signing_secrets as alpine_rule
    from relay.config import signing_secrets as relay_rule

    assert alpine_rule(good, "ALPINE_SIGNING_SECRET") == (good,)
    assert relay_rule(f"{good}, {good}") == [good, good]
    result = cli("alpine", "config", "show", env={"ALPINE_SIGNING_SECRET": good})
    assert result.returncode == 0, result.stderr


def test_keys_from_a_systemd_credential_and_aws(
    tmp_path: Path,
    secrets_manager: dict[str, str],  # noqa: F811
) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "alpine-api-keys").write_text(new_api_key() + "\n")
    env = {"CREDENTIALS_DIRECTORY": str(credentials), "ALPINE_API_KEYS": new_api_key()}
    report = show(env=env)
    assert report["api_keys"]["source"] == "systemd credential alpine-api-keys"
    put_secret(secrets_manager, "argo-alpine/alpine-backend/argo-api-key", new_api_key())
    path = tmp_path / "argo-alpine.toml"
    path.write_text("[alpine]\naws_secrets = true\n")
    report = show("--config", str(path), env=secrets_manager)
    source = "AWS Secrets Manager argo-alpine/alpine-backend/argo-api-key"
    assert report["api_keys"]["source"] == source


def _status(url: str, key: str) -> int:
    answer = httpx.post(f"{url}/api/v1/argo/sync/signal", content=b"{}", headers={"X-API-Key": key})
    return answer.status_code


@pytest.mark.parametrize("store", ["credential", "aws"])
def test_a_key_rotated_in_its_store_is_in_force_without_a_restart(
    tmp_path: Path, request: pytest.FixtureRequest, store: str
) -> None:
    old, new = new_api_key(), new_api_key()
    env = {"ALPINE_KEY_REFRESH_SECONDS": "0.2"}
    if store == "credential":
        credentials = tmp_path / "credentials"
        credentials.mkdir()
        env["CREDENTIALS_DIRECTORY"] = str(credentials)

        def rotate(keys: str) -> None:
            (credentials / "alpine-api-keys").write_text(keys)

    else:
        aws = request.getfixturevalue("secrets_manager")
        env.update(aws)
        config = tmp_path / "argo-alpine.toml"
        config.write_text("[alpine]\naws_secrets = true\n")
        env["ARGO_ALPINE_CONFIG"] = str(config)

        def rotate(keys: str) -> None:
            put_secret(aws, "argo-alpine/alpine-backend/argo-api-key", keys)

    rotate(old)
    db = f"sqlite:///{tmp_path / 'alpine.db'}"
    assert cli("alpine", "db", "upgrade", env={"ALPINE_DATABASE_URL": db}).returncode == 0
    server = start_alpine(db, tmp_path, api_keys=[old], extra_env=env | {"ALPINE_API_KEYS": ""})
    try:
        assert _status(server.url, old) == 422 and _status(server.url, new) == 401
        rotate(f"{old},{new}")  # both valid during the rotation
        wait_for(lambda: _status(server.url, new) == 422, timeout=20, what="the new key")
        assert _status(server.url, old) == 422
        rotate(new)
        wait_for(lambda: _status(server.url, old) == 401, timeout=20, what="the old key to go")
        assert server.process.poll() is None  # no restart
    finally:
        stop(server.process)
    log = "".join(p.read_text() for p in tmp_path.glob("alpine-*.log"))
    assert old not in log and new not in log


def test_serve_takes_host_port_and_workers_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "argo-alpine.toml"
    path.write_text("[alpine]\nport = 9011\nworkers = 3\n")
    result = cli("alpine", "--config", str(path), "serve", "--help", env={})
    assert result.returncode == 0, result.stderr
    assert "default: 9011" in result.stdout and "default: 3" in result.stdout
