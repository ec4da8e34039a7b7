"""The guard: no Python block is shown on the site unless a test runs it.

Its two tests that judge the whole run (marked ``whole_run``) run last,
when every other test has had its chance to execute course code: under
pytest-xdist, in the controller, after every worker is done
(harness/parallel.py). Inline blocks count only when they passed in
the same session, so run it with the pages: `pytest docs tests/harness/test_guard.py`
(it runs every snippet as a script itself).
"""

from pathlib import Path

import pytest
from mkdocs.config import load_config

from harness.guard import check_site, coverage_missing_lines, markdown_renderer, resolve_include
from support import ROOT, snippet_modules


@pytest.fixture(scope="module")
def mkdocs_config():
    return load_config(str(ROOT / "mkdocs.yml"))


def test_notebooks_run_in_the_build_and_errors_fail_it(mkdocs_config):
    """The guard counts notebooks as executed because the build runs them: make sure it does."""
    options = mkdocs_config["plugins"]["mkdocs-jupyter"].config
    assert options["execute"] is True and options["allow_errors"] is False


@pytest.mark.whole_run
def test_every_shown_python_block_runs(pytestconfig, run_snippet, mkdocs_config):
    for module in snippet_modules():
        run_snippet(module)
    missing_lines = coverage_missing_lines(pytestconfig.course_coverage.combined())
    renderer = markdown_renderer(mkdocs_config, ROOT)
    report = check_site(ROOT / "docs", ROOT, renderer, missing_lines, pytestconfig.course_passed_blocks)
    pytestconfig.course_guard_report = report.summary()
    print(report.summary())
    assert report.shown > 0, "the guard found no Python block at all: is it looking in the right place?"
    assert not report.unexecuted, report.summary()


# ---------------------------------------------------------------------------
# The guard itself can fail: a small made-up site with every kind of block.
# ---------------------------------------------------------------------------
FAKE_SNIPPET = """\
def shown_and_run():
    return 1
# --8<-- [start:ran]
def ran():
    return 2
# --8<-- [end:ran]
# --8<-- [start:never]
def never_called():
    return 3
# --8<-- [end:never]
# --8<-- [start:hidden]
def hidden():  # pragma: no cover
    return 4
# --8<-- [end:hidden]
"""

FAKE_PAGE = """\
# A page

```python
print("inline, executed")
```

<!--pytest-codeblocks:cont-->

```python
print("continued, executed")
```

=== "In a tab"

    ```python
    print("in a tab, executed")
    ```

```python title="snippets/fake.py"
--8<-- "snippets/fake.py:ran"
```

```python title="snippets/fake.py"
--8<-- "snippets/fake.py:never"
```

```python title="shown only"
print("a title hides it from pytest-codeblocks")
```

~~~python
print("tildes hide it too")
~~~

```{.python}
print("and so does this spelling")
```

<!--pytest.mark.skip(reason="needs a GPU")-->

```python
print("exempt, with a reason")
```

<!--pytest.mark.skip-->

```python
print("skipped without a reason")
```

<!--pytest-codeblocks:importorskip(no_such_module)-->

```python
print("skipped at run time")
```

```python
print("inline, executed")
```

```python title="only part of a block that ran"
print("inline, executed")
```

```pycon
>>> print("a console session")
```

<!--pytest.mark.skip(reason="shows a transcript")-->

```pycon
>>> print("an exempt console session")
```

```python linenums="1"
x = 1
y = 2
```

<pre><code class="language-python">print("raw HTML")</code></pre>

```python title="snippets/fake.py"
--8<-- "snippets/fake.py:hidden"
```

<!--pytest-codeblocks:cont-->

```python
print("continues an include fence, which does not run, so neither does this")
```
"""

FAKE_NOTEBOOK = """\
# %% [markdown]
# # A notebook
#
# ```python
# print("in a markdown cell")
# ```

# %%
print("a code cell")
"""


def test_guard_flags_every_unexecuted_block(tmp_path, mkdocs_config):
    (tmp_path / "snippets").mkdir()
    snippet = tmp_path / "snippets" / "fake.py"
    snippet.write_text(FAKE_SNIPPET)
    docs = tmp_path / "docs"
    (docs / "chapter" / "notebooks").mkdir(parents=True)
    page = docs / "page.md"
    page.write_text(FAKE_PAGE)
    (docs / "other.markdown").write_text("# Not collected by pytest-codeblocks\n")
    (docs / "chapter" / "notebooks" / "nb.py").write_text(FAKE_NOTEBOOK)

    def missing_lines(path: Path) -> set[int]:
        assert path == snippet
        return {9, 13}  # the bodies of never_called() and hidden() did not run

    lines = FAKE_PAGE.splitlines()
    passed = {  # what pytest-codeblocks reported as passed: every plain block but the importorskip one
        (page.resolve(), n) for n, line in enumerate(lines, 1)
        if line.strip() == "```python" and not lines[n - 3].startswith("<!--")
    }
    renderer = markdown_renderer(mkdocs_config, tmp_path)
    report = check_site(docs, tmp_path, renderer, missing_lines, passed)
    problems = "\n".join(report.unexecuted)

    assert report.shown == 19, report.summary()
    assert report.inline == 4, report.summary()  # the first, the continued, the tab, the repeat
    assert report.included == 1
    assert report.exempt == ["page.md:41: needs a GPU", "page.md:71: shows a transcript"]
    expected = [
        "snippets/fake.py lines 8-9, but lines 9 never ran",
        "snippets/fake.py lines 12-13, but lines 13 never ran",  # pragma: no cover is no escape
        "a title hides it", "tildes hide it too", "and so does this spelling",  # fences pytest-codeblocks ignores
        "page.md:47: skipped without a written reason",
        "page.md:53: block starting 'print(\"skipped at run time\")' did not pass",
        "'python title=\"only part of a block that ran\"'",
        "'pycon'",
        "'python linenums=\"1\"'",
        "no fence in the page's source produces it",  # raw HTML <pre>
        "other.markdown: name pages *.md",
        "a ```python fence in a markdown cell",
        "page.md:88: block starting 'print(\"continues an include fence",
    ]
    for text in expected:
        assert text in problems, f"{text!r} not reported:\n{problems}"
    assert len(report.unexecuted) == len(expected), problems


def test_line_range_and_whole_file_includes(tmp_path):
    snippet = tmp_path / "s.py"
    snippet.write_text("a = 1\n# --8<-- [start:x]\nb = 2\n# --8<-- [end:x]\nc = 3\nd = 4\n")
    assert resolve_include("s.py", tmp_path).lines == [1, 3, 5, 6]
    assert resolve_include("s.py:x", tmp_path).text == "b = 2"
    assert resolve_include("s.py:5:6", tmp_path).text == "c = 3\nd = 4"
    assert resolve_include("s.py:1:1,5:5", tmp_path).text == "a = 1\nc = 3"


def test_pragma_no_cover_does_not_hide_a_shown_line(tmp_path, monkeypatch):
    import coverage

    module = tmp_path / "covered_module.py"
    module.write_text("def used():\n    return 1\n\n\ndef unused():  # pragma: no cover\n    return 2\n\n\nused()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    cov = coverage.Coverage(data_file=str(tmp_path / ".coverage"), source=[str(tmp_path)], config_file=False)
    cov.start()
    import covered_module  # noqa: F401

    cov.stop()
    cov.save()
    # The body of unused() never ran; its `pragma: no cover` would have hidden it.
    assert coverage_missing_lines(tmp_path / ".coverage")(module) == {6}


@pytest.mark.whole_run
def test_outputs_from_recorded_replies_are_labelled(pytestconfig):
    """Exactly the outputs of page blocks that talked to a fake LLM API server
    are labelled ```{.text .recorded}: the reader knows a recording answered."""
    from harness.recorded import is_labelled, output_fences

    api_blocks = pytestconfig.course_api_blocks
    ran = pytestconfig.course_passed_blocks
    if not ran:
        pytest.skip("run with the pages: pytest docs tests/harness/test_guard.py")
    assert api_blocks, "no page block reached a fake API server: is the plugin registered?"
    problems = []
    for page in sorted((ROOT / "docs").rglob("*.md")):
        for line, info in output_fences(page).items():
            key = (page.resolve(), line)
            if key not in ran:
                continue
            if (key in api_blocks) != is_labelled(info):
                what = "shows a recorded reply without the label" if key in api_blocks \
                    else "is labelled recorded but reached no fake server"
                problems.append(f"{page.relative_to(ROOT / 'docs')}:{line}: {what} ({info!r})")
    assert not problems, "\n".join(problems)
