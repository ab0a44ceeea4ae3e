"""LISTEN alpine_signals: one connection per process that wakes the live feed.

The notification is sent by a trigger in the inserting transaction
(schema/alpine/postgresql/0004_live_feed_notify.sql), so it arrives after commit.
It carries no data: the feed reads the table. While the connection is down the
feed polls, and a reconnect wakes it once to catch up.
"""

from __future__ import annotations

import asyncio
import logging

import psycopg
from sqlalchemy.engine import URL

log = logging.getLogger("alpine.listener")

CHANNEL = "alpine_signals"
RETRY_SECONDS = 1.0


class NotifyListener:
    """Sets `wake` on every notification; `connected` says whether it is listening."""

    def __init__(self, url: URL, wake: asyncio.Event) -> None:
        self._conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._wake = wake
        self.connected = False

    async def run(self) -> None:
        """Listen for ever, reconnecting after a failure."""
        while True:
            try:
                await self._listen()
            except (psycopg.Error, OSError) as exc:
                log.warning("live feed listener lost: %s", exc, extra={"event": "listener_down"})
            self.connected = False
            await asyncio.sleep(RETRY_SECONDS)

    async def _listen(self) -> None:
        conn = await psycopg.AsyncConnection.connect(
            self._conninfo, autocommit=True, application_name="alpine-listener"
        )
        async with conn:
            await conn.execute(f"LISTEN {CHANNEL}")
            self.connected = True
            self._wake.set()  # whatever was committed while nobody listened
            async for _ in conn.notifies():
                self._wake.set()
