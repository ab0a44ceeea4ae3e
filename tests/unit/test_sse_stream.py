"""SseStream (alpine/sse.py) with a fake ASGI send that blocks while the connection is
not writable: a slow reader keeps its order, falls behind and is ended at the overflow
bound; a failing write raises in the stream's call; a disconnect cancels a waiting
writer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from alpine.livefeed import HEARTBEAT, Batch
from alpine.sse import SseStream


def batch(seq: int) -> Batch:
    return Batch(((seq, f"id: {seq}\n\n"),))


async def until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    """Yield to the loop until `condition` holds (bounded)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0)


class Connection:
    """An ASGI send/receive pair whose writes wait while `writable` is clear."""

    def __init__(self) -> None:
        self.out: list[dict[str, Any]] = []
        self.writable = asyncio.Event()
        self.writable.set()
        self.gone = asyncio.Event()

    async def send(self, message: dict[str, Any]) -> None:
        await self.writable.wait()
        self.out.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            self.gone.set()

    async def receive(self) -> dict[str, Any]:
        await self.gone.wait()
        return {"type": "http.disconnect"}

    def seqs(self) -> list[int]:
        bodies = [m.get("body", b"") for m in self.out[1:]]
        return [int(b.split()[1]) for b in bodies if b.startswith(b"id:")]


async def serve(conn: Connection, streams: list[SseStream], caught_up_to: int) -> None:
    """What the stream endpoint does: start, catch up, flush, wait for the client."""
    stream = SseStream(conn.send)  # type: ignore[arg-type]
    streams.append(stream)
    stream.deliver(batch(1))  # arrives during the start and catch-up: kept
    stream.deliver(batch(2))
    await stream.start()
    await stream.write(b"retry: 2000\n\n")
    stream.last = caught_up_to
    await stream.flush()
    await stream.until_closed(conn.receive)  # type: ignore[arg-type]
    await stream.close()


def test_a_slow_reader_keeps_order_and_is_ended_behind_the_bound() -> None:
    async def run() -> None:
        conn, streams = Connection(), []
        task = asyncio.create_task(serve(conn, streams, caught_up_to=1))
        await until(lambda: bool(streams) and streams[0]._backlog is None)
        stream = streams[0]
        assert stream.deliver(batch(3)) and stream.deliver(HEARTBEAT)
        conn.writable.clear()  # the subscriber stops reading
        assert stream.deliver(batch(4)) and stream._writer is not None
        seq = 5
        while stream.deliver(batch(seq)):
            seq += 1
        assert stream.overflowed
        conn.writable.set()
        await asyncio.wait_for(task, 5)
        assert conn.seqs() == list(range(2, seq))  # 1 was caught up; in order, no repeat
        assert conn.out[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
        assert any(m.get("body") == b": heartbeat\n\n" for m in conn.out)

    asyncio.run(run())


def test_a_failing_write_raises_in_the_streams_call() -> None:
    async def run() -> None:
        async def broken(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body" and message["body"].startswith(b"id"):
                raise OSError("connection reset")

        never = asyncio.Event()

        async def receive() -> dict[str, Any]:
            await never.wait()
            return {}

        streams: list[SseStream] = []

        async def call() -> None:
            stream = SseStream(broken)  # type: ignore[arg-type]
            streams.append(stream)
            await stream.start()
            await stream.flush()
            await stream.until_closed(receive)  # type: ignore[arg-type]

        task = asyncio.create_task(call())
        await until(lambda: bool(streams) and streams[0]._backlog is None)
        assert not streams[0].deliver(batch(9))
        with pytest.raises(OSError, match="connection reset"):
            await asyncio.wait_for(task, 5)

    asyncio.run(run())


def test_a_disconnect_cancels_a_waiting_writer() -> None:
    async def run() -> None:
        conn, streams = Connection(), []
        task = asyncio.create_task(serve(conn, streams, caught_up_to=2))
        await until(lambda: bool(streams) and streams[0]._backlog is None)
        stream = streams[0]
        conn.writable.clear()
        assert stream.deliver(batch(50)) and stream._writer is not None
        writer = stream._writer
        conn.gone.set()
        await asyncio.wait_for(task, 5)
        assert writer.cancelled() and not stream.deliver(batch(51))

    asyncio.run(run())
