"""Before the site is built: draw every figure and execute every notebook.

    python -m hooks.prebuild             # what the code changed, in parallel
    python -m hooks.prebuild --no-cache  # everything again (COURSE_BUILD_CACHE=false)

A plain Python step that any site builder can call (MkDocs calls it from
hooks/figures.py and hooks/notebooks.py; another builder would run this
command, then read the files it names). It writes, under .cache/prebuild/:

* ``figures/<key>/<name>.png`` (and any file a plot function writes beside
  it): each chapter's ``plot_*`` functions (see hooks/figures.py);
* ``notebooks/<key>/<name>.ipynb``: each ``docs/<chapter>/notebooks/*.py``
  (jupytext) executed from top to bottom in a fresh kernel, in its folder;
  a cell that raises fails the step.

Each key is a hash of what made the file: the course's code (every ``.py``
under snippets/), and the plot function's name or the notebook's text. A
result whose key is current is not made again, so a warm ``mkdocs serve``
starts at once, and one edited page rebuilds without redrawing anything.
What is missing is made in parallel, one process per core. Every result is
written to a scratch folder and renamed into place: an interrupted step
never leaves half a figure, and two builds at once (``mkdocs serve`` and
the tests) never see each other's partial files.
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures
import hashlib
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PACKAGE = ROOT / "snippets" / "genai"
CACHE = ROOT / ".cache" / "prebuild"
NOTEBOOK_TIMEOUT_S = 600


def use_cache() -> bool:
    """COURSE_BUILD_CACHE=false (or 0, no) makes everything again."""
    return os.environ.get("COURSE_BUILD_CACHE", "true").lower() not in {"0", "false", "no"}


def code_hash(snippets: Path | None = None) -> str:
    """The course's code: every .py under snippets/, by name and content."""
    digest = hashlib.sha256()
    for source in sorted((snippets or PACKAGE.parent).rglob("*.py")):
        digest.update(source.name.encode() + source.read_bytes())
    return digest.hexdigest()[:16]


# ---------------------------------------------------------------------------
# What there is to make
# ---------------------------------------------------------------------------
def plot_functions(source: Path) -> list[str]:
    """The names of the top-level plot_* functions of a module, in order."""
    tree = ast.parse(source.read_text(encoding="utf-8"))
    return [node.name for node in tree.body
            if isinstance(node, ast.FunctionDef) and node.name.startswith("plot_")]


def figure_registry(docs: Path = DOCS, package: Path = PACKAGE) -> list[tuple[str, str]]:
    """(site path of the image, 'module:function') of every chapter's figures."""
    figures = []
    for chapter in sorted(p for p in Path(docs).iterdir() if p.is_dir()):
        name = chapter.name.replace("-", "_")
        source = package / name / "figures.py"
        if source.is_file():
            for function in plot_functions(source):
                figures.append((f"{chapter.name}/img/{function.removeprefix('plot_')}.png",
                                f"genai.{name}.figures:{function}"))
    return figures


def notebook_sources(docs: Path = DOCS) -> list[Path]:
    """docs/<chapter>/notebooks/*.py"""
    return sorted(Path(docs).glob("*/notebooks/*.py"))


def figure_key(code: str, target: str, site_path: str) -> str:
    return hashlib.sha256(f"{code}|{target}|{site_path}".encode()).hexdigest()[:16]


def notebook_key(code: str, source: Path) -> str:
    return hashlib.sha256(code.encode() + source.read_bytes()).hexdigest()[:16]


# ---------------------------------------------------------------------------
# Making one thing (in a worker process)
# ---------------------------------------------------------------------------
def draw(target: str, path: Path) -> None:
    """Call 'module:function' to write one figure to path."""
    import importlib

    import matplotlib

    matplotlib.use("Agg")
    module_name, function_name = target.split(":")
    function = getattr(importlib.import_module(module_name), function_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    function(path)
    if not path.is_file():
        raise RuntimeError(f"{target} did not write {path}")


def execute(source: Path, path: Path) -> None:
    """Run the jupytext notebook `source` in a fresh kernel, in its own folder;
    write the executed notebook to path. A cell that raises stops it."""
    import jupytext
    import nbclient
    import nbformat

    notebook = jupytext.read(source)
    notebook.metadata.pop("jupytext", None)
    # plots inline, as in Jupyter: the tests' Agg backend stays out of the kernel
    os.environ.pop("MPLBACKEND", None)
    sockets = tempfile.mkdtemp(prefix="kernel-")
    manager = None
    if os.name == "posix":   # the kernel over Unix sockets: no open port, no warning about one
        from jupyter_client.manager import KernelManager

        manager = KernelManager(kernel_name="python3", transport="ipc",
                                ip=os.path.join(sockets, "ipc"))
    client = nbclient.NotebookClient(notebook, km=manager, timeout=NOTEBOOK_TIMEOUT_S,
                                     kernel_name="python3", allow_errors=False,
                                     resources={"metadata": {"path": str(source.parent)}})
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as error:
        raise RuntimeError(f"{source} failed:\n{error}") from None
    finally:
        # nbclient stops only a kernel it started itself: this one is ours
        # to stop (else it outlives the notebook, until its parent exits,
        # and says so: "Parent appears to have exited, shutting down")
        if manager is not None and manager.has_kernel:
            manager.shutdown_kernel(now=False)
        shutil.rmtree(sockets, ignore_errors=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)


def _into(folder: Path, name: str, make) -> None:
    """make(path) writes one result; it lands in `folder` (a cache entry)
    atomically, through a scratch folder beside it."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f"{folder.name}.partial."))
    try:
        make(scratch / name)
        shutil.rmtree(folder, ignore_errors=True)
        try:
            os.replace(scratch, folder)
        except OSError:   # another build has just put the same result there
            if not (folder / name).is_file():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _make(kind: str, items: list) -> list[tuple[str, float]]:
    """(in a worker process) make each (what, folder, name, label): the
    figures of one chapter's module one after the other, so that those
    sharing a training (functools.cache in figures.py) share its cost; or
    one notebook. Returns (label, seconds) of each."""
    times = []
    for what, folder, name, label in items:
        # a line as each starts: some take most of a minute (stderr: the log's)
        print(f"prebuild: making {label} ...", file=sys.stderr, flush=True)
        start = time.perf_counter()
        if kind == "figures":
            _into(Path(folder), name, lambda path: draw(what, path))
        else:
            _into(Path(folder), name, lambda path: execute(Path(what), path))
        times.append((label, time.perf_counter() - start))
    return times


# ---------------------------------------------------------------------------
# Making everything that is missing, in parallel
# ---------------------------------------------------------------------------
def prebuild(docs: Path = DOCS, cache: Path = CACHE, fresh: bool | None = None,
             jobs: int | None = None, log=print) -> dict:
    """Make every figure and executed notebook that is missing (all of them
    if fresh, by default when COURSE_BUILD_CACHE=false).

    Returns {"figures": {site path: cache folder}, "notebooks": {source:
    executed .ipynb}, "made": [(what, seconds)], "missing": how many are
    still missing}. jobs=0 only looks: it makes nothing."""
    fresh = (not use_cache()) if fresh is None else fresh
    docs = Path(docs)
    code = code_hash(docs.parent / "snippets" if (docs.parent / "snippets").is_dir() else None)
    figures, notebooks = {}, {}
    by_module: dict[str, list] = {}      # a chapter's figures: one task
    work = []                            # (kind, items)
    for site_path, target in figure_registry(docs):
        name = Path(site_path).name
        folder = cache / "figures" / figure_key(code, target, site_path)
        figures[site_path] = folder
        if fresh or not (folder / name).is_file():
            by_module.setdefault(target.split(":")[0], []).append((target, str(folder), name, site_path))
    for source in notebook_sources(docs):
        folder = cache / "notebooks" / notebook_key(code, source)
        notebooks[source.resolve()] = folder / f"{source.stem}.ipynb"
        if fresh or not notebooks[source.resolve()].is_file():
            work.append(("notebook", [(str(source), str(folder), f"{source.stem}.ipynb",
                                       str(source.relative_to(docs)))]))
    work += [("figures", items) for items in by_module.values()]
    made = []
    missing = sum(len(items) for _, items in work)
    if work and jobs != 0:
        jobs = max(1, min(jobs or _cores(), len(work)))
        count = sum(len(items) for _, items in work)
        log(f"prebuild: making {count} figures and notebooks on {jobs} processes")
        context = multiprocessing.get_context("spawn")   # fresh interpreters, also on Linux
        # the workers import this module as hooks.prebuild: the repository on
        # their path, whatever started the build (the `mkdocs` command's own
        # path is its bin folder, where there are no hooks)
        root = str(Path(__file__).resolve().parent.parent)
        with concurrent.futures.ProcessPoolExecutor(
                jobs, mp_context=context, initializer=exec,
                initargs=(f"import sys; sys.path.insert(0, {root!r})",)) as pool:
            # the longest first (a chapter's figures, then notebooks), so none starts last alone
            work.sort(key=lambda task: -len(task[1]))
            futures = [pool.submit(_make, kind, items) for kind, items in work]
            for future in concurrent.futures.as_completed(futures):
                for label, seconds in future.result():
                    made.append((label, seconds))
                    log(f"prebuild: {label} ({seconds:.1f} s)")
        missing = 0
    return {"figures": figures, "notebooks": notebooks, "made": made, "missing": missing}


_DONE: dict = {}
READY = CACHE / "ready"        # `mkdocs serve` watches it: a rebuild when the background step ends
BACKGROUND = {"process": None}


def done(docs: Path = DOCS, wait: bool = True, background: bool = False) -> dict:
    """prebuild() once per build (both hooks ask for it; `mkdocs serve` asks
    again on every rebuild, when it costs a look at the cache).

    wait=False: return at once, with what the cache has; and with
    background=True (`mkdocs serve`), if anything is missing, start this
    step in a background process, which touches READY when it ends: the
    server rebuilds."""
    key = (str(Path(docs).resolve()), code_hash(), use_cache())
    if key in _DONE and all(folder.is_dir() for folder in _DONE[key]["figures"].values()):
        return _DONE[key]
    if wait:
        _DONE.clear()
        _DONE[key] = prebuild(docs)
        return _DONE[key]
    found = prebuild(docs, fresh=False, jobs=0)   # jobs=0: only look
    if found["missing"] and background:
        running = BACKGROUND["process"]
        if running is None or running.poll() is not None:
            import subprocess

            BACKGROUND["process"] = subprocess.Popen(
                [sys.executable, "-m", "hooks.prebuild", "--touch", str(READY / "stamp")],
                cwd=Path(docs).resolve().parent)
            print(f"prebuild: {found['missing']} figures and notebooks are being made in the "
                  f"background; the page reloads when they are ready", file=sys.stderr)
    elif not found["missing"]:
        _DONE.clear()
        _DONE[key] = found
    return found


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hooks.prebuild",
                                     description="Draw the figures and execute the notebooks "
                                                 "that the site needs, in parallel, into .cache/prebuild/.")
    parser.add_argument("--no-cache", action="store_true", help="make everything again")
    parser.add_argument("--jobs", type=int, default=None, help="processes (default: one per core)")
    parser.add_argument("--touch", type=Path, help="a file to touch when done (mkdocs serve watches it)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    result = prebuild(fresh=args.no_cache or None, jobs=args.jobs)
    if args.touch:
        args.touch.parent.mkdir(parents=True, exist_ok=True)
        args.touch.write_text(f"{time.time()}\n")
    print(f"{len(result['figures'])} figures and {len(result['notebooks'])} notebooks ready "
          f"({len(result['made'])} made) in {time.perf_counter() - start:.1f} s, in {CACHE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
