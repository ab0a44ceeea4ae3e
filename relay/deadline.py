"""One deadline over a whole POST: connect, send, status line, headers and body.

httpx's timeouts bound each socket operation, not the exchange: an answer dripped a
byte at a time, each byte inside the read timeout, keeps one attempt alive for ever.
The relay's lease must outlive every POST made under it, so each POST gets a deadline
that every socket operation under it honours. `under_deadline(seconds)` sets it for the
calling thread; the network backend of `deadline_transport()` shortens each connect,
read and write to what is left of it and fails the operation with a timeout once it is
spent (an indeterminate answer: the retry carries the same event id).
"""

from __future__ import annotations

import contextvars
import typing
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import httpcore
import httpx

from argo.outbox import steady_seconds

# steady_seconds() by which the POST of this thread must be complete; None: no deadline.
_until: contextvars.ContextVar[float | None] = contextvars.ContextVar("post_until", default=None)


@contextmanager
def under_deadline(seconds: float) -> Iterator[None]:
    """Bound every socket operation of this thread's HTTP exchange to `seconds` in all."""
    token = _until.set(steady_seconds() + seconds)
    try:
        yield
    finally:
        _until.reset(token)


def _left(timeout: float | None, error: type[httpcore.TimeoutException]) -> float | None:
    """`timeout` shortened to what is left of the deadline; raises `error` once spent."""
    until = _until.get()
    if until is None:
        return timeout
    left = until - steady_seconds()
    if left <= 0:
        raise error("the POST deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A network stream whose every operation ends by the deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: typing.Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        secured = self._inner.start_tls(
            ssl_context, server_hostname, _left(timeout, httpcore.ConnectTimeout)
        )
        return _DeadlineStream(secured)

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's own blocking backend, its streams wrapped in `_DeadlineStream`."""

    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(
            host, port, _left(timeout, httpcore.ConnectTimeout), local_address, socket_options
        )
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_unix_socket(
            path, _left(timeout, httpcore.ConnectTimeout), socket_options
        )
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def deadline_transport() -> httpx.HTTPTransport:
    """httpx's default transport with a network backend that honours `under_deadline`."""
    transport = httpx.HTTPTransport()
    # httpx offers no way to pass a network backend; its pool is the documented
    # httpcore.ConnectionPool, which reads the backend from this attribute per connection.
    transport._pool._network_backend = _DeadlineBackend()
    return transport
