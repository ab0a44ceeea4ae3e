"""Where each `argo` setting comes from: flags > environment > the `[argo]` section of the
config file > defaults; a bad file is exit 2 naming the key and the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import cli


def show(*args: str, env: dict[str, str]) -> dict[str, dict[str, str]]:
    result = cli("argo", *args, "config", "show", "--json", env=env)
    assert result.returncode == 0, result.stderr
    report: dict[str, dict[str, str]] = json.loads(result.stdout)
    return report


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "argo-alpine.toml"
    path.write_text(
        '[argo]\nsymbols = "AAPL,NVDA"\nseed = 11\ninterval = 2.5\nthreshold = 80\n'
        f'db = "{tmp_path / "file.db"}"\n\n'
        "[relay]\nnot_argos = 1\n"  # other programs' sections are theirs
    )
    return path


def test_precedence_environment_file_default(config_file: Path, tmp_path: Path) -> None:
    report = show("--config", str(config_file), env={"ARGO_SEED": "3"})
    assert report["config_file"] == str(config_file)  # type: ignore[comparison-overlap]
    assert report["seed"] == {"value": "3", "source": "environment ARGO_SEED"}
    assert report["symbols"] == {"value": "AAPL,NVDA", "source": f"config file {config_file}"}
    assert report["interval"]["value"] == "2.5"
    assert report["audit_log"] == {"value": "logs/signals.log", "source": "default"}
    # The file named by the environment works like --config.
    assert show(env={"ARGO_ALPINE_CONFIG": str(config_file)})["seed"]["value"] == "11"


def test_the_file_feeds_the_commands_and_a_flag_beats_it(config_file: Path, tmp_path: Path) -> None:
    env = {"ARGO_ALPINE_CONFIG": str(config_file), "ARGO_AUDIT_LOG": str(tmp_path / "a.log")}
    result = cli("argo", "generate", "--count", "3", env=env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "file.db").exists()  # db from the file
    listed = cli("argo", "signals", "list", "--json", env=env)
    symbols = {json.loads(line)["symbol"] for line in listed.stdout.splitlines()}
    assert symbols <= {"AAPL", "NVDA"}
    flagged = tmp_path / "flag.db"
    result = cli("argo", "generate", "--count", "1", "--db", str(flagged), env=env)
    assert result.returncode == 0, result.stderr
    assert flagged.exists()


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ("[argo]\nsymbolz = 'AAPL'\n", "unknown key 'symbolz' in [argo]"),
        ("[argo]\nthreshold = 'high'\n", "threshold in [argo]"),
        ("[argo]\nthreshold = 150\n", "threshold in [argo]"),
        ("[argo]\nsynchronous = 'SOMETIMES'\n", "synchronous in [argo]"),
        ("[argo]\nmetrics_port = [1]\n", "metrics_port in [argo]"),
        ("[argo\nbroken", "not valid TOML"),
    ],
)
def test_a_bad_file_is_exit_2_naming_the_key_and_the_file(
    tmp_path: Path, body: str, named: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(body)
    result = cli("argo", "--config", str(path), "config", "show", env={})
    assert result.returncode == 2, result.stderr
    assert named in result.stderr and str(path) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_missing_config_file_is_exit_2(tmp_path: Path) -> None:
    result = cli("argo", "--config", str(tmp_path / "nope.toml"), "config", "show", env={})
    assert result.returncode == 2 and "does not exist" in result.stderr


def test_config_show_redacts_a_database_password(tmp_path: Path) -> None:
    url = "postgresql+psycopg://argo:hunter2-secret@db.internal:5432/argo"
    result = cli("argo", "config", "show", env={"ARGO_DB": url})
    assert result.returncode == 0, result.stderr
    assert "hunter2-secret" not in result.stdout + result.stderr
    assert "argo:<redacted>@db.internal" in result.stdout
