"""Set-up for every test, the code blocks of the pages in docs/ included.

* Samples run on the CPU in tests, always, so that the printed output on the
  pages matches exactly on every machine. (The device helper has its own tests.)
* Figures drawn by samples go to no window.
* `import genai` must find this checkout's snippets/genai/, or the tests would run
  another copy of the course code.
* The suite runs on every core (pytest-xdist): tests/harness/parallel.py
  gives the run one folder, groups and orders the tests, and runs the tests
  that judge the whole run (the guard) last, in the controller;
  tests/harness/timing.py adds up where the time went.
* Blocks marked `pytest.mark.tolerance(...)` have their printed numbers
  checked within that tolerance (tests/harness/tolerance.py): registered here, so
  that `pytest docs` alone checks them too.

The harness itself (coverage, the snippet runs, the build, the guard) is in
tests/conftest.py.
"""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "tests"))
from harness.parallel import Parallel, is_controller  # noqa: E402  (tests/harness/parallel.py)
from harness.recorded import ApiBlocks  # noqa: E402  (tests/harness/recorded.py)
from harness.timing import Timing  # noqa: E402  (tests/harness/timing.py)
from harness.tolerance import TolerancePlugin  # noqa: E402  (tests/harness/tolerance.py)
from support import start_fake_llm_api  # noqa: E402  (tests/support.py)

os.environ["COURSE_DEVICE"] = "cpu"
os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_addhooks(pluginmanager):
    # before any configure hook: the run's folder and the workers' threads first
    pluginmanager.register(Parallel(), "course-parallel")


def pytest_configure(config):
    import genai

    installed = Path(genai.__file__).resolve().parent
    expected = Path(__file__).resolve().parent / "snippets" / "genai"
    if installed != expected:
        raise pytest.UsageError(
            f"`import genai` finds {installed}, not this checkout's {expected}: the tests would "
            "run another copy of the course code. Run `pip install -e .` in this checkout."
        )
    # page blocks whose numbers depend on float rounding: checked within a tolerance
    config.pluginmanager.register(TolerancePlugin(), "course-tolerance")
    # page blocks that talk to a fake LLM API: their outputs are recordings
    config.course_api_blocks = ApiBlocks(config.rootpath)
    config.pluginmanager.register(config.course_api_blocks, "course-api-blocks")
    config.pluginmanager.register(Timing(config.rootpath), "course-timing")
    if not is_controller(config):   # the controller runs no test: each worker has its own
        _start_fake_llm_api(config)


# ---------------------------------------------------------------------------
# LLM APIs: every sample talks to a local fake server (genai.llm_api.fake_server)
# through the real SDKs. Each process that runs tests starts its own (a
# thread, a few milliseconds): a page block is labelled "recorded" when it
# reached the server of its own process (harness/recorded.py). The environment variables are set for the whole
# session (snippets run as scripts inherit them), so the code on a page,
# `anthropic.Anthropic()`, is exactly the code that runs. COURSE_LIVE_API=1
# (with real keys, never under CI) leaves the environment alone.
# ---------------------------------------------------------------------------
def _start_fake_llm_api(config):
    config.fake_llm_server = start_fake_llm_api()  # None in live mode


def pytest_unconfigure(config):
    server = getattr(config, "fake_llm_server", None)
    if server is not None:
        server.stop()


@pytest.fixture(scope="session")
def fake_llm_server(pytestconfig):
    """The session's fake API server (None in live mode): `.requests`, `.reset()`.

    To script failures (`fail_next`), start your own `FakeLLMServer()` instead,
    so other tests are not affected.
    """
    return pytestconfig.fake_llm_server
