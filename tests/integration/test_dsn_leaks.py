"""No database password reaches output: every form of a database URL or DSN through the real
`argo`, `relay` and `alpine` commands (`config show`, text and JSON, from the environment
and from the config file) and the "cannot connect" line of a PostgreSQL `ARGO_DB`."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from alpine.cli import main as alpine_main
from argo.cli.main import main as argo_main
from relay.cli import main as relay_main
from tests.support import cli, free_port

SECRET = "Hunter2-secret"  # every form below carries it; none may print it
FORMS = [
    f"postgresql://argo:{SECRET}@db.internal:5432/argo",
    f"postgresql+psycopg://argo:{SECRET}@db.internal/argo",
    f"postgresql+psycopg://argo@db.internal/argo?password={SECRET}",
    f"postgresql+psycopg://argo@db.internal/argo?sslmode=disable&password={SECRET}&x=1",
    f"postgresql+psycopg://argo:{SECRET}@db.internal/argo?password={SECRET}",
    f"host=db.internal dbname=argo password={SECRET}",
]
ARGO_SIDE = [(argo_main, "db"), (relay_main, "db_path")]


def _show(main: click.Group, env: dict[str, str], *args: str) -> str:
    runner = CliRunner()
    out = ""
    for extra in ([], ["--json"]):
        result = runner.invoke(main, [*args, "config", "show", *extra], env=env)
        assert result.exit_code == 0, result.output
        out += result.output
    return out


@pytest.mark.parametrize("url", FORMS)
@pytest.mark.parametrize(("main", "key"), ARGO_SIDE, ids=["argo", "relay"])
def test_argo_and_relay_config_show_hide_the_password(
    main: click.Group, key: str, url: str, tmp_path: Path
) -> None:
    shown = _show(main, {"ARGO_DB": url})
    assert SECRET not in shown and "<redacted>" in shown
    assert "db.internal" in shown  # the rest is still there to check
    config = tmp_path / "argo-alpine.toml"
    config.write_text(f'[argo]\ndb = "{url}"\n\n[relay]\ndb_path = "{url}"\n')
    shown = _show(main, {}, "--config", str(config))
    assert SECRET not in shown and "<redacted>" in shown


@pytest.mark.parametrize("url", [u for u in FORMS if u.startswith("postgresql")])
def test_alpine_config_show_hides_the_password(url: str, tmp_path: Path) -> None:
    shown = _show(alpine_main, {"ALPINE_DATABASE_URL": url})
    assert SECRET not in shown and "<redacted>" in shown
    config = tmp_path / "argo-alpine.toml"
    config.write_text(f'[alpine]\ndatabase_url = "{url}"\n')
    shown = _show(alpine_main, {}, "--config", str(config))
    assert SECRET not in shown and "<redacted>" in shown


def test_a_keyword_dsn_refused_by_alpine_is_not_shown() -> None:
    result = CliRunner().invoke(
        alpine_main, ["config", "show"], env={"ALPINE_DATABASE_URL": FORMS[-1]}
    )
    assert result.exit_code != 0 and SECRET not in result.output


def test_sqlite_locations_are_shown_unchanged(tmp_path: Path) -> None:
    db = str(tmp_path / "signals.db")
    for main, _ in ARGO_SIDE:
        report = json.loads(
            CliRunner().invoke(main, ["config", "show", "--json"], env={"ARGO_DB": db}).output
        )
        assert db in {report.get("db", {}).get("value"), report.get("db_path", {}).get("value")}
    shown = _show(alpine_main, {"ALPINE_DATABASE_URL": "sqlite:///data/alpine.db"})
    assert "sqlite:///data/alpine.db" in shown


@pytest.mark.parametrize(
    "command",
    [("relay", "status"), ("relay", "prune", "--older-than", "7d"), ("argo", "signals", "list")],
    ids=lambda c: " ".join(c),
)
def test_the_cannot_connect_line_hides_the_password(command: tuple[str, ...]) -> None:
    port = free_port()  # nothing listens there
    url = f"postgresql+psycopg://argo:{SECRET}@127.0.0.1:{port}/argo?password={SECRET}"
    result = cli(*command, env={"ARGO_DB": url}, timeout=60)
    assert result.returncode != 0
    assert "cannot connect" in result.stderr, result.stderr
    assert SECRET not in result.stdout + result.stderr
    assert "<redacted>" in result.stderr
