"""How the suite is cut into groups for the workers (harness/parallel.py):
what must run together does, and what is marked spread goes alone."""

from __future__ import annotations

import textwrap

from harness.parallel import group_of

PAGE = textwrap.dedent("""\
    # A page

    ```python
    x = 1
    ```

    <!--pytest.mark.spread-->
    <!--pytest.mark.tolerance(abs=0.05)-->
    ```python
    print("a long training")
    ```

    <!--pytest.mark.tolerance(abs=0.05)-->
    ```python
    print("trains, not marked")
    ```

    <!--pytest.mark.spread-->

    ```python
    print("a blank line: the mark is not this block's")
    ```
    """)


def test_a_page_stays_together_but_for_its_blocks_marked_spread(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "page.md").write_text(PAGE)
    lines = {line: f"docs/page.md::line {line}" for line in (3, 9, 14, 20)}
    assert PAGE.splitlines()[8] == "```python"                # the node id's line is the fence's
    assert group_of(tmp_path, lines[9]) == lines[9]            # alone
    assert {group_of(tmp_path, lines[n]) for n in (3, 14, 20)} == {"docs/page.md"}


def test_modules_go_whole_unless_spread_and_the_site_readers_together(tmp_path):
    (tmp_path / "test_a.py").write_text("def test_one(): pass\n")
    (tmp_path / "test_b.py").write_text("import pytest\npytestmark = pytest.mark.spread\n")
    (tmp_path / "test_c.py").write_text("def test_site(built_site): pass\n")
    assert group_of(tmp_path, "test_a.py::test_one") == "test_a.py"
    assert group_of(tmp_path, "test_b.py::test_x[1]") == "test_b.py::test_x[1]"
    assert group_of(tmp_path, "test_c.py::test_site") == "site"


def test_the_build_up_stages_run_on_any_worker():
    """llm/build.md's trainings are the longest page blocks: together on one
    worker, the second pass on other kernels waited half a minute for them."""
    from support import ROOT

    page = (ROOT / "docs" / "llm" / "build.md").read_text().splitlines()
    fences = [n + 1 for n, line in enumerate(page) if line == "```python"
              and "STAGES[" in "\n".join(page[n:n + 6])]
    assert len(fences) >= 5
    assert all(group_of(ROOT, f"docs/llm/build.md::line {n}") != "docs/llm/build.md" for n in fences)
