"""Draw the course's figures while the site builds.

Each chapter's figures are the ``plot_<name>`` functions of its package's
``figures`` module: ``genai.gans.figures.plot_losses`` draws
``docs/gans/img/losses.png`` (the package is the docs folder's name with
underscores: ``generative-models`` -> ``genai.generative_models``). Each
function takes a ``pathlib.Path`` and writes the image there, and may write
other files beside it (a ``.json`` index, say), which the site gets too.
Pages link to the image as usual, ``![what it shows](img/losses.png)``, and
the strict build checks those links. There is no list to keep: a new
``plot_*`` function is a new figure.

Images are never committed: every one comes from code that ran. Results are
cached under .cache/figures keyed on the course code, so ``mkdocs serve``
stays quick; set COURSE_BUILD_CACHE=false to redraw everything.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import logging
import os
import shutil
import tempfile
from pathlib import Path

from mkdocs.structure.files import File, Files

log = logging.getLogger("mkdocs.hooks.figures")

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "snippets" / "genai"
CACHE = ROOT / ".cache" / "figures"


def plot_functions(source: Path) -> list[str]:
    """The names of the top-level plot_* functions of a module, in order."""
    tree = ast.parse(source.read_text(encoding="utf-8"))
    return [node.name for node in tree.body
            if isinstance(node, ast.FunctionDef) and node.name.startswith("plot_")]


def read_registry(docs_dir: Path) -> list[tuple[str, str]]:
    """(site path of the image, 'module:function') of every chapter's figures."""
    figures = []
    for chapter in sorted(p for p in Path(docs_dir).iterdir() if p.is_dir()):
        package = chapter.name.replace("-", "_")
        source = PACKAGE / package / "figures.py"
        if source.is_file():
            for name in plot_functions(source):
                figures.append((f"{chapter.name}/img/{name.removeprefix('plot_')}.png",
                                f"genai.{package}.figures:{name}"))
    return figures


def _code_hash() -> str:
    digest = hashlib.sha256()
    for source in sorted((ROOT / "snippets").rglob("*.py")):
        digest.update(source.name.encode() + source.read_bytes())
    return digest.hexdigest()[:16]


def draw(target: str, path: Path) -> None:
    """Call 'module:function' to write one figure to path."""
    import matplotlib

    matplotlib.use("Agg")
    module_name, function_name = target.split(":")
    function = getattr(importlib.import_module(module_name), function_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    function(path)
    if not path.is_file():
        raise RuntimeError(f"{target} did not write {path}")


def on_files(files: Files, config) -> Files:
    docs_dir = Path(config["docs_dir"])
    use_cache = str(os.environ.get("COURSE_BUILD_CACHE", "true")).lower() not in {"0", "false", "no"}
    code_hash = _code_hash()
    for site_path, target in read_registry(docs_dir):
        key = hashlib.sha256(f"{code_hash}|{target}|{site_path}".encode()).hexdigest()[:16]
        cached = CACHE / key / Path(site_path).name
        if not (use_cache and cached.is_file()):
            # Draw into a scratch folder, then rename: an interrupted build
            # never leaves a half-written image in the cache.
            # The scratch folder is this build's own, so two builds at once
            # (mkdocs serve and the tests) cannot remove each other's work.
            CACHE.mkdir(parents=True, exist_ok=True)
            scratch = Path(tempfile.mkdtemp(dir=CACHE, prefix=f"{key}.partial."))
            try:
                log.info("Drawing %s with %s", site_path, target)
                draw(target, scratch / cached.name)
                shutil.rmtree(cached.parent, ignore_errors=True)
                try:
                    os.replace(scratch, cached.parent)
                except OSError:  # another build has just put the same figure there
                    if not cached.is_file():
                        raise
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
        folder = str(Path(site_path).parent)
        for drawn in sorted(cached.parent.iterdir()):   # the image, and any file beside it
            files.append(File.generated(config, f"{folder}/{drawn.name}", abs_src_path=str(drawn)))
    return files
