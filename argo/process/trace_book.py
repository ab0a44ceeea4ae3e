"""Spans of things on their way to a commit (a signal from its bar to its transaction, an
outcome), kept by key until the commit that writes their `traceparent` ends them.

Used by `argo run` only when tracing is on (`Tracing.on`); a key's span survives a failed
transaction and ends at the commit that finally writes it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Iterable, Mapping, Sequence

from argo.process.spans import AttributeValue, Span, Tracing

log = logging.getLogger(__name__)

Phase = tuple[str, int, int]
"""A child span: its name, start and end (nanoseconds since the epoch)."""


class TraceBook:
    """Open root spans by key (a signal id)."""

    def __init__(self, tracing: Tracing) -> None:
        self._tracing = tracing
        self._open: dict[str, Span] = {}

    def begin(
        self,
        key: str,
        name: str,
        start_ns: int,
        attributes: Mapping[str, AttributeValue],
        phases: Sequence[Phase] = (),
    ) -> None:
        """Start `key`'s root span at `start_ns`, with a finished child for each phase
        (a key already open keeps its span: a retried commit continues it)."""
        if key in self._open:
            return
        root = self._tracing.start(name, start_ns=start_ns, attributes=attributes)
        for phase, started, ended in phases:
            self._tracing.start(phase, parent=root, start_ns=started).end(ended)
        self._open[key] = root

    def traces(self, keys: Iterable[str]) -> dict[str, str]:
        """The `traceparent` of each open key among `keys` (what its outbox row stores)."""
        return {key: self._open[key].traceparent for key in keys if key in self._open}

    def committed(self, keys: Iterable[str], started_ns: int, stored: Collection[str]) -> None:
        """End each open key's span with a `commit` child from `started_ns` to now;
        `argo.stored` says whether the transaction wrote it (False: it was already stored)."""
        ended = time.time_ns()
        for key in keys:
            root = self._open.pop(key, None)
            if root is None:
                continue
            self._tracing.start("commit", parent=root, start_ns=started_ns).end(ended)
            root.set("argo.stored", key in stored)
            with self._tracing.current(root):
                log.debug("committed %s", key, extra={"event": "traced_commit", "key": key})
            root.end(ended)

    def __len__(self) -> int:
        return len(self._open)
