"""Fixtures of the browser tests: the built site served on localhost, and
one headless Chromium per module."""

from __future__ import annotations

import pytest

from harness.browsing import CHROMIUM, require_browser, serve, site_scans


@pytest.fixture(scope="module")
def site_url(built_site):
    server, url = serve(built_site)
    yield url
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def scans(built_site):
    """Every page of the built site in Chromium, light and dark, desktop and
    phone: axe-core's findings, and (light) what a reader's visit shows.
    Once per session: the accessibility and the page-load tests read it."""
    return site_scans(built_site)
