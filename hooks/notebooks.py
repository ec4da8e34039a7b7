"""Notebook pages: a downloadable .ipynb for each notebook, and no CDN scripts.

Notebooks live in each chapter's folder, docs/<chapter>/notebooks/, as
jupytext percent-format ``.py`` files (clean diffs). hooks/prebuild.py
executes them, all at once beside the figures, into .cache/prebuild/
(keyed on the notebook and the course code); mkdocs-jupyter renders the
executed copy (this hook hands it over: see ``on_config``), and keeps its
rendered pages in a cache folder of the same code. This hook also adds

* ``<chapter>/notebooks/<name>.ipynb`` to the site, converted from the ``.py`` with an
  extra first cell that installs the course code when the notebook runs on
  Google Colab. The "Download" and "Open in Colab" links (overrides/main.html)
  point at it: Colab opens it from the gh-pages branch that the deploy
  workflow publishes.
* a clean-up of the rendered notebook HTML: nbconvert's template loads MathJax
  (and may load other scripts) from a CDN; the course makes no request to
  another host, so those script tags are removed. Math in notebooks belongs in
  the pages, where hooks/mathml.py renders it.
* keyboard access to what scrolls: nbconvert's code cells and text outputs
  scroll sideways when lines are long, and a region that scrolls must be
  reachable with the keyboard (axe-core: scrollable-region-focusable), so
  they get tabindex="0" and a name;
* alt text for plots: nbconvert gives every image "No description has been
  provided"; a code cell whose first line is ``# alt: <what the plot shows>``
  gives its images that text instead;
* one stylesheet for all notebook pages: nbconvert writes its 0.6 MB of CSS
  into every notebook page; the hook moves it to ``assets/notebook-<hash>.css``
  and links it, so a notebook page weighs its outputs, and the browser
  fetches the CSS once.
"""

from __future__ import annotations

import hashlib
import html as html_module
import re
import sys
from pathlib import Path

import jupytext
import nbformat
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from hooks import prebuild  # noqa: E402

_SCRIPT = re.compile(r"<script\b(?P<attrs>[^>]*)>(?P<body>.*?)</script>", re.I | re.S)
_EMPTY_OR_REMOTE_SRC = re.compile(r'\bsrc="(?:(?:https?:)?//[^"]*)?"', re.I)
_REMOTE_IMPORT = re.compile(r"""["'](?:https?:)?//[^"']+\.m?js\b""", re.I)


def strip_remote_scripts(html: str) -> str:
    """Drop <script> tags that load code from another host (or from src="")."""

    def keep_or_drop(match: re.Match) -> str:
        if _EMPTY_OR_REMOTE_SRC.search(match["attrs"]) or _REMOTE_IMPORT.search(match["body"]):
            return ""
        return match.group(0)

    return _SCRIPT.sub(keep_or_drop, html)


def colab_setup_cell(repo_url: str) -> nbformat.NotebookNode:
    source = (
        "# Running on Google Colab? This installs the course code (the `genai` package).\n"
        "import sys\n"
        'if "google.colab" in sys.modules:\n'
        f'    %pip install --quiet "git+{repo_url}"'
    )
    return nbformat.v4.new_code_cell(source)


def to_ipynb(py_path: Path, repo_url: str) -> str:
    """The jupytext notebook as .ipynb JSON, outputs empty, Colab set-up first."""
    notebook = jupytext.read(py_path)
    notebook.cells.insert(1 if notebook.cells and notebook.cells[0].cell_type == "markdown" else 0,
                          colab_setup_cell(repo_url))
    notebook.metadata.pop("jupytext", None)
    return jupytext.writes(notebook, fmt="ipynb")


def is_notebook(src_uri: str) -> bool:
    """docs/<chapter>/notebooks/<name>.py"""
    parts = src_uri.split("/")
    return len(parts) == 3 and parts[1] == "notebooks" and src_uri.endswith(".py")


def render_executed(nb2html):
    """mkdocs-jupyter's nb2html, given the prebuilt executed copy of a
    notebook instead of its source: nothing executes twice."""
    if getattr(nb2html, "course_prebuilt", False):
        return nb2html

    def render(path, execute=False, **options):
        executed = prebuild.done(wait=False)["notebooks"].get(Path(path).resolve())
        if executed is not None and executed.is_file():
            return nb2html(str(executed), execute=False, **options)
        # `mkdocs serve` while the background step runs: the code, outputs to come
        return nb2html(path, execute=False, **options)

    render.course_prebuilt = True
    return render


@event_priority(100)   # before the plugins read their configuration
def on_config(config):
    from mkdocs_jupyter import plugin as jupyter

    jupyter.convert.nb2html = render_executed(jupyter.convert.nb2html)
    options = config["plugins"]["mkdocs-jupyter"].config
    # rendered pages of the notebooks' executed copies, one folder per state of the course code
    options["cache_dir"] = str(prebuild.CACHE / "rendered" / prebuild.code_hash())
    return config


def on_files(files: Files, config) -> Files:
    for file in list(files):
        if is_notebook(file.src_uri):
            ipynb = file.src_uri[: -len(".py")] + ".ipynb"
            content = to_ipynb(Path(file.abs_src_path), config["repo_url"])
            files.append(File.generated(config, ipynb, content=content))
    return files


def on_page_content(html, page, config, files):
    if is_notebook(page.file.src_uri):
        html = strip_remote_scripts(html)
    return html


_STYLE = re.compile(r"<style\b[^>]*>(?P<css>.*?)</style>", re.I | re.S)


def shared_stylesheet(html: str, page_url: str, site_dir: str) -> str:
    """Move the page's inline <style> blocks into one CSS file in the site
    (named by its content, so pages with the same CSS share it) and link it
    where the first block stood."""
    blocks = [m["css"] for m in _STYLE.finditer(html)]
    if not blocks:
        return html
    css = "\n".join(blocks)
    name = f"assets/notebook-{hashlib.sha256(css.encode()).hexdigest()[:12]}.css"
    target = Path(site_dir) / name
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(css, encoding="utf-8")
    depth = len([part for part in page_url.split("/") if part])
    link = f'<link rel="stylesheet" href="{"../" * depth}{name}">'
    first = True

    def replace(match):
        nonlocal first
        keep, first = first, False
        return link if keep else ""

    return _STYLE.sub(replace, html)


_SCROLLS = re.compile(r'<div class="(?P<cls>highlight-ipynb[^"]*|[^"]*\bjp-OutputArea-output\b[^"]*)"')


def focusable_scrollers(html: str) -> str:
    """tabindex="0" and a name on the code cells and the outputs, which
    scroll sideways when their lines are long."""
    def add(match: re.Match) -> str:
        name = "Code" if match["cls"].startswith("highlight-ipynb") else "Output"
        return f'{match.group(0)} tabindex="0" role="group" aria-label="{name}"'

    return _SCROLLS.sub(add, html)


_NO_ALT = 'alt="No description has been provided for this image"'
_ALT_COMMENT = re.compile(r"# alt: ([^<\n]+)")


def plot_descriptions(html: str) -> str:
    """Each cell's images get the text of its '# alt: ...' comment."""
    cells = re.split(r'(?=<div class="jp-Cell )', html)
    for i, cell in enumerate(cells):
        found = _ALT_COMMENT.search(cell)
        if found and _NO_ALT in cell:
            alt = html_module.escape(html_module.unescape(found.group(1).strip()), quote=True)
            cells[i] = cell.replace(_NO_ALT, f'alt="{alt}"')
    return "".join(cells)


def on_post_page(output, page, config):
    if is_notebook(page.file.src_uri):
        output = shared_stylesheet(output, page.url, config["site_dir"])
        output = focusable_scrollers(output)
        output = plot_descriptions(output)
    return output
