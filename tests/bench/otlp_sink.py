"""An OTLP/HTTP sink in a process of its own (`python -m tests.bench.otlp_sink`): takes
every POST, answers 200 with an empty body, and counts them; `GET /count` answers
"requests bytes". Prints its port on its first line. Its own process, so reading the
exports costs the measured processes nothing (as a collector on the host would)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_LOCK = threading.Lock()
_TAKEN = [0, 0]  # requests, bytes


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with _LOCK:
            _TAKEN[0] += 1
            _TAKEN[1] += len(body)
        self._answer(b"", "application/x-protobuf")

    def do_GET(self) -> None:
        with _LOCK:
            text = f"{_TAKEN[0]} {_TAKEN[1]}".encode()
        self._answer(text, "text/plain")

    def _answer(self, body: bytes, kind: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
