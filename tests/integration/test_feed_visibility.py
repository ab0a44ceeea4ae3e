"""Tier visibility at the delay boundary, with freezegun (Alpine's Feed on a SQLite file)."""

from __future__ import annotations

from pathlib import Path

from freezegun import freeze_time

from alpine.feed import Feed, FeedEvent
from alpine.migrations import upgrade
from alpine.store import SignalStore, make_engine
from alpine.tiers import DEFAULT_TIERS, Tier, load_tiers
from alpine.validation import SignalIn
from argo.timeutil import utc_now
from tests.support import signal_payload


def visible(feed: Feed, tier: Tier) -> list[FeedEvent]:
    """The tier's signals a page shows now."""
    until = feed.frontier(tier, feed.head(), utc_now())
    return [event for event, _ in feed.page(tier, until)]


def test_starter_sees_a_signal_exactly_fifteen_minutes_after_its_timestamp(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'alpine.db'}")
    upgrade(engine)
    store = SignalStore(engine)
    with freeze_time("2026-11-22 10:00:01"):
        payload = signal_payload(confidence=97.0, timestamp="2026-11-22T10:00:00.000000Z")
        store.insert(SignalIn.model_validate(payload), "key_test")
    feed = Feed(engine)
    starter, elite = DEFAULT_TIERS["starter"], DEFAULT_TIERS["elite"]
    with freeze_time("2026-11-22 10:14:59"):
        assert visible(feed, starter) == []
        assert [i.body["signal_id"] for i in visible(feed, elite)] == [payload["signal_id"]]
    with freeze_time("2026-11-22 10:15:00"):
        [item] = visible(feed, starter)
    assert item.body["signal_id"] == payload["signal_id"]
    assert "reasoning" not in item.body and "regime" not in item.body
    engine.dispose()


def test_tiers_file_overrides_the_defaults(tmp_path: Path) -> None:
    config = tmp_path / "tiers.toml"
    config.write_text(
        "[tiers.starter]\n"
        'asset_types = ["stock", "crypto"]\n'
        "delay_minutes = 5\n"
        'fields = ["reasoning"]\n'
    )
    tiers = load_tiers(str(config))
    assert tiers["starter"].asset_types == {"stock", "crypto"}
    assert tiers["starter"].delay.total_seconds() == 300
    assert tiers["starter"].min_confidence == 95
    assert tiers["pro"] == DEFAULT_TIERS["pro"]
