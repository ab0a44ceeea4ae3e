"""Fixtures for the browser tests: one Chromium for the directory, one Alpine per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver import Chrome

from tests.browser.harness import CHROMEDRIVER, CHROMIUM, Page, Site, new_driver

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip this directory, saying why, on a machine without Chromium."""
    if CHROMIUM and CHROMEDRIVER:
        return
    skip = pytest.mark.skip(
        reason="Chromium and chromedriver are not installed"
        " (apt-get install chromium chromium-driver; .ci/run does this)"
    )
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def driver() -> Iterator[Chrome]:
    browser = new_driver()
    yield browser
    browser.quit()


@pytest.fixture
def site(pg_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Site]:
    process = request.node.get_closest_marker("alpine_process") is not None
    running = Site.start(pg_url, tmp_path, process=process)
    yield running
    running.stop()


@pytest.fixture
def page(driver: Chrome, site: Site) -> Iterator[Page]:
    tab = Page(driver, site)
    tab.console_errors()  # a clean slate
    yield tab
    errors = tab.console_errors()
    tab.reset()
    assert not errors, f"console errors (CSP violations, script errors): {errors}"
