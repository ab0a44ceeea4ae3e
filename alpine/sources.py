"""Where an Alpine setting comes from: flags > environment > config file > defaults, and
secrets from real stores. Alpine's own copy (Argo's side has argo.process.sources: the two
companies share no code; what both must agree on is in docs/configuration.md).

Secrets are read, first found wins, from `$CREDENTIALS_DIRECTORY/<credential>` (systemd's
LoadCredential=), a file named by `<VAR>_FILE`, the variable `<VAR>` itself, AWS Secrets
Manager (when the file says `aws_secrets = true`; needs the `aws` extra), and the config
file. A secret never appears on a command line, in a log line or in `config show`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

CONFIG_VARIABLE = "ARGO_ALPINE_CONFIG"
DEFAULT_CONFIG = Path("/etc/argo-alpine/argo-alpine.toml")


class SourceError(ValueError):
    """A config file or secret store could not be read (the message names it)."""


class Origin(StrEnum):
    FLAG = "flag"
    ENVIRONMENT = "environment"
    CREDENTIAL = "systemd credential"
    SECRET_FILE = "secret file"
    FILE = "config file"
    AWS = "AWS Secrets Manager"
    DEFAULT = "default"


@dataclass(frozen=True, slots=True)
class Source:
    """Where one value came from: its origin and the variable, file or secret name."""

    origin: Origin
    where: str = ""

    def __str__(self) -> str:
        return f"{self.origin.value} {self.where}".strip()


def config_file(flag: Path | None, environ: Mapping[str, str]) -> Path | None:
    """The config file: --config, else ARGO_ALPINE_CONFIG, else /etc/... when it exists."""
    if flag is not None:
        return flag
    named = environ.get(CONFIG_VARIABLE, "").strip()
    if named:
        return Path(named)
    return DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None


def read_section(path: Path | None, section: str) -> dict[str, Any]:
    """The `[section]` table of the TOML file at `path` ({} without a file or section)."""
    if path is None:
        return {}
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SourceError(f"config file {path} does not exist") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"config file {path} cannot be read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SourceError(f"config file {path} is not valid TOML: {exc}") from exc
    table = document.get(section, {})
    if not isinstance(table, dict):
        raise SourceError(f"[{section}] in {path} must be a table")
    return table


def secret_from_environment(
    variable: str, credential: str, environ: Mapping[str, str]
) -> tuple[str, Source] | None:
    """A secret from a systemd credential, `<variable>_FILE`, or `<variable>`."""
    directory = environ.get("CREDENTIALS_DIRECTORY", "").strip()
    if directory:
        path = Path(directory) / credential
        value = _read_secret_file(path) if path.is_file() else ""
        if value:
            return value, Source(Origin.CREDENTIAL, credential)
    named = environ.get(f"{variable}_FILE", "").strip()
    if named:
        value = _read_secret_file(Path(named))
        if value:
            return value, Source(Origin.SECRET_FILE, f"{variable}_FILE")
    value = environ.get(variable, "").strip()
    if value:
        return value, Source(Origin.ENVIRONMENT, variable)
    return None


def _read_secret_file(path: Path) -> str:
    """The secret in `path`, stripped; "" for an empty file (the secret is not set)."""
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SourceError(f"secret file {path} cannot be read: {exc.strerror}") from exc


def secret_from_aws(name: str, environ: Mapping[str, str]) -> str | None:
    """The secret string stored under `name` in AWS Secrets Manager (None if absent).

    The region and credentials come from boto3's usual chain; `AWS_ENDPOINT_URL` (or
    `ARGO_ALPINE_AWS_ENDPOINT`) points it at another endpoint, as tests do.
    """
    try:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError as exc:
        raise SourceError(
            "aws_secrets = true needs the aws extra: pip install 'argo-alpine[aws]'"
        ) from exc
    endpoint = environ.get("ARGO_ALPINE_AWS_ENDPOINT") or environ.get("AWS_ENDPOINT_URL")
    region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    try:
        client = boto3.client(
            "secretsmanager",
            endpoint_url=endpoint,
            region_name=region,
            aws_access_key_id=environ.get("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=environ.get("AWS_SECRET_ACCESS_KEY"),
            aws_session_token=environ.get("AWS_SESSION_TOKEN"),
        )
        answer = client.get_secret_value(SecretId=name)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return None
        raise SourceError(f"AWS Secrets Manager refused {name}: {exc}") from exc
    except BotoCoreError as exc:
        raise SourceError(f"AWS Secrets Manager unreachable for {name}: {exc}") from exc
    value = answer.get("SecretString")
    return str(value).strip() if value else None


def environment_of(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    """`environ`, or the process environment when None."""
    return os.environ if environ is None else environ
