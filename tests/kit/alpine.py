"""Alpine in this process: `create_app` behind an in-process HTTP client, for tests of its
HTTP behaviour (no `alpine serve` child, no port, no 2 s boot), or served by uvicorn from a
thread (`served_alpine`) where a test needs a socket (streams, a relay process). Tests
that are about the process (start-up, signals, workers, logs, kills, restarts) keep using
`tests.support.start_alpine`.

`InProcessAlpine` answers the same questions as `tests.support.AlpineServer` (`url`,
`api_key`, `api_keys`, `signing_secret`, `client()`), so a test can take either.
"""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Protocol

import anyio
import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from alpine.app import create_app
from alpine.cli import GRACE_SECONDS
from alpine.settings_load import settings_from_env
from alpine.store import make_engine
from alpine.subscriber_store import SubscriberStore
from tests.support import free_port, new_api_key, wait_for

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
    keys, env = _variables(database_url, api_keys, signing_secret, extra_env)
    for name in os.environ:
        if name.startswith("ALPINE_") and name not in env and name != "ALPINE_TEST_DATABASE_URL":
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return InProcessAlpine(create_app(settings_from_env()), keys, signing_secret)


def _variables(
    database_url: str,
    api_keys: list[str] | None,
    signing_secret: str | None,
    extra_env: Mapping[str, str] | None,
) -> tuple[list[str], dict[str, str]]:
    """The keys, and the ALPINE_* variables `start_alpine` gives its child."""
    keys = api_keys or [new_api_key()]
    env = {"ALPINE_DATABASE_URL": database_url, "ALPINE_API_KEYS": ",".join(keys)}
    if signing_secret:
        env["ALPINE_SIGNING_SECRET"] = signing_secret
    env.update(extra_env or {})
    return keys, env


@dataclass
class ServedAlpine:
    """`create_app` served by uvicorn on a loopback port from a thread of this process:
    a real socket (streams, a relay child process, a browser) without `alpine serve`'s
    interpreter start. Answers what `tests.support.AlpineServer` answers, but `process`."""

    app: FastAPI
    api_keys: list[str]
    signing_secret: str | None
    url: str
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def api_key(self) -> str:
        return self.api_keys[0]

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10.0)

    def close(self) -> None:
        """Stop serving (open streams get `alpine serve`'s grace), then close the app's
        database connections."""
        self.server.should_exit = True
        self.thread.join(GRACE_SECONDS + 10)
        assert not self.thread.is_alive(), "uvicorn did not stop"
        self.app.state.store.engine.dispose()


def served_alpine(
    database_url: str,
    *,
    api_keys: list[str] | None = None,
    signing_secret: str | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> ServedAlpine:
    """The app of `start_alpine(database_url, ..., api_keys=, signing_secret=, extra_env=)`,
    served as `alpine serve` serves it (uvicorn, no access log, the same shutdown grace)
    on a free port; healthy when returned. Its settings come from those variables alone,
    not from this process's environment, so the children a test starts (a relay) do not
    inherit them; the key refresh, reading this environment, keeps the keys in force."""
    keys, env = _variables(database_url, api_keys, signing_secret, extra_env)
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("ALPINE_")}
    app = create_app(settings_from_env(inherited | env))
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        access_log=False,
        log_level="warning",
        log_config=None,  # leave this process's logging as the test set it
        timeout_graceful_shutdown=GRACE_SECONDS,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"alpine-{port}", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    served = ServedAlpine(app, keys, signing_secret, url, server, thread)

    def healthy() -> bool:
        if not thread.is_alive():
            raise AssertionError("uvicorn stopped before it served")
        try:
            return httpx.get(f"{url}/api/v1/argo/sync/health", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(healthy, timeout=30, interval=0.01, what="alpine to become healthy")
    return served


def add_subscribers(database_url: str, tiers: Mapping[str, str]) -> dict[str, str]:
    """{name: tier} added as `alpine subscribers add` adds them (its store, in this
    process); {name: bearer token}."""
    engine = make_engine(database_url)
    try:
        store = SubscriberStore(engine)
        return {name: store.add(name, tier) for name, tier in tiers.items()}
    finally:
        engine.dispose()
