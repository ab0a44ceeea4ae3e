"""F12: a power-loss approximation. Many times: SIGSTOP a running `argo generate` (small
transactions, flat out), copy its database and WAL, SIGCONT it, then cut the copy's WAL
at a random byte (the unsynced tail a power cut takes). Every copy passes
`PRAGMA integrity_check`, satisfies I1 (each signal with exactly one creation event, no
event without its signal) and holds a prefix of the true history: its signals, in id
order, are the first k of the final database's, with the same content. The real
database then drains to Alpine as usual.

Where the cut may fall: a power cut never takes bytes of the WAL that a checkpoint has
already copied into the database file (SQLite fsyncs the WAL before it backfills, and
restarts the WAL only after the database is synced), so the cut is drawn between the
end of the frames a checkpoint has backfilled or is backfilling (`nBackfill` and
`nBackfillAttempted` of the WAL index, read from the copied -shm) and the end of the
file. The -shm itself is not kept: the copy is opened as after a reboot, rebuilding its
WAL index from the WAL alone."""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import struct
import time
from collections import Counter
from pathlib import Path

from argo.signals import open_signals
from tests.faults.harness import counts, wait_settled
from tests.faults.invariants import check, size
from tests.kit.alpine import Alpine
from tests.kit.pipeline import relay_env
from tests.support import spawn, stop, wait_for

SEED = int(os.environ.get("CHAOS_SEED", "20261122"))
WAL_HEADER = 32
FRAME_HEADER = 24
CONTENT = (
    "signal_id, symbol, action, entry_price, target_price, stop_price, confidence, strategy,"
    " asset_type, data_source, timestamp, sha256, reasoning, regime"
)


def _backfilled_frames(shm: Path) -> int:
    """Frames of the WAL a checkpoint has copied, or is copying, into the database file:
    max(nBackfill, nBackfillAttempted) of the WAL index's checkpoint info (native order)."""
    try:
        data = shm.read_bytes()
    except FileNotFoundError:
        return 0
    if len(data) < 136:
        return 0
    (n_backfill,) = struct.unpack_from("=I", data, 96)
    (n_attempted,) = struct.unpack_from("=I", data, 128)
    return max(n_backfill, n_attempted)


def _page_size(db: Path) -> int:
    with db.open("rb") as handle:
        header = handle.read(100)
    (size_field,) = struct.unpack_from(">H", header, 16)
    return 65536 if size_field == 1 else size_field


def _snapshot(db: Path, target: Path, rng: random.Random) -> tuple[int, int]:
    """Copy `db` and its WAL (the writer is stopped), cut the copy's WAL at a random byte
    past what the database already holds; (WAL bytes, bytes kept)."""
    target.mkdir()
    copy = target / db.name
    shutil.copyfile(db, copy)
    wal = db.with_name(db.name + "-wal")
    wal_copy = copy.with_name(copy.name + "-wal")
    shm_copy = target / "index.shm"
    if wal.exists():
        shutil.copyfile(wal, wal_copy)
    shm = db.with_name(db.name + "-shm")
    if shm.exists():
        shutil.copyfile(shm, shm_copy)
    length = wal_copy.stat().st_size if wal_copy.exists() else 0
    if length == 0:
        return 0, 0
    backfilled = _backfilled_frames(shm_copy)
    floor = WAL_HEADER + backfilled * (FRAME_HEADER + _page_size(copy)) if backfilled else 0
    floor = min(floor, length)
    keep = rng.randint(floor, length)
    with wal_copy.open("r+b") as handle:
        handle.truncate(keep)
    shm_copy.unlink(missing_ok=True)
    return length, keep


def _history(db: Path) -> list[tuple[object, ...]]:
    """The signals of `db` in commit (id) order, with their content."""
    with sqlite3.connect(db, timeout=30) as conn:
        return [tuple(r) for r in conn.execute(f"SELECT {CONTENT} FROM signals ORDER BY id")]


def _check_copy(copy: Path, truth: list[tuple[object, ...]]) -> tuple[list[str], int]:
    """Problems of one copy, and how many signals it holds."""
    problems: list[str] = []
    conn = sqlite3.connect(copy, timeout=30)
    try:
        verdict = conn.execute("PRAGMA integrity_check").fetchall()
        if [tuple(r) for r in verdict] != [("ok",)]:
            problems.append(f"integrity_check: {verdict[:3]}")
        signals = [tuple(r) for r in conn.execute(f"SELECT {CONTENT} FROM signals ORDER BY id")]
        created = Counter(
            r[0]
            for r in conn.execute(
                "SELECT signal_id FROM sync_outbox WHERE event_type = 'signal.created'"
            )
        )
        orphans = conn.execute(
            "SELECT count(*) FROM sync_outbox"
            " WHERE signal_id NOT IN (SELECT signal_id FROM signals)"
        ).fetchone()[0]
        fk = conn.execute("PRAGMA foreign_key_check").fetchall()
    finally:
        conn.close()
    ids = {s[0] for s in signals}
    unpaired = [s for s in ids if created[s] != 1]
    if unpaired:
        problems.append(f"I1: {len(unpaired)} signals without exactly one creation event")
    if orphans:
        problems.append(f"I1: {orphans} events without their signal")
    if fk:
        problems.append(f"foreign_key_check: {fk[:3]}")
    if signals != truth[: len(signals)]:
        problems.append(f"its {len(signals)} signals are not the first {len(signals)} committed")
    return problems, len(signals)


def test_f12_power_loss_copies_hold_a_prefix_of_history(
    alpine: Alpine, pg_url: str, tmp_path: Path
) -> None:
    stops = size(20, 200)
    rng = random.Random(SEED + 12)
    env = relay_env(alpine, tmp_path)
    db = tmp_path / "signals.db"
    open_signals(db).close()
    copies = tmp_path / "copies"
    copies.mkdir()
    generator = spawn(
        "argo",
        "generate",
        "--count",
        "1000000",
        "--batch-size",
        "3",
        env=env,
        log=tmp_path / "argo.log",
    )
    cuts: list[tuple[int, int]] = []
    try:
        wait_for(lambda: counts(db)[2] > 0, timeout=60, what="the generator to commit")
        for number in range(stops):
            time.sleep(rng.uniform(0.005, 0.08))  # a random instant of its run: the fault
            os.kill(generator.pid, signal.SIGSTOP)
            try:
                cuts.append(_snapshot(db, copies / f"copy-{number:03d}", rng))
            finally:
                os.kill(generator.pid, signal.SIGCONT)
        assert generator.poll() is None, "the generator ended before the last stop"
    finally:
        os.kill(generator.pid, signal.SIGCONT)
        stop(generator)
    relay = spawn("relay", "run", env=env, log=tmp_path / "relay.log")
    try:
        drain_s = wait_settled(db, timeout=300)
    finally:
        stop(relay)
    # The true history is the final database's (read after the drain: a commit the
    # generator had written to the WAL when it was stopped for good becomes visible to
    # readers only once the WAL index is rebuilt, and it belongs to the history).
    truth = _history(db)
    failures: list[str] = []
    held: list[int] = []
    for number in range(stops):
        problems, kept = _check_copy(copies / f"copy-{number:03d}" / db.name, truth)
        held.append(kept)
        failures.extend(f"copy {number}: {p}" for p in problems)
    assert not failures, "; ".join(failures[:10])
    cut_into_frames = sum(1 for length, keep in cuts if 0 < keep < length)
    check(
        "F12 power loss (SIGSTOP, copy, cut WAL)",
        db=db,
        pg_url=pg_url,
        env=env,
        n=counts(db)[2],
        faults=stops,
        drain_s=drain_s,
        notes=f"{stops} copies, each integrity ok, I1, a prefix ({min(held)}-{max(held)} of"
        f" {len(truth)} signals); {cut_into_frames} WAL cuts inside frames",
    )
