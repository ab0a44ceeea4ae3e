"""Send one claimed window: the batch endpoint first, single POSTs where it cannot
decide, several POSTs in flight, the lease renewed while they are out."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import replace
from functools import partial
from typing import TypeVar

from argo.outbox import OutboxRow, steady_seconds
from relay.classify import batch_falls_back
from relay.deliver import BATCHABLE, MAX_BATCH, Deliverer
from relay.fate import Answer, Reply, Sent, Try

T = TypeVar("T")
KeepAlive = Callable[[], frozenset[int]]
"""Renews the window's lease; returns the ids of the rows it still holds."""

_NOT_SENT_STOPPING = Reply(Answer.NOT_SENT, "stopping")
_NOT_SENT_LOST = Reply(Answer.NOT_SENT, "lease lost before sending")


class WindowSender:
    """POSTs the rows of one claim and returns every row's reply, in row order."""

    def __init__(
        self,
        deliverer: Deliverer,
        *,
        use_batch_endpoint: bool,
        posts_in_flight: int,
        renew_every_seconds: float,
        inline_single: bool = False,
    ) -> None:
        self._deliverer = deliverer
        self._inline_single = inline_single
        self._use_batch = use_batch_endpoint
        self._in_flight = max(1, posts_in_flight)
        self._renew_every = renew_every_seconds
        self._pool = ThreadPoolExecutor(max_workers=self._in_flight, thread_name_prefix="post")

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def send(
        self, rows: Sequence[OutboxRow], stop: threading.Event, keep_alive: KeepAlive
    ) -> list[Sent]:
        """Every row's reply; rows not sent (stopping, lease lost) get NOT_SENT."""
        window = _Window(self._renew_every, keep_alive, {r.id for r in rows}, self._inline_single)
        replies: dict[int, Reply] = {}
        earlier: dict[int, tuple[Try, ...]] = {}  # batch POSTs of rows then sent one by one
        batchable = [r for r in rows if r.event_type == BATCHABLE]
        if self._use_batch and len(batchable) > 1:
            for start in range(0, len(batchable), MAX_BATCH):
                chunk = batchable[start : start + MAX_BATCH]
                (answers,) = window.run(self._pool, [partial(self._deliverer.send_batch, chunk)])
                if _whole(answers) and batch_falls_back(answers[0]):
                    earlier.update((row.id, answers[0].tries) for row in chunk)
                else:
                    replies.update(
                        (row.id, reply) for row, reply in zip(chunk, answers, strict=True)
                    )
        singles = [r for r in rows if r.id not in replies]
        for start in range(0, len(singles), self._in_flight):
            chunk = singles[start : start + self._in_flight]
            if stop.is_set():
                replies.update((r.id, _NOT_SENT_STOPPING) for r in chunk)
                continue
            window.renew_if_due()
            lost = [r for r in chunk if r.id not in window.held]
            replies.update((r.id, _NOT_SENT_LOST) for r in lost)
            chunk = [r for r in chunk if r.id in window.held]
            singles_sent = window.run(self._pool, [partial(self._deliverer.send, r) for r in chunk])
            replies.update(zip((r.id for r in chunk), singles_sent, strict=True))
        return [Sent(row, _after(earlier.get(row.id, ()), replies[row.id])) for row in rows]


def _after(tries: tuple[Try, ...], reply: Reply) -> Reply:
    return replace(reply, tries=tries + reply.tries) if tries else reply


def _whole(replies: list[Reply]) -> bool:
    return all(r == replies[0] for r in replies)


class _Window:
    """Runs POSTs in the pool, renewing the lease every `renew_every` seconds meanwhile."""

    def __init__(
        self, renew_every: float, keep_alive: KeepAlive, held: set[int], inline_single: bool
    ) -> None:
        self._inline_single = inline_single
        self._renew_every = renew_every
        self._keep_alive = keep_alive
        self._renew_at = steady_seconds() + renew_every
        self.held = frozenset(held)

    def renew_if_due(self) -> None:
        if steady_seconds() >= self._renew_at:
            self.held = self._keep_alive()
            self._renew_at = steady_seconds() + self._renew_every

    def run(self, pool: ThreadPoolExecutor, calls: Sequence[Callable[[], T]]) -> list[T]:
        """Run `calls` at once in `pool`; their results in order. A lone call runs in this
        thread when every POST ends well inside the lease (no renewal needed): it saves a
        thread hand-off on the path of a fresh signal."""
        if self._inline_single and len(calls) == 1:
            return [calls[0]()]
        futures: list[Future[T]] = [pool.submit(call) for call in calls]
        pending: set[Future[T]] = set(futures)
        while pending:
            timeout = max(self._renew_at - steady_seconds(), 0.0)
            _, pending = wait(pending, timeout=timeout, return_when=FIRST_EXCEPTION)
            if pending:
                self.renew_if_due()
        return [f.result() for f in futures]
