"""A real HTTP server on 127.0.0.1 that replays Alpha Vantage answers from tests/data."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

FIXTURES = Path(__file__).resolve().parent.parent / "data" / "alphavantage"


@dataclass(frozen=True)
class Answer:
    """One HTTP answer; `stall` holds it until the test ends (a provider that hangs)."""

    status: int = 200
    body: bytes = b"{}"
    stall: bool = False


def fixture(name: str, status: int = 200) -> Answer:
    return Answer(status, (FIXTURES / name).read_bytes())


def window(document: dict[str, Any], bars: int) -> Answer:
    """The `document`'s time series cut to its oldest `bars` entries (time passing)."""
    key = next(k for k in document if k.startswith("Time Series"))
    oldest_first = sorted(document[key].items())[:bars]
    cut = {**document, key: dict(reversed(oldest_first))}
    return Answer(200, json.dumps(cut).encode())


@dataclass
class Replay:
    """Answers in turn (the last one repeats), or from `script(request_number)`."""

    answers: list[Answer] = field(default_factory=list)
    script: Callable[[int], Answer] | None = None
    requests: list[dict[str, str]] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def next_answer(self, query: dict[str, str]) -> Answer:
        with self.lock:
            self.requests.append(query)
            number = len(self.requests) - 1
        if self.script is not None:
            return self.script(number)
        return self.answers[min(number, len(self.answers) - 1)]


@contextmanager
def serve(replay: Replay) -> Iterator[Replay]:
    """Serve `replay` on a free loopback port until the block ends."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            answer = replay.next_answer(dict(parse_qsl(urlsplit(self.path).query)))
            if answer.stall:
                replay.released.wait(30)
                return
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    replay.url = f"http://127.0.0.1:{server.server_address[1]}/query"
    try:
        yield replay
    finally:
        replay.released.set()
        server.shutdown()
        server.server_close()
        thread.join(10)
