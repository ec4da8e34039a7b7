"""Draw the course's figures while the site builds.

Each chapter lists its figures in a ``figures.txt`` beside its pages, one per line:

    generative-models/img/boundary.png  genai.figures_generative:plot_boundary

The first field is where the image appears in the site (relative to docs/), the
second names a function of the course code that takes a ``pathlib.Path`` and
writes the image there. Pages link to the image as usual, and the strict build
checks those links. Images are never committed: every one comes from code that
ran. Results are cached under .cache/figures keyed on the course code, so
``mkdocs serve`` stays quick; set COURSE_BUILD_CACHE=false to redraw everything.
"""

from __future__ import annotations

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
CACHE = ROOT / ".cache" / "figures"


def read_registry(docs_dir: Path) -> list[tuple[str, str, Path]]:
    """(site path, 'module:function', registry file) for every registered figure."""
    figures = []
    for registry in sorted(docs_dir.rglob("figures.txt")):
        for number, line in enumerate(registry.read_text(encoding="utf-8").splitlines(), 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            fields = line.split()
            if len(fields) != 2 or ":" not in fields[1]:
                raise ValueError(
                    f"{registry}:{number}: expected '<path in site> <module>:<function>', got {line!r}"
                )
            figures.append((fields[0], fields[1], registry))
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
    for registry in list(files):
        if registry.src_uri.endswith("figures.txt"):
            files.remove(registry)  # the registry itself is not part of the site
    for site_path, target, registry in read_registry(docs_dir):
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
        files.append(File.generated(config, site_path, abs_src_path=str(cached)))
    return files
