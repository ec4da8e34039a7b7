"""Shared set-up for the whole suite.

* (The CPU-only setting and the check that `genai` is this checkout live in
  the conftest.py at the top of the repository, which the pages' code blocks
  see too.)
* Coverage of snippets/ is recorded while the suite runs (in this process and
  in every snippet run as a script), so the guard can tell whether the lines a
  page shows really ran.
* The guard runs last, after everything that can execute course code.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import GUARD_FILE, ROOT, SNIPPET_TIMEOUT_S, CoverageRecorder


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
    config.course_coverage = CoverageRecorder()
    config.course_guard_report = None
    config.course_passed_blocks = PassedBlocks(config.rootpath)
    config.pluginmanager.register(config.course_passed_blocks, "course-passed-blocks")


def pytest_unconfigure(config):
    recorder = getattr(config, "course_coverage", None)
    if recorder is not None:
        recorder.close()


def pytest_collection_modifyitems(session, config, items):
    """The guard goes last: it judges what the rest of the run executed."""
    items.sort(key=lambda item: item.path.name == GUARD_FILE)


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
    """run_snippet('genai.generative_models.gmm') runs `python -m genai.generative_models.gmm` once, under coverage."""
    results: dict[str, subprocess.CompletedProcess] = {}
    recorder = pytestconfig.course_coverage

    def run(module: str) -> subprocess.CompletedProcess:
        if module not in results:
            results[module] = subprocess.run(
                recorder.script_command(module), cwd=ROOT, capture_output=True, text=True,
                timeout=SNIPPET_TIMEOUT_S,
            )
        return results[module]

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
def built_site(tmp_path_factory) -> Path:
    """`mkdocs build --strict` into a temporary folder; every notebook and figure is redone."""
    site = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT, capture_output=True, text=True, timeout=1200,
        # Notebooks draw inline like in Jupyter: the tests' Agg backend stays out of their kernels.
        env={**{k: v for k, v in os.environ.items() if k != "MPLBACKEND"}, "COURSE_BUILD_CACHE": "false"},
    )
    log = result.stdout + result.stderr
    (site.parent / "build.log").write_text(log)
    if result.returncode != 0:
        pytest.fail(f"mkdocs build --strict failed:\n{log[-6000:]}", pytrace=False)
    warnings = [line for line in log.splitlines() if line.startswith("WARNING")]
    if warnings:
        pytest.fail("mkdocs build printed warnings:\n" + "\n".join(warnings), pytrace=False)
    return site
