"""Shared set-up for the whole suite.

* (The CPU-only setting and the check that `genai` is this checkout live in
  the conftest.py at the top of the repository, which the pages' code blocks
  see too.)
* Coverage of snippets/ is recorded while the suite runs (in every process
  that runs tests and in every snippet run as a script), into the run's
  folder, so the guard can tell whether the lines a page shows really ran.
* The guard runs last, after everything that can execute course code
  (``pytest.mark.whole_run``: see harness/parallel.py).
* What a run needs once (the strict build, each snippet run as a script) is
  made once, by the first process that needs it, under a file lock in the
  run's folder; the others read the result.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.parallel import is_controller, once_per_run
from support import ROOT, SNIPPET_TIMEOUT_S, CoverageRecorder


class PassedBlocks(set):
    """{(page, fence line)} of the pages' code blocks that passed in this session.

    Registered as a plugin (not a conftest hook) so that it hears the reports
    of the items in docs/ too; the guard counts only these blocks.
    """

    def __init__(self, rootpath: Path):
        super().__init__()
        self.rootpath = rootpath

    def pytest_runtest_logreport(self, report):
        if report.when == "call" and report.passed and "::line " in report.nodeid:
            path, _, name = report.nodeid.partition("::")
            self.add(((self.rootpath / path).resolve(), int(name.split()[1])))

    __hash__ = object.__hash__


def pytest_configure(config):
    name = config.workerinput["workerid"] if hasattr(config, "workerinput") else "pytest"
    # the controller runs no course code itself: it only merges the others' data
    config.course_coverage = CoverageRecorder(config.course_run_dir / "coverage", name,
                                              trace=not is_controller(config))
    config.course_guard_report = None
    config.course_passed_blocks = PassedBlocks(config.rootpath)
    config.pluginmanager.register(config.course_passed_blocks, "course-passed-blocks")


def pytest_sessionfinish(session):
    if hasattr(session.config, "workerinput"):   # an xdist worker: before it reports done
        session.config.course_coverage.save()


def pytest_unconfigure(config):
    recorder = getattr(config, "course_coverage", None)
    if recorder is not None:
        recorder.close()


def pytest_report_header(config):
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        return ("PYTHONDONTWRITEBYTECODE is set: every process of the suite compiles torch, "
                "transformers and the rest again (a fifth of the run's time); unset it "
                "for a faster run, as .ci/run does")
    return None


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if getattr(config, "course_axe_report", None):
        terminalreporter.write_sep("=", "accessibility (axe-core)")
        terminalreporter.write_line(config.course_axe_report)
    if config.course_guard_report:
        terminalreporter.write_sep("=", "code samples shown on the site")
        terminalreporter.write_line(config.course_guard_report)


# ---------------------------------------------------------------------------
# Snippets run as scripts, once per session
# ---------------------------------------------------------------------------
@pytest.fixture(scope="session")
def run_snippet(pytestconfig):
    """run_snippet('genai.generative_models.gmm') runs `python -m genai.generative_models.gmm`
    once per run (whichever worker asks first), under coverage."""
    recorder = pytestconfig.course_coverage

    def run(module: str) -> subprocess.CompletedProcess:
        def make():
            return list(recorder.run_script(module, timeout=SNIPPET_TIMEOUT_S))

        returncode, stdout, stderr = once_per_run(pytestconfig, f"snippet-{module}", make)
        return subprocess.CompletedProcess(module, returncode, stdout, stderr)

    return run


# ---------------------------------------------------------------------------
# A fake LLM API server of a test's own
# ---------------------------------------------------------------------------
@pytest.fixture
def server():
    """A FakeLLMServer for this test alone, with the SDKs' environment pointed at it,
    so that fail_next() and request counts concern this test only. (The session's
    shared server is the `fake_llm_server` fixture.)"""
    from genai.llm_api.fake_server import FakeLLMServer

    with FakeLLMServer() as fake, fake.environment():
        yield fake


# ---------------------------------------------------------------------------
# The strict build, once per session (notebooks execute here)
# ---------------------------------------------------------------------------
@pytest.fixture(scope="session")
def built_site(pytestconfig) -> Path:
    """`mkdocs build --strict` into the run's folder, once per run; every notebook
    and figure is redone (COURSE_BUILD_CACHE=false)."""
    site = pytestconfig.course_run_dir / "site"

    # the command a reader types, `mkdocs` (its path holds no hooks folder)
    command = shutil.which("mkdocs", path=str(Path(sys.executable).parent))
    command = [command] if command else [sys.executable, "-m", "mkdocs"]

    def make():
        result = subprocess.run(
            [*command, "build", "--strict", "--site-dir", str(site)],
            cwd=ROOT, capture_output=True, text=True, timeout=1200,
            # Notebooks draw inline like in Jupyter: the tests' Agg backend stays out of their kernels.
            env={**{k: v for k, v in os.environ.items() if k != "MPLBACKEND"},
                 "COURSE_BUILD_CACHE": "false"},
        )
        return [result.returncode, result.stdout + result.stderr]

    returncode, log = once_per_run(pytestconfig, "strict-build", make)
    (site.parent / "build.log").write_text(log)
    if returncode != 0:
        pytest.fail(f"mkdocs build --strict failed:\n{log[-6000:]}", pytrace=False)
    warnings = [line for line in log.splitlines() if line.startswith("WARNING")]
    if warnings:
        pytest.fail("mkdocs build printed warnings:\n" + "\n".join(warnings), pytrace=False)
    return site
