"""Every reader, every page: axe-core finds no serious or critical violation
on any page of the built site, in the light and the dark scheme, at desktop
and phone width; figures say what they show; the diffusion slider works
from the keyboard; formulas carry their source for screen readers.

axe-core comes from the pinned axe-playwright-python package (its
axe.min.js, offline). The scans run once per run, one per width, in two
processes at once, each with its own Chromium: each opens a page as a
reader would (what test_browser.py checks is recorded), scans it in light,
switches it to dark with Material's palette toggle and scans it again (the
``scans`` fixture, tests/harness/conftest.py). Moderate and minor findings
are counted and printed at the end of the run, not failed.
"""

from __future__ import annotations

import collections
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from harness.browsing import SETTLED, TO_DARK, Visit

FAILING = ("serious", "critical")


@pytest.fixture(scope="module")
def axe_results(scans):
    """(pages, {(scheme, width): scan}): harness/browsing.py's site_scans."""
    return len(scans["pages"]), {run: scans[run] for run in scans if run != "pages"}


def test_no_serious_or_critical_accessibility_violation(axe_results, pytestconfig):
    pages, results = axe_results
    failing = [line for result in results.values() for line in result["failing"]]
    totals = collections.Counter()
    for result in results.values():
        totals.update(result["counts"])
    lines = [f"axe-core {axe_version()}: {pages} pages x light/dark x desktop/phone: "
             f"{sum(n for (impact, _), n in totals.items() if impact in FAILING)} serious or "
             f"critical findings"]
    for (impact, rule), count in sorted(totals.items()):
        lines.append(f"  {impact:8s} {rule}: {count} elements in all")
    pytestconfig.course_axe_report = "\n".join(lines)
    assert pages > 40
    assert not failing, "\n".join(failing[:20])


PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>[data-md-color-scheme=slate] .dark-only {{ color: #333; background: #000 }}</style></head>
<body data-md-color-scheme="default"><main><h1>{title}</h1>
<input type="radio" name="scheme" aria-label="Dark mode" data-md-color-scheme="slate"
 onclick="document.body.setAttribute('data-md-color-scheme', 'slate')">
<p>Readable in both schemes.</p>{body}</main></body></html>"""


def test_the_scan_finds_what_it_looks_for(tmp_path):
    """axe_scan on a two-page site: the clean page passes in both schemes;
    the other fails in light (grey on white, an image with no alt text), in
    dark alone (dark grey on black), and its visit records the request to
    another host and the console error. (The real scans can fail.)"""
    from harness.browsing import axe_scan, require_browser

    require_browser()
    site = tmp_path / "site"
    (site / "search").mkdir(parents=True)
    (site / "search" / "search_index.json").write_text('{"config": {}, "docs": []}')
    for path, body in {"clean": "", "flawed": (
            '<p style="color: #bbb">Faint grey text.</p><img src="x.png">'
            '<p class="dark-only">Readable in light, too dark on black.</p>'
            '<script>fetch("https://example.com/track"); console.error("broken")</script>')}.items():
        (site / path).mkdir()
        (site / path / "index.html").write_text(PAGE.format(title=path.title(), body=body))
    found = axe_scan(str(site), ["clean/", "flawed/"], "desktop", screenshots=tmp_path / "shots")
    light, dark = ("\n".join(found[scheme]["failing"]) for scheme in ("light", "dark"))
    assert "/clean/" not in light + dark, light + dark
    assert "/flawed/: color-contrast (serious) on 1 element(s)" in light
    assert "/flawed/: image-alt (critical)" in light
    assert "/flawed/: color-contrast (serious) on 2 element(s)" in dark     # and the dark-only one
    assert found["visits"]["flawed/"]["foreign"] == ["https://example.com/track"]
    assert any("broken" in error for error in found["visits"]["flawed/"]["errors"])
    assert not found["visits"]["clean/"]["foreign"] and not found["visits"]["clean/"]["errors"]
    assert (tmp_path / "shots" / "flawed--desktop.jpg").is_file()


# Every element's colours, and the scheme and media that Material set
LOOK = """() => [document.body.getAttribute('data-md-color-scheme'),
    document.body.getAttribute('data-md-color-media'),
    ...[...document.querySelectorAll('body *')].map(e => {
        const s = getComputedStyle(e);
        return [e.tagName, e.className, e.getAttribute('href'), s.color, s.backgroundColor, s.borderTopColor, s.outlineColor,
                s.textDecorationColor, s.fill, s.opacity].join(' ');
    })]"""


@pytest.mark.parametrize("path", ["llm/assistant/", "progress/"])
def test_the_dark_scan_sees_what_a_dark_system_loads(browser, site_url, path):
    """The scans switch each page to dark with the palette toggle rather
    than load it again (browsing.axe_scan): every element must then look as
    it does when a reader whose system is dark opens the page."""
    with Visit(browser, site_url, path, color_scheme="dark") as loaded:
        loaded.page.evaluate(SETTLED)                   # transitions end
        dark = loaded.page.evaluate(LOOK)
    with Visit(browser, site_url, path) as switched:
        switched.page.evaluate(SETTLED)
        light = switched.page.evaluate(LOOK)
        switched.page.emulate_media(color_scheme="dark")
        switched.page.evaluate(TO_DARK)
        switched.page.evaluate(SETTLED)
        toggled = switched.page.evaluate(LOOK)
    assert dark[:2] == ["slate", "(prefers-color-scheme: dark)"] and light[0] == "default"
    assert len(dark) > 300 and light != dark
    # as multisets: a quiz deals its questions in another order on each load
    differ = collections.Counter(dark) - collections.Counter(toggled)
    assert len(dark) == len(toggled) and not differ, list(differ)[:5]


def axe_version() -> str:
    import axe_playwright_python

    script = (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()[:200]
    found = re.search(r"axe v([\d.]+)", script)
    return found.group(1) if found else "?"


class _Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs))


def test_every_image_says_what_it_shows(built_site):
    """alt text on every <img>: not empty, not a file name, not nbconvert's
    placeholder (a notebook cell gives its plot one with '# alt: ...')."""
    checked = 0
    for html in sorted(built_site.rglob("*.html")):
        parser = _Images()
        parser.feed(html.read_text(encoding="utf-8"))
        for image in parser.images:
            alt = (image.get("alt") or "").strip()
            where = f"{html.relative_to(built_site)}: {image.get('src', '')[:60]}"
            assert alt, f"{where} has no alt text"
            assert not re.fullmatch(r"[\w.-]+\.(png|jpe?g|svg|gif)", alt), f"{where}: alt is a file name"
            assert "No description has been provided" not in alt, f"{where}: nbconvert's placeholder"
            checked += 1
    assert checked > 20


def test_every_formula_carries_its_source_for_screen_readers(built_site):
    formulas = 0
    for html in sorted(built_site.rglob("*.html")):
        for math in re.findall(r"<math\b.*?</math>", html.read_text(encoding="utf-8"), re.S):
            formulas += 1
            assert 'alttext="' in math, math[:120]
            assert '<annotation encoding="application/x-tex"' in math, math[:120]
    assert formulas > 50


# TeX as the pages write it (a notebook's printed "\\n" is not TeX)
TEX = (r"\\(?:text|frac|sqrt|cdot|math[a-z]+|left|right|sum|prod|log|exp|top|infty|mid|"
       r"alpha|beta|gamma|theta|sigma|epsilon|lambda|pi|mu|nabla|partial|hat|bar|tilde|"
       r"operatorname|le|ge|leq|geq|times|approx|sim|in|to|ldots|dots)\b|[_^]\{")


def test_search_indexes_each_formula_once_as_readable_text(built_site):
    """The index held each formula twice, the second time as raw LaTeX
    ("a query qq", "\\text{Attention}(Q, K, V) = ..."): the annotation is for
    screen readers, not for search."""
    import json

    index = json.loads((built_site / "search" / "search_index.json").read_text(encoding="utf-8"))
    latex, prose = [], 0
    for doc in index["docs"]:
        text = re.sub(r"<pre>.*?</pre>|<code>.*?</code>", " ", doc["text"], flags=re.S)
        prose += bool(text.strip())
        found = re.findall(TEX, text)
        if found:
            latex.append(f"{doc['location']}: {found[:3]}")
    assert prose > 200 and not latex, latex[:5]
    attention = next(doc["text"] for doc in index["docs"] if "one-head-of-attention" in doc["location"])
    assert "a query qi=xiWQ (what it looks for)" in attention, attention[:400]


def test_the_diffusion_slider_works_from_the_keyboard(browser, site_url):
    with Visit(browser, site_url, "diffusion/forward/") as visit:
        page = visit.page
        slider = page.get_by_role("slider", name="Diffusion step t")
        slider.wait_for()
        for _ in range(300):                    # Tab through the page to it
            page.keyboard.press("Tab")
            if slider.evaluate("e => e === document.activeElement"):
                break
        else:
            pytest.fail("the slider cannot be reached with the Tab key")
        before = slider.get_attribute("aria-valuetext")
        page.keyboard.press("ArrowRight")
        after = slider.get_attribute("aria-valuetext")
        assert before and after and before != after
        assert slider.input_value() == "1"
        assert re.fullmatch(r"step 1, alpha bar 0\.\d+", after), after


# The contrast of a control's text on what is behind it, as WCAG computes it
CONTRAST = """e => {
    const rgba = text => (text.match(/[\\d.]+/g) || [0, 0, 0, 0]).map(Number)
        .concat([1]).slice(0, 4);
    const over = (top, below) => top.slice(0, 3).map((c, i) => c * top[3] + below[i] * (1 - top[3]))
        .concat([1]);
    let back = [0, 0, 0, 0], layers = [];
    for (let n = e; n; n = n.parentElement) layers.push(rgba(getComputedStyle(n).backgroundColor));
    back = layers.reverse().reduce((below, top) => over(top, below), [255, 255, 255, 1]);
    const text = over(rgba(getComputedStyle(e).color), back);
    const lum = c => { const [r, g, b] = c.slice(0, 3).map(v => { v /= 255;
        return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
        return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
    const [a, b] = [lum(text), lum(back)].sort((x, y) => y - x);
    return (a + 0.05) / (b + 0.05);
}"""

CONTROLS = ".md-content button:visible, .md-content a.md-button:visible"


def test_every_control_is_readable_when_hovered_and_focused(browser, site_url, built_site):
    """axe scans controls at rest only: here each button of the quiz, the
    progress and a notebook page is focused, then hovered, in light and in
    dark, and its text must keep 4.5:1 on what is behind it (dark mode's
    lavender on Material's amber was 1.24:1)."""
    from harness.browsing import site_pages

    notebook = next(p for p in site_pages(built_site) if "/notebooks/" in p)
    checked, failing = 0, []
    for scheme in ("light", "dark"):
        for path in ("gans/quiz/", "progress/", notebook):
            with Visit(browser, site_url, path, color_scheme=scheme) as visit:
                page = visit.page
                controls = page.locator(CONTROLS)
                assert controls.count() >= 1, path
                # a quiz has a Check button per question: one of each kind is enough
                kinds = controls.evaluate_all(
                    "cs => cs.map(c => [c.tagName, c.className, c.textContent.trim()].join('|'))")
                for index in sorted({kind: i for i, kind in reversed(list(enumerate(kinds)))}.values()):
                    control = controls.nth(index)
                    for state in ("focused", "hovered"):
                        page.mouse.move(0, 0)
                        if state == "focused":
                            control.focus()
                        else:
                            page.evaluate("document.activeElement && document.activeElement.blur()")
                            control.hover()
                        page.evaluate(SETTLED)
                        ratio = control.evaluate(CONTRAST)
                        checked += 1
                        if ratio < 4.5:
                            failing.append(f"{scheme}, /{path}: {control.inner_text()!r} "
                                           f"{state}: {ratio:.2f}:1")
    assert checked >= 16
    assert not failing, failing
