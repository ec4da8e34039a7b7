"""Paths and helpers shared by the tests."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SNIPPETS = ROOT / "snippets"
GUARD_FILE = "test_guard.py"
SNIPPET_TIMEOUT_S = 300


class CoverageRecorder:
    """Coverage of snippets/ for this pytest process and its snippet scripts."""

    def __init__(self):
        import coverage

        self.directory = Path(tempfile.mkdtemp(prefix="course-coverage-"))
        self.live = None
        if sys.gettrace() is None:  # not already under a debugger or coverage run
            self.live = coverage.Coverage(
                data_file=str(self.directory / ".coverage.pytest"), source=[str(SNIPPETS)],
                config_file=False,
            )
            self.live.start()

    def script_command(self, module: str) -> list[str]:
        data_file = self.directory / f".coverage.{module}"
        return [sys.executable, "-m", "coverage", "run", f"--data-file={data_file}",
                f"--source={SNIPPETS}", "--rcfile=/dev/null", "-m", module]

    def combined(self) -> Path:
        """Save what this process recorded and merge every data file."""
        import coverage

        if self.live is not None:
            self.live.stop()
            self.live.save()
        combined = self.directory / "combined" / ".coverage"
        combined.parent.mkdir(exist_ok=True)
        merger = coverage.Coverage(data_file=str(combined))
        merger.combine([str(self.directory)], keep=True)
        merger.save()
        if self.live is not None:
            self.live.start()
        return combined

    def close(self):
        if self.live is not None:
            self.live.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def snippet_modules() -> list[str]:
    return sorted(f"genai.{p.stem}" for p in SNIPPETS.glob("*.py") if p.stem != "__init__")
