"""The subscriber page in headless Chromium against a real Alpine on PostgreSQL."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from argo.signal import Action, AssetType
from tests.browser.harness import DESKTOP, TIERS, Page, Site, stamp
from tests.support import signal_payload, stop

REVOKED = "Alpine no longer accepts this token"


def ids(payloads: list[dict[str, Any]]) -> list[str]:
    return [p["signal_id"] for p in payloads]


def test_each_tier_sees_exactly_its_rows_and_fields(site: Site, page: Page) -> None:
    now = datetime.now(UTC)
    old, fresh = stamp(now - timedelta(minutes=20)), stamp(now - timedelta(minutes=1))
    a = site.ingest(confidence=96.0, timestamp=old)  # stock, high, old: everyone
    b = site.ingest(confidence=96.0, timestamp=fresh)  # too fresh for starter
    c = site.ingest(symbol="BTC-USD", asset_type=AssetType.CRYPTO, confidence=97.0, timestamp=old)
    d = site.ingest(confidence=91.0, timestamp=stamp(now - timedelta(minutes=21)))
    e = site.ingest(symbol="ETH-USD", asset_type=AssetType.CRYPTO, confidence=50.0, timestamp=old)
    newest_first = {
        "starter": ids([a]),
        "pro": ids([d, c, b, a]),
        "elite": ids([e, d, c, b, a]),
    }
    delays = {
        "starter": "starter: signals appear 15 minutes after they are made",
        "pro": "pro: signals appear as soon as they are made",
        "elite": "elite: signals appear as soon as they are made",
    }
    for tier in TIERS:
        page.sign_in(tier)
        page.wait_rows(newest_first[tier])
        assert page.by_id("tier").text.lower() == tier
        assert page.by_id("delay-text").text == delays[tier]
        assert ("regime" in page.columns()) == ("outcome" in page.columns()) == (tier == "elite")
        assert page.by_id("tab-outcomes").is_displayed() == (tier == "elite")
        page.open_detail(a["signal_id"])
        parts, fields = page.detail_parts(), page.detail_fields()
        assert {"prices", "chart", "signal"} <= parts
        assert ("reasoning" in parts) == (tier != "starter")
        assert ("outcome" in parts) == ("regime" in fields) == (tier == "elite")
        assert fields["entry_price"] == "171.25" and fields["stop_price"] == "165.00"
        assert fields["signal_id"] == a["signal_id"]
        page.driver.find_element(By.CSS_SELECTOR, "#detail [data-close]").click()
        page.by_id("signout").click()
        page.wait(lambda d: page.by_id("signin").is_displayed())
        assert page.driver.execute_script("return sessionStorage.length") == 0


def test_a_new_signal_appears_within_a_second_highlighted(site: Site, page: Page) -> None:
    earlier = site.ingest(timestamp=stamp(datetime.now(UTC) - timedelta(minutes=1)))
    page.sign_in("pro")
    page.wait_rows(ids([earlier]))
    sent_at = time.monotonic()
    new = site.ingest(timestamp=stamp(datetime.now(UTC)), entry_price=172.0)
    page.wait(lambda d: page.row_ids()[:1] == ids([new]), timeout=1.0, what="the new row")
    latency = time.monotonic() - sent_at
    print(f"\nBROWSER pro latency {latency * 1000:.0f} ms")
    first = page.driver.find_element(By.CSS_SELECTOR, "#signals-body tr")
    assert "fresh" in str(first.get_attribute("class"))
    assert page.row_ids() == ids([new, earlier])
    assert page.by_id("announce").text or page.wait(lambda d: page.by_id("announce").text)
    # Without motion: the highlight is a colour, never a transition.
    page.driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-reduced-motion", "value": "reduce"}]},
    )
    duration = page.driver.execute_script(
        "return getComputedStyle(arguments[0]).transitionDuration", first
    )
    assert duration == "0s"
    page.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})


def payload_set(count: int) -> list[dict[str, Any]]:
    base = datetime.now(UTC) - timedelta(hours=2)
    symbols = ("AAPL", "NVDA", "TSLA")
    out = []
    for i in range(count):
        sell = i % 2 == 1
        out.append(
            {
                "symbol": symbols[i % 3],
                "action": Action.SELL if sell else Action.BUY,
                "entry_price": 100.0 + i,
                "target_price": (90.0 if sell else 110.0) + i,
                "stop_price": (105.0 if sell else 95.0) + i,
                "confidence": 90.0 + (i % 10),
                "timestamp": stamp(base + timedelta(seconds=i)),
            }
        )
    return out


def test_filters_and_paging(site: Site, page: Page) -> None:
    sent = [signal_payload(**fields) for fields in payload_set(70)]
    site.ingest_many(sent)
    newest = list(reversed(sent))
    page.sign_in("elite")
    page.wait_rows(ids(newest[:50]))
    page.by_id("more").click()
    page.wait_rows(ids(newest))
    assert not page.by_id("more").is_displayed()

    page.filter(symbol="nvda")
    page.wait_rows(ids([p for p in newest if p["symbol"] == "NVDA"]))
    page.filter(action="SELL", confidence="95")
    page.wait_rows(ids([p for p in newest if p["action"] == "SELL" and p["confidence"] >= 95]))
    page.filter(symbol="TSLA", action="BUY")
    page.wait_rows(ids([p for p in newest if p["symbol"] == "TSLA" and p["action"] == "BUY"]))

    # A live signal shows only when it passes the filters.
    hidden = site.ingest(
        symbol="TSLA",
        action=Action.SELL,
        target_price=160.0,
        stop_price=175.0,
        timestamp=stamp(datetime.now(UTC)),
    )
    shown = site.ingest(symbol="TSLA", timestamp=stamp(datetime.now(UTC)))
    page.wait(lambda d: page.row_ids()[:1] == ids([shown]), what="the matching live row")
    assert hidden["signal_id"] not in page.row_ids()

    page.by_id("filters-clear").click()
    page.wait_rows(ids([shown, hidden, *newest[:48]]))

    # Keyboard: the symbol is a button; Enter opens the detail, Escape closes it.
    button = page.driver.find_element(By.CSS_SELECTOR, "#signals-body tr button")
    button.send_keys(Keys.ENTER)
    dialog = page.by_id("detail")
    page.wait(lambda d: dialog.get_attribute("open") is not None, what="the dialog open")
    assert page.driver.switch_to.active_element.get_attribute("data-close") is not None
    page.driver.switch_to.active_element.send_keys(Keys.ESCAPE)
    page.wait(lambda d: dialog.get_attribute("open") is None, what="the dialog closed")


@pytest.mark.alpine_process
def test_reconnect_after_alpine_restarts_resumes_without_gaps_or_repeats(
    site: Site, page: Page
) -> None:
    other = site.second_alpine()
    try:
        page.sign_in("elite")

        def now() -> str:
            return stamp(datetime.now(UTC))

        before = [site.ingest(timestamp=now(), entry_price=170.0 + i / 10) for i in range(3)]
        page.wait_rows(ids(before[::-1]))
        site.process.process.kill()  # Alpine dies with the stream open
        page.wait(lambda d: page.connection() == "reconnecting", what="state reconnecting")
        during = [site.ingest(other, timestamp=now(), entry_price=171.0 + i / 10) for i in range(4)]
        site.crash_and_restart()
        page.wait_live(timeout=15)
        after = [site.ingest(timestamp=now(), entry_price=172.0 + i / 10) for i in range(2)]
        everything = before + during + after
        page.wait_rows(ids(everything[::-1]))
        assert page.table_data("stream-repeats") == "0"
        assert page.table_data("stream-events") == str(len(everything))
    finally:
        stop(other.process)


def test_a_revoked_token_is_signed_out_with_a_message(site: Site, page: Page) -> None:
    site.ingest(timestamp=stamp(datetime.now(UTC) - timedelta(minutes=1)))
    page.sign_in("pro")
    assert page.site.tokens["pro"] not in page.driver.current_url
    site.revoke("pro")
    page.filter(symbol="AAPL")  # the next request answers 401
    page.wait(lambda d: page.by_id("signin").is_displayed(), what="the sign-in form")
    assert REVOKED in page.by_id("signin-message").text
    assert page.driver.execute_script("return sessionStorage.length") == 0
    assert page.row_ids() == []
    page.viewport(DESKTOP)
    page.screenshot("signed-out-desktop")
    page.by_id("token").send_keys(site.tokens["pro"], Keys.ENTER)
    page.wait(lambda d: "does not accept this token" in page.by_id("signin-message").text)
    assert page.by_id("app").is_displayed() is False
