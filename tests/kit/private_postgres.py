"""A private, throwaway PostgreSQL cluster that a test may stop and start at will."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.support import free_port


def server_bindir() -> Path | None:
    """The newest installed PostgreSQL server bin directory, if any."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(candidates[-1]).parent if candidates else None


@dataclass
class PrivateCluster:
    bindir: Path
    datadir: Path
    port: int
    durable: bool = False  # fsync on: a crash of the server then loses no committed row

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def init(self) -> None:
        self._run("initdb", "-D", str(self.datadir), "-A", "trust", "-U", "postgres", "--no-sync")

    def start(self) -> None:
        fsync = "on" if self.durable else "off"
        options = f"-p {self.port} -k {self.datadir} -c listen_addresses=127.0.0.1 -c fsync={fsync}"
        self._run(
            "pg_ctl",
            "-D",
            str(self.datadir),
            "-o",
            options,
            "-l",
            str(self.datadir / "server.log"),
            "-w",
            "-t",
            "30",
            "start",
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.datadir), "-m", "immediate", "-w", "stop")


def create_cluster() -> PrivateCluster | None:
    """Initialise (not start) a cluster in a fresh directory; None without server binaries."""
    bindir = server_bindir()
    if bindir is None:
        return None
    datadir = Path(tempfile.mkdtemp(prefix="argo-alpine-pg-"))
    if os.geteuid() == 0:
        shutil.chown(datadir, "postgres", "postgres")
    cluster = PrivateCluster(bindir, datadir, free_port())
    cluster.init()
    return cluster


def destroy(cluster: PrivateCluster) -> None:
    try:
        cluster.stop()
    except subprocess.CalledProcessError:
        pass  # already stopped
    shutil.rmtree(cluster.datadir, ignore_errors=True)
