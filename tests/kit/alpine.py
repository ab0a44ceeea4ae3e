"""Alpine in this process: `create_app` behind an in-process HTTP client, for tests of its
HTTP behaviour (no `alpine serve` child, no port, no 2 s boot). Tests that are about the
process (start-up, signals, workers, logs, the relay talking to a real socket) keep using
`tests.support.start_alpine`.

`InProcessAlpine` answers the same questions as `tests.support.AlpineServer` (`url`,
`api_key`, `api_keys`, `signing_secret`, `client()`), so a test can take either.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Protocol

import anyio
import httpx
import pytest
from fastapi import FastAPI

from alpine.app import create_app
from alpine.settings_load import settings_from_env
from tests.support import new_api_key

URL = "http://alpine.test"


class Alpine(Protocol):
    """What a test of Alpine's HTTP behaviour needs, in-process or a real server."""

    url: str
    api_keys: list[str]
    signing_secret: str | None

    @property
    def api_key(self) -> str: ...

    def client(self) -> httpx.Client: ...


@dataclass
class InProcessAlpine:
    """`create_app` of the settings `alpine serve` would read from the same environment."""

    app: FastAPI
    api_keys: list[str]
    signing_secret: str | None
    url: str = URL

    @property
    def api_key(self) -> str:
        return self.api_keys[0]

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, transport=AppTransport(self.app), timeout=10.0)

    def close(self) -> None:
        """Close the app's database connections (what stopping the process does)."""
        self.app.state.store.engine.dispose()


class AppTransport(httpx.BaseTransport):
    """A synchronous httpx transport into an ASGI app: each request runs to its end on an
    event loop of its own (httpx's `ASGITransport` is for async clients only). An
    exception in the app is its 500 answer, as from a server."""

    def __init__(self, app: FastAPI) -> None:
        self._asgi = httpx.ASGITransport(app=app, raise_app_exceptions=False)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not isinstance(request.stream, httpx.AsyncByteStream):  # a generator: sent chunked
            request.stream = _Chunks(list(request.stream))  # type: ignore[arg-type]

        async def send() -> httpx.Response:
            response = await self._asgi.handle_async_request(request)
            body = await response.aread()
            return httpx.Response(
                response.status_code, headers=response.headers, content=body, request=request
            )

        return anyio.run(send)


class _Chunks(httpx.AsyncByteStream):
    """A request body given as an iterator, handed to the app chunk by chunk."""

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            yield chunk


def in_process_alpine(
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    *,
    api_keys: list[str] | None = None,
    signing_secret: str | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> InProcessAlpine:
    """The app of `start_alpine(database_url, ..., api_keys=, signing_secret=, extra_env=)`:
    the same variables are set (with `monkeypatch`, so the key refresh reads them too)."""
    keys = api_keys or [new_api_key()]
    env = {"ALPINE_DATABASE_URL": database_url, "ALPINE_API_KEYS": ",".join(keys)}
    if signing_secret:
        env["ALPINE_SIGNING_SECRET"] = signing_secret
    env.update(extra_env or {})
    for name in os.environ:
        if name.startswith("ALPINE_") and name not in env and name != "ALPINE_TEST_DATABASE_URL":
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return InProcessAlpine(create_app(settings_from_env()), keys, signing_secret)
