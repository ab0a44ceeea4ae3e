"""Long relay work (replay, prune, verify) draws progress on stderr only when stderr is a
terminal, and always ends with a count line."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from alpine.migrations import upgrade
from alpine.store import make_engine
from tests.kit.alpine import served_alpine
from tests.support import ROOT, child_env, cli


def _argo_env(tmp_path: Path) -> dict[str, str]:
    return {"ARGO_DB": str(tmp_path / "signals.db"), "ARGO_AUDIT_LOG": str(tmp_path / "a.log")}


def _on_a_terminal(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """Run `python -m relay args` with stderr on a pseudo-terminal: (code, stdout, stderr)."""
    leader, follower = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "relay", *args],
            env=child_env(env),
            stdout=subprocess.PIPE,
            stderr=follower,
            cwd=ROOT,
        )
        os.close(follower)
        stdout, _ = process.communicate(timeout=120)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(leader)
    return process.returncode, stdout.decode(), b"".join(chunks).decode(errors="replace")


def test_replay_and_prune_show_progress_on_a_terminal_only(tmp_path: Path) -> None:
    env = _argo_env(tmp_path)
    assert cli("argo", "generate", "--count", "30", env=env).returncode == 0
    code, out, err = _on_a_terminal(env, "replay", "--since", "7d")
    assert code == 0 and "enqueued 30 events" in out
    assert "enqueueing" in err
    piped = cli("relay", "replay", "--since", "7d", env=env)
    assert piped.returncode == 0 and "enqueued 30 events" in piped.stdout
    assert "enqueueing" not in piped.stderr
    code, out, err = _on_a_terminal(env, "prune", "--older-than", "1d")
    assert code == 0 and "deleted 0 delivered row(s)" in out and "pruning" in err
    piped = cli("relay", "prune", "--older-than", "1d", env=env)
    assert "deleted 0 delivered row(s)" in piped.stdout and "pruning" not in piped.stderr


def test_verify_ends_with_a_count_line_and_draws_only_on_a_terminal(tmp_path: Path) -> None:
    env = _argo_env(tmp_path)
    assert cli("argo", "generate", "--count", "5", env=env).returncode == 0
    url = f"sqlite:///{tmp_path / 'alpine.db'}"
    engine = make_engine(url)  # what `alpine db upgrade` does
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    alpine = served_alpine(url)
    try:
        env |= {"ALPINE_API_URL": alpine.url, "ARGO_API_KEY": alpine.api_key}
        assert cli("relay", "run", "--once", env=env).returncode == 0
        piped = cli("relay", "verify", "--since", "7d", env=env)
        assert piped.returncode == 0, piped.stderr
        assert piped.stderr.strip().splitlines()[-1] == "read 5 entries of Alpine's list"
        assert "\r" not in piped.stderr
        code, _, err = _on_a_terminal(env, "verify", "--since", "7d")
        assert code == 0 and "reading Alpine's list: 5" in err and "read 5 entries" in err
    finally:
        alpine.close()
