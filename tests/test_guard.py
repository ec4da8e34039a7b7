"""The guard: no Python block is shown on the site unless a test runs it.

This file runs last (see conftest.py), when every other test has had its
chance to execute course code. `pytest tests/test_guard.py` alone still works:
it runs each snippet as a script first.
"""

from pathlib import Path

import pytest
from mkdocs.config import load_config

from guard import check_site, coverage_missing_lines, markdown_renderer
from support import ROOT, snippet_modules


@pytest.fixture(scope="module")
def renderer():
    return markdown_renderer(load_config(str(ROOT / "mkdocs.yml")))


def test_every_shown_python_block_runs(pytestconfig, run_snippet, renderer):
    for module in snippet_modules():
        run_snippet(module)
    missing_lines = coverage_missing_lines(pytestconfig.course_coverage.combined())
    report = check_site(ROOT / "docs", ROOT, renderer, missing_lines)
    pytestconfig.course_guard_report = report.summary()
    print(report.summary())
    assert report.shown > 0, "the guard found no Python block at all: is it looking in the right place?"
    assert not report.unexecuted, report.summary()


# ---------------------------------------------------------------------------
# The guard itself can fail: a small made-up site with every kind of block.
# ---------------------------------------------------------------------------
FAKE_SNIPPET = '''\
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
'''

FAKE_PAGE = '''\
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
'''


def test_guard_flags_every_unexecuted_block(tmp_path, monkeypatch):
    (tmp_path / "snippets").mkdir()
    snippet = tmp_path / "snippets" / "fake.py"
    snippet.write_text(FAKE_SNIPPET)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "page.md").write_text(FAKE_PAGE)

    def missing_lines(path: Path) -> set[int]:
        assert path == snippet
        return {9}  # the body of never_called() did not run

    monkeypatch.chdir(tmp_path)  # pymdownx.snippets finds files from the working directory
    renderer = markdown_renderer(load_config(str(ROOT / "mkdocs.yml")))
    report = check_site(docs, tmp_path, renderer, missing_lines)

    assert report.shown == 10
    assert report.inline == 3
    assert report.included == 1
    assert report.exempt == ["page.md:41: needs a GPU"]
    problems = "\n".join(report.unexecuted)
    assert len(report.unexecuted) == 5, problems
    assert "skipped without a written reason" in problems
    assert "snippets/fake.py lines 8-9, but lines 9 never ran" in problems
    for text in ("a title hides it", "tildes hide it", "and so does this spelling"):
        assert text in problems
