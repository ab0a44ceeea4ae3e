"""`--help` of every command of `argo`, `relay` and `alpine` works whatever the
configuration file holds (a broken file once made `argo generate --help` and
`alpine serve --help` exit 2); running a command still reports the broken file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from alpine.cli import main as alpine_main
from argo.cli.main import main as argo_main
from relay.cli import main as relay_main

PROGRAMS = {"argo": argo_main, "relay": relay_main, "alpine": alpine_main}
BROKEN = {
    "not TOML": "this is [not toml\n",
    "unknown keys": "".join(f"[{s}]\nno_such_key = 1\n" for s in ("argo", "alpine", "relay")),
    "wrong types": '[argo]\ndb = 5\n[alpine]\nport = "many"\n[relay]\nbatch_size = "big"\n',
}


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in sorted(group.commands.items()):
        yield (*path, name)
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))


COMMANDS = [(prog, path) for prog, group in PROGRAMS.items() for path in _commands(group)]


@pytest.fixture(params=sorted(BROKEN))
def broken_config(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    path = tmp_path / "argo-alpine.toml"
    path.write_text(BROKEN[request.param], encoding="utf-8")
    monkeypatch.setenv("ARGO_ALPINE_CONFIG", str(path))
    return path


def test_every_program_has_its_commands_listed() -> None:
    assert {prog for prog, _ in COMMANDS} == set(PROGRAMS)
    assert ("argo", ("generate",)) in COMMANDS and ("alpine", ("serve",)) in COMMANDS


@pytest.mark.parametrize(
    ("prog", "path"), COMMANDS, ids=[" ".join((c[0], *c[1])) for c in COMMANDS]
)
def test_help_works_whatever_the_config_file_holds(
    prog: str, path: tuple[str, ...], broken_config: Path
) -> None:
    result = CliRunner().invoke(PROGRAMS[prog], [*path, "--help"], prog_name=prog)
    assert result.exit_code == 0, result.output
    assert f"Usage: {prog} {' '.join(path)}" in result.output


@pytest.mark.parametrize("prog", ["argo", "alpine"])
def test_a_command_still_reports_a_broken_file(
    prog: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "argo-alpine.toml"
    path.write_text(BROKEN["not TOML"], encoding="utf-8")
    monkeypatch.setenv("ARGO_ALPINE_CONFIG", str(path))
    result = CliRunner().invoke(PROGRAMS[prog], ["config", "show"], prog_name=prog)
    assert result.exit_code != 0
