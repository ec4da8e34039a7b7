"""Look at the built site like a reader, in headless Chromium driven by Playwright.

Every page loads with no console error and no request to another host; a
content tab switches the code shown; math renders; a notebook page shows its
executed outputs and images; the search finds a page. A screenshot of every
page (the whole page at phone width, the first screen at desktop width, JPEG)
is saved under test-artifacts/screenshots/. (The page loads are recorded by
the light accessibility scans: the ``scans`` fixture.)

Without Chromium these tests skip with a message, except under CI=true, where
a missing browser is a failure.
"""

from __future__ import annotations

import pytest

from harness.browsing import SCREENSHOTS, VIEWPORTS, Visit, site_pages
from support import ROOT


def _pages():
    # Collected before the build runs: take the page list from docs/.
    docs = ROOT / "docs"
    pages = []
    for source in sorted(list(docs.rglob("*.md")) + list(docs.glob("*/notebooks/*.py"))):
        rel = source.relative_to(docs).with_suffix("").as_posix()
        rel = rel[: -len("index")] if rel.endswith("index") else rel + "/"
        pages.append(rel)
    return pages


@pytest.mark.parametrize("viewport", VIEWPORTS)
@pytest.mark.parametrize("path", _pages(), ids=lambda p: p or "home")
def test_page_loads_cleanly_and_offline(scans, path, viewport):
    """Each page as a reader opens it (a fresh browser context, loaded with
    its fonts, a screenshot): recorded by the light
    accessibility scan of the same width, so no page is loaded twice
    (harness/browsing.py's axe_scan, visits=True)."""
    assert path in scans["pages"], f"{path} was not built"
    visit = scans[("light", viewport)]["visits"][path]
    assert visit["h1"], "the page has no visible title"
    assert (SCREENSHOTS / ((path.strip("/").replace("/", "__") or "home") + f"--{viewport}.jpg")).is_file()
    assert not visit["foreign"], f"requests to other hosts: {visit['foreign']}"
    assert not visit["errors"], f"console errors: {visit['errors']}"
    # Nothing sticks out sideways on a phone: wide code and math scroll inside their boxes.
    assert visit["overflow"] <= 1, f"the page is {visit['overflow']}px wider than the screen"


def test_a_tab_opens_each_page_as_a_first_time_reader(browser, site_url):
    """The scans open page after page in one Tab (harness/browsing.py): the
    next page must see nothing the last one stored, and no cached file."""
    from harness.browsing import Tab

    tab = Tab(browser, site_url)
    try:
        tab.open("gans/", wait_until="load")
        tab.page.evaluate("""() => { localStorage.setItem('left', '1');
            sessionStorage.setItem('left', '1'); document.cookie = 'left=1; path=/'; }""")
        tab.open("diffusion/", wait_until="load")
        assert tab.page.evaluate("""() => [localStorage.getItem('left'),
            sessionStorage.getItem('left'), document.cookie.includes('left')]""") == [None, None, False]
        fetched = tab.page.evaluate("""() => performance.getEntriesByType('resource')
            .filter(e => e.name.endsWith('.css')).map(e => e.transferSize)""")
        assert fetched and all(size > 0 for size in fetched), f"CSS from the cache: {fetched}"
    finally:
        tab.close()


def test_search_finds_a_page_from_the_real_index(browser, site_url):
    """The scans give their pages an empty index (harness/browsing.py); here
    the real one loads, and a search from another chapter finds the page."""
    import re

    from playwright.sync_api import expect

    with Visit(browser, site_url, "gans/") as visit:
        visit.page.keyboard.press("/")                 # Material's shortcut to the search box
        box = visit.page.locator("input[name=query]")
        expect(box).to_be_focused()
        box.press_sequentially("LoRA adapters")       # as typed: Material searches on keyup
        first = visit.page.locator(".md-search-result__item > a").first
        expect(first).to_have_attribute("href", re.compile(r"/llm/lora/"), timeout=20_000)
        assert not visit.errors and not visit.foreign


VISIBLE_CODE = """set => [...set.querySelectorAll('pre code')]
    .filter(code => code.offsetParent !== null).map(code => code.innerText).join('\\n')"""


def test_content_tabs_switch_the_code_shown(browser, site_url, built_site):
    page_path = next(p for p in site_pages(built_site) if 'class="tabbed-set' in (built_site / p / "index.html").read_text())
    with Visit(browser, site_url, page_path) as visit:
        tabs = visit.page.locator(".tabbed-set").first
        labels = tabs.locator(".tabbed-labels > label")
        assert labels.count() >= 2
        panels = tabs.locator(".tabbed-content > .tabbed-block")
        assert panels.nth(0).is_visible() and not panels.nth(1).is_visible()
        before = visit.page.evaluate(VISIBLE_CODE, tabs.element_handle())
        labels.nth(1).click()
        assert panels.nth(1).is_visible() and not panels.nth(0).is_visible()
        after = visit.page.evaluate(VISIBLE_CODE, tabs.element_handle())
        assert before and after and before != after, "switching the tab did not change the code shown"
        assert not visit.errors


def test_math_renders_without_errors(browser, site_url, built_site):
    page_path = next(p for p in site_pages(built_site) if "<math " in (built_site / p / "index.html").read_text())
    with Visit(browser, site_url, page_path) as visit:
        formulas = visit.page.locator("math")
        assert formulas.count() > 0
        assert visit.page.locator("merror").count() == 0
        box = formulas.first.bounding_box()
        assert box and box["width"] > 0 and box["height"] > 0, "MathML was not laid out"


def test_notebook_page_shows_executed_outputs(browser, site_url, built_site):
    notebooks = [p for p in site_pages(built_site) if "/notebooks/" in p]
    assert notebooks, "the site has no notebook page"
    for page_path in notebooks:
        with Visit(browser, site_url, page_path) as visit:
            outputs = visit.page.locator(".jp-OutputArea-output")
            assert outputs.count() > 0 and outputs.first.is_visible()
            images = visit.page.locator(".jp-OutputArea-output img")
            assert images.count() > 0, "the notebook shows no plot"
            assert visit.page.evaluate(
                "[...document.querySelectorAll('.jp-OutputArea-output img')].every(i => i.naturalWidth > 0)"
            )
            assert visit.page.get_by_role("link", name="Open in Colab").is_visible()


def test_forward_slider_follows_the_steps(browser, site_url, built_site):
    """The slider of diffusion/forward/ (docs/assets/diffusion-slider.js).

    It is set up after Material's instant navigation too, moves with the
    keyboard and by value, and its label (t, alpha-bar_t from the JSON
    index) and frame (the sprite's background position) follow."""
    import json
    import re

    index = json.loads((built_site / "diffusion/img/forward_sprite.json").read_text())
    columns, rows = index["columns"], index["rows"]
    # Material navigates instantly only to the pages of its sitemap, which
    # names the published site; point it at this server, as `mkdocs serve` does.
    sitemap = (built_site / "sitemap.xml").read_text()
    published = re.search(r"<loc>(.*?)</loc>", sitemap).group(1)
    sitemap = sitemap.replace(published, f"{site_url}/")

    def check(page, t):
        label = page.locator(".diffusion-slider__label").text_content()
        match = re.fullmatch(r"t = (\d+), \u1FB1t = (\S+)", label)
        assert match, f"unexpected label {label!r}"
        assert int(match[1]) == t
        assert float(match[2]) == pytest.approx(index["alpha_bars"][t], rel=0.01, abs=5e-4)
        position = page.locator(".diffusion-slider__frame").evaluate(
            "e => getComputedStyle(e).backgroundPosition")
        row, column = divmod(t, columns)
        x, y = (float(v.rstrip("%")) for v in position.split())
        assert (x, y) == (pytest.approx(100 * column / (columns - 1), abs=1e-3),
                          pytest.approx(100 * row / (rows - 1), abs=1e-3)), position
        return position

    with Visit(browser, site_url, "diffusion/") as visit:
        page = visit.page
        page.route("**/sitemap.xml", lambda route: route.fulfill(
            body=sitemap, content_type="application/xml"))
        page.goto(f"{site_url}/diffusion/", wait_until="networkidle")
        page.evaluate("window.__not_reloaded = true")
        page.locator("article a[href$='forward/']").first.click()
        slider = page.locator(".diffusion-slider input[type=range]")
        slider.wait_for()
        assert page.url.endswith("/diffusion/forward/")
        assert page.evaluate("window.__not_reloaded === true"), "instant navigation did not happen"
        frame = page.locator(".diffusion-slider__frame")
        frame.scroll_into_view_if_needed()
        assert frame.is_visible() and page.locator(".diffusion-slider img").count() == 0
        box = frame.bounding_box()
        ratio = index["frame_width"] / index["frame_height"]
        assert box["width"] > 300 and box["width"] / box["height"] == pytest.approx(ratio, rel=0.02)
        sprite_width = frame.evaluate("""e => new Promise(done => {
            const image = new Image();
            image.onload = () => done(image.naturalWidth);
            image.onerror = () => done(0);
            image.src = getComputedStyle(e).backgroundImage.slice(5, -2);
        })""")
        assert sprite_width == columns * index["frame_width"], "the sprite sheet did not load"

        start = check(page, 0)
        slider.focus()
        page.keyboard.press("ArrowRight")
        assert check(page, 1) != start
        page.keyboard.press("End")
        check(page, index["frames"] - 1)
        slider.fill("37")
        check(page, 37)
        assert not visit.errors, f"console errors: {visit.errors}"
        assert not visit.foreign

    with Visit(browser, site_url, "diffusion/forward/", viewport="phone") as visit:
        slider = visit.page.locator(".diffusion-slider input[type=range]")
        slider.wait_for()
        box = visit.page.locator(".diffusion-slider__frame").bounding_box()
        assert 300 < box["width"] <= VIEWPORTS["phone"]["width"]
        slider.fill("50")
        check(visit.page, 50)
        assert not visit.errors, f"console errors: {visit.errors}"


def test_on_a_phone_recorded_replies_wrap_and_notebook_figures_use_the_width(browser, site_url,
                                                                             built_site):
    """A recorded reply was one line cut under the copy button; a notebook's
    prompt column left figures a third of a phone's width."""
    with Visit(browser, site_url, "llm-api/conversations/", viewport="phone") as visit:
        blocks = visit.page.locator(".recorded pre > code")
        assert blocks.count() >= 3
        assert blocks.evaluate_all("codes => codes.every(c => c.scrollWidth <= c.clientWidth + 1)")
    notebook = next(p for p in site_pages(built_site) if "/notebooks/" in p)
    with Visit(browser, site_url, notebook, viewport="phone") as visit:
        page = visit.page
        width = page.evaluate("document.querySelector('.md-content').clientWidth")
        figures = page.locator(".jp-OutputArea-output img")
        assert figures.count() > 0
        shown = page.evaluate("""() => [...document.querySelectorAll('.jp-InputPrompt, .jp-OutputPrompt')]
            .filter(e => e.getClientRects().length).map(e => e.textContent.trim())""")
        assert not shown, f"prompts still shown at phone width: {shown[:3]}"
        widest = max(figures.evaluate_all("images => images.map(i => i.getBoundingClientRect().width)"))
        assert widest > 0.8 * width, (widest, width)
