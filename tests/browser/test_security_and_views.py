"""Headers, origins and the token's whereabouts; the outcome view; screenshots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from selenium.common.exceptions import JavascriptException
from selenium.webdriver.common.by import By

from argo.signal import Action, AssetType, Regime
from tests.browser.harness import DESKTOP, PHONE, Page, Site, stamp
from tests.support import signal_payload


def test_page_and_assets_carry_a_strict_csp(site: Site) -> None:
    with httpx.Client(base_url=site.url) as client:
        page = client.get("/")
        assets = [client.get(f"/web/{name}") for name in ("app.js", "app.css", "favicon.svg")]
        missing = client.get("/web/nothing.js")
        escape = client.get("/web/..%2Fwebapp.py")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    for directive in (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'none'",
    ):
        assert directive in csp
    assert "unsafe" not in csp and "http" not in csp
    assert "<script>" not in page.text and " style=" not in page.text
    for answer in assets:
        assert answer.status_code == 200
        assert answer.headers["content-security-policy"] == csp
        assert answer.headers["x-content-type-options"] == "nosniff"
    assert [a.headers["content-type"].split(";")[0] for a in assets] == [
        "text/javascript",
        "text/css",
        "image/svg+xml",
    ]
    assert missing.status_code == 404 and escape.status_code == 404


@pytest.mark.alpine_process
def test_the_token_stays_out_of_urls_and_nothing_leaves_the_origin(site: Site, page: Page) -> None:
    site.ingest(timestamp=stamp(datetime.now(UTC) - timedelta(minutes=1)))
    page.sign_in("elite")
    token = site.tokens["elite"]
    urls: list[str] = page.driver.execute_script(
        "return [location.href, ...performance.getEntriesByType('resource').map(e => e.name)]"
    )
    assert urls and all(u.startswith(site.url + "/") for u in urls), urls
    assert not any(token in u for u in urls)
    assert page.driver.execute_script("return sessionStorage.getItem('alpine.token')") == token
    assert page.driver.execute_script("return localStorage.length") == 0
    assert token not in site.process.log.read_text()
    # Trusted Types refuse script URLs set from script; the CSP refuses other origins.
    with pytest.raises(JavascriptException, match="TrustedScriptURL"):
        page.driver.execute_script("document.createElement('script').src = 'data:,1'")
    page.driver.execute_script(
        "const i = document.createElement('img'); i.src = 'http://127.0.0.2:9/x.png';"
        "document.body.append(i)"
    )
    page.wait(
        lambda d: any("Content Security Policy" in e for e in page.console_errors()),
        what="the CSP to refuse an image from another origin",
    )


def seed_history(site: Site) -> list[dict[str, Any]]:
    """Two days of signals across symbols, most of them closed with an outcome."""
    start = datetime.now(UTC) - timedelta(days=2)
    plan = [
        ("AAPL", Action.BUY, 171.25, 180.5, 165.0, 96.5, "win", 5.4),
        ("NVDA", Action.BUY, 131.8, 140.0, 127.0, 93.0, "loss", -3.6),
        ("BTC-USD", Action.SELL, 97250.0, 93000.0, 99500.0, 91.5, "win", 4.4),
        ("TSLA", Action.SELL, 338.4, 320.0, 348.0, 97.2, "win", 5.4),
        ("MSFT", Action.BUY, 422.1, 440.0, 412.0, 88.0, "expired", 0.7),
        ("ETH-USD", Action.BUY, 3410.0, 3600.0, 3300.0, 95.4, "loss", -3.2),
        ("AAPL", Action.SELL, 174.0, 168.0, 177.5, 92.3, "win", 3.4),
        ("NVDA", Action.BUY, 129.5, 137.0, 125.5, 98.1, "win", 5.8),
        ("TSLA", Action.BUY, 331.0, 350.0, 322.0, 90.6, "loss", -2.7),
        ("BTC-USD", Action.BUY, 95100.0, 99800.0, 93000.0, 96.0, "win", 4.9),
        ("MSFT", Action.SELL, 425.0, 410.0, 431.0, 94.4, "win", 3.5),
        ("AAPL", Action.BUY, 170.2, 178.0, 166.0, 97.7, None, None),
        ("ETH-USD", Action.SELL, 3480.0, 3300.0, 3560.0, 93.9, None, None),
        ("NVDA", Action.SELL, 134.0, 127.0, 137.5, 95.8, None, None),
    ]
    regimes = (Regime.BULL, Regime.CHOP, Regime.BEAR)
    sent = []
    for i, (symbol, action, entry, target, stop, conf, outcome, pnl) in enumerate(plan):
        made = start + timedelta(hours=3 * i)
        crypto = symbol.endswith("-USD")
        payload = signal_payload(
            symbol=symbol,
            action=action,
            entry_price=entry,
            target_price=target,
            stop_price=stop,
            confidence=conf,
            timestamp=stamp(made),
            regime=regimes[i % 3],
            asset_type=AssetType.CRYPTO if crypto else AssetType.STOCK,
            strategy="weighted-consensus",
            data_source="synthetic",
            reasoning=f"{symbol}: 4 of 5 sources agree on {action.value}; momentum and volume"
            " confirm; stop below the last swing.",
        )
        sent.append(payload)
        site.ingest_many([payload])
        if outcome and pnl is not None:
            exit_price = target if outcome == "win" else stop if outcome == "loss" else entry
            site.close_signal(
                payload["signal_id"], outcome, exit_price, pnl, stamp(made + timedelta(hours=2))
            )
    return sent


def test_outcome_view_and_screenshots(site: Site, page: Page) -> None:
    sent = seed_history(site)
    page.viewport(DESKTOP)
    page.open()
    page.wait(lambda d: page.by_id("token").is_displayed())
    page.screenshot("signin-desktop")

    page.sign_in("elite")
    page.wait(lambda d: len(page.row_ids()) == len(sent))
    page.screenshot("signals-desktop")
    page.open_detail(sent[0]["signal_id"])
    assert page.detail_fields()["outcome"] == "win"
    assert page.detail_fields()["profit_loss_pct"] == "+5.40 %"
    page.screenshot("detail-desktop")
    page.driver.find_element(By.CSS_SELECTOR, "#detail [data-close]").click()

    outcomes = page.by_id("outcomes")
    for size, name in ((DESKTOP, "outcomes-desktop"), (PHONE, "outcomes-phone")):
        page.viewport(size)
        page.by_id("tab-outcomes").click()
        page.wait(lambda d: outcomes.get_attribute("data-closed") == "11", what="11 closed")
        stats = {
            e.get_attribute("data-stat"): e.text
            for e in outcomes.find_elements(By.CSS_SELECTOR, "[data-stat]")
        }
        assert stats["wins"] == "7" and stats["losses"] == "3" and stats["expired"] == "1"
        assert stats["win_rate"] == "64 %" and stats["pnl"] == "+24.00 %"
        assert len(outcomes.find_elements(By.CSS_SELECTOR, "svg.pnl circle")) == 11
        page.screenshot(name)
        page.by_id("tab-signals").click()
        page.driver.execute_script("document.getElementById('outcomes').dataset.closed = ''")

    page.screenshot("signals-phone")
    page.open_detail(sent[-1]["signal_id"])
    page.screenshot("detail-phone")
    page.driver.find_element(By.CSS_SELECTOR, "#detail [data-close]").click()
    page.by_id("signout").click()
    page.sign_in("starter")
    page.screenshot("starter-phone")
