"""Every content page is scaffolded the same way, and chapters refer to each
other by title: what a reader meets on one page, they meet on all."""

from __future__ import annotations

import re

import pytest
from mkdocs.config import load_config

from support import ROOT

DOCS = ROOT / "docs"


def nav_pages() -> list[str]:
    """Every Markdown page of the navigation, in order."""
    pages = []

    def walk(entries):
        for entry in entries:
            value = next(iter(entry.values())) if isinstance(entry, dict) else entry
            if isinstance(value, list):
                walk(value)
            elif value.endswith(".md"):
                pages.append(value)

    walk(load_config(str(ROOT / "mkdocs.yml"))["nav"])
    return pages


def content_pages() -> list[str]:
    """The pages that teach: not a chapter's index, exercises or quiz, nor
    the home and progress pages."""
    aside = ("index.md", "exercises.md", "quiz.md", "progress.md")
    return [page for page in nav_pages() if not page.endswith(aside)]


@pytest.mark.parametrize("page", content_pages())
def test_a_content_page_opens_with_what_you_will_learn_and_ends_with_a_summary(page):
    text = (DOCS / page).read_text(encoding="utf-8")
    head = "\n".join(text.splitlines()[:15])
    assert '"What you will learn"' in head, f"{page} does not open with 'What you will learn'"
    headings = re.findall(r"^## (.+)$", text, re.M)
    assert headings and headings[-1].strip() == "Summary", \
        f"{page}: the last section is {headings[-1] if headings else 'missing'!r}, not 'Summary'"


def test_every_chapter_has_exercises_with_solutions():
    chapters = sorted({page.split("/")[0] for page in nav_pages() if "/" in page})
    for chapter in chapters:
        exercises = DOCS / chapter / "exercises.md"
        assert exercises.is_file(), f"{chapter} has no exercises page"
        text = exercises.read_text(encoding="utf-8")
        assert text.count('??? success "Solution"') >= 3, f"{chapter}: fewer than 3 solutions"


def test_chapters_are_named_by_their_titles_not_their_numbers():
    numbered = re.compile(r"\b(?:chapters?|part)\s+\d+\b|\b(?:next|previous) chapters?\b"
                          r"|\(coming\)", re.I)
    found = []
    for page in sorted(DOCS.rglob("*.md")):
        if page == DOCS / "index.md":
            continue
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            if numbered.search(line):
                found.append(f"{page.relative_to(DOCS)}:{number}: {line.strip()}")
    assert not found, "\n".join(found)
