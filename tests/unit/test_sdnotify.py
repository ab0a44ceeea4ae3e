"""The systemd notifier against a real temporary datagram socket."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from argo.process.sdnotify import SystemdNotifier


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(2)
    yield sock, path
    sock.close()


def test_ready_watchdog_stopping(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    notifier = SystemdNotifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "10000000"})
    assert notifier.enabled
    notifier.ready("delivering")
    assert sock.recv(256) == b"READY=1\nSTATUS=delivering"
    notifier.watchdog()
    assert sock.recv(256) == b"WATCHDOG=1"
    notifier.watchdog()  # within half of WatchdogSec: not sent again
    notifier.stopping()
    assert sock.recv(256) == b"STOPPING=1"


def test_abstract_namespace_address() -> None:
    name = "argo-alpine-test-notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(2)
    try:
        SystemdNotifier({"NOTIFY_SOCKET": "@" + name}).status("hello")
        assert sock.recv(256) == b"STATUS=hello"
    finally:
        sock.close()


def test_without_notify_socket_it_does_nothing() -> None:
    notifier = SystemdNotifier({})
    assert not notifier.enabled
    notifier.ready()
    notifier.watchdog()
    notifier.stopping()


def test_a_vanished_socket_is_not_an_error(tmp_path: Path) -> None:
    SystemdNotifier({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")}).ready()
