"""Chromium, driven by Playwright, for the browser tests: where the browser
is, the page sizes, and a Visit that records console errors and every
request to another host. The fixtures (browser, site_url) are in
tests/harness/conftest.py.
"""

from __future__ import annotations

import collections
import functools
import http.server
import os
import shutil
import sys
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

from support import ROOT

CHROMIUM = os.environ.get("COURSE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


def require_browser():
    missing = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing = "Playwright for Python is not installed (pip install -r requirements.txt)"
    if missing is None and not Path(CHROMIUM).exists():
        missing = f"no Chromium at {CHROMIUM} (apt-get install chromium, or set COURSE_CHROMIUM)"
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests cannot run under CI: {missing}", pytrace=False)
        pytest.skip(f"browser tests skipped: {missing}")


class Tab:
    """A browser tab on the site that records console errors and every
    request to another host (aborted). open(path) loads a page in it as a
    first-time reader sees it: no HTTP cache (turned off), and nothing that
    an earlier page of this tab stored (cookies, local and session storage:
    cleared). That is a fresh browser context but for the renderer process,
    which a new context would start again for every page, at a second of
    CPU each. search_index: the text to serve as the site's search index
    (empty_search_index), or None for the real one."""

    def __init__(self, browser, site_url, viewport="desktop", color_scheme="light",
                 search_index: str | None = None):
        self.site_url = site_url
        self.context = browser.new_context(viewport=VIEWPORTS[viewport], service_workers="block",
                                           color_scheme=color_scheme)
        self.page = self.context.new_page()
        self.cdp = self.context.new_cdp_session(self.page)
        self.cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        self.errors: list[str] = []
        self.foreign: list[str] = []
        self.opened = 0
        host = urlparse(site_url).netloc

        def route(route):
            url = urlparse(route.request.url)
            if url.scheme in ("http", "https", "ws", "wss") and url.netloc != host:
                self.foreign.append(route.request.url)
                route.abort()
            elif search_index is not None and url.path == SEARCH_INDEX:
                route.fulfill(body=search_index, content_type="application/json")
            else:
                route.continue_()

        self.page.route("**/*", route)
        self.page.on("console", lambda msg: msg.type == "error" and self.errors.append(msg.text))
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def open(self, path: str, wait_until: str = "networkidle"):
        if self.opened:
            self.page.goto("about:blank")            # the last page's unload handlers run here
            self.cdp.send("Storage.clearDataForOrigin",
                          {"origin": self.site_url, "storageTypes": "all"})
        self.opened += 1
        self.errors, self.foreign = [], []
        self.page.goto(f"{self.site_url}/{path}", wait_until=wait_until)
        return self

    def close(self):
        self.context.close()


class Visit(Tab):
    """One page in a fresh context (a context manager)."""

    def __init__(self, browser, site_url, path, viewport="desktop", color_scheme="light",
                 search_index: str | None = None):
        super().__init__(browser, site_url, viewport, color_scheme, search_index)
        self.open(path)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def site_pages(built_site: Path) -> list[str]:
    pages = []
    for index in sorted(built_site.rglob("index.html")):
        rel = index.parent.relative_to(built_site).as_posix()
        pages.append("" if rel == "." else rel + "/")
    return pages


SEARCH_INDEX = "/search/search_index.json"


def empty_search_index(site: Path) -> str:
    """The site's search index with no entries: the same configuration, for
    the worker that every page starts. Building the real index (700 kB, each
    page load) took a second of CPU per page scanned; the search dialog is
    closed while a page is scanned, so the index changes nothing axe or a
    visit sees. One test searches the real index (test_browser.py)."""
    import json

    index = json.loads((site / SEARCH_INDEX.lstrip("/")).read_text(encoding="utf-8"))
    return json.dumps({"config": index["config"], "docs": []})


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class QuietServer(http.server.ThreadingHTTPServer):
    """A page left before it loaded (the next one opened) drops its requests: not an error."""

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


def serve(site) -> tuple[QuietServer, str]:
    """The built site on localhost, in a thread: (server, its URL)."""
    server = QuietServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


# Resolves when every finite CSS animation and transition has ended (at most 3 s)
SETTLED = """() => Promise.race([
    Promise.all(document.getAnimations()
        .filter(a => isFinite(a.effect?.getComputedTiming().endTime))
        .map(a => a.finished.catch(() => null))),
    new Promise(done => setTimeout(done, 3000))])"""

# A code token's contrast is set by its colour, its font and the backgrounds
# behind it, up to its <pre>. A page shows thousands of tokens in a handful of
# such styles, and axe's colour-contrast rule checks each token alone: three
# quarters of axe's time. Of the tokens of one page with the same style, the
# first keeps its <span> and the rest give their text to their parent (same
# glyphs, same layout), whose own colour axe then checks too: every style
# shown is still checked, on every page, scheme and width. That parent is a
# line's <span> (Material wraps each line of code in one), which now holds
# text: a second round does the same to the lines. The key holds the class
# names up to the <pre> too: two classes that look alike in light may not in
# dark, which is scanned after on the same page (axe_scan). (In each round
# styles are read first and the spans unwrapped after: one layout a round.)
SAME_STYLE_TOKENS = """() => {
    const seen = new Set(), kept = new Set();
    let unwrapped = 0;
    for (const round of [1, 2]) {
        const same = [];
        for (const span of document.querySelectorAll('pre span')) {
            if (kept.has(span)) continue;
            if (![...span.childNodes].some(node => node.nodeType === 3 && node.data.trim())) continue;
            const style = getComputedStyle(span), behind = [];
            for (let e = span; e; e = e.parentElement) {
                const s = getComputedStyle(e);
                behind.push(e.className, s.backgroundColor, s.backgroundImage, s.opacity);
                if (e.tagName === 'PRE') break;
            }
            const key = [style.color, style.fontSize, style.fontWeight, style.fontStyle,
                         style.textShadow, style.textDecorationLine, ...behind].join('|');
            if (seen.has(key)) same.push(span); else { seen.add(key); kept.add(span); }
        }
        for (const span of same) span.replaceWith(...span.childNodes);
        unwrapped += same.length;
    }
    return [seen.size, unwrapped];
}"""


# axe-core's run on the page (its script evaluated there first): the
# violations only (passes and the rest not listed: half the time, the same
# findings), each as [rule, impact, elements, first element, its summary]
AXE_VIOLATIONS = """() => axe.run(document, {resultTypes: ['violations']}).then(found =>
    found.violations.map(v => [v.id, v.impact, v.nodes.length, v.nodes[0].target,
                               v.nodes[0].failureSummary]))"""

# Resolves when the page's web fonts have loaded (or failed)
FONTS_READY = "() => document.fonts.ready.then(() => true)"

# Material's palette toggle, as a reader clicks it: the scheme it sets is
# the one a reader whose system is dark gets on load
TO_DARK = """() => document.querySelector('input[data-md-color-scheme="slate"]').click()"""


def axe_scan(site: str, pages: list[str], width: str, screenshots: Path = SCREENSHOTS) -> dict:
    """axe on every page in one Chromium (a worker process), light and then
    dark: {"light": ..., "dark": ...} with the serious and critical
    violations and counts of the rest, and "visits".

    Each page is opened once, in light, as a first-time reader opens it
    (Tab), loaded with its fonts: what test_browser's
    test_page_loads_cleanly_and_offline checks is recorded in "visits"
    (console errors, requests to other hosts (aborted), visible title,
    overflow, and a screenshot: the whole page on a phone, the first
    screen on a desktop). Then axe runs in light, the
    system's scheme turns dark and the page is switched to dark with
    Material's palette toggle (the scheme, colours and media a dark system
    gets on load), and axe runs again. (A second tab that loaded each page
    dark cost three quarters of a second of CPU more per page, for the same
    page.)"""
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import sync_playwright

    server, url = serve(site)
    axe_script, seen = Axe().axe_script, {}
    results = {scheme: {"failing": [], "counts": collections.Counter()} for scheme in ("light", "dark")}

    def scan(page, scheme, path):
        # a colour caught halfway through a transition (a tab fading in) is not the page's colour
        page.evaluate(SETTLED)
        for rule, impact, nodes, target, summary in page.evaluate(AXE_VIOLATIONS):
            results[scheme]["counts"][(impact, rule)] += nodes
            if impact in ("serious", "critical"):
                results[scheme]["failing"].append(
                    f"{scheme}, {width}, /{path}: {rule} ({impact}) on {nodes} element(s), "
                    f"e.g. {target}: {(summary or '').splitlines()[-1].strip()}")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        tab = Tab(browser, url, width, "light", search_index=empty_search_index(Path(site)))
        page = tab.page
        for path in pages:
            page.emulate_media(color_scheme="light")
            # loaded, its fonts in; a request that comes later is still
            # recorded until the scans end ("networkidle" idled 0.5 s a page)
            tab.open(path, wait_until="load")
            page.evaluate(FONTS_READY)
            seen[path] = {"h1": page.locator("h1").first.is_visible(),
                          "overflow": page.evaluate(
                              "document.documentElement.scrollWidth - window.innerWidth")}
            screenshots.mkdir(parents=True, exist_ok=True)
            name = (path.strip("/").replace("/", "__") or "home") + f"--{width}.jpg"
            # JPEG: half the time of a PNG of a long page, and good enough to
            # read; the whole page on a phone, where a reader scrolls through
            # a narrow layout, and the first screen on a desktop (the whole
            # page cost 0.3 s more, for the same content as the phone's)
            page.screenshot(path=str(screenshots / name), full_page=width == "phone", type="jpeg",
                            quality=80)
            page.evaluate(SETTLED)
            page.evaluate(SAME_STYLE_TOKENS)
            page.evaluate(axe_script)                # once a page: both schemes' runs use it
            scan(page, "light", path)
            page.emulate_media(color_scheme="dark")
            page.evaluate(TO_DARK)
            scheme = page.evaluate("document.body.getAttribute('data-md-color-scheme')")
            if scheme != "slate":
                results["dark"]["failing"].append(f"dark, {width}, /{path}: the palette "
                                                  f"toggle gave the scheme {scheme!r}")
            scan(page, "dark", path)
            # what the page did until now, axe's runs included
            seen[path].update(errors=list(tab.errors), foreign=list(tab.foreign))
        tab.close()
        browser.close()
    server.shutdown()
    return {**results, "visits": seen}


def site_scans(site: Path) -> dict:
    """{(scheme, width): scan} of every page, light and dark, desktop and
    phone: one axe_scan per width, in two processes at once (each its own
    Chromium); both schemes share the width's "visits"."""
    import concurrent.futures
    import multiprocessing

    require_browser()
    pages = site_pages(site)
    context = multiprocessing.get_context("spawn")
    scans = {"pages": pages}
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=context) as pool:
        futures = {width: pool.submit(axe_scan, str(site), pages, width) for width in VIEWPORTS}
        for width, future in futures.items():
            result = future.result()
            for scheme in ("light", "dark"):
                scans[(scheme, width)] = {**result[scheme], "visits": result["visits"]}
    return scans
