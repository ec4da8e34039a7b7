"""A chapter is added in four places, and nowhere else.

In a temporary copy of the course, a throwaway chapter "Coins" is added as
CONTRIBUTING.md says: its pages in docs/coins/, its code in
snippets/genai/coins/ (one module and its figures), its tests in
tests/coins/, and its entry in the nav of mkdocs.yml. Then the strict build
draws its figure, the progress page lists its quiz, and its tests, its
page's samples and the site-wide checks on quizzes and sections pass:
nothing else needed editing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from support import ROOT

PAGES = {
    "docs/coins/index.md": '''\
        # Coins

        !!! abstract "What you will learn"

            - How to sample a fair coin.

        ```python
        from genai.coins.coin import flips

        print(flips(10, seed=0))
        ```

        <!--pytest-codeblocks:expected-output-->
        ```text
        5 heads in 10 flips
        ```

        ![A bar chart of heads and tails in 1,000 flips](img/heads.png)

        ## Summary

        A coin is a generative model with one parameter.
        ''',
    "docs/coins/quiz.md": "# Quiz: coins\n\n<div class=\"quiz\" data-chapter=\"coins\" markdown>\n\n" + "".join(
        f"<div class=\"quiz-question\" markdown>\n\nQuestion {n} about a coin?\n\n"
        "- Heads\n  { .correct }\n- Tails\n- Both\n\n"
        "<details class=\"quiz-explanation\" markdown>\n<summary>Answer and explanation</summary>\n\n"
        "**Heads.** See [Coins](index.md).\n\n</details>\n</div>\n\n" for n in range(1, 5)) + "</div>\n",
    "snippets/genai/coins/__init__.py": '''\
        """The chapter "Coins" (docs/coins/)."""
        ''',
    "snippets/genai/coins/coin.py": '''\
        """Flip a fair coin.

            python -m genai.coins.coin
        """

        import random


        def flips(n: int, seed: int = 0) -> str:
            rng = random.Random(seed)
            heads = sum(rng.random() < 0.5 for _ in range(n))
            return f"{heads} heads in {n} flips"


        if __name__ == "__main__":
            print(flips(10))
        ''',
    "snippets/genai/coins/figures.py": '''\
        """Figures of the chapter "Coins"."""

        from matplotlib.figure import Figure

        from genai.coins.coin import flips
        from genai.drawing import save_figure


        def plot_heads(path) -> None:
            """Heads and tails in 1,000 flips."""
            heads = int(flips(1000).split()[0])
            fig = Figure(figsize=(4, 3))
            fig.subplots().bar(["heads", "tails"], [heads, 1000 - heads])
            save_figure(fig, path)
        ''',
    "tests/coins/test_coin.py": '''\
        from genai.coins.coin import flips


        def test_ten_flips():
            assert flips(10, seed=0).endswith("heads in 10 flips")
        ''',
}
NAV = '''\
nav:
  - Home: index.md
  - Your progress: progress.md
'''
COINS = '''\
  - Coins:
      - coins/index.md
      - Quiz: coins/quiz.md
'''


def copy_of_the_course(target: Path) -> None:
    """The committed files of the course, without the other chapters' pages
    (they would make the build slow; the hooks find chapters in docs/)."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split("\n")
    chapters = {p.parent.name for p in (ROOT / "docs").glob("*/index.md")}
    for name in filter(None, listed):
        parts = Path(name).parts
        if parts[0] == "docs" and len(parts) > 2 and parts[1] in chapters:
            continue
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_a_new_chapter_needs_four_places(tmp_path):
    course = tmp_path / "course"
    copy_of_the_course(course)
    config = course / "mkdocs.yml"
    text = config.read_text()
    config.write_text(text[:text.index("\nnav:\n") + 1] + NAV)    # the other chapters are gone,
    (course / "docs" / "index.md").write_text("# A course\n\nOne chapter.\n")   # and their links
    before = snapshot(course)

    for name, content in PAGES.items():                        # the chapter's own files
        (course / name).parent.mkdir(parents=True, exist_ok=True)
        (course / name).write_text(textwrap.dedent(content))
    text = config.read_text()                                  # and the chapter in the nav
    config.write_text(text.replace("  - Your progress:", COINS + "  - Your progress:"))

    after = snapshot(course)
    changed = {name for name in after if before.get(name) != after[name]}
    places = {"mkdocs.yml" if name == "mkdocs.yml" else
              "/".join(Path(name).parts[:3] if name.startswith("snippets/") else Path(name).parts[:2])
              for name in changed}
    assert places == {"docs/coins", "snippets/genai/coins", "tests/coins", "mkdocs.yml"}

    env = {**os.environ, "PYTHONPATH": str(course / "snippets"), "COURSE_BUILD_CACHE": "false",
           "MPLBACKEND": "Agg"}
    env.pop("COVERAGE_PROCESS_START", None)
    site = tmp_path / "site"
    build = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                           cwd=course, env=env, capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    assert (site / "coins" / "img" / "heads.png").stat().st_size > 1000      # the figure, derived
    progress = (site / "progress" / "index.html").read_text()
    assert 'data-chapter="coins"' in progress and "coins/quiz/" in progress  # the quiz list, derived

    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", "tests/coins",
         "docs/coins", "tests/harness/test_quiz_data.py", "tests/harness/test_sections.py",
         # the copy has no other chapter's pages, which show the other sections
         "--deselect", "tests/harness/test_sections.py::test_every_section_is_shown_on_a_page"],
        cwd=course, env=env, capture_output=True, text=True, timeout=600)
    assert tests.returncode == 0, tests.stdout[-4000:]
    assert "failed" not in tests.stdout and " passed" in tests.stdout
