"""Where each relay setting comes from: flags > environment > config file > defaults, and
secrets from systemd credentials, *_FILE variables and AWS Secrets Manager (moto's real
local server)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from relay.cli import main
from tests.support import cli, free_port


def show(*args: str, env: dict[str, str] | None = None) -> dict[str, dict[str, str]]:
    result = CliRunner().invoke(main, [*args, "config", "show", "--json"], env=env)
    assert result.exit_code == 0, result.output
    report: dict[str, dict[str, str]] = json.loads(result.output)
    return report


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "argo-alpine.toml"
    path.write_text(
        "[argo]\nsomething = 1\n\n"  # other programs' sections are theirs
        '[relay]\nbatch_size = 50\nlease_seconds = 30\nalpine_url = "http://file:9001"\n'
        "max_attempts = 7\n"
    )
    return path


def test_precedence_flag_environment_file_default(config_file: Path) -> None:
    env = {"RELAY_BATCH_SIZE": "80", "RELAY_LEASE_SECONDS": "45"}
    report = show("--config", str(config_file), env=env)
    assert report["config_file"] == str(config_file)  # type: ignore[comparison-overlap]
    assert report["batch_size"] == {"value": "80", "source": "environment RELAY_BATCH_SIZE"}
    assert report["max_attempts"] == {"value": "7", "source": f"config file {config_file}"}
    assert report["posts_in_flight"] == {"value": "8", "source": "default"}
    assert report["alpine_url"]["value"] == "http://file:9001"
    # The file named by the environment works like --config.
    assert show(env={"ARGO_ALPINE_CONFIG": str(config_file)})["max_attempts"]["value"] == "7"


def test_a_flag_beats_everything(config_file: Path, tmp_path: Path) -> None:
    from relay.cli_common import loaded_with
    from relay.settings_load import load

    loaded = load({"batch_size": 9}, config_path=config_file, environ={"RELAY_BATCH_SIZE": "80"})
    assert (
        loaded.config.batch_size == 9 and str(loaded.sources["batch_size"]) == "flag --batch-size"
    )
    assert loaded_with is not None


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ("[relay]\nbatch_sise = 5\n", "unknown key 'batch_sise' in [relay]"),
        ('[relay]\nbatch_size = "lots"\n', "batch_size in [relay]"),
        ("[relay]\nbatch_size = 900\n", "batch_size in [relay]"),
        ("[relay\nbroken", "not valid TOML"),
        ("[relay]\naws_secrets = 1\n", "aws_secrets in [relay]"),
    ],
)
def test_a_bad_file_is_exit_2_naming_the_key_and_the_file(
    tmp_path: Path, body: str, named: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(body)
    result = cli("relay", "--config", str(path), "config", "show", env={})
    assert result.returncode == 2, result.stderr
    assert named in result.stderr and str(path) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_missing_config_file_is_exit_2(tmp_path: Path) -> None:
    result = cli("relay", "--config", str(tmp_path / "nope.toml"), "config", "show", env={})
    assert result.returncode == 2 and "does not exist" in result.stderr


def test_secrets_from_a_systemd_credential_and_a_file(tmp_path: Path) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "argo-api-key").write_text("key-from-credential-0123456789\n")
    secret_file = tmp_path / "signing"
    secret_file.write_text("whsec_" + "A" * 32)
    env = {
        "CREDENTIALS_DIRECTORY": str(credentials),
        "ARGO_API_KEY": "key-from-environment-0123456789",
        "ALPINE_SIGNING_SECRET_FILE": str(secret_file),
    }
    report = show(env=env)
    assert report["api_key"] == {"value": "<redacted>", "source": "systemd credential argo-api-key"}
    assert report["signing_secret"]["source"] == "secret file ALPINE_SIGNING_SECRET_FILE"
    from relay.settings_load import load

    loaded = load({}, environ=env)
    assert loaded.config.api_key == "key-from-credential-0123456789"
    assert loaded.config.signing_secret == "whsec_" + "A" * 32


@pytest.fixture
def secrets_manager() -> Iterator[dict[str, str]]:
    """moto's real Secrets Manager on loopback; the environment that points boto3 at it."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    env = {
        "ARGO_ALPINE_AWS_ENDPOINT": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    try:
        yield env
    finally:
        server.stop()


def put_secret(env: dict[str, str], name: str, value: str) -> None:
    import boto3

    client = boto3.client(
        "secretsmanager",
        endpoint_url=env["ARGO_ALPINE_AWS_ENDPOINT"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    try:
        client.create_secret(Name=name, SecretString=value)
    except client.exceptions.ResourceExistsException:
        client.put_secret_value(SecretId=name, SecretString=value)


def test_secrets_from_aws_secrets_manager_under_the_seeds_names(
    secrets_manager: dict[str, str], tmp_path: Path
) -> None:
    put_secret(secrets_manager, "argo-alpine/argo/argo-api-key", "key-from-aws-0123456789")
    put_secret(secrets_manager, "argo-alpine/argo/alpine-api-url", "http://alpine.internal:9001")
    path = tmp_path / "argo-alpine.toml"
    path.write_text("[relay]\naws_secrets = true\n")
    from relay.settings_load import load, reread_credentials

    loaded = load({}, config_path=path, environ=secrets_manager)
    assert loaded.config.api_key == "key-from-aws-0123456789"
    assert loaded.config.alpine_url == "http://alpine.internal:9001"
    assert str(loaded.sources["api_key"]) == "AWS Secrets Manager argo-alpine/argo/argo-api-key"
    put_secret(secrets_manager, "argo-alpine/argo/argo-api-key", "rotated-key-0123456789")
    assert reread_credentials(loaded, secrets_manager)[0] == "rotated-key-0123456789"
    # The environment still wins over the store.
    env = secrets_manager | {"ARGO_API_KEY": "key-from-environment-0123456789"}
    assert (
        load({}, config_path=path, environ=env).config.api_key == "key-from-environment-0123456789"
    )
