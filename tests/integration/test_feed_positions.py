"""Positions in pages, in-process (create_app and a test client on a real PostgreSQL):
`after=` reads a tier's events in feed order, linked by `prev_seq`; a delayed tier reads
a prefix; cursors of another epoch or beyond the feed answer 409, junk 422."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from alpine.feed import Feed
from alpine.positions import Position
from alpine.tiers import DEFAULT_TIERS
from alpine.validation import OutcomeIn
from argo.signal import AssetType
from tests.kit.feedsite import Site, read_all, stamp
from tests.support import wait_for


@pytest.fixture
def site(pg_url: str) -> Iterator[Site]:
    made = Site(pg_url)
    yield made
    made.engine.dispose()


def test_after_pages_each_tier_in_feed_order_linked_by_prev_seq(site: Site) -> None:
    now = datetime.now(UTC)
    stored = [
        site.add(
            timestamp=stamp(now - timedelta(minutes=30, seconds=n)),
            confidence=96.0 if n % 2 else 91.0,
            asset_type=AssetType.STOCK if n % 3 else AssetType.CRYPTO,
            symbol="AAPL" if n % 3 else "BTC-USD",
        )
        for n in range(12)
    ]
    outcome = OutcomeIn.model_validate(
        {
            "signal_id": stored[1].signal_id,
            "outcome": "loss",
            "exit_price": 160.0,
            "profit_loss_pct": -6.6,
            "closed_at": stamp(now),
        }
    )
    assert site.store.apply_outcome(outcome).status.value == "applied"
    elite = read_all(site, "elite", limit=5)
    assert [i["seq"] for i in elite] == list(range(1, 14))
    assert [i["event"] for i in elite] == ["signal"] * 12 + ["outcome"]
    assert elite[-1]["signal_id"] == stored[1].signal_id
    for tier in ("elite", "pro", "starter"):
        items = read_all(site, tier, limit=3)
        assert [i["prev_seq"] for i in items] == [0] + [i["seq"] for i in items[:-1]]
        assert len({i["epoch"] for i in items}) == 1
    pro = read_all(site, "pro", limit=50)
    assert [i["signal_id"] for i in pro] == [s.signal_id for s in stored if s.confidence >= 90]
    assert all(i["event"] == "signal" for i in pro)  # no outcome field, no outcome event
    starter = read_all(site, "starter", limit=50)
    assert {i["asset_type"] for i in starter} == {"stock"}
    # newest-first pages carry the same positions
    page = site.request("/api/v1/signals/subscribed", "pro", {}, limit=3).json()["signals"]
    assert [(i["seq"], i["prev_seq"]) for i in page] == [
        (i["seq"], i["prev_seq"]) for i in reversed(pro[-3:])
    ]


def test_a_delayed_tier_reads_a_prefix_in_the_same_order(site: Site) -> None:
    now = datetime.now(UTC)
    old = site.add(timestamp=stamp(now - timedelta(minutes=20)), confidence=99.0)
    fresh = site.add(timestamp=stamp(now - timedelta(minutes=5)), confidence=99.0)
    older = site.add(timestamp=stamp(now - timedelta(minutes=40)), confidence=99.0)
    feed, starter = Feed(site.engine), DEFAULT_TIERS["starter"]
    head = feed.head()
    assert feed.frontier(starter, head, now) == 1  # `older` waits behind `fresh`
    assert [i["signal_id"] for i in read_all(site, "starter", limit=10)] == [old.signal_id]
    later = now + timedelta(minutes=10, seconds=1)
    assert feed.frontier(starter, head, later) == 3
    events = feed.window(starter, 0, feed.frontier(starter, head, later), 10)
    assert [e.body["signal_id"] for e in events] == [s.signal_id for s in (old, fresh, older)]


def test_a_stream_id_of_the_feed_before_positions_resumes_after_its_signal(site: Site) -> None:
    first = site.add(timestamp="2026-11-30T00:00:00.000001Z")
    second = site.add(timestamp="2026-11-30T00:00:00.000002Z")
    row = site.store.insert(first, "key_test").alpine_signal_id  # the duplicate's row id
    body = site.get("elite", after=f"1764460800000000.1764460800250000.{row}").json()
    assert [i["signal_id"] for i in body["events"]] == [second.signal_id]
    assert site.get("elite", after="1.2.999999").status_code == 422  # no such row


def test_cursors_of_another_epoch_or_beyond_the_feed_are_refused_with_a_reason(
    site: Site,
) -> None:
    site.add(timestamp="2026-11-30T00:00:00.000001Z")
    [item] = read_all(site, "elite", limit=10)
    assert site.get("elite", after=item["cursor"]).json()["events"] == []
    beyond = Position(item["epoch"], 99).cursor
    answer = site.get("elite", after=beyond)
    assert answer.status_code == 409 and "rewound" in answer.json()["detail"]
    with site.engine.begin() as conn:
        conn.execute(text("UPDATE feed_head SET epoch = 'restored'"))
    refused = wait_for(  # the app reads its epoch again within a second
        lambda: (a := site.get("elite", after=item["cursor"])).status_code == 409 and a,
        timeout=10,
        what="the new epoch to be seen",
    )
    assert "epoch" in refused.json()["detail"] and "after=start" in refused.json()["detail"]
    stream = site.request("/api/v1/signals/stream", "elite", {"Last-Event-ID": item["cursor"]})
    assert stream.status_code == 409
    answer = site.request("/api/v1/signals/stream", "elite", {"Last-Event-ID": "junk"})
    assert answer.status_code == 422
    answer = site.get("elite", after="junk")
    assert answer.status_code == 422 and "not one this API returned" in answer.json()["detail"]
    answer = site.get("elite", after="start", symbol="AAPL")
    assert answer.status_code == 422
