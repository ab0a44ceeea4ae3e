"""A real Alpine with subscribers of every tier, and the web page driven in Chromium.

Alpine is served from a thread of this process (`tests.kit.alpine.served_alpine`: the
app and server `alpine serve` runs, on a real socket), or is a real `alpine serve` for
a test marked `alpine_process` (one that kills it or reads its log)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.webdriver import Chrome
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from alpine.store import make_engine
from alpine.subscriber_store import SubscriberStore
from tests.kit.alpine import Alpine, ServedAlpine, served_alpine
from tests.support import ROOT, AlpineServer, cli, signal_payload, start_alpine, stop

TIERS = ("starter", "pro", "elite")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
SCREENSHOTS = Path(os.environ.get("BROWSER_SCREENSHOTS", ROOT / "build" / "screenshots"))
DESKTOP = (1280, 860)
PHONE = (390, 844)


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_driver() -> Chrome:
    """Headless Debian Chromium, no network beyond what the page asks for."""
    assert CHROMIUM and CHROMEDRIVER
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-default-apps",
        "--disable-extensions",
        "--disable-sync",
        "--lang=en-US",
        "--hide-scrollbars",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_window_size(*DESKTOP)
    return driver


@dataclass
class Site:
    """Alpine on its own PostgreSQL database, with one subscriber per tier."""

    server: Alpine
    tokens: dict[str, str]
    env: dict[str, str]
    workdir: Path

    @classmethod
    def start(cls, pg_url: str, workdir: Path, *, process: bool = False) -> Site:
        engine = make_engine(pg_url)
        try:
            store = SubscriberStore(engine)
            tokens = {tier: store.add(f"{tier}-co", tier) for tier in TIERS}
        finally:
            engine.dispose()
        server = start_alpine(pg_url, workdir) if process else served_alpine(pg_url)
        return cls(server, tokens, {"ALPINE_DATABASE_URL": pg_url}, workdir)

    @property
    def process(self) -> AlpineServer:
        """The `alpine serve` child of a test marked `alpine_process`."""
        assert isinstance(self.server, AlpineServer), "mark the test alpine_process"
        return self.server

    @property
    def url(self) -> str:
        return self.server.url

    def post(self, path: str, body: Any, server: Alpine | None = None) -> Any:
        target = server or self.server
        with target.client() as client:
            answer = client.post(path, json=body, headers={"X-API-Key": target.api_key})
        assert answer.status_code in (200, 201), answer.text
        return answer.json()

    def ingest(self, server: Alpine | None = None, **overrides: Any) -> dict[str, Any]:
        payload = signal_payload(**overrides)
        self.post("/api/v1/argo/sync/signal", payload, server)
        return payload

    def ingest_many(self, payloads: list[dict[str, Any]]) -> None:
        results = self.post("/api/v1/argo/sync/signals", {"signals": payloads})["results"]
        assert {r["status"] for r in results} == {"created"}

    def close_signal(
        self, signal_id: str, outcome: str, exit_price: float, pnl: float, closed_at: str
    ) -> None:
        body = {
            "signal_id": signal_id,
            "outcome": outcome,
            "exit_price": exit_price,
            "profit_loss_pct": pnl,
            "closed_at": closed_at,
        }
        self.post("/api/v1/argo/sync/outcome", body)

    def execute_signal(self, signal_id: str, order_id: str, fill_price: float, at: str) -> None:
        body = {
            "signal_id": signal_id,
            "order_id": order_id,
            "executed_at": at,
            "fill_price": fill_price,
        }
        self.post("/api/v1/argo/sync/execution", body)

    def new_epoch(self) -> None:
        """`alpine feed new-epoch`, as after a restore: every cursor handed out answers 409."""
        done = cli("alpine", "feed", "new-epoch", "--yes", env=self.env)
        assert done.returncode == 0, done.stderr

    def second_alpine(self) -> AlpineServer:
        """Another `alpine serve` on the same database (Alpine scales out statelessly)."""
        return start_alpine(self.env["ALPINE_DATABASE_URL"], self.workdir)

    def crash_and_restart(self) -> None:
        """SIGKILL Alpine, then start it again on the same port and keys."""
        self.process.process.kill()
        self.process.process.wait(10)
        port = int(self.server.url.rsplit(":", 1)[1])
        self.server = start_alpine(
            self.env["ALPINE_DATABASE_URL"],
            self.workdir,
            api_keys=self.server.api_keys,
            port=port,
        )

    def revoke(self, tier: str) -> None:
        assert cli("alpine", "subscribers", "revoke", f"{tier}-co", env=self.env).returncode == 0

    def stop(self) -> None:
        if isinstance(self.server, ServedAlpine):
            self.server.close()
        else:
            stop(self.process.process)


class Page:
    """The subscriber page in one browser tab."""

    def __init__(self, driver: Chrome, site: Site) -> None:
        self.driver = driver
        self.site = site

    def wait(
        self, condition: Callable[[Chrome], Any], timeout: float = 10.0, what: str = ""
    ) -> Any:
        return WebDriverWait(self.driver, timeout, poll_frequency=0.02).until(condition, what)

    def by_id(self, element_id: str) -> WebElement:
        return self.driver.find_element(By.ID, element_id)

    def open(self) -> None:
        self.driver.get(self.site.url + "/")
        self.wait(lambda d: d.execute_script("return document.readyState") == "complete")

    def sign_in(self, tier: str, *, reopen: bool = True) -> None:
        """Sign in as `tier`'s subscriber; `reopen=False` keeps the page already open."""
        if reopen:
            self.open()
        self.wait(lambda d: self.by_id("token").is_displayed(), what="the sign-in form")
        self.by_id("token").send_keys(self.site.tokens[tier])
        self.by_id("token").submit()
        self.wait(lambda d: self.by_id("app").is_displayed(), what="the signed-in page")
        self.wait_live()
        self.wait(lambda d: self.by_id("summary").text, what="the first page of signals")

    def wait_live(self, timeout: float = 10.0) -> None:
        self.wait(lambda d: self.connection() == "live", timeout, "connection state live")

    def connection(self) -> str:
        return str(self.by_id("connection").get_attribute("data-state"))

    def row_ids(self) -> list[str]:
        ids: list[str] = self.driver.execute_script(
            "return [...document.querySelectorAll('#signals-body tr')].map(r => r.dataset.signalId)"
        )
        return ids

    def wait_rows(self, expected: Iterable[str], timeout: float = 10.0) -> list[str]:
        wanted = list(expected)
        self.wait(lambda d: self.row_ids() == wanted, timeout, f"rows {wanted}")
        return wanted

    def cell(self, signal_id: str, column: str) -> str | None:
        """The text of a column of a signal's row, None if the row is not shown."""
        text: str | None = self.driver.execute_script(
            "const row = [...document.querySelectorAll('#signals-body tr')]"
            ".find(r => r.dataset.signalId === arguments[0]);"
            'return row ? row.querySelector(`[data-col="${arguments[1]}"]`).textContent : null',
            signal_id,
            column,
        )
        return text

    def requests(self, part: str) -> list[str]:
        """The addresses the page requested that contain `part`."""
        urls: list[str] = self.driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)"
            ".filter(u => u.includes(arguments[0]))",
            part,
        )
        return urls

    def table_data(self, name: str) -> str | None:
        return self.by_id("signals").get_attribute(f"data-{name}")

    def columns(self) -> list[str]:
        cols: list[str] = self.driver.execute_script(
            "return [...document.querySelectorAll('#signals thead th')].map(c => c.dataset.col)"
        )
        return cols

    def filter(self, symbol: str = "", action: str = "", confidence: str = "") -> None:
        for element_id, value in (("filter-symbol", symbol), ("filter-confidence", confidence)):
            field = self.by_id(element_id)
            field.clear()
            field.send_keys(value)
        self.driver.execute_script(
            "document.getElementById('filter-action').value = arguments[0]", action
        )
        self.by_id("filters-apply").click()

    def open_detail(self, signal_id: str) -> WebElement:
        self.driver.find_element(
            By.CSS_SELECTOR, f"#signals-body tr[data-signal-id='{signal_id}'] button"
        ).click()
        dialog = self.by_id("detail")
        self.wait(lambda d: dialog.get_attribute("open") is not None, what="the detail dialog")
        return dialog

    def detail_fields(self) -> dict[str, str]:
        fields: dict[str, str] = self.driver.execute_script(
            "return Object.fromEntries([...document.querySelectorAll('#detail [data-field]')]"
            ".map(d => [d.dataset.field, d.textContent]))"
        )
        return fields

    def detail_parts(self) -> set[str]:
        parts: list[str] = self.driver.execute_script(
            "return [...document.querySelectorAll('#detail [data-part]')].map(p => p.dataset.part)"
        )
        return set(parts)

    def viewport(self, size: tuple[int, int]) -> None:
        """Emulate a screen of `size` CSS pixels (a phone below 600 wide)."""
        width, height = size
        self.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
        )
        self.wait(lambda d: d.execute_script("return [innerWidth, innerHeight]") == [*size])

    def screenshot(self, name: str) -> Path:
        """Save the viewport as build/screenshots/NAME.png (BROWSER_SCREENSHOTS overrides)."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        assert self.driver.save_screenshot(str(path))
        return path

    def reset(self) -> None:
        """Forget the tab's session and leave the page (closing its stream)."""
        if self.driver.current_url.startswith(self.site.url):
            self.driver.execute_script("sessionStorage.clear()")
        self.driver.get("about:blank")
        self.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})

    def console_errors(self) -> list[str]:
        """This page's console errors since the last call, less the failed requests a test
        provokes on purpose (a revoked token's 401, Alpine down while it restarts)."""
        expected = (
            "status of 401",
            "ERR_CONNECTION_REFUSED",
            "ERR_INCOMPLETE_CHUNKED_ENCODING",
            "ERR_EMPTY_RESPONSE",
            "ERR_CONNECTION_RESET",
        )
        entries: list[dict[str, Any]] = self.driver.get_log("browser")  # type: ignore[no-untyped-call]
        return [
            str(entry["message"])
            for entry in entries
            if entry["level"] == "SEVERE" and not any(e in entry["message"] for e in expected)
        ]
