"""`relay status` for a person: a verdict first, human ages, what to do next. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from argo.outbox import OutboxStatus, Worker, WorkerState

BEHIND_SECONDS = 60.0


def ago(moment: datetime, now: datetime) -> str:
    """`just now`, `42 s ago`, `3 min ago`, `5 h ago`, `2 d ago`."""
    seconds = (now - moment).total_seconds()
    if seconds < 0:
        return "in the future (clock skew?)"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return "just now"


def span(seconds: float) -> str:
    """`0.4 s`, `3 min`, `2 h` for a duration."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@dataclass(frozen=True, slots=True)
class Verdict:
    """The first line: one word for the state, a colour, and what to do next."""

    text: str
    colour: str  # green, yellow, red
    next_steps: tuple[str, ...]


def verdict(status: OutboxStatus, workers: list[Worker], now: datetime) -> Verdict:
    """The state of delivery, from the worst news down."""
    backlog = status.backlog
    alive = [w for w in workers if w.alive(now)]
    paused = [w for w in alive if w.state is WorkerState.PAUSED]
    lag = (
        (now - backlog.oldest_pending_created_at).total_seconds()
        if (backlog.oldest_pending_created_at)
        else 0.0
    )
    steps = []
    if backlog.dead:
        steps.append(f"{backlog.dead} dead letter(s): `relay dead list`, then retry or discard")
    if backlog.parked:
        steps.append(f"{backlog.parked} later event(s) parked behind a dead creation")
    if not alive and backlog.pending:
        return Verdict(
            "no relay running",
            "red",
            (
                "start it: `systemctl start argo-relay`; why: `journalctl -u argo-relay`",
                *steps,
            ),
        )
    if paused:
        reason = (paused[0].detail or "").removeprefix("paused: ")
        return Verdict(
            f"paused: {reason}",
            "red",
            ("fix the setting it names; the relay retries by itself every minute", *steps),
        )
    outage = next((w.detail for w in alive if w.detail and w.detail.startswith("outage")), None)
    if outage:
        return Verdict(
            f"Alpine unavailable, backing off ({outage.removeprefix('outage: ')})",
            "yellow",
            ("check Alpine: `curl $ALPINE_API_URL/api/v1/argo/sync/health`", *steps),
        )
    if lag > BEHIND_SECONDS:
        return Verdict(f"behind: oldest pending {span(lag)}", "yellow", tuple(steps))
    if not alive:
        return Verdict("idle: everything delivered, no relay running", "yellow", tuple(steps))
    word = "delivering" if backlog.pending else "idle: everything delivered"
    return Verdict(word, "yellow" if steps else "green", tuple(steps))


def render(status: OutboxStatus, workers: list[Worker], now: datetime) -> list[tuple[str, str]]:
    """(label, text) lines under the verdict."""
    backlog = status.backlog
    alive = [w for w in workers if w.alive(now)]
    lag = (
        (now - backlog.oldest_pending_created_at).total_seconds()
        if (backlog.oldest_pending_created_at)
        else 0.0
    )
    relays = ", ".join(_relay(w, now) for w in alive) or "none"
    lines = [
        ("relays", f"{len(alive)} running: {relays}"),
        (
            "backlog",
            f"{backlog.pending} pending, {backlog.in_flight} in flight, lag {span(max(lag, 0))}",
        ),
        ("dead", f"{backlog.dead} dead letter(s), {backlog.parked} parked"),
    ]
    last = f", last {ago(status.last_delivered_at, now)}" if status.last_delivered_at else ""
    lines.append(("delivered", f"{status.delivered}{last}"))
    if status.last_freshness_seconds is not None:
        lines.append(
            (
                "freshness",
                f"the last signal reached Alpine {span(status.last_freshness_seconds)}"
                " after it was made",
            )
        )
    if status.table is not None:
        table = status.table
        vacuumed = f", vacuumed {ago(table.last_vacuum, now)}" if table.last_vacuum else ""
        lines.append(
            (
                "table",
                f"{table.total_bytes / 1e6:.1f} MB, {table.live_rows} live,"
                f" {table.dead_rows} dead tuples{vacuumed}",
            )
        )
    if status.last_error:
        lines.append(("last error", status.last_error))
        if status.last_error_event:
            event = status.last_error_event
            lines.append(("attempts", f"relay attempts {event}  (every POST of that event)"))
    return lines


def _relay(worker: Worker, now: datetime) -> str:
    """`host:relay-0 (pid 4242 on host, 3 s ago)`; SQLite records no pid."""
    where = f"pid {worker.pid} on {worker.host}, " if worker.pid is not None else ""
    return f"{worker.worker_id} ({where}{ago(worker.heartbeat_at, now)})"
