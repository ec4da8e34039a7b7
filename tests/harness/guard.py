"""The guard: every Python block that the site shows must run under a test.

It renders each page in docs/ with the project's own Markdown configuration
(mkdocs.yml's markdown_extensions, so content tabs, admonitions, snippets and
odd fence spellings such as ``python title=...``, ``~~~python`` or ``{.python}``
render exactly as on the site), collects every Python code block in the HTML,
pairs each one with the fence in the page's source that produced it, and
accounts for it:

* **inline**: a plain ```` ```python ```` fence that pytest-codeblocks ran and
  that *passed* in this test session (a fence continued with
  ``<!--pytest-codeblocks:cont-->`` counts through the block it continues);
* **included**: it comes from ``snippets/`` through ``--8<--`` and every line
  it shows that holds a statement ran under the tests (coverage, with no
  ``pragma: no cover`` escape);
* **exempt**: a ``<!--pytest.mark.skip(reason="...")-->`` (or ``skipif``)
  comment with a written reason stands on the line before the fence; the
  reason is reported;
* otherwise it is **unexecuted**, and the guard fails.

Notebook markdown cells may not hold Python fences (only code cells run), and
pages must be ``.md`` files (pytest-codeblocks reads no other suffix).
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import markdown
from pygments.lexers.python import NumPyLexer, Python2Lexer, PythonConsoleLexer, PythonLexer
from pytest_codeblocks.main import extract_from_file

PYTHON_LANGUAGES = {
    alias
    for lexer in (PythonLexer, Python2Lexer, PythonConsoleLexer, NumPyLexer)
    for alias in lexer.aliases
    if alias not in {"bazel", "starlark", "sage"}
} | {"ipython", "ipython3"}
MARKDOWN_SUFFIXES = {".markdown", ".mdown", ".mkdn", ".mkd", ".md"}

INCLUDE = re.compile(r"""^\s*-{1,}8<-{1,}\s+(?P<quote>["'])(?P<spec>[^"']+)(?P=quote)\s*$""")
SECTION = re.compile(r"^\s*#\s*-{1,}8<-{1,}\s*\[(?P<kind>start|end):(?P<name>[^\]]+)\]\s*$")
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
_SKIP = re.compile(r"^\s*<!--[-\s]*(?P<mark>pytest\.mark\.skip(?:if)?\b.*?)\s*-->\s*$")
_CONT = re.compile(r"^\s*<!--[-\s]*pytest-codeblocks:cont[-\s]*-->\s*$")


def fence_language(info: str) -> str:
    """The language of a fence's info string: 'python title="x"' and '{.python}' -> 'python'."""
    info = info.strip()
    if info.startswith("{"):
        match = re.search(r"\.([\w+-]+)", info)
        return match.group(1).lower() if match else ""
    return info.split()[0].lower() if info else ""


def is_python(language: str) -> bool:
    return language.lower() in PYTHON_LANGUAGES


# ---------------------------------------------------------------------------
# What the rendered site shows
# ---------------------------------------------------------------------------
class _CodeBlockParser(HTMLParser):
    """Collect (language, text) of every <pre> block, as the reader sees it."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.blocks: list[tuple[str, str]] = []
        self._containers: list[tuple[str | None, bool]] = []  # div/td: (language, holds line numbers)
        self._in_pre = 0
        self._pre_language: str | None = None
        self._in_filename = 0
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        classes = (dict(attrs).get("class") or "").split()
        language = next((c[len("language-"):] for c in classes if c.startswith("language-")), None)
        if tag in ("div", "td"):
            self._containers.append((language, bool({"linenos", "linenodiv"} & set(classes))))
        elif tag == "pre":
            self._in_pre += 1
            if self._in_pre == 1:
                self._text = []
                self._pre_language = None
        elif tag == "code" and self._in_pre and language:
            self._pre_language = language  # a raw <pre><code class="language-x">
        elif tag == "span" and "filename" in classes:
            self._in_filename += 1

    def handle_endtag(self, tag):
        if tag in ("div", "td") and self._containers:
            self._containers.pop()
        elif tag == "pre" and self._in_pre:
            self._in_pre -= 1
            if self._in_pre == 0 and not any(lines for _, lines in self._containers):
                language = self._pre_language or next(
                    (lang for lang, _ in reversed(self._containers) if lang is not None), ""
                )
                self.blocks.append((language, "".join(self._text)))
        elif tag == "span" and self._in_filename:
            self._in_filename -= 1

    def handle_data(self, data):
        if self._in_pre and not self._in_filename:
            self._text.append(data)


def normalise(code: str) -> str:
    """Compare code blocks line by line, ignoring indentation, trailing space and
    blank lines (pytest-codeblocks drops blank lines inside indented fences)."""
    lines = [line.rstrip() for line in textwrap.dedent(code.expandtabs(4)).splitlines()]
    return "\n".join(line for line in lines if line)


def markdown_renderer(mkdocs_config, root: Path) -> markdown.Markdown:
    """Python-Markdown set up exactly as mkdocs.yml sets it up, finding snippets from root."""
    configs = {name: dict(options) for name, options in mkdocs_config["mdx_configs"].items()}
    configs.setdefault("pymdownx.snippets", {})["base_path"] = [str(root)]
    return markdown.Markdown(extensions=mkdocs_config["markdown_extensions"], extension_configs=configs)


def shown_python_blocks(page_source: str, renderer: markdown.Markdown) -> list[str]:
    """The text of every Python code block the page shows once rendered."""
    renderer.reset()
    parser = _CodeBlockParser()
    parser.feed(renderer.convert(page_source))
    return [normalise(text) for language, text in parser.blocks if is_python(language)]


# ---------------------------------------------------------------------------
# The page's source
# ---------------------------------------------------------------------------
@dataclass
class Include:
    """Lines of a file in snippets/ that a page shows."""

    path: Path
    lines: list[int]  # 1-based line numbers shown
    text: str


def resolve_include(spec: str, root: Path) -> Include:
    """'file', 'file:section' or 'file:first:last[,first:last]' as pymdownx.snippets reads it."""
    name, _, selector = spec.partition(":")
    path = root / name
    lines = path.read_text(encoding="utf-8").splitlines()
    if not selector:
        ranges = [(1, len(lines))]
    elif re.fullmatch(r"[\d:,]+", selector):
        ranges = []
        for part in selector.split(","):
            first, _, last = part.partition(":")
            ranges.append((int(first or 1), int(last or len(lines))))
    else:
        marks = {(m["kind"], m["name"]): i for i, line in enumerate(lines, 1) if (m := SECTION.match(line))}
        if ("start", selector) not in marks or ("end", selector) not in marks:
            raise ValueError(f"section {selector!r} not found in {name}")
        ranges = [(marks["start", selector] + 1, marks["end", selector] - 1)]
    shown = [n for first, last in ranges for n in range(first, min(last, len(lines)) + 1)
             if not SECTION.match(lines[n - 1])]
    return Include(path, shown, normalise("\n".join(lines[n - 1] for n in shown)))


@dataclass
class Fence:
    line: int  # 1-based line of the opening fence
    info: str
    body: str
    backticks: bool
    skip_mark: str | None = None  # a pytest.mark.skip... comment on the line before
    continues: bool = False  # <!--pytest-codeblocks:cont--> on the line before
    includes: list[Include] = field(default_factory=list)
    shown: str = ""  # what the reader sees, normalised

    @property
    def language(self) -> str:
        return fence_language(self.info)


def fences(page_source: str, root: Path) -> list[Fence]:
    """Every top-level fenced block in Markdown source, with what it will show."""
    lines = page_source.splitlines()
    found: list[Fence] = []
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, fence = match["indent"], match["fence"]
        body = []
        j = i + 1
        while j < len(lines):
            close = lines[j].strip()
            if close.startswith(fence[0] * len(fence)) and not close.strip(fence[0]):
                break
            body.append(lines[j][len(indent):] if lines[j].startswith(indent) else lines[j].lstrip())
            j += 1
        previous = next((lines[k] for k in range(i - 1, -1, -1) if lines[k].strip()), "")
        skip = _SKIP.match(previous)
        item = Fence(i + 1, match["info"], "\n".join(body), fence[0] == "`",
                     skip["mark"] if skip else None, bool(_CONT.match(previous)))
        shown = []
        for line in item.body.splitlines():
            include = INCLUDE.match(line)
            if include:
                item.includes.append(resolve_include(include["spec"], root))
                shown.append(item.includes[-1].text)
            else:
                shown.append(line)
        item.shown = normalise("\n".join(shown))
        found.append(item)
        i = j + 1
    return found


def skip_reason(mark: str) -> str | None:
    """The written reason of a pytest.mark.skip/skipif comment, or None."""
    try:
        call = ast.parse(mark, mode="eval").body
    except SyntaxError:
        return None
    if not isinstance(call, ast.Call):
        return None
    for keyword in call.keywords:
        if keyword.arg == "reason" and isinstance(keyword.value, ast.Constant):
            return str(keyword.value.value).strip() or None
    if mark.startswith("pytest.mark.skip(") and call.args and isinstance(call.args[0], ast.Constant):
        return str(call.args[0].value).strip() or None
    return None


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
            f"{len(self.notebooks)} notebooks, executed by the strict build (execute: true, allow_errors: false)"
        ]
        lines += [f"  exempt: {item}" for item in self.exempt]
        lines += [f"  UNEXECUTED: {item}" for item in self.unexecuted]
        return "\n".join(lines)


def check_site(docs_dir: Path, root: Path, renderer: markdown.Markdown, missing_lines, passed_blocks) -> Report:
    """Account for every shown Python block of every page under docs_dir.

    missing_lines(path) -> line numbers of that file holding statements that did
    not run (coverage). passed_blocks: {(page path, fence line)} of the
    pytest-codeblocks items that passed in this session.
    """
    report = Report()
    for page in sorted(p for p in docs_dir.rglob("*") if p.suffix in MARKDOWN_SUFFIXES - {".md"}):
        report.unexecuted.append(f"{page.relative_to(docs_dir)}: name pages *.md (pytest-codeblocks reads no other suffix)")
    for notebook in sorted(docs_dir.glob("*/notebooks/*.py")):
        report.notebooks.append(str(notebook.relative_to(docs_dir)))
        report.unexecuted += _python_in_notebook_markdown(notebook, docs_dir, root)
    for page in sorted(docs_dir.rglob("*.md")):
        _check_page(page, docs_dir, root, renderer, missing_lines, passed_blocks, report)
    return report


def _check_page(page, docs_dir, root, renderer, missing_lines, passed_blocks, report):
    source = page.read_text(encoding="utf-8")
    name = str(page.relative_to(docs_dir))
    shown = shown_python_blocks(source, renderer)
    report.shown += len(shown)
    page_fences = [f for f in fences(source, root) if is_python(f.language)]
    # pytest-codeblocks runs ```python fences (exactly that info string); a
    # "cont" fence is run as part of the block it continues.
    # The block a "cont" fence joins is the last fence before it, whatever
    # its language: after a titled include fence (```python title=...), which
    # pytest-codeblocks does not run, the continued code does not run either.
    block_syntax = {block.lineno: block.syntax for block in extract_from_file(page)}
    used = set()
    for text in shown:
        fence = next((f for f in page_fences if f.line not in used and f.shown == text), None)
        first_line = text.split("\n", 1)[0][:60]
        if fence is None:
            report.unexecuted.append(
                f"{name}: block starting {first_line!r} is shown, but no fence in the page's "
                "source produces it (raw HTML, or an include form the guard does not know)"
            )
            continue
        used.add(fence.line)
        where = f"{name}:{fence.line}"
        if fence.skip_mark is not None:
            reason = skip_reason(fence.skip_mark)
            if not fence.backticks:
                report.unexecuted.append(
                    f"{where}: a skip mark before a ~~~ fence: pytest-codeblocks would apply it to the "
                    "next ``` fence instead; use backticks"
                )
            elif reason:
                report.exempt.append(f"{where}: {reason}")
            else:
                report.unexecuted.append(
                    f"{where}: skipped without a written reason "
                    '(write <!--pytest.mark.skip(reason="...")-->)'
                )
            continue
        if fence.includes:
            problems = []
            for include in fence.includes:
                missing = sorted(set(include.lines) & missing_lines(include.path))
                if missing:
                    problems.append(
                        f"{where}: shows {include.path.relative_to(root)} lines "
                        f"{include.lines[0]}-{include.lines[-1]}, but lines "
                        f"{', '.join(map(str, missing))} never ran under the tests"
                    )
            if problems:
                report.unexecuted += problems
            else:
                report.included += 1
            continue
        if fence.backticks and fence.info.strip() == "python":
            owner = fence.line if not fence.continues else max((s for s in block_syntax if s < fence.line), default=None)
            if fence.continues and block_syntax.get(owner) != "python":
                report.unexecuted.append(
                    f"{where}: block starting {first_line!r} continues the fence at line {owner}, which "
                    "pytest-codeblocks does not run (an include or another language), so it never runs: "
                    "drop the cont mark and import what the block needs"
                )
                continue
            if owner is not None and (page.resolve(), owner) in passed_blocks:
                report.inline += 1
                continue
            report.unexecuted.append(
                f"{where}: block starting {first_line!r} did not pass under pytest-codeblocks in this "
                "session (skipped, xfail, not collected, or failed; run it with `pytest docs`, "
                "and show errors by catching and printing them)"
            )
            continue
        report.unexecuted.append(
            f"{where}: block starting {first_line!r} is shown but no test runs it: fence "
            f"{fence.info.strip()!r} is not one pytest-codeblocks runs (write a plain ```python "
            "fence, or include the code from snippets/)"
        )


def _python_in_notebook_markdown(notebook: Path, docs_dir: Path, root: Path) -> list[str]:
    import jupytext

    problems = []
    for cell in jupytext.read(notebook).cells:
        if cell.cell_type != "markdown":
            continue
        for fence in fences(cell.source, root):
            if is_python(fence.language):
                problems.append(
                    f"{notebook.relative_to(docs_dir)}: a ```{fence.language} fence in a markdown cell is "
                    "shown but never run; make it a code cell"
                )
    return problems


def coverage_missing_lines(data_file: Path):
    """missing_lines(path) backed by a combined coverage data file.

    Exclusions are cleared: `# pragma: no cover` cannot hide a shown line
    that never ran.
    """
    import coverage

    cov = coverage.Coverage(data_file=str(data_file), config_file=False)
    cov.clear_exclude()
    cov.load()

    def missing_lines(path: Path) -> set[int]:
        _, statements, _, missing, _ = cov.analysis2(str(path.resolve()))
        return set(missing)

    return missing_lines
