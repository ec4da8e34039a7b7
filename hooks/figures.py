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

Images are never committed: every one comes from code that ran. The
drawing itself is hooks/prebuild.py, a plain step (``python -m
hooks.prebuild``) that draws in parallel into .cache/prebuild/, keyed on
the course code, so ``mkdocs serve`` stays quick; set
COURSE_BUILD_CACHE=false to redraw everything. This hook adds its results
to the site.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))   # hooks.prebuild, as `python -m hooks.prebuild` finds it

from hooks import prebuild  # noqa: E402

read_registry = prebuild.figure_registry   # (site path, 'module:function') of every figure


# A transparent 1x1 PNG: while `mkdocs serve` draws in the background, a
# figure not drawn yet is this, and the page reloads when it is drawn.
PLACEHOLDER = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360606060000000050001a5f645400000000049454e44ae426082")
SERVING = {"now": False}


def on_startup(command, dirty):
    SERVING["now"] = command == "serve"
    server_log = logging.getLogger("mkdocs.livereload")
    if SERVING["now"] and ACCESS_LOG not in server_log.filters:
        server_log.addFilter(ACCESS_LOG)


class _AccessLog(logging.Filter):
    """The dev server logs each request not answered 200 (a mistyped
    address: 404) as a warning, and mkdocs.yml's strict mode counts the
    warnings logged during a rebuild: ten 404s during one aborted it, and
    the server looked stuck until the next edit. Such lines stay in the
    log, as INFO; the build's own warnings still count."""

    def filter(self, record):
        if '" code ' in record.getMessage():
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


ACCESS_LOG = _AccessLog()


class _NotDrawnYet(logging.Filter):
    """While serving with figures still being drawn: no warning for a link
    to a file a figure writes beside it (a .json index), not there yet."""

    def filter(self, record):
        message = record.getMessage()
        return not ("/img/" in message and "is not found among documentation files" in message)


NOT_DRAWN_YET = _NotDrawnYet()


def on_serve(server, config, builder):
    prebuild.READY.mkdir(parents=True, exist_ok=True)
    server.watch(str(prebuild.READY))     # the background step ends: rebuild and reload
    return server


def on_files(files: Files, config) -> Files:
    made = prebuild.done(Path(config["docs_dir"]), wait=not SERVING["now"], background=True)
    pages = logging.getLogger("mkdocs.structure.pages")
    pages.removeFilter(NOT_DRAWN_YET)
    if made["missing"]:   # serving: a preview now, the real build when they are made
        pages.addFilter(NOT_DRAWN_YET)
        # and the notebooks' pages rendered without outputs are not kept
        config["plugins"]["mkdocs-jupyter"].config["cache"] = False
    for site_path, folder in made["figures"].items():
        parent = str(Path(site_path).parent)
        if not folder.is_dir():      # serving, and not drawn yet
            files.append(File.generated(config, site_path, content=PLACEHOLDER))
            continue
        for drawn in sorted(folder.iterdir()):   # the image, and any file beside it
            files.append(File.generated(config, f"{parent}/{drawn.name}", abs_src_path=str(drawn)))
    return files
