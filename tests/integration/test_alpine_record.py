"""Alpine's published record, in-process on a real PostgreSQL: every event a tier reads
carries its signed chain entry, a tier that sees only some events still checks its own
and their links, hidden entries reveal no nonce, and deleting, altering, rewriting or
swapping an entry in the database is named by the subscriber's check."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from alpine import record_seal
from alpine.feed import Feed
from alpine.migrations import upgrade
from alpine.receipts import SigningKey
from alpine.record import RecordSealer
from alpine.record_check import GENESIS, ChainCheck, RecordBroken, RecordKeys, link
from alpine.store import make_engine
from alpine.validation import OutcomeIn
from argo.signal import AssetType
from tests.kit.feedsite import Site, read_all, stamp
from tests.support import wait_for


@pytest.fixture
def key() -> SigningKey:
    return SigningKey.parse(SigningKey.generate("rec-1"), "test")


@pytest.fixture
def site(pg_url: str, key: SigningKey) -> Iterator[Site]:
    made = Site(pg_url, receipt_key=key)
    yield made
    made.engine.dispose()


def keys_of(site: Site) -> RecordKeys:
    return RecordKeys.from_document(site.request("/api/v1/keys", "elite", {}).json())


def check_all(site: Site, tier: str) -> ChainCheck:
    check = ChainCheck(keys_of(site))
    for item in read_all(site, tier, limit=7):
        check.check(item)
    return check


def fill(site: Site, count: int = 16) -> list[str]:
    """`count` signals of mixed confidence and asset type; outcomes for three."""
    now = datetime.now(UTC)
    stored = [
        site.add(
            timestamp=stamp(now - timedelta(minutes=30, seconds=n)),
            confidence=96.0 if n % 2 else 80.0,  # pro sees half
            asset_type=AssetType.STOCK if n % 3 else AssetType.CRYPTO,
            symbol="AAPL" if n % 3 else "BTC-USD",
        )
        for n in range(count)
    ]
    for signal in stored[1:4]:
        outcome = OutcomeIn.model_validate(
            {
                "signal_id": signal.signal_id,
                "outcome": "win",
                "exit_price": 190.0,
                "profit_loss_pct": 4.2,
                "closed_at": stamp(now),
            }
        )
        assert site.store.apply_outcome(outcome).status.value == "applied"
    return [s.signal_id for s in stored]


def sql(site: Site, statement: str, **params: Any) -> None:
    with site.engine.begin() as conn:
        conn.execute(text(statement), params)


def test_every_tier_checks_its_own_entries_and_their_links(site: Site) -> None:
    fill(site)
    elite = read_all(site, "elite", limit=7)
    assert len(elite) == 19 and all(i["record"]["hidden"] == [] for i in elite)
    assert elite[0]["record"]["prev_hash"] == GENESIS
    assert check_all(site, "elite").checked == 19
    pro = read_all(site, "pro", limit=3)
    assert 0 < len(pro) < 19
    assert any(i["record"]["hidden"] for i in pro)  # it links through entries it cannot see
    assert check_all(site, "pro").checked == len(pro)


def test_sqlite_alpine_seals_the_same_record_in_python(tmp_path: Path, key: SigningKey) -> None:
    """SQLite has no alpine_record_seal: the Python sealer writes what subscribers check,
    across a gap left by a signal removed before sealing."""
    url = f"sqlite:///{tmp_path / 'alpine.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    made = Site(url, receipt_key=key)
    try:
        ids = fill(made)
        sql(made, "DELETE FROM signals WHERE signal_id = :id", id=ids[0])  # before sealing
        assert Feed(made.engine, RecordSealer(made.engine, key)).head() == 19
        assert check_all(made, "elite").checked == 18  # all but the removed first
    finally:
        made.engine.dispose()


def test_hidden_entries_reveal_no_nonce(site: Site) -> None:
    fill(site)
    pro = read_all(site, "pro", limit=50)  # reading seals what was stored
    with site.engine.connect() as conn:
        nonces = dict(conn.execute(text("SELECT seq, nonce FROM record_entries")).all())
    shown = {i["seq"] for i in pro}
    served = repr(pro)
    hidden = [seq for seq in nonces if seq not in shown]
    assert hidden and not any(nonces[seq] in served for seq in hidden)


def sealed(site: Site) -> list[str]:
    """Store, then let a subscriber read (the record is sealed): the signal ids."""
    ids = fill(site)
    assert check_all(site, "elite").checked == 19
    return ids


def first_broken(site: Site, tier: str) -> str:
    with pytest.raises(RecordBroken) as caught:
        check_all(site, tier)
    return str(caught.value)


def seq_of(site: Site, signal_id: str, kind: str = "signal") -> int:
    with site.engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT e.seq FROM feed_events e JOIN signals s ON s.id = e.signal_row"
                    " WHERE s.signal_id = :id AND e.kind = :kind"
                ),
                {"id": signal_id, "kind": kind},
            ).scalar_one()
        )


def test_an_altered_byte_is_named(site: Site) -> None:
    ids = sealed(site)
    sql(
        site,
        "UPDATE signals SET strategy = overlay(strategy placing 'X' from 1 for 1)"
        " WHERE signal_id = :id",
        id=ids[5],
    )
    assert first_broken(site, "elite").startswith(
        f"entry {seq_of(site, ids[5])} (signal of {ids[5]}): its content does not match"
    )


def test_a_rewritten_outcome_is_named(site: Site) -> None:
    ids = sealed(site)
    sql(site, "UPDATE signals SET profit_loss_pct = 40.0 WHERE signal_id = :id", id=ids[2])
    message = first_broken(site, "elite")
    assert message.startswith(f"entry {seq_of(site, ids[2], 'outcome')} (outcome of {ids[2]})")


def test_a_deleted_signal_breaks_the_chain_at_the_next_entry(site: Site) -> None:
    ids = sealed(site)
    gone = seq_of(site, ids[8])
    sql(site, "DELETE FROM signals WHERE signal_id = :id", id=ids[8])
    message = first_broken(site, "elite")
    assert f"entry {gone} is missing" in message or message.startswith(f"entry {gone + 1} ")
    message = first_broken(site, "pro")  # a tier that never saw it notices too
    assert "removed" in message or "does not follow" in message


def test_events_removed_before_sealing_do_not_stop_the_seal(
    site: Site, key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Gaps in the feed (events removed behind Alpine's back before they were sealed),
    wider than a seal's batch, before signals and before outcomes: every event left is
    sealed, in order, each linked to the one before it."""
    monkeypatch.setattr(record_seal, "SEAL_BATCH", 2)
    ids = fill(site)  # nothing reads: nothing is sealed yet
    kept = ids[1:4]  # the three with outcomes: positions 2..4, their outcomes 17..19
    sql(site, "DELETE FROM signals WHERE NOT (signal_id = ANY(:kept))", kept=kept)
    assert Feed(site.engine, RecordSealer(site.engine, key)).head() == 19
    with site.engine.connect() as conn:
        rows = conn.execute(text("SELECT seq, commitment, hash FROM record_entries ORDER BY seq"))
        running = GENESIS
        seqs = []
        for seq, commitment, stated in rows:
            running = link(running, commitment)
            assert running == stated, seq
            seqs.append(seq)
    assert seqs == [2, 3, 4, 17, 18, 19]


def swap_entries(site: Site, a: int, b: int) -> None:
    """Swap the signals at feed positions a and b (neither has an outcome), in steps the
    (signal_row, kind) uniqueness allows."""
    with site.engine.begin() as conn:
        rows = dict(conn.execute(text("SELECT seq, signal_row FROM feed_events")).all())
        conn.execute(text("UPDATE feed_events SET kind = 'outcome' WHERE seq = :a"), {"a": a})
        conn.execute(
            text("UPDATE feed_events SET signal_row = :r WHERE seq = :b"), {"r": rows[a], "b": b}
        )
        conn.execute(
            text("UPDATE feed_events SET signal_row = :r, kind = 'signal' WHERE seq = :a"),
            {"r": rows[b], "a": a},
        )


def test_two_swapped_entries_are_named(site: Site) -> None:
    ids = sealed(site)
    a, b = seq_of(site, ids[6]), seq_of(site, ids[7])
    swap_entries(site, a, b)
    assert first_broken(site, "elite").startswith(f"entry {a} ")


def test_concurrent_sealers_seal_each_position_once_in_order(
    site: Site, key: SigningKey, pg_url: str
) -> None:
    feeds = [Feed(site.engine, RecordSealer(site.engine, key)) for _ in range(3)]
    stop = threading.Event()

    def seal_until_stopped(feed: Feed) -> None:
        while not stop.is_set():
            feed.head()

    threads = [threading.Thread(target=seal_until_stopped, args=(f,)) for f in feeds]
    for thread in threads:
        thread.start()
    try:
        fill(site, 40)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert feeds[0].head() == 43
    with site.engine.connect() as conn:
        rows = conn.execute(text("SELECT seq, commitment, hash FROM record_entries ORDER BY seq"))
        running = GENESIS
        seqs = []
        for seq, commitment, stated in rows:
            running = link(running, commitment)
            assert running == stated, seq
            seqs.append(seq)
    assert seqs == list(range(1, 44))


def test_the_chain_head_is_served_signed(site: Site) -> None:
    assert site.request("/api/v1/record/head", "elite", {}).status_code == 404  # nothing yet
    fill(site)
    head = site.request("/api/v1/record/head", "elite", {}).json()
    assert head["seq"] == 19
    assert keys_of(site).verify(head["seq"], head["hash"], head["kid"], head["sig"]) is None
    assert read_all(site, "elite", limit=50)[-1]["record"]["hash"] == head["hash"]


def test_the_sealing_thread_seals_after_a_poke_and_stops_on_close(
    site: Site, key: SigningKey
) -> None:
    def sealing_threads() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if t.name == "record-sealer" and t.is_alive()}

    before = sealing_threads()
    fill(site, 3)
    sealer = RecordSealer(site.engine, key)
    sealer.poke()
    assert len(sealing_threads() - before) == 1
    with site.engine.connect() as conn:
        query = text("SELECT f.seq = r.seq FROM feed_head f, record_head r")
        wait_for(lambda: conn.execute(query).scalar() is True, what="the record sealed")
        conn.commit()
    sealer.close()
    sealer.poke()  # after close: no new thread
    assert sealing_threads() - before == set()
