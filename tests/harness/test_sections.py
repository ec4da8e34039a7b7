"""Included sections (``# --8<-- [start:name]`` ... ``[end:name]``) start and end
at the edges of functions and classes: between two statements of the module's
body, or of one class's body (a method). A section that shows a class's
first line shows the whole class; none starts or ends inside a function."""

from __future__ import annotations

import ast

import pytest

from harness.guard import INCLUDE
from harness.guard import SECTION as MARKER     # one pattern for the guard and these tests
from support import PACKAGE, ROOT


def edges(tree: ast.Module, end: int) -> dict[int, dict[int, int]]:
    """{line: {indentation: id of the body}} for every line between two
    statements of the module's body or of a class's body, where a marker at
    that indentation may stand."""
    allowed: dict[int, dict[int, int]] = {}

    def visit(body, owner, limit):
        """limit: the first line after this body (the next statement outside it)."""
        if not body:
            return
        starts = [min([n.lineno] + [d.lineno for d in getattr(n, "decorator_list", [])])
                  for n in body]
        ends = [n.end_lineno for n in body]
        indent = body[0].col_offset
        bounds = [(0 if owner == 0 else starts[0] - 1, starts[0])]
        bounds += [(ends[i], starts[i + 1]) for i in range(len(body) - 1)]
        bounds += [(ends[-1], limit)]
        for low, high in bounds:
            for line in range(low + 1, high):
                allowed.setdefault(line, {}).setdefault(indent, owner)
        for i, node in enumerate(body):
            if isinstance(node, ast.ClassDef):
                visit(node.body, id(node), starts[i + 1] if i + 1 < len(body) else limit)

    visit(tree.body, 0, end)
    return allowed


def section_problems(source: str, name: str) -> list[str]:
    allowed = edges(ast.parse(source), len(source.splitlines()) + 1)
    problems, open_at = [], {}
    for number, line in enumerate(source.splitlines(), 1):
        match = MARKER.match(line)
        if not match:
            continue
        where = allowed.get(number, {}).get(len(line) - len(line.lstrip()))
        label = f"{name}:{number} [{match['kind']}:{match['name']}]"
        if where is None:
            problems.append(f"{label} stands inside a function or a statement")
        elif match["kind"] == "start":
            open_at[match["name"]] = where
        elif open_at.pop(match["name"], where) != where:
            problems.append(f"{label} ends in another body than it starts: it splits a class")
    return problems


def test_the_check_catches_split_classes_and_functions():
    source = '''\
# --8<-- [start:whole]
class A:
    x = 1

    # --8<-- [start:method]
    def f(self):
        return 1
    # --8<-- [end:method]
# --8<-- [end:whole]

# --8<-- [start:split]
class B:
    x = 1
# --8<-- [end:split]

    def g(self):
        # --8<-- [start:inside]
        return 2
        # --8<-- [end:inside]
'''
    problems = section_problems(source, "m.py")
    assert any("[end:split]" in p for p in problems)
    assert any("[start:inside] stands inside a function" in p for p in problems)
    assert not any("whole" in p or "method" in p for p in problems)


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_sections_start_and_end_at_function_and_class_edges(path):
    assert section_problems(path.read_text(encoding="utf-8"), path.name) == []


def test_every_section_is_shown_on_a_page():
    """A section that no page includes is dead weight that looks shown."""
    included = set()
    for page in (ROOT / "docs").rglob("*.md"):
        for line in page.read_text(encoding="utf-8").splitlines():
            if (match := INCLUDE.match(line)) and ":" in match["spec"]:
                included.add(tuple(match["spec"].rsplit(":", 1)))
    unused = [f"{path.relative_to(ROOT).as_posix()}:{match['name']}"
              for path in sorted(PACKAGE.rglob("*.py"))
              for line in path.read_text(encoding="utf-8").splitlines()
              if (match := MARKER.match(line)) and match["kind"] == "start"
              and (path.relative_to(ROOT).as_posix(), match["name"]) not in included]
    assert len(included) > 100 and not unused, unused
