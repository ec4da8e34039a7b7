"""Set-up for every test, the code blocks of the pages in docs/ included.

* Samples run on the CPU in tests, always, so that the printed output on the
  pages matches exactly on every machine. (The device helper has its own tests.)
* Figures drawn by samples go to no window.
* `import genai` must find this checkout's snippets/genai/, or the tests would run
  another copy of the course code.
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
from harness.recorded import ApiBlocks  # noqa: E402  (tests/harness/recorded.py)
from harness.tolerance import TolerancePlugin  # noqa: E402  (tests/harness/tolerance.py)
from support import start_fake_llm_api  # noqa: E402  (tests/support.py)

os.environ["COURSE_DEVICE"] = "cpu"
os.environ.setdefault("MPLBACKEND", "Agg")


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
    config.course_api_blocks = ApiBlocks()
    config.pluginmanager.register(config.course_api_blocks, "course-api-blocks")
    _start_fake_llm_api(config)


# ---------------------------------------------------------------------------
# LLM APIs: every sample talks to a local fake server (genai.llm_api.fake_server)
# through the real SDKs. The environment variables are set for the whole
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
