"""One server-sent-events stream, written by the live feed itself (alpine/livefeed.py).

An idle stream costs its ASGI call, which only waits for the client to go away
(`until_closed`), and an `SseStream`: no queue, no reader task, nothing to wake. The
feed's loop hands each batch to every stream of the tier (`deliver`), and the stream
writes it in place: an ASGI `send` of a body chunk finishes without suspending unless
the connection's write buffer is full, so `deliver` drives the `send` coroutine itself.
Only when that send has to wait (a slow reader) does the stream get a writer task: it
finishes that send, then writes the batches that arrived meanwhile, kept in order.
A stream QUEUE_BATCHES batches behind is closed, as a full queue closed it before: it
writes what it holds, ends its response, and the subscriber resumes with
Last-Event-ID.

Until `flush` first returns (the stream's start and its catch-up) batches are only
kept, so they follow what the catch-up wrote.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Generator
from typing import Any

from starlette.types import Receive, Send

from alpine.livefeed import HEARTBEAT, HEARTBEAT_TEXT, QUEUE_BATCHES, Batch

log = logging.getLogger("alpine.sse")

HEARTBEAT_DATA = HEARTBEAT_TEXT.encode()
HEADERS = [
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
    (b"content-type", b"text/event-stream; charset=utf-8"),
]


Steps = Generator[Any, None, None]  # an awaitable's `__await__()`


class _Resumed:
    """Awaits the rest of an awaitable that was started elsewhere and is now waiting on
    `waiting` (what its last step yielded), as if it had been awaited from the start."""

    __slots__ = ("_steps", "_waiting")

    def __init__(self, steps: Steps, waiting: Any) -> None:
        self._steps = steps
        self._waiting = waiting

    def __await__(self) -> Steps:
        coro, waiting = self._steps, self._waiting
        self._waiting = None
        while True:
            try:
                yield waiting
            except BaseException as exc:  # cancelled, say: the coroutine sees it
                try:
                    waiting = coro.throw(exc)
                except StopIteration:
                    return
            else:
                try:
                    waiting = coro.send(None)
                except StopIteration:
                    return


class SseStream:
    """A subscriber's open stream: `deliver` (the feed) writes, `flush` starts it."""

    __slots__ = ("_backlog", "_send", "_task", "_writer", "closed", "error", "last", "overflowed")

    def __init__(self, send: Send) -> None:
        self._send = send
        self._task = asyncio.current_task()  # the ASGI call: told when a write fails
        self._backlog: deque[Batch] | None = deque()  # None: write in place
        self._writer: asyncio.Task[None] | None = None
        self.last = 0  # the position of the last event written (or skipped as older)
        self.overflowed = False
        self.closed = False
        self.error: Exception | None = None

    async def start(self) -> None:
        """The response's head: status and headers."""
        await self._send({"type": "http.response.start", "status": 200, "headers": HEADERS})

    async def write(self, data: bytes) -> None:
        await self._send({"type": "http.response.body", "body": data, "more_body": True})

    def deliver(self, batch: Batch) -> bool:
        if self.closed:
            return False
        backlog = self._backlog
        if backlog is not None:
            if len(backlog) >= QUEUE_BATCHES:
                self.overflowed = True
                return False
            backlog.append(batch)
            return True
        data = self._data(batch)
        if not data:
            return True
        message = {"type": "http.response.body", "body": data, "more_body": True}
        sending = self._send(message).__await__()
        try:
            waiting = sending.send(None)
        except StopIteration:
            return True  # written
        except Exception as exc:
            self._fail(exc)
            return False
        self._backlog = deque()  # what comes next waits behind this write
        self._writer = asyncio.get_running_loop().create_task(self._finish(sending, waiting))
        return True

    async def flush(self) -> None:
        """Write the batches kept so far, oldest first; then write in place, or, behind
        by QUEUE_BATCHES batches, end the response."""
        backlog = self._backlog
        while backlog and not self.closed:
            data = self._data(backlog.popleft())
            if data:
                await self.write(data)
        self._writer = None
        if self.closed:
            return
        if self.overflowed:
            self.closed = True
            await self._send({"type": "http.response.body", "body": b"", "more_body": False})
        else:
            self._backlog = None

    async def until_closed(self, receive: Receive) -> None:
        """Wait until the client goes away, or the response ended (ASGI then answers
        `http.disconnect` as well); raise what a write of the feed's raised."""
        try:
            while (await receive())["type"] != "http.disconnect":
                pass
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is None:
                raise
            if self.error is not None:
                task.uncancel()
                raise self.error from None
            if self._writer is not None or self.closed:
                raise
            # The server stops (uvicorn cancels what is open once its graceful shutdown
            # times out): end the response rather than raise into it, which logs a
            # traceback per stream. Nothing is being written, so nothing is cut short;
            # the subscriber resumes with Last-Event-ID.
            task.uncancel()
            self.closed = True
            await self._send({"type": "http.response.body", "body": b"", "more_body": False})

    async def close(self) -> None:
        """No more writes; a writer still waiting on the connection is cancelled."""
        self.closed = True
        writer, self._writer = self._writer, None
        if writer is not None and not writer.done():
            writer.cancel()
            try:
                await writer
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise  # we are being cancelled ourselves

    def _data(self, batch: Batch) -> bytes:
        if batch is HEARTBEAT:
            return HEARTBEAT_DATA
        data = batch.data_after(self.last)
        self.last = max(self.last, batch.events[-1][0])
        return data

    async def _finish(self, sending: Steps, waiting: Any) -> None:
        try:
            await _Resumed(sending, waiting)
            await self.flush()
        except Exception as exc:
            self._fail(exc)

    def _fail(self, exc: Exception) -> None:
        """A write raised: the stream's ASGI call raises it (the server logs it and
        drops the connection), as it would have raised writing there itself."""
        log.debug("stream write failed: %r", exc)
        self.closed = True
        self.error = exc
        if self._task is not None:
            self._task.cancel()
