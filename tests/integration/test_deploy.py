"""Deployment files: systemd units verify and are hardened; Prometheus config, rules and
rule tests pass promtool; a real Prometheus scrapes a running relay."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.kit.pipeline import generate
from tests.support import ROOT, free_port, spawn, stop, wait_for

UNITS = ("argo-generator.service", "argo-relay.service", "alpine-api.service")
# The daily record head: a oneshot service and its timer (verified and hardened too).
DAILY = ("alpine-record-head.service", "alpine-record-head.timer")
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
MAX_EXPOSURE = 2.0


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (.ci/run installs it from Debian's packages)")
    return path


@pytest.fixture(scope="module")
def units(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The units with ExecStart pointing at this checkout's real binaries."""
    folder = tmp_path_factory.mktemp("units")
    bindir = str(Path(sys.executable).parent) + "/"
    for unit in UNITS + DAILY:
        text = (ROOT / "deploy" / "systemd" / unit).read_text()
        (folder / unit).write_text(text.replace("/opt/argo-alpine/venv/bin/", bindir))
    return folder


@pytest.mark.parametrize("unit", UNITS + DAILY)
def test_unit_verifies_without_warnings(units: Path, unit: str) -> None:
    result = subprocess.run(
        [tool("systemd-analyze"), "verify", f"./{unit}"],
        cwd=units,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr


@pytest.mark.parametrize("unit", (*UNITS, DAILY[0]))
def test_unit_exposure_is_within_target(units: Path, unit: str) -> None:
    result = subprocess.run(
        [tool("systemd-analyze"), "security", "--offline=yes", f"./{unit}"],
        cwd=units,
        capture_output=True,
        text=True,
        timeout=60,
    )
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", result.stdout)
    assert match, result.stdout + result.stderr
    exposure = float(match.group(1))
    print(f"\nEXPOSURE {unit}: {exposure}")
    assert exposure <= MAX_EXPOSURE


def test_units_use_notify_watchdog_restart_and_a_shared_user() -> None:
    for unit in ("argo-generator.service", "argo-relay.service"):
        text = (ROOT / "deploy" / "systemd" / unit).read_text()
        assert "Type=notify" in text and "WatchdogSec=" in text
    for unit in UNITS:
        text = (ROOT / "deploy" / "systemd" / unit).read_text()
        assert "Restart=on-failure" in text and "StartLimitBurst=" in text
        assert "User=argo" in text and "StateDirectory=argo-alpine" in text
        assert "EnvironmentFile=/etc/argo-alpine/" in text
    sysusers = (ROOT / "deploy" / "systemd" / "argo-alpine.sysusers.conf").read_text()
    assert re.search(r"^u argo ", sysusers, re.MULTILINE)


@pytest.mark.parametrize(
    "args",
    [
        ("check", "config", "prometheus.yml"),
        ("check", "rules", "alerts.yml"),
        ("test", "rules", "alerts.test.yml"),
    ],
    ids=["check-config", "check-rules", "test-rules"],
)
def test_promtool(args: tuple[str, ...]) -> None:
    result = subprocess.run(
        [tool("promtool"), *args], cwd=PROMETHEUS_DIR, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_firing_and_a_quiet_test() -> None:
    alerts = re.findall(r"- alert: (\w+)", (PROMETHEUS_DIR / "alerts.yml").read_text())
    tests = (PROMETHEUS_DIR / "alerts.test.yml").read_text()
    for alert in alerts:
        blocks = re.findall(rf"alertname: {alert}\n\s+exp_alerts:(.*)", tests)
        assert any(b.strip() == "[]" for b in blocks), f"{alert} has no quiet case"
        assert any(b.strip() == "" for b in blocks), f"{alert} has no firing case"


@pytest.fixture
def running_relay(tmp_path: Path) -> Iterator[int]:
    """A relay with pending rows (no Alpine listening), metrics on a free port."""
    port = free_port()
    env = {
        "ARGO_DB": str(tmp_path / "signals.db"),
        "ARGO_AUDIT_LOG": str(tmp_path / "signals.log"),
        "ALPINE_API_URL": f"http://127.0.0.1:{free_port()}",
        "ARGO_API_KEY": "unused-key-0123456789",
        "RELAY_METRICS_PORT": str(port),
    }
    generate(env, 5)
    relay = spawn("relay", "run", env=env, log=tmp_path / "relay.log")
    yield port
    stop(relay)


def test_real_prometheus_scrapes_the_relay(running_relay: int, tmp_path: Path) -> None:
    binary = tool("prometheus")
    web = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n"
        "scrape_configs:\n  - job_name: argo-relay\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{running_relay}']\n"
    )
    log = (tmp_path / "prometheus.log").open("wb")
    server = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{web}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()  # the child holds its own descriptor
    try:

        def lag_series() -> list[dict[str, object]] | None:
            try:
                answer = httpx.get(
                    f"http://127.0.0.1:{web}/api/v1/query",
                    params={"query": "relay_outbox_oldest_pending_age_seconds"},
                    timeout=2,
                ).json()
            except (httpx.HTTPError, ValueError):
                return None
            result: list[dict[str, object]] = answer.get("data", {}).get("result", [])
            return result or None

        series = wait_for(
            lag_series, timeout=60, interval=0.25, what="prometheus to scrape the relay"
        )
    finally:
        stop(server)
    assert series[0]["metric"]["job"] == "argo-relay"  # type: ignore[index]
    assert float(series[0]["value"][1]) >= 0  # type: ignore[index]


def test_install_script_stages_a_complete_tree(tmp_path: Path) -> None:
    root = tmp_path / "root"
    result = subprocess.run(
        ["bash", str(ROOT / "deploy" / "install.sh"), "--root", str(root)],
        capture_output=True,
        text=True,
        timeout=600,
        env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for unit in UNITS:
        assert (root / "etc/systemd/system" / unit).is_file()
    for name in ("generator", "relay", "alpine"):
        env_file = root / "etc/argo-alpine" / f"{name}.env"
        assert env_file.stat().st_mode & 0o777 == 0o600
    credentials = root / "etc/argo-alpine/credentials"
    assert credentials.stat().st_mode & 0o777 == 0o700
    for credential in ("argo-api-key", "alpine-signing-secret", "alpine-api-keys"):
        assert (credentials / credential).stat().st_mode & 0o777 == 0o600
    toml = (root / "etc/argo-alpine/argo-alpine.toml").read_text()
    assert "[relay]" in toml and "[argo]" in toml and "[alpine]" in toml
    assert "ARGO_API_KEY" not in (root / "etc/argo-alpine/relay.env").read_text()
    alpine_env = (root / "etc/argo-alpine/alpine.env").read_text()
    assert "ALPINE_API_KEYS=" not in alpine_env and "ALPINE_SIGNING_SECRET=" not in alpine_env
    for command in ("argo", "relay", "alpine"):
        version = subprocess.run(
            [str(root / "opt/argo-alpine/venv/bin" / command), "--version"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert version.returncode == 0 and "0.1.0" in version.stdout
    # The installed (non-editable) package carries the SQL contract.
    migrations = list(
        (root / "opt/argo-alpine/venv/lib").glob(
            "python*/site-packages/alpine/_schema/alpine/postgresql/*.sql"
        )
    )
    assert migrations
    removed = subprocess.run(
        ["bash", str(ROOT / "deploy" / "uninstall.sh"), "--root", str(root), "--purge"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert removed.returncode == 0, removed.stderr
    assert not (root / "opt/argo-alpine").exists() and not (root / "etc/argo-alpine").exists()
