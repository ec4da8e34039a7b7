"""Expected outputs with numbers that may move: blocks that train on the page.

A page that trains a model in front of the reader (a GAN for 300 steps, a
loss after N steps) prints numbers that depend on float rounding, and so on
the CPU: the same seed trains a slightly different model on another
machine. Such a block declares its tolerance once, on the line before its
fence:

    <!--pytest.mark.tolerance(abs=0.05)-->         each number within 0.05
    <!--pytest.mark.tolerance(rel=0.1)-->          within 10% of the page's
    <!--pytest.mark.tolerance(abs=0.01, rel=0.1)-->  whichever is larger

and its expected output is checked word for word, every line and every
character outside the numbers exactly, each number within the tolerance.
The site shows the reader a note with the same tolerance (hooks/tolerance.py).
Blocks that read the course's shipped reference models need no tolerance:
their outputs are the same on every machine.

This module is a pytest plugin (registered by tests/conftest.py) so that it
sees the items that pytest-codeblocks collects in docs/.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![\w])")


class ToleranceError(ValueError):
    """A tolerance mark that cannot be used."""


def tolerance_of(mark) -> tuple[float, float]:
    """(abs, rel) of a pytest.mark.tolerance(...) mark, checked."""
    unknown = set(mark.kwargs) - {"abs", "rel"}
    if mark.args or unknown or not mark.kwargs:
        raise ToleranceError(
            "write the tolerance as pytest.mark.tolerance(abs=0.05), rel=0.1 "
            f"or both, got args {mark.args} and keywords {sorted(mark.kwargs)}")
    values = {name: mark.kwargs.get(name, 0.0) for name in ("abs", "rel")}
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value) or value < 0:
            raise ToleranceError(f"tolerance {name}={value!r}: use a number >= 0")
    return float(values["abs"]), float(values["rel"])


def compare(expected: str, got: str, abs_tol: float, rel_tol: float) -> str | None:
    """None if got matches expected: the same text, each number within
    max(abs_tol, rel_tol * |expected number|). Otherwise the first difference."""
    want_lines, got_lines = expected.splitlines(), got.splitlines()
    if len(want_lines) != len(got_lines):
        return f"{len(got_lines)} lines printed, the page shows {len(want_lines)}"
    for number, (want, have) in enumerate(zip(want_lines, got_lines), 1):
        want_words, have_words = NUMBER.split(want), NUMBER.split(have)
        if want_words != have_words:
            return f"line {number}: the words differ: {have!r}, the page shows {want!r}"
        for a, b in zip(NUMBER.findall(want), NUMBER.findall(have)):
            allowed = max(abs_tol, rel_tol * abs(float(a)))
            if not abs(float(b) - float(a)) <= allowed:
                return (f"line {number}: {b} where the page shows {a}, more than "
                        f"the tolerance {allowed:g} apart")
    if expected.endswith("\n") != got.endswith("\n"):
        return "the output ends differently (a final newline)"
    return None


def printed(code: str) -> str:
    """What a page block prints, run as pytest-codeblocks runs it."""
    from pytest_codeblocks.main import stdout_io

    with stdout_io() as out:
        exec(code, {"__MODULE__": "__main__"})
    return out.getvalue()


def first_run(config, page: Path, line: int, code: str) -> list:
    """[output, error] of the block's first run in this test run: a tolerant
    block trains as it runs, and the check that it prints the same twice
    (tests/harness/test_tolerance.py) reuses this run instead of its own."""
    from harness.parallel import once_per_run

    def make():
        try:
            return [printed(code), None]
        except Exception as error:   # noqa: BLE001  (reported by whoever reads it)
            return [None, f"{type(error).__name__}: {error}"]

    name = "block-" + re.sub(r"\W", "_", f"{Path(page).as_posix()}-{line}")
    return once_per_run(config, name, make) if hasattr(config, "course_run_dir") else make()


def run_with_tolerance(item, abs_tol: float, rel_tol: float) -> None:
    """pytest-codeblocks' run of a Python block, with compare() for its output."""
    block = item.obj
    if os.environ.get("COURSE_EXACT_OUTPUTS"):     # tests/refresh_outputs.py
        abs_tol = rel_tol = 0.0
    output, error = first_run(item.config, Path(item.path).resolve(), block.lineno, block.code)
    if error is not None:
        raise RuntimeError(f"{item.name}, line {block.lineno}:\n```\n{block.code}```\n\n{error}")
    difference = compare(block.expected_output, output, abs_tol, rel_tol)
    if difference is not None:
        # the same layout as pytest-codeblocks' message, which
        # tests/refresh_outputs.py reads, then the reason
        raise RuntimeError(
            f"{item.name}, line {block.lineno}:\n```\nExpected output\n```\n"
            f"{block.expected_output}```\nbut got\n```\n{output}```\n"
            f"-- {difference} (tolerance abs={abs_tol:g}, rel={rel_tol:g})")


class TolerancePlugin:
    """Gives blocks marked pytest.mark.tolerance(...) the tolerant check."""

    def pytest_configure(self, config):
        config.addinivalue_line(
            "markers", "tolerance(abs=0, rel=0): compare the numbers of a page "
            "block's expected output within this tolerance (tests/tolerance.py)")

    def pytest_collection_modifyitems(self, items):
        for item in items:
            mark = item.get_closest_marker("tolerance")
            if mark is not None:
                item.runtest = self._check(item, mark)

    @staticmethod
    def _check(item, mark):
        """The item's new runtest; one that fails clearly if the mark is wrong."""
        block = getattr(item, "obj", None)
        try:
            if block is None or getattr(block, "syntax", None) != "python":
                raise ToleranceError("pytest.mark.tolerance is for the Python blocks of the pages")
            abs_tol, rel_tol = tolerance_of(mark)
            if block.expected_output is None:
                raise ToleranceError("a tolerance, but no expected output follows the block")
        except ToleranceError as error:
            message = f"{item.nodeid}: {error}"

            def fail():
                raise ToleranceError(message)
            return fail
        return lambda: run_with_tolerance(item, abs_tol, rel_tol)
