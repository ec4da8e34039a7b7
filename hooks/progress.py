"""The progress page's list of chapter quizzes, made from the navigation.

A chapter is a section of ``nav:`` in mkdocs.yml whose last page is
``<chapter>/quiz.md``. docs/progress.md holds the marker
``<!-- quiz-chapters -->`` where this hook writes one link per chapter, in
the order of the navigation, with the ``data-chapter`` that
docs/assets/quiz.js reads. Nobody keeps that list by hand: a new chapter
in the nav, with a quiz, appears on the progress page.
"""

from __future__ import annotations

MARKER = "<!-- quiz-chapters -->"


def quiz_chapters(nav) -> list[tuple[str, str]]:
    """(folder, section title) of each nav section whose last page is a quiz."""
    chapters = []
    for entry in nav or []:
        if not isinstance(entry, dict):
            continue
        (title, pages), = entry.items()
        if isinstance(pages, list) and pages:
            last = pages[-1]
            last = next(iter(last.values())) if isinstance(last, dict) else last
            if isinstance(last, str) and last.endswith("/quiz.md"):
                chapters.append((last.split("/")[0], title))
    return chapters


def quiz_list(nav) -> str:
    return "\n".join(f'- [{title}]({folder}/quiz.md){{ data-chapter="{folder}" }}'
                     for folder, title in quiz_chapters(nav))


def on_page_markdown(markdown: str, page, config, **kwargs) -> str:
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, quiz_list(config["nav"]))
