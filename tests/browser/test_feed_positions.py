"""The page follows Alpine's feed by position: outcomes and executions update their rows
live, a gap in the stream is filled in order, and a changed history (409) is recovered."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from selenium.webdriver.common.by import By

from alpine.feed import EPOCH_TTL_SECONDS
from tests.browser.harness import Page, Site, stamp
from tests.support import signal_payload, stop

HISTORY = "Alpine's history changed"
# Installed in the page before it signs in: the stream loses the `signal` events of the
# ids put in window.lostSignals (a connection that dropped them, say). The page only
# learns of them from the next event's prev_seq.
LOSE_EVENTS = """
const original = window.fetch.bind(window);
window.lostSignals = new Set();
window.lost = 0;
window.fetch = async (input, init) => {
  const response = await original(input, init);
  if (!String(input).includes("/api/v1/signals/stream") || !response.body) return response;
  let buffer = "";
  const lose = new TransformStream({
    transform(chunk, out) {
      buffer += chunk;
      const blocks = buffer.split("\\n\\n");
      buffer = blocks.pop();
      for (const block of blocks) {
        const id = [...window.lostSignals].find((s) => block.includes(`"signal_id":"${s}"`));
        if (id && block.includes("event: signal")) {
          window.lostSignals.delete(id);
          window.lost += 1;
          continue;
        }
        out.enqueue(block + "\\n\\n");
      }
    },
    flush(out) {
      if (buffer) out.enqueue(buffer);
    },
  });
  const body = response.body
    .pipeThrough(new TextDecoderStream())
    .pipeThrough(lose)
    .pipeThrough(new TextEncoderStream());
  return new Response(body, { status: response.status, headers: response.headers });
};
"""


def now() -> str:
    return stamp(datetime.now(UTC))


def ids(payloads: list[dict[str, Any]]) -> list[str]:
    return [p["signal_id"] for p in payloads]


def test_outcomes_and_executions_update_their_rows_live(site: Site, page: Page) -> None:
    made = datetime.now(UTC) - timedelta(minutes=5)
    a = site.ingest(timestamp=stamp(made), entry_price=171.0)
    b = site.ingest(timestamp=stamp(made + timedelta(minutes=1)), entry_price=172.0)
    page.sign_in("elite")
    page.wait_rows(ids([b, a]))
    assert page.cell(a["signal_id"], "outcome") == "open"

    site.close_signal(a["signal_id"], "win", 180.5, 5.4, now())
    page.wait(
        lambda d: page.cell(a["signal_id"], "outcome") == "win", timeout=3, what="a's outcome"
    )
    assert page.cell(a["signal_id"], "profit_loss_pct") == "+5.40 %"
    row = page.driver.find_element(By.CSS_SELECTOR, f"tr[data-signal-id='{a['signal_id']}']")
    assert "outcome-win" in str(
        row.find_element(By.CSS_SELECTOR, "[data-col=outcome]").get_attribute("class")
    )
    assert page.row_ids() == ids([b, a])  # updated in place, not shown as a new signal
    assert page.table_data("stream-updates") == "1"
    assert page.table_data("stream-events") is None  # no signal came by the stream
    page.open_detail(a["signal_id"])
    assert page.detail_fields()["outcome"] == "win"
    assert page.detail_fields()["exit_price"] == "180.50"
    page.driver.find_element(By.CSS_SELECTOR, "#detail [data-close]").click()

    site.execute_signal(b["signal_id"], "ORD-1", 172.05, now())
    page.wait(lambda d: page.table_data("stream-updates") == "2", what="b's execution")
    assert page.row_ids() == ids([b, a])
    assert page.cell(b["signal_id"], "outcome") == "open"

    # The outcome view, while shown, redraws as signals close.
    outcomes = page.by_id("outcomes")
    page.by_id("tab-outcomes").click()
    page.wait(lambda d: outcomes.get_attribute("data-closed") == "1", what="1 closed")
    site.close_signal(b["signal_id"], "loss", 165.0, -3.6, now())
    page.wait(lambda d: outcomes.get_attribute("data-closed") == "2", timeout=3, what="2 closed")
    stats = {
        e.get_attribute("data-stat"): e.text
        for e in outcomes.find_elements(By.CSS_SELECTOR, "[data-stat]")
    }
    assert stats["wins"] == "1" and stats["losses"] == "1" and stats["pnl"] == "+1.80 %"
    page.by_id("tab-signals").click()
    page.wait(lambda d: page.cell(b["signal_id"], "outcome") == "loss", what="b's outcome")
    assert page.row_ids() == ids([b, a])

    # A tier without outcomes is not sent them: its rows stay as they are.
    page.by_id("signout").click()
    page.sign_in("pro")
    page.wait_rows(ids([b, a]))
    c = site.ingest(timestamp=now(), entry_price=173.0)
    page.wait_rows(ids([c, b, a]))
    site.close_signal(c["signal_id"], "win", 180.5, 4.2, now())
    d = site.ingest(timestamp=now(), entry_price=174.0)
    page.wait_rows(ids([d, c, b, a]))
    assert page.table_data("stream-updates") is None
    assert "outcome" not in page.columns()


def test_a_gap_in_the_stream_is_filled_in_order_before_the_next_event(
    site: Site, page: Page
) -> None:
    a = site.ingest(timestamp=stamp(datetime.now(UTC) - timedelta(minutes=1)))
    page.open()
    page.driver.execute_script(LOSE_EVENTS)
    page.sign_in("elite", reopen=False)
    page.wait_rows(ids([a]))

    lost = signal_payload(timestamp=now(), entry_price=171.5)
    page.driver.execute_script("window.lostSignals.add(arguments[0])", lost["signal_id"])
    site.ingest_many([lost])
    page.wait(lambda d: d.execute_script("return window.lost") == 1, what="the event lost")
    time.sleep(0.3)  # the page has nothing to show yet: it cannot know of the gap
    assert page.row_ids() == ids([a])
    assert page.requests("after=") == []

    closed = signal_payload(timestamp=now(), entry_price=172.0)
    site.ingest_many([closed])
    site.close_signal(closed["signal_id"], "win", 180.5, 5.4, now())
    later = site.ingest(timestamp=now(), entry_price=173.0)
    # The next event's prev_seq is the lost one's seq: the page reads the gap first.
    page.wait_rows(ids([later, closed, lost, a]))
    assert len(page.requests("after=")) == 1
    assert page.cell(closed["signal_id"], "outcome") == "win"
    assert page.table_data("stream-events") == "3"
    assert page.table_data("stream-repeats") == "0"
    assert page.table_data("stream-updates") == "1"
    assert page.by_id("status").is_displayed() is False


@pytest.mark.alpine_process
def test_a_changed_history_reloads_the_table_and_goes_on_live(site: Site, page: Page) -> None:
    other = site.second_alpine()
    try:
        page.sign_in("elite")
        before = [site.ingest(timestamp=now(), entry_price=170.0 + i / 10) for i in range(3)]
        page.wait_rows(ids(before[::-1]))
        assert page.by_id("status").is_displayed() is False

        # Alpine's database is restored while the page is away: its cursor answers 409.
        site.process.process.kill()
        page.wait(lambda d: page.connection() == "reconnecting", what="state reconnecting")
        site.new_epoch()
        during = [site.ingest(other, timestamp=now(), entry_price=171.0 + i / 10) for i in range(4)]
        site.crash_and_restart()
        page.wait(lambda d: page.by_id("status").is_displayed(), timeout=15, what="the notice")
        assert HISTORY in page.by_id("status").text
        page.wait_live()
        shown = ids((before + during)[::-1])
        page.wait_rows(shown)
        after = [site.ingest(timestamp=now(), entry_price=172.0 + i / 10) for i in range(2)]
        page.wait_rows(ids(after[::-1]) + shown)
        assert page.table_data("stream-repeats") == "0"
        assert page.table_data("stream-events") == str(len(before) + len(after))
        errors = page.console_errors()
        assert any("status of 409" in e for e in errors)  # the stream's resume, refused
        assert not [e for e in errors if "status of 409" not in e]

        # A new epoch while the stream stays open: its next event tells the page.
        page.driver.execute_script("document.getElementById('status').hidden = true")
        site.new_epoch()
        time.sleep(EPOCH_TTL_SECONDS + 0.5)  # Alpine's processes see the new epoch
        last = site.ingest(timestamp=now(), entry_price=173.0)
        page.wait(lambda d: page.by_id("status").is_displayed(), what="the notice again")
        everything = ids([last, *after[::-1]]) + shown
        page.wait_rows(everything)
        page.wait_live()
        final = site.ingest(timestamp=now(), entry_price=174.0)
        page.wait_rows([final["signal_id"], *everything])
        assert len(set(page.row_ids())) == len(page.row_ids())
        assert page.table_data("stream-repeats") == "0"
    finally:
        stop(other.process)
