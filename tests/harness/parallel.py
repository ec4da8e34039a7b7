"""The suite on every core: pytest-xdist, with work done once per run.

`pytest` runs in parallel (pytest.ini: ``-n auto --dist loadscope``, with the scopes of group_of()). This
plugin (registered by the top conftest.py) makes that safe and quick:

* **One folder for the run.** The process that starts the run makes it;
  every worker gets its path (``config.course_run_dir``). What a run needs
  once lives there and is made once, under a file lock, by whichever worker
  needs it first: the strict build (tests/conftest.py's ``built_site``), the
  snippet scripts' results, the coverage data of every process.
* **Groups.** A test module's tests go to one worker (its module fixtures,
  often a small training, run once); every module that reads the built site
  goes to one group, "site", so one worker builds and the others never wait
  for it. A page's code blocks stay together too (they print in order and
  some write files that the next reads). The tests of a module marked
  ``pytestmark = pytest.mark.spread`` are spread one by one instead (the
  snippet scripts: each is a subprocess, independent of the others), and so
  is a page's code block marked ``<!--pytest.mark.spread-->`` (a long
  training that reads nothing an earlier block wrote: llm/build.md's
  stages), ahead of the other groups but "site". (Our
  own scheduler: pytest 9 ignores the node ids that xdist's loadgroup
  rewrites.)
* **Heaviest first.** Groups are scheduled in the order of ``HEAVY``, then
  the rest in collection order, so that no long group starts last while the
  other worker sits idle.
* **Once per run.** ``once_per_run(config, name, make)`` makes a result
  under a lock in the run's folder; every other process reads it.
* **Tests that judge the whole run** (``@pytest.mark.whole_run``: the guard)
  need every worker's reports and coverage. Workers leave them out; the
  controller collects and runs them after all workers are done, so they
  report like any other test.
* **Threads.** Each worker gets its share of the cores for PyTorch (and its
  subprocesses, through OMP_NUM_THREADS), so two workers on two cores do not
  each start two threads.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from pathlib import Path

import pytest

# Groups (or the modules of spread tests) that take longest, first: a long
# group that starts last keeps the run going while the other workers idle
# (python benchmarks/suite_time.py shows the slowest).
HEAVY = ("site", "tests/test_store.py", "tests/harness/test_new_chapter.py",
         "tests/harness/test_snippets.py")


def is_worker(config) -> bool:
    return hasattr(config, "workerinput")


def is_controller(config) -> bool:
    """The process that hands tests to xdist workers (it runs none itself)."""
    return not is_worker(config) and config.getoption("dist", "no") != "no"


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:   # macOS, Windows
        return os.cpu_count() or 1


class Parallel:
    def __init__(self):
        self.whole_run_ids: list[str] = []
        self.owner = False

    # -- the run's folder and the threads ------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_configure(self, config):
        config.addinivalue_line("markers", "whole_run: judges what the whole run executed: "
                                "runs last, in the process that hears every report")
        config.addinivalue_line("markers", "spread: the module's tests (or a page's code block) "
                                "may run on any worker (nothing shared with the others)")
        if is_worker(config):
            config.course_run_dir = Path(config.workerinput["course_run_dir"])
            threads = max(1, cpu_count() // int(config.workerinput["workercount"]))
            os.environ["OMP_NUM_THREADS"] = str(threads)
            import torch

            torch.set_num_threads(threads)
        else:
            config.course_run_dir = Path(tempfile.mkdtemp(prefix="course-run-"))
            self.owner = True

    def pytest_configure_node(self, node):
        """(xdist, in the controller) what each worker is told at its start."""
        node.workerinput["course_run_dir"] = str(node.config.course_run_dir)

    def pytest_unconfigure(self, config):
        if self.owner:
            shutil.rmtree(config.course_run_dir, ignore_errors=True)

    def pytest_xdist_auto_num_workers(self, config):
        """-n auto: one worker per core, as xdist does, but never more than
        PYTEST_XDIST_AUTO_NUM_WORKERS (set it to 1 on a busy laptop)."""
        limit = os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS")
        return max(1, min(cpu_count(), int(limit) if limit else cpu_count()))

    # -- groups and order ------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_xdist_make_scheduler(self, config, log):
        """(in the controller) groups as group_of() says, heaviest first."""
        from xdist.scheduler import LoadScopeScheduling

        class Scheduling(LoadScopeScheduling):
            def _split_scope(self, nodeid):
                return group_of(config.rootpath, nodeid)

        config.option.loadscopereorder = False   # keep the order of collection: HEAVY first
        return Scheduling(config, log)

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, session, config, items):
        if is_worker(config):
            kept = []
            for item in items:
                if item.get_closest_marker("whole_run"):
                    self.whole_run_ids.append(item.nodeid)
                else:
                    kept.append(item)
            items[:] = kept

        def rank(item):
            group = group_of(config.rootpath, item.nodeid)
            module = item.nodeid.split("::")[0]
            heavy = next((i for i, name in enumerate(HEAVY) if name in (group, module)), len(HEAVY))
            if spread_block(config.rootpath, item.nodeid):
                heavy = 0.5                       # after "site", before the rest
            return heavy, item.get_closest_marker("whole_run") is not None

        items.sort(key=rank)   # stable: collection order within a rank

    def pytest_sessionfinish(self, session):
        if is_worker(session.config):
            session.config.workeroutput["course_whole_run"] = self.whole_run_ids

    # -- tests that judge the whole run, in the controller --------------------
    def pytest_testnodedown(self, node, error):
        for nodeid in node.workeroutput.get("course_whole_run", []) if hasattr(node, "workeroutput") else []:
            if nodeid not in self.whole_run_ids:
                self.whole_run_ids.append(nodeid)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session):
        result = yield
        if is_controller(session.config) and self.whole_run_ids and not session.shouldfail \
                and not session.shouldstop:
            items = session.perform_collect(self.whole_run_ids, genitems=True)
            for index, item in enumerate(items):
                following = items[index + 1] if index + 1 < len(items) else None
                item.ihook.pytest_runtest_protocol(item=item, nextitem=following)
        return result


def once_per_run(config, name: str, make):
    """make() -> a JSON-able result, made once per run by whichever process
    asks first (a file lock in the run's folder); the others read it."""
    import json

    from filelock import FileLock

    folder = config.course_run_dir / "once"
    folder.mkdir(parents=True, exist_ok=True)
    result = folder / f"{name}.json"
    with FileLock(str(folder / f"{name}.lock")):
        if not result.is_file():
            partial = result.with_suffix(".partial")
            partial.write_text(json.dumps(make()))
            os.replace(partial, result)
    return json.loads(result.read_text())


@functools.cache
def _source(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.suffix in (".py", ".md") and path.is_file() else ""


SPREAD_BLOCK = "<!--pytest.mark.spread-->"


def spread_block(rootpath: Path, nodeid: str) -> bool:
    """Is "docs/page.md::line N" a code block marked <!--pytest.mark.spread-->
    (on one of the comment lines right above its fence, line N)?"""
    path, _, line = nodeid.partition("::line ")
    if not path.endswith(".md") or not line.isdigit():
        return False
    lines = _source(Path(rootpath) / path).splitlines()
    above = int(line) - 2                        # the line above the fence, 0-based
    while 0 <= above < len(lines) and lines[above].strip().startswith("<!--"):
        if lines[above].strip() == SPREAD_BLOCK:
            return True
        above -= 1
    return False


def group_of(rootpath: Path, nodeid: str) -> str:
    """The tests that one worker runs together: "site" for every test module
    that reads the built site, a test module's or a page's path, or the test
    alone (its own node id) in a module marked ``pytest.mark.spread`` or a
    page's block marked ``<!--pytest.mark.spread-->``.
    Decided from the node id and the module's text, because the controller,
    which schedules, never sees the items."""
    path = nodeid.split("::")[0]
    if spread_block(rootpath, nodeid):
        return nodeid
    source = _source(Path(rootpath) / path)
    if path.endswith(".md"):
        return path
    if "built_site" in source:
        return "site"
    if "pytestmark = pytest.mark.spread" in source:
        return nodeid
    return path
