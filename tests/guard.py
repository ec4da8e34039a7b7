"""The guard: every Python block that the site shows must run under a test.

It renders each page in docs/ with the project's own Markdown configuration
(mkdocs.yml's markdown_extensions, so content tabs, admonitions, snippets and
odd fence spellings such as ``python title=...``, ``~~~python`` or ``{.python}``
render exactly as on the site), collects every Python code block in the HTML,
and accounts for each one:

* **inline**: pytest-codeblocks runs it (a ```` ```python ```` fence with no
  skip mark); a block continued with ``<!--pytest-codeblocks:cont-->`` counts
  through the block it continues;
* **included**: it comes from ``snippets/`` through ``--8<--`` and every
  statement in the lines it shows ran under the tests (coverage);
* **exempt**: a ``<!--pytest.mark.skip(reason="...")-->`` (or ``skipif``)
  comment with a written reason stands before it; the reason is reported;
* otherwise it is **unexecuted**, and the guard fails.
"""

from __future__ import annotations

import ast
import html
import re
import textwrap
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import markdown
from pytest_codeblocks.main import extract_from_file

PYTHON_LANGUAGES = {"python", "py", "python3", "py3", "pycon", "ipython", "ipython3"}
_INCLUDE = re.compile(r'^\s*-{1,}8<-{1,}\s+"(?P<spec>[^"]+)"\s*$')
_SECTION = re.compile(r"^\s*#\s*-{1,}8<-{1,}\s*\[(?P<kind>start|end):(?P<name>[^\]]+)\]\s*$")
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")


# ---------------------------------------------------------------------------
# What the rendered site shows
# ---------------------------------------------------------------------------
class _CodeBlockParser(HTMLParser):
    """Collect (language, text) of every highlighted <pre> code block."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.blocks: list[tuple[str, str]] = []
        self._languages: list[str | None] = []  # stack of div languages
        self._div_depth = 0
        self._in_pre = 0
        self._in_filename = 0
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if tag == "div":
            language = next((c[len("language-"):] for c in classes if c.startswith("language-")), None)
            if language is None and "highlight" in classes:
                language = ""
            self._languages.append(language)
        elif tag == "pre":
            self._in_pre += 1
            if self._in_pre == 1:
                self._text = []
        elif tag == "span" and "filename" in classes:
            self._in_filename += 1

    def handle_endtag(self, tag):
        if tag == "div" and self._languages:
            self._languages.pop()
        elif tag == "pre" and self._in_pre:
            self._in_pre -= 1
            if self._in_pre == 0:
                self.blocks.append((self._current_language() or "", "".join(self._text)))
        elif tag == "span" and self._in_filename:
            self._in_filename -= 1

    def handle_data(self, data):
        if self._in_pre and not self._in_filename:
            self._text.append(data)

    def _current_language(self):
        for language in reversed(self._languages):
            if language is not None:
                return language
        return None


def normalise(code: str) -> str:
    """Compare code blocks line by line, ignoring indentation, trailing space and
    blank lines (pytest-codeblocks drops blank lines inside indented fences)."""
    lines = [line.rstrip() for line in textwrap.dedent(code.expandtabs(4)).splitlines()]
    return "\n".join(line for line in lines if line)


def markdown_renderer(mkdocs_config) -> markdown.Markdown:
    return markdown.Markdown(
        extensions=mkdocs_config["markdown_extensions"],
        extension_configs=mkdocs_config["mdx_configs"],
    )


def shown_python_blocks(page_source: str, renderer: markdown.Markdown) -> list[str]:
    """The text of every Python code block the page shows once rendered."""
    renderer.reset()
    parser = _CodeBlockParser()
    parser.feed(renderer.convert(page_source))
    return [normalise(text) for language, text in parser.blocks if language.lower() in PYTHON_LANGUAGES]


# ---------------------------------------------------------------------------
# What runs
# ---------------------------------------------------------------------------
@dataclass
class Include:
    """Lines of a file in snippets/ that a page shows."""

    path: Path
    first: int  # 1-based, inclusive
    last: int
    text: str


def resolve_include(spec: str, root: Path) -> Include:
    """'file', 'file:section' or 'file:first:last' as pymdownx.snippets reads it."""
    parts = spec.split(":")
    path = root / parts[0]
    lines = path.read_text(encoding="utf-8").splitlines()
    if len(parts) == 1:
        first, last = 1, len(lines)
    elif len(parts) == 2:
        name = parts[1]
        starts = [i for i, line in enumerate(lines, 1) if (m := _SECTION.match(line)) and m["kind"] == "start" and m["name"] == name]
        ends = [i for i, line in enumerate(lines, 1) if (m := _SECTION.match(line)) and m["kind"] == "end" and m["name"] == name]
        if not starts or not ends:
            raise ValueError(f"section {name!r} not found in {parts[0]}")
        first, last = starts[0] + 1, ends[0] - 1
    else:
        first, last = int(parts[1] or 1), int(parts[2] or len(lines))
    shown = [line for line in lines[first - 1 : last] if not _SECTION.match(line)]
    return Include(path, first, last, normalise("\n".join(shown)))


def fences(page_source: str):
    """(info string, body, line number) of every fenced block in Markdown source."""
    lines = page_source.splitlines()
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if match and not match["info"].strip().startswith(("`", "~")):
            indent, fence = match["indent"], match["fence"]
            body = []
            j = i + 1
            while j < len(lines):
                close = lines[j].strip()
                if close.startswith(fence[0] * len(fence)) and not close.strip(fence[0]):
                    break
                body.append(lines[j][len(indent):] if lines[j].startswith(indent) else lines[j].lstrip())
                j += 1
            yield match["info"].strip(), "\n".join(body), i + 1
            i = j + 1
        else:
            i += 1


def includes_in(page_source: str, root: Path) -> list[Include]:
    found = []
    for _info, body, _line in fences(page_source):
        specs = [m["spec"] for line in body.splitlines() if (m := _INCLUDE.match(line))]
        for spec in specs:
            found.append(resolve_include(spec, root))
    return found


def _skip_reason(marks: list[str]) -> tuple[bool, str | None]:
    """(is skipped, written reason) from pytest-codeblocks marks."""
    for mark in marks:
        if mark.startswith("pytest.mark.skip"):
            call = ast.parse(mark, mode="eval").body
            reason = None
            if isinstance(call, ast.Call):
                for keyword in call.keywords:
                    if keyword.arg == "reason" and isinstance(keyword.value, ast.Constant):
                        reason = str(keyword.value.value).strip() or None
                if reason is None and mark.startswith("pytest.mark.skip(") and call.args:
                    if isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
                        reason = call.args[0].value.strip() or None
            return True, reason
    return False, None


def _contains(haystack: str, needle: str) -> bool:
    """Is needle a run of whole, consecutive lines of haystack?"""
    if not needle:
        return True
    hay, need = haystack.split("\n"), needle.split("\n")
    return any(hay[i : i + len(need)] == need for i in range(len(hay) - len(need) + 1))


# ---------------------------------------------------------------------------
# The accounting
# ---------------------------------------------------------------------------
@dataclass
class Report:
    shown: int = 0
    inline: int = 0
    included: int = 0
    exempt: list[str] = field(default_factory=list)
    unexecuted: list[str] = field(default_factory=list)
    notebooks: list[str] = field(default_factory=list)

    @property
    def executed(self) -> int:
        return self.inline + self.included

    def summary(self) -> str:
        lines = [
            f"guard: {self.shown} Python blocks shown on the site, {self.executed} executed "
            f"({self.inline} inline by pytest-codeblocks, {self.included} included from snippets/ and covered), "
            f"{len(self.exempt)} exempt, {len(self.unexecuted)} unexecuted; "
            f"{len(self.notebooks)} notebooks executed by the strict build"
        ]
        lines += [f"  exempt: {item}" for item in self.exempt]
        lines += [f"  UNEXECUTED: {item}" for item in self.unexecuted]
        return "\n".join(lines)


def check_site(docs_dir: Path, root: Path, renderer: markdown.Markdown, missing_lines) -> Report:
    """Account for every shown Python block of every page under docs_dir.

    missing_lines(path) -> set of statement line numbers of that file that did
    not run (from coverage).
    """
    report = Report()
    report.notebooks = sorted(str(p.relative_to(docs_dir)) for p in docs_dir.glob("notebooks/*.py"))
    for page in sorted(docs_dir.rglob("*.md")):
        source = page.read_text(encoding="utf-8")
        name = str(page.relative_to(docs_dir))
        shown = shown_python_blocks(source, renderer)
        report.shown += len(shown)
        executed, exempt = [], []
        for block in extract_from_file(page):
            if block.syntax != "python":
                continue
            skipped, reason = _skip_reason(block.marks)
            if skipped:
                exempt.append((normalise(block.code), reason, block.lineno))
            else:
                executed.append(normalise(block.code))
        includes = includes_in(source, root)
        for text in shown:
            first_line = text.split("\n", 1)[0][:60]
            if any(_contains(code, text) for code in executed):
                report.inline += 1
                continue
            include = next((inc for inc in includes if inc.text == text), None)
            if include is not None:
                missing = sorted(line for line in missing_lines(include.path) if include.first <= line <= include.last)
                if missing:
                    rel = include.path.relative_to(root)
                    report.unexecuted.append(
                        f"{name}: shows {rel} lines {include.first}-{include.last}, but lines "
                        f"{', '.join(map(str, missing))} never ran under the tests"
                    )
                else:
                    report.included += 1
                continue
            skip = next(((why, line) for code, why, line in exempt if _contains(code, text)), None)
            if skip is not None:
                why, line = skip
                if why:
                    report.exempt.append(f"{name}:{line}: {why}")
                else:
                    report.unexecuted.append(
                        f"{name}:{line}: skipped without a written reason "
                        '(write <!--pytest.mark.skip(reason="...")-->)'
                    )
                continue
            report.unexecuted.append(
                f"{name}: block starting {first_line!r} is shown but no test runs it "
                "(use a plain ```python fence, or include it from snippets/)"
            )
    return report


def coverage_missing_lines(data_file: Path):
    """missing_lines(path) backed by a combined coverage data file."""
    import coverage

    cov = coverage.Coverage(data_file=str(data_file))
    cov.load()
    measured = {Path(f).resolve() for f in cov.get_data().measured_files()}

    def missing_lines(path: Path) -> set[int]:
        path = path.resolve()
        if path not in measured:
            statements = cov.analysis2(str(path))[1]
            return set(statements)
        return set(cov.analysis2(str(path))[3])

    return missing_lines
