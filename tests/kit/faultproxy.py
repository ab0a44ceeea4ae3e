"""An HTTP proxy on loopback in front of a real Alpine that can slow every request down
(a slow network or an overloaded Alpine), for tests of leases and deadlines, and answer
the next POSTs itself with scripted statuses (an Alpine failing for a moment)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class SlowProxy:
    """Forwards each request to `upstream` after `delay` seconds (changeable at any time)."""

    def __init__(self, upstream: str, delay: float = 0.0) -> None:
        self.upstream = upstream
        self.delay = delay
        self.requests = 0
        self.scripted: list[int] = []  # statuses for the next POSTs, answered here
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                return

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with proxy._lock:
                    proxy.requests += 1
                    scripted = (
                        proxy.scripted.pop(0) if self.command == "POST" and proxy.scripted else None
                    )
                if scripted is not None:
                    self._answer(scripted, b'{"detail": "scripted failure"}')
                    return
                time.sleep(proxy.delay)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                answer = httpx.request(
                    self.command,
                    proxy.upstream + self.path,
                    content=body,
                    headers=headers,
                    timeout=60,
                )
                self.send_response(answer.status_code)
                for key, value in answer.headers.items():
                    if key.lower() not in _HOP_BY_HOP and key.lower() != "content-encoding":
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = _forward
            do_POST = _forward

        return Handler

    def start(self) -> SlowProxy:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def slow_proxy(upstream: str, delay: float = 0.0) -> Iterator[SlowProxy]:
    proxy = SlowProxy(upstream, delay).start()
    try:
        yield proxy
    finally:
        proxy.close()
