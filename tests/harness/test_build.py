"""The strict build: it passes, executes the notebooks, draws the figures, stays offline."""

import json
import re
import sys
from pathlib import Path

import pytest

from support import PACKAGE, ROOT, load_hook

DOCS = ROOT / "docs"
NOTEBOOKS = sorted(DOCS.glob("*/notebooks/*.py"))


def html_pages(site: Path) -> list[Path]:
    return sorted(p for p in site.rglob("*.html") if p.name != "404.html")


def test_every_page_is_built(built_site):
    for page in DOCS.rglob("*.md"):
        rel = page.relative_to(DOCS).with_suffix("")
        target = built_site / (rel.parent if rel.name == "index" else rel) / "index.html"
        assert target.is_file(), f"{page} was not built to {target}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_executed_with_outputs_and_links(built_site, notebook):
    folder = built_site / notebook.parent.relative_to(DOCS)      # <chapter>/notebooks
    page = (folder / notebook.stem / "index.html").read_text()
    assert re.search(r'class="[^"]*\bjp-OutputArea-output\b', page), "the notebook page shows no executed output"
    assert re.search(r'<img\b[^>]*\bsrc="data:image/png', page), "the notebook page shows no plot"
    assert 'href="https://colab.research.google.com/github/' in page
    assert f"{notebook.stem}.ipynb" in page
    downloaded = json.loads((folder / f"{notebook.stem}.ipynb").read_text())
    assert downloaded["nbformat"] == 4
    assert any("google.colab" in "".join(cell["source"]) for cell in downloaded["cells"])
    assert (folder / notebook.stem / f"{notebook.stem}.py").is_file(), "the .py source is downloadable too"


def test_the_build_log_holds_nothing_to_frighten_a_newcomer(built_site):
    """The build is run as a reader runs it (the `mkdocs` command, whose
    path has no hooks folder: the prebuild's workers failed to start), and
    its log holds no traceback and no warning from a library: notebooks
    talk to their kernel over Unix sockets, not unencrypted TCP."""
    log = (built_site.parent / "build.log").read_text()
    for noise in ("Traceback", "Kernel is running over TCP", "DeprecationWarning",
                  "FutureWarning", "UserWarning"):
        assert noise not in log, f"{noise!r} in the build log:\n{log[log.find(noise) - 400:][:1200]}"


def test_every_figure_is_drawn(built_site):
    figures = load_hook("figures").read_registry(DOCS)
    assert len(figures) > 20
    for site_path, target in figures:
        drawn = built_site / site_path
        assert drawn.is_file(), f"{target} did not draw {site_path}"
        assert drawn.stat().st_size > 1000, f"{target} drew a near-empty {site_path}"
    index = built_site / "diffusion" / "img" / "forward_sprite.json"   # a file beside a figure
    assert json.loads(index.read_text()), "the slider's frame index is missing or empty"


REMOTE = re.compile(r'<(?:script|img|link|iframe|source|video|audio)\b[^>]*\b(?:src|href)="(?:https?:)?//[^"]+"', re.I)


def test_pages_load_nothing_from_other_hosts(built_site):
    """A static first check; the browser test watches the real requests."""
    for page in html_pages(built_site):
        found = REMOTE.findall(page.read_text())
        # <link rel="canonical"> names the public address of the page itself; it loads nothing.
        found = [tag for tag in found if 'rel="canonical"' not in tag]
        assert not found, f"{page.relative_to(built_site)} loads {found[:3]}"


def test_math_is_rendered_to_mathml(built_site):
    pages_with_math = 0
    for page in html_pages(built_site):
        text = page.read_text()
        assert 'class="arithmatex"' not in text, f"{page}: math left unrendered"
        pages_with_math += "<math " in text
    assert pages_with_math > 0


def test_math_hook_reports_bad_formulas():
    mathml = load_hook("mathml")
    assert "<mfrac>" in mathml.to_mathml(r"\frac{1}{2}", display=False)
    with pytest.raises(mathml.MathError, match="unknown LaTeX command"):
        mathml.to_mathml(r"\notacommand{x}", display=False)
    with pytest.raises(mathml.MathError, match="alignment"):
        mathml.to_mathml(r"\begin{aligned} a &= b \\ c &= d \end{aligned}", display=True)
    assert "<mtable>" in mathml.to_mathml(r"\begin{array}{rl} a &= b \\ c &= d \end{array}", display=True)
    with pytest.raises(mathml.MathError, match="unbalanced braces"):
        mathml.to_mathml(r"\frac{1}{2", display=True)


def test_notebook_hook_drops_scripts_from_other_hosts():
    notebooks = load_hook("notebooks")
    page = (
        '<script src=""> </script>'
        '<script src="https://cdn.example.org/mathjax.js"></script>'
        '<script type="module">const m = await import("https://cdn.example.org/mermaid.esm.min.mjs");</script>'
        '<script src="../assets/local.js"></script>'
        "<script>console.log('inline and local')</script>"
    )
    cleaned = notebooks.strip_remote_scripts(page)
    assert "example.org" not in cleaned and 'src=""' not in cleaned
    assert "../assets/local.js" in cleaned and "inline and local" in cleaned


def test_figures_are_the_plot_functions_of_each_chapters_figures_module():
    figures = dict(load_hook("figures").read_registry(DOCS))
    assert figures["gans/img/losses.png"] == "genai.gans.figures:plot_losses"
    assert figures["generative-models/img/gpt_sizes.png"] == "genai.generative_models.figures:plot_gpt_sizes"
    chapters = {path.split("/")[0] for path in figures}
    with_module = {p.parent.name.replace("_", "-") for p in PACKAGE.glob("*/figures.py")}
    assert chapters == with_module


def test_every_page_says_what_it_was_verified_with(built_site):
    import importlib.metadata

    torch_version = importlib.metadata.version("torch")
    for page in html_pages(built_site):
        text = page.read_text()
        assert f"Samples verified with torch {torch_version}, transformers" in text, page
        assert re.search(r"site built \d{4}-\d{2}-\d{2}\.", text), page


def test_no_page_weighs_over_a_megabyte(built_site):
    """Notebook pages link one shared stylesheet instead of carrying 0.6 MB
    of CSS each; images stay small enough."""
    heavy = {str(p.relative_to(built_site)): p.stat().st_size for p in html_pages(built_site)
             if p.stat().st_size > 1_000_000}
    assert not heavy, heavy
    for notebook in NOTEBOOKS:
        page = (built_site / notebook.parent.relative_to(DOCS) / notebook.stem / "index.html").read_text()
        linked = re.findall(r'href="((?:\.\./)+assets/notebook-\w+\.css)"', page)
        assert len(linked) == 1 and "<style" not in page


def test_every_navigation_landmark_is_named_by_text(built_site):
    """A sub-navigation named by an icon-only label has no name (axe-core's
    landmark-unique): hooks/landmarks.py names it by its section's title."""
    unnamed = []
    for path in html_pages(built_site):
        page = path.read_text(encoding="utf-8")
        for target in re.findall(r'<nav [^>]*aria-labelledby="([^"]+)"', page):
            label = re.search(rf'<label [^>]*id="{re.escape(target)}"[^>]*>(.*?)</label>', page, re.S)
            if not label or not re.sub(r"<[^>]+>", "", label.group(1)).strip():
                unnamed.append(f"{path.relative_to(built_site)}: {target}")
    assert not unnamed, unnamed[:5]


def test_the_landmarks_hook_points_each_nav_at_its_title():
    hook = load_hook("landmarks")
    html = ('<nav class="md-nav" data-md-level="1" aria-labelledby="__nav_5_label" '
            'aria-expanded="true">\n  <label class="md-nav__title" for="__nav_5">\n'
            '    <span class="md-nav__icon md-icon"></span> Transformers and LLMs</label>')
    out = hook.name_navigation(html)
    assert 'aria-labelledby="__nav_5_title"' in out
    assert '<label class="md-nav__title" for="__nav_5" id="__nav_5_title">' in out


# ---------------------------------------------------------------------------
# The prebuild step (hooks/prebuild.py): figures and notebooks, in parallel
# ---------------------------------------------------------------------------
NOTEBOOK = '''\
# %% [markdown]
# # A notebook

# %%
print("ran", 6 * 7)
'''


def prebuild_step():
    """hooks.prebuild by its module name, as the build imports it (its worker
    processes import it by that name)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from hooks import prebuild

    return prebuild


def test_the_prebuild_executes_notebooks_caches_them_and_a_failing_cell_fails_it(tmp_path, capfd):
    prebuild = prebuild_step()
    docs = tmp_path / "docs"
    (docs / "nb" / "notebooks").mkdir(parents=True)
    source = docs / "nb" / "notebooks" / "tiny.py"
    source.write_text(NOTEBOOK)
    cache = tmp_path / "cache"
    first = prebuild.prebuild(docs, cache, fresh=False, jobs=1, log=lambda text: None)
    executed = json.loads(first["notebooks"][source.resolve()].read_text())
    outputs = [out.get("text", "") for cell in executed["cells"] for out in cell.get("outputs", [])]
    assert "ran 42\n" in "".join(map("".join, outputs))
    assert [label for label, _ in first["made"]] == ["nb/notebooks/tiny.py"]
    # a line as each item starts, not only when it ends (a figure takes 41 s)
    assert "prebuild: making nb/notebooks/tiny.py ..." in capfd.readouterr().err
    # current: nothing made again; fresh (COURSE_BUILD_CACHE=false): made again
    assert prebuild.prebuild(docs, cache, fresh=False, jobs=1, log=lambda text: None)["made"] == []
    assert len(prebuild.prebuild(docs, cache, fresh=True, jobs=1, log=lambda text: None)["made"]) == 1
    source.write_text(NOTEBOOK + '\n# %%\nraise ValueError("a broken cell")\n')
    looked = prebuild.prebuild(docs, cache, fresh=False, jobs=0, log=lambda text: None)
    assert looked["missing"] == 1 and looked["made"] == []            # jobs=0 only looks
    with pytest.raises(RuntimeError, match="a broken cell"):
        prebuild.prebuild(docs, cache, fresh=False, jobs=1, log=lambda text: None)
    assert not list((cache / "notebooks").glob("*.partial.*")), "no half-made result is left"


def test_a_mistyped_address_does_not_abort_a_strict_rebuild(monkeypatch):
    """`mkdocs serve` is strict (mkdocs.yml): the warnings logged during a
    rebuild abort it. The dev server logged each 404 as a warning, so a
    reader's mistyped address during a rebuild stopped it. Served, the
    hook logs those lines as INFO; a page's own warning still counts."""
    import logging

    from mkdocs.livereload import log as server_log
    from mkdocs.utils import CountHandler

    figures = load_hook("figures")
    monkeypatch.setattr(figures, "SERVING", {"now": False})
    counter = CountHandler()
    counter.setLevel(logging.WARNING)
    logging.getLogger("mkdocs").addHandler(counter)
    try:
        def strict_count(message_from):
            before = sum(counter.counts.values())
            message_from()
            return sum(counter.counts.values()) - before

        def not_found():
            server_log.log(logging.WARNING, '"GET /no-such-page/ HTTP/1.1" code 404')

        assert strict_count(not_found) == 1                  # mkdocs' own behaviour
        figures.on_startup("serve", dirty=False)
        assert strict_count(not_found) == 0
        assert strict_count(lambda: logging.getLogger("mkdocs.structure.pages").warning(
            "Doc file 'x.md' contains a link 'y.md', but the target is not found")) == 1
    finally:
        logging.getLogger("mkdocs").removeHandler(counter)
        logging.getLogger("mkdocs.livereload").removeFilter(figures.ACCESS_LOG)


def test_a_notebook_leaves_no_kernel_behind(tmp_path):
    """The kernel stops with its notebook. A kernel left running stopped
    only when the build's worker did, and printed "[IPKernelApp] WARNING |
    Parent appears to have exited, shutting down" into `mkdocs serve`'s log."""
    import os

    def kernels() -> list[int]:
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
                command = (stat.parent / "cmdline").read_bytes()
            except (OSError, ValueError, IndexError):
                continue
            if parent == os.getpid() and b"ipykernel" in command:
                found.append(int(stat.parent.name))
        return found

    if not Path("/proc/self/stat").exists():
        pytest.skip("reads the process table from /proc (Linux)")
    source = tmp_path / "tiny.py"
    source.write_text(NOTEBOOK)
    before = kernels()
    prebuild_step().execute(source, tmp_path / "tiny.ipynb")
    assert (tmp_path / "tiny.ipynb").is_file()
    assert kernels() == before, "the notebook's kernel is still running"


@pytest.mark.parametrize("on_colab", [True, False], ids=["on Colab", "anywhere else"])
def test_the_colab_cell_installs_the_course_only_on_colab(on_colab, monkeypatch):
    """The downloaded notebook's first code cell, as IPython runs it: on
    Colab it pip-installs the course from its repository; elsewhere (the
    reader's own install) it does nothing."""
    import types

    from IPython.core.inputtransformer2 import TransformerManager

    cell = load_hook("notebooks").colab_setup_cell("https://github.com/x/course")
    code = TransformerManager().transform_cell(cell.source)      # %pip -> a call
    calls = []
    shell = types.SimpleNamespace(run_line_magic=lambda *args: calls.append(args))
    if on_colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    exec(code, {"get_ipython": lambda: shell})
    assert calls == ([("pip", 'install --quiet "git+https://github.com/x/course"')] if on_colab else [])


def test_the_notebook_hook_renders_the_executed_copy():
    notebooks = load_hook("notebooks")
    calls = []

    def nb2html(path, execute=False, **options):
        calls.append((path, execute))
        return "html"

    render = notebooks.render_executed(nb2html)
    assert notebooks.render_executed(render) is render          # wrapped once
    prebuild = notebooks.prebuild
    source = sorted(DOCS.glob("*/notebooks/*.py"))[0]
    executed = prebuild.done(wait=False)["notebooks"][source.resolve()]
    render(str(source), execute=True)
    if executed.is_file():
        assert calls == [(str(executed), False)]
    else:   # not made yet: the source, without running it here
        assert calls == [(str(source), False)]
