"""A TCP-level fault proxy on loopback, between the relay and Alpine, for the fault matrix
(F4, F6 in tests/faults/).

It forwards bytes without understanding HTTP beyond finding where a response's headers
end (for `TRUNCATE`). The mode is read when a request starts (the client sends bytes
while no answer is outstanding on that connection), so a kept-alive connection is
faulted too, and it holds for that whole exchange:

| mode | what the client sees |
|---|---|
| `PASS` | Alpine |
| `RESET` | a TCP reset as soon as it sends; the request never reaches Alpine |
| `RESET_AFTER_FORWARD` | the request reaches Alpine (which commits), then a reset, no answer |
| `BLACKHOLE_CONNECT` | SYNs unanswered (the accept queue is kept full): a connect timeout |
| `BLACKHOLE_READ` | the request reaches Alpine, the answer is swallowed: a read timeout |
| `LATENCY` | the request is held `latency` ± `jitter` seconds before it is forwarded |
| `DRIP` | the answer, headers included, one byte every `drip_seconds` |
| `TRUNCATE` | the headers and half of the body, then the connection closes |
| `DOWN` | nothing listens: connection refused (every open connection is reset) |
| `HOLD` | the request is kept, not forwarded (a read timeout); `release()` sends it later |
"""

from __future__ import annotations

import random
import selectors
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from enum import StrEnum
from urllib.parse import urlsplit

_CHUNK = 65536


class Mode(StrEnum):
    PASS = "pass"
    RESET = "reset"
    RESET_AFTER_FORWARD = "reset_after_forward"
    BLACKHOLE_CONNECT = "blackhole_connect"
    BLACKHOLE_READ = "blackhole_read"
    LATENCY = "latency"
    DRIP = "drip"
    TRUNCATE = "truncate"
    DOWN = "down"
    HOLD = "hold"


def _reset(sock: socket.socket) -> None:
    """Close with a TCP RST (SO_LINGER 0) instead of a FIN."""
    with suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with suppress(OSError):
        sock.close()


def _listen(port: int, backlog: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(backlog)
    sock.settimeout(0.05)
    return sock


class _Connection:
    """One client connection and its upstream twin, pumped by one thread (so a close,
    or a reset, takes effect at once: no other thread sits in recv on the socket)."""

    def __init__(self, proxy: NetFaultProxy, client: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream = socket.create_connection(proxy.upstream, timeout=10)
        self.mode = Mode.PASS  # of the exchange under way
        self.awaiting = False  # a request was sent and its answer has not started
        self.pending = b""  # a TRUNCATE answer, until its headers are complete
        self.held: bytearray | None = None  # a HOLD request, as the client sent it
        self.closed = threading.Event()
        self.kill = threading.Event()  # asked from another thread: reset and stop
        threading.Thread(target=self._pump, daemon=True).start()

    def abort(self) -> None:
        """Reset this connection soon (from any thread)."""
        self.kill.set()

    def _close(self, *, reset: bool = False) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        if reset:
            _reset(self.client)
        else:
            with suppress(OSError):
                self.client.close()
        with suppress(OSError):
            self.upstream.close()
        self.proxy._forget(self)

    def _pump(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self.client, selectors.EVENT_READ, self._from_client)
        selector.register(self.upstream, selectors.EVENT_READ, self._from_upstream)
        try:
            while not self.closed.is_set():
                if self.kill.is_set():
                    self._close(reset=True)
                    break
                for key, _ in selector.select(timeout=0.05):
                    data = key.fileobj.recv(_CHUNK)  # type: ignore[union-attr]
                    if not data or not key.data(data):
                        self._close()
                        break
        except OSError:
            self._close()
        finally:
            selector.close()

    def _from_client(self, data: bytes) -> bool:
        if not self.awaiting:
            self.mode = self.proxy.begin_exchange()
            self.awaiting = True
            if self.mode in (Mode.RESET, Mode.BLACKHOLE_CONNECT, Mode.DOWN):
                self._close(reset=True)  # (a pooled connection into a vanished host)
                return True
            if self.mode is Mode.LATENCY:
                time.sleep(self.proxy.latency_sample())
            if self.mode is Mode.HOLD:
                self.held = self.proxy.hold()
        if self.held is not None:
            self.held += data
            return True
        self.upstream.sendall(data)
        return True

    def _from_upstream(self, data: bytes) -> bool:
        mode = self.mode
        if mode is Mode.RESET_AFTER_FORWARD:
            self._close(reset=True)
            return True
        if mode is Mode.BLACKHOLE_READ:
            return True  # swallowed; the client times out and hangs up
        if mode is Mode.TRUNCATE:
            self.pending += data
            return not self._truncate()
        self.awaiting = False
        if mode is Mode.DRIP:
            for index in range(len(data)):
                if self.kill.is_set():
                    return False
                self.client.sendall(data[index : index + 1])
                time.sleep(self.proxy.drip_seconds)
            return True
        self.client.sendall(data)
        return True

    def _truncate(self) -> bool:
        """Send the headers and half the body, then close; False while headers are incomplete."""
        head, found, body = self.pending.partition(b"\r\n\r\n")
        if not found:
            return False
        length = len(body)
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length" and value.strip().isdigit():
                length = int(value.strip())
        self.client.sendall(head + found + body[: length // 2])
        self._close()
        return True


def _read_answer(sock: socket.socket) -> bytes:
    """One HTTP answer with a Content-Length, read to its end."""
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(_CHUNK)
        if not chunk:
            return answer
        answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    length = next(
        (
            int(v)
            for k, _, v in (line.partition(b":") for line in head.split(b"\r\n"))
            if k.strip().lower() == b"content-length"
        ),
        0,
    )
    while len(body) < length:
        chunk = sock.recv(_CHUNK)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


class NetFaultProxy:
    """Forwards 127.0.0.1:<port> to `upstream` (an http:// URL), with the faults of `Mode`."""

    def __init__(self, upstream: str, *, seed: int = 1) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", int(parts.port or 80))
        self.latency = 2.0
        self.jitter = 1.0
        self.drip_seconds = 0.05
        self.hold_seconds = 120.0
        self.exchanges: Counter[Mode] = Counter()  # requests seen, by the mode that met them
        self.held: list[bytearray] = []  # HOLD requests, in arrival order
        self._rng = random.Random(seed)
        self._mode = Mode.PASS
        self._lock = threading.RLock()
        self._connections: set[_Connection] = set()
        self._listener: socket.socket | None = _listen(0, 128)
        self.port = int(self._listener.getsockname()[1])
        self._filler: list[socket.socket] = []
        self._blackhole: socket.socket | None = None
        self._running = True
        self._applied = threading.Event()
        self._applied.set()
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def mode(self) -> Mode:
        return self._mode

    def set(self, mode: Mode) -> None:
        """Switch to `mode` for every request that starts from now on."""
        with self._lock:
            if mode is self._mode:
                return
            self._mode = mode
            self._applied.clear()
            if mode in (Mode.DOWN, Mode.BLACKHOLE_CONNECT):
                for connection in list(self._connections):
                    connection.abort()
        if not self._applied.wait(10):
            raise RuntimeError(f"the proxy did not switch to {mode}")

    def begin_exchange(self) -> Mode:
        with self._lock:
            self.exchanges[self._mode] += 1
            return self._mode

    def hold(self) -> bytearray:
        """A new buffer for a HOLD request (its connection fills it)."""
        with self._lock:
            self.held.append(bytearray())
            return self.held[-1]

    def release(self) -> list[tuple[bytes, bytes]]:
        """Send every held request to Alpine now, each on a fresh connection; each request
        with its answer."""
        with self._lock:
            held, self.held = [bytes(h) for h in self.held], []
        answers = []
        for request in held:
            with socket.create_connection(self.upstream, timeout=10) as sock:
                sock.sendall(request)
                answers.append((request, _read_answer(sock)))
        return answers

    def latency_sample(self) -> float:
        with self._lock:
            return max(
                0.0, self._rng.uniform(self.latency - self.jitter, self.latency + self.jitter)
            )

    @property
    def faults(self) -> int:
        """Requests that met a fault."""
        return sum(n for mode, n in self.exchanges.items() if mode is not Mode.PASS)

    def _apply(self, mode: Mode) -> None:
        """Make the listening side match `mode` (only the accept thread calls this)."""
        wanted = {Mode.DOWN: "none", Mode.BLACKHOLE_CONNECT: "blackhole"}.get(mode, "listen")
        if wanted != "listen" and self._listener is not None:
            self._listener.close()
            self._listener = None
        if wanted != "blackhole" and self._blackhole is not None:
            for filler in self._filler:
                _reset(filler)
            self._filler = []
            self._blackhole.close()
            self._blackhole = None
        if wanted == "blackhole" and self._blackhole is None:
            # A listener nobody accepts from, its queue full: the kernel drops new SYNs.
            self._blackhole = _listen(self.port, 0)
            for _ in range(2):
                filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                filler.settimeout(0.2)
                with suppress(OSError):
                    filler.connect(("127.0.0.1", self.port))
                self._filler.append(filler)
        if wanted == "listen" and self._listener is None:
            self._listener = _listen(self.port, 128)

    def _accept_loop(self) -> None:
        while self._running:
            if not self._applied.is_set():
                mode = self._mode
                self._apply(mode)
                if mode is self._mode:
                    self._applied.set()
            listener = self._listener
            if listener is None:
                time.sleep(0.01)
                continue
            try:
                client, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            try:
                connection = _Connection(self, client)
            except OSError:
                _reset(client)  # Alpine itself is down: pass the refusal on
                continue
            with self._lock:
                self._connections.add(connection)
        self._apply(Mode.DOWN)
        if self._blackhole is not None:
            self._blackhole.close()

    def _forget(self, connection: _Connection) -> None:
        with self._lock:
            self._connections.discard(connection)

    def close(self) -> None:
        self._running = False
        self._thread.join(5)
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            connection.abort()


@contextmanager
def netfault_proxy(upstream: str, *, seed: int = 1) -> Iterator[NetFaultProxy]:
    proxy = NetFaultProxy(upstream, seed=seed)
    try:
        yield proxy
    finally:
        proxy.close()
