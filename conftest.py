"""Set-up for every test, the code blocks of the pages in docs/ included.

* Samples run on the CPU in tests, always, so that the printed output on the
  pages matches exactly on every machine. (The device helper has its own tests.)
* Figures drawn by samples go to no window.
* `import genai` must find this checkout's snippets/, or the tests would run
  another copy of the course code.

The harness itself (coverage, the snippet runs, the build, the guard) is in
tests/conftest.py.
"""

import os
from pathlib import Path

import pytest

os.environ["COURSE_DEVICE"] = "cpu"
os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_configure(config):
    import genai

    installed = Path(genai.__file__).resolve().parent
    expected = Path(__file__).resolve().parent / "snippets"
    if installed != expected:
        raise pytest.UsageError(
            f"`import genai` finds {installed}, not this checkout's {expected}: the tests would "
            "run another copy of the course code. Run `pip install -e .` in this checkout."
        )
