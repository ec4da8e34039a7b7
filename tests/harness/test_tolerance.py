"""The tolerant output check (tests/tolerance.py) and the note that shows it
(hooks/tolerance.py): words exact, lines exact, numbers within the
declared tolerance; and a page with it fails when it should."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from harness.tolerance import compare
from support import ROOT, load_hook

pytestmark = pytest.mark.spread   # no module fixture: the page blocks' second runs go to any worker


def hook():
    return load_hook("tolerance")


PAGE_OUTPUT = "after 300 steps: 0/8 modes, 3% high quality\nlast losses: D 1.15, G 0.86\n"


@pytest.mark.parametrize("got", [
    PAGE_OUTPUT,
    PAGE_OUTPUT.replace("D 1.15", "D 1.24"),              # within 10%
    PAGE_OUTPUT.replace("G 0.86", "G 0.80"),
])
def test_numbers_within_the_tolerance_pass(got):
    assert compare(PAGE_OUTPUT, got, 0.0, 0.1) is None


@pytest.mark.parametrize("got, reason", [
    (PAGE_OUTPUT.replace("high quality", "good quality"), "the words differ"),
    (PAGE_OUTPUT.replace("D 1.15", "D: 1.15"), "the words differ"),
    (PAGE_OUTPUT.split("\n")[0] + "\n", "1 lines printed, the page shows 2"),
    (PAGE_OUTPUT + "one more\n", "3 lines printed"),
    (PAGE_OUTPUT.replace("D 1.15", "D 1.30"), "1.30 where the page shows 1.15"),
    (PAGE_OUTPUT.replace("0/8", "1/8"), "1 where the page shows 0"),
    (PAGE_OUTPUT.replace("D 1.15", "D nan"), "the words differ"),
    (PAGE_OUTPUT.rstrip("\n"), "final newline"),
])
def test_words_lines_and_numbers_outside_it_fail(got, reason):
    assert reason in compare(PAGE_OUTPUT, got, 0.0, 0.1)


def test_absolute_and_relative_tolerances():
    assert compare("gap 7e-08\n", "gap 2e-07\n", 1e-6, 0) is None
    assert compare("gap 7e-08\n", "gap 2e-05\n", 1e-6, 0) is not None
    assert compare("loss 0.02\n", "loss 0.05\n", 0.05, 0.1) is None      # abs wins
    assert compare("loss 100\n", "loss 108\n", 0.05, 0.1) is None        # rel wins
    assert compare("a0 b1\n", "a0 b2\n", 5, 5) is not None              # not numbers: words


def test_the_note_on_the_site_says_the_same_tolerance():
    page = textwrap.dedent('''\
        Text.

        === "Tab"

            <!--pytest.mark.tolerance(abs=0.05, rel=0.1)-->
            ```python
            print(1)
            ```
        ''')
    out = hook().on_page_markdown(page)
    assert '    !!! info "Your numbers may differ"' in out
    assert "by up to 0.05 or 10%, whichever is larger" in out
    assert "<!--pytest.mark.tolerance(abs=0.05, rel=0.1)-->\n\n    !!! info" in out
    assert hook().describe("rel=0.1") == "by up to 10%"
    with pytest.raises(ValueError):
        hook().describe("")


def test_a_page_with_tolerances_passes_and_fails_as_it_should(tmp_path):
    """pytest-codeblocks runs a made-up page with the plugin, as the suite does."""
    (tmp_path / "conftest.py").write_text(textwrap.dedent(f'''\
        import sys
        sys.path.insert(0, {str(ROOT / "tests")!r})
        from harness.tolerance import TolerancePlugin

        def pytest_configure(config):
            config.pluginmanager.register(TolerancePlugin(), "course-tolerance")
        '''))
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = --codeblocks\n")
    blocks = {
        "within": ("print('loss 1.21')", "loss 1.15"),
        "word": ("print('cost 1.15')", "loss 1.15"),
        "line": ("print('loss 1.15')", "loss 1.15\nsteps 300"),
        "number": ("print('loss 1.50')", "loss 1.15"),
    }
    page = ["# Page", ""]
    for code, expected in blocks.values():
        page += ["<!--pytest.mark.tolerance(rel=0.1)-->", "```python", code, "```", "",
                 "<!--pytest-codeblocks:expected-output-->", "```text", expected, "```", ""]
    page += ["<!--pytest.mark.tolerance(relative=0.1)-->", "```python", "print(1)", "```", "",
             "<!--pytest-codeblocks:expected-output-->", "```text", "1", "```", ""]
    (tmp_path / "page.md").write_text("\n".join(page))
    result = subprocess.run([sys.executable, "-m", "pytest", "-rA", "-p", "no:cacheprovider",
                             "page.md"], cwd=tmp_path, capture_output=True, text=True)
    outcomes = {int(line.split("::line ")[1].split()[0]): line.split()[0]
                for line in result.stdout.splitlines()
                if line.startswith(("PASSED page.md", "FAILED page.md"))}
    assert [outcomes[line] for line in sorted(outcomes)] == [
        "PASSED", "FAILED", "FAILED", "FAILED", "FAILED"], result.stdout
    assert "the words differ" in result.stdout
    assert "1 lines printed, the page shows 2" in result.stdout
    assert "1.50 where the page shows 1.15" in result.stdout
    assert "write the tolerance as pytest.mark.tolerance" in result.stdout


def tolerant_blocks():
    """(page, line, code) of every page block that declares a tolerance."""
    from pytest_codeblocks.main import extract_from_file

    found = []
    for page in sorted((ROOT / "docs").rglob("*.md")):
        for block in extract_from_file(page):
            if any("tolerance" in mark for mark in block.marks):
                found.append((page.relative_to(ROOT / "docs"), block.lineno, block.code))
    return found


def test_the_site_declares_few_tolerances():
    """Most printed numbers come from reference models and are exact; a
    tolerance is for blocks that train as they run, or print rounding (18:
    the reasoning chapter trains four times in front of the reader)."""
    blocks = tolerant_blocks()
    assert 1 <= len(blocks) <= 18, [f"{page}:{line}" for page, line, _ in blocks]


@pytest.mark.parametrize("page, line, code", tolerant_blocks(), ids=lambda v: str(v)[:40])
def test_on_one_machine_a_tolerant_block_prints_the_same_twice(page, line, code, pytestconfig):
    """Same machine, same numbers: a tolerance is for other CPUs, never for
    randomness left unseeded. The first run is the page's own in this test
    run (whichever of the two comes first runs it; harness/tolerance.py),
    the second is this one, maybe in another process."""
    from harness.tolerance import first_run, printed

    first, error = first_run(pytestconfig, (ROOT / "docs" / page).resolve(), line, code)
    assert error is None, f"{page}:{line} failed: {error}"
    assert printed(code) == first, f"{page}:{line} printed different numbers twice"
