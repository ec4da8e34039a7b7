"""The chapter quizzes and the progress page, checked in their Markdown.

Each chapter of the navigation ends with `<chapter>/quiz.md`, holding one
`<div class="quiz" data-chapter="<chapter>">` with 4 to 10 questions; each
question has one answer marked `{ .correct }` and an explanation that links
to the section it comes from. The progress page lists the same chapters, in
the order of the navigation (docs/assets/quiz.js reads that list). No quiz
shows code blocks. The pages are rendered with the site's own Markdown set-up.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from mkdocs.config import load_config

from harness.guard import markdown_renderer
from support import ROOT, load_hook

DOCS = ROOT / "docs"


@pytest.fixture(scope="module")
def config():
    return load_config(str(ROOT / "mkdocs.yml"))


@pytest.fixture(scope="module")
def renderer(config):
    return markdown_renderer(config, ROOT)


@pytest.fixture(scope="module")
def render(renderer):
    def render(path):
        renderer.reset()
        return renderer.convert(path.read_text(encoding="utf-8"))

    return render


def quiz_chapters(config) -> list[tuple[str, str]]:
    """(folder, section title) of each nav section whose last page is a quiz."""
    return load_hook("progress").quiz_chapters(config["nav"])


class _Tree(HTMLParser):
    """A tiny DOM: enough to find quizzes, questions, answers and links."""

    VOID = {"br", "hr", "img", "input", "meta", "link", "wbr"}

    def __init__(self):
        super().__init__()
        self.root = {"tag": "root", "attrs": {}, "children": [], "text": ""}
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = {"tag": tag, "attrs": dict(attrs), "children": [], "text": ""}
        self.stack[-1]["children"].append(node)
        if tag not in self.VOID:
            self.stack.append(node)

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i]["tag"] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data):
        for node in self.stack:
            node["text"] += data


def parse(html):
    tree = _Tree()
    tree.feed(html)
    return tree.root


def find(node, predicate):
    found = []
    for child in node["children"]:
        if predicate(child):
            found.append(child)
        found.extend(find(child, predicate))
    return found


def has_class(name):
    return lambda n: name in n["attrs"].get("class", "").split()


def test_every_chapter_ends_with_a_quiz(config):
    chapters = quiz_chapters(config)
    assert chapters, "no nav section ends with a quiz"
    on_disk = sorted(p.parent.name for p in DOCS.glob("*/quiz.md"))
    assert sorted(folder for folder, _ in chapters) == on_disk


@pytest.mark.parametrize("chapter", sorted(p.parent.name for p in DOCS.glob("*/quiz.md")))
def test_quiz_is_well_formed(render, chapter):
    tree = parse(render(DOCS / chapter / "quiz.md"))
    quizzes = find(tree, has_class("quiz"))
    assert len(quizzes) == 1, "a quiz page holds one <div class=\"quiz\">"
    assert quizzes[0]["attrs"].get("data-chapter") == chapter
    assert not find(tree, lambda n: n["tag"] == "pre"), "quizzes show no code blocks"
    questions = find(quizzes[0], has_class("quiz-question"))
    assert 4 <= len(questions) <= 10, f"{len(questions)} questions (4 to 10 wanted)"
    said = re.search(r"\b(\w+) questions on this chapter",
                     (DOCS / chapter / "quiz.md").read_text(encoding="utf-8"))
    if said:                     # a count in words must be the count
        words = "four five six seven eight nine ten".split()
        assert said[1].lower() == words[len(questions) - 4], \
            f"the page says {said[1]!r} questions and holds {len(questions)}"
    prompts = set()
    for number, question in enumerate(questions, 1):
        where = f"{chapter} question {number}"
        kids = question["children"]
        paragraphs = [k for k in kids if k["tag"] == "p"]
        lists = [k for k in kids if k["tag"] in ("ul", "ol")]
        details = [k for k in kids if k["tag"] == "details"]
        assert paragraphs and paragraphs[0]["text"].strip(), f"{where}: no question text"
        prompts.add(" ".join(paragraphs[0]["text"].split()))
        assert len(lists) == 1, f"{where}: one list of answers wanted"
        answers = [k for k in lists[0]["children"] if k["tag"] == "li"]
        assert 3 <= len(answers) <= 5, f"{where}: {len(answers)} answers (3 to 5 wanted)"
        right = [a for a in answers if "correct" in a["attrs"].get("class", "").split()]
        assert len(right) == 1, f"{where}: mark exactly one answer {{ .correct }}"
        assert ".correct" not in lists[0]["text"], f"{where}: {{ .correct }} goes on its own line"
        assert len(details) == 1 and "quiz-explanation" in details[0]["attrs"].get("class", ""), \
            f"{where}: one <details class=\"quiz-explanation\"> wanted"
        links = find(details[0], lambda n: n["tag"] == "a" and n["attrs"].get("href"))
        assert links, f"{where}: the explanation links to the section it comes from"
    assert len(prompts) == len(questions), "two questions have the same text"


def test_progress_page_lists_the_quiz_chapters_in_nav_order(config, renderer):
    """hooks/progress.py writes the list from the nav: nobody keeps it by hand."""
    source = (DOCS / "progress.md").read_text(encoding="utf-8")
    assert "<!-- quiz-chapters -->" in source and "data-chapter=" not in source
    markdown = load_hook("progress").on_page_markdown(source, page=None, config=config)
    renderer.reset()
    tree = parse(renderer.convert(markdown))
    boxes = find(tree, has_class("course-progress"))
    assert len(boxes) == 1
    links = find(boxes[0], lambda n: n["tag"] == "a" and "data-chapter" in n["attrs"])
    listed = [(a["attrs"]["data-chapter"], a["attrs"]["href"], a["text"].strip()) for a in links]
    expected = [(folder, f"{folder}/quiz.md", title) for folder, title in quiz_chapters(config)]
    assert listed == expected
