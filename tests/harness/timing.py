"""Where the suite's time goes: each test's seconds, by kind of work.

A plugin (registered by the top conftest.py, so that it also sees the
pages' code blocks). In the process that runs a test (a pytest-xdist worker,
or pytest itself without workers) it notes what the test did: did it start
a browser, use the strict build, start a nested pytest or mkdocs, run a
snippet as a script, take optimizer steps. The kind travels with the test's
reports (``user_properties``), so the process that prints the summary, the
xdist controller, can add the seconds up without seeing the items.

At the end of the run it writes ``test-artifacts/durations.json`` (one row
per test: node id, kind, seconds of setup + call + teardown, worker) and
prints a short table of kinds; ``python benchmarks/suite_time.py`` prints
the longer one from that file. Nothing here asserts on time.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

# Kinds, in the order of precedence: a test that starts a browser on the
# built site is a browser test, even though it needs the build.
KINDS = (
    "browser and accessibility",   # Chromium, axe-core
    "strict build",                # mkdocs build --strict with its notebooks (once)
    "nested pytest and builds",    # a pytest or mkdocs in a subprocess
    "trainings",                   # optimizer steps in this process
    "snippet scripts",             # python -m genai... (under coverage)
    "other subprocesses",          # the apps' command lines, pip, ...
    "page code blocks",            # pytest-codeblocks, short
    "unit tests",                  # the rest
)
TRAINING_STEPS = 20      # a test that takes more optimizer steps trains


class _Watch:
    """What one test did: subprocesses started, optimizer steps taken."""

    def __init__(self):
        self.commands: list[list[str]] = []
        self.steps = 0


class Timing:
    def __init__(self, rootpath: Path):
        self.rootpath = rootpath
        self.rows: dict[str, dict] = {}
        self.watch: _Watch | None = None
        self.started = time.perf_counter()
        self._patch()

    # -- in the process that runs the test ---------------------------------
    def _patch(self):
        plugin = self
        original = subprocess.Popen.__init__
        if getattr(original, "_course_timing", False):
            return

        def popen_init(popen, args, *rest, **options):
            if plugin.watch is not None:
                plugin.watch.commands.append([str(a) for a in (args if isinstance(args, (list, tuple))
                                                                else [args])])
            return original(popen, args, *rest, **options)

        popen_init._course_timing = True
        subprocess.Popen.__init__ = popen_init

    def _count_step(self, *args, **kwargs):
        if self.watch is not None:
            self.watch.steps += 1

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item, nextitem):
        self.watch = _Watch()
        hook = None
        if "torch" in sys.modules:   # (a test that never imported torch took no step)
            from torch.optim.optimizer import register_optimizer_step_post_hook
            hook = register_optimizer_step_post_hook(self._count_step)
        try:
            return (yield)
        finally:
            if hook is not None:
                hook.remove()
            self.watch = None

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        if call.when == "teardown" and self.watch is not None:
            report.user_properties.append(("course_kind", self.kind(item, self.watch)))
        return report

    @staticmethod
    def kind(item, watch: _Watch) -> str:
        names = set(getattr(item, "fixturenames", ()))
        joined = [" ".join(command) for command in watch.commands]
        if names & {"browser", "axe_results", "site_url"} or any("chromium" in c for c in joined):
            return "browser and accessibility"
        if "built_site" in names:
            return "strict build"
        if any(" -m pytest" in c or " -m mkdocs" in c for c in joined):
            return "nested pytest and builds"
        if watch.steps > TRAINING_STEPS:
            return "trainings"
        if "run_snippet" in names or any(" coverage run" in c or " -m genai." in c for c in joined):
            return "snippet scripts"
        if joined:
            return "other subprocesses"
        if "::line " in item.nodeid:
            return "page code blocks"
        return "unit tests"

    # -- in the process that reports (the controller under xdist) ----------
    def pytest_runtest_logreport(self, report):
        row = self.rows.setdefault(report.nodeid, {"nodeid": report.nodeid, "kind": "unit tests",
                                                   "seconds": 0.0, "worker": "main"})
        row["seconds"] += report.duration
        gateway = getattr(getattr(report, "node", None), "gateway", None)
        row["worker"] = getattr(gateway, "id", row["worker"])
        for name, value in report.user_properties:
            if name == "course_kind":
                row["kind"] = value

    def summary(self) -> dict:
        kinds = collections.Counter()
        for row in self.rows.values():
            kinds[row["kind"]] += row["seconds"]
        return {"wall_seconds": round(time.perf_counter() - self.started, 1),
                "workers": len({row["worker"] for row in self.rows.values()} - {"main"}) or 1,
                "kinds": {kind: round(kinds[kind], 1) for kind in KINDS if kinds[kind]},
                "tests": sorted(({**row, "seconds": round(row["seconds"], 2)}
                                 for row in self.rows.values()),
                                key=lambda row: -row["seconds"])}

    def pytest_terminal_summary(self, terminalreporter, config):
        if hasattr(config, "workerinput") or not self.rows:
            return
        data = self.summary()
        out = Path(os.environ.get("COURSE_DURATIONS", self.rootpath / "test-artifacts" / "durations.json"))
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(data, indent=1) + "\n")
        terminalreporter.write_sep("=", "where the time went (python benchmarks/suite_time.py)")
        for line in table(data, slowest=5):
            terminalreporter.write_line(line)


def table(data: dict, slowest: int = 5) -> list[str]:
    """The kinds' seconds and shares, then the slowest tests."""
    total = sum(data["kinds"].values()) or 1.0
    lines = [f"{data['wall_seconds']:.0f} s wall on {data['workers']} worker(s); "
             f"{total:.0f} s of test time:"]
    for kind, seconds in sorted(data["kinds"].items(), key=lambda kv: -kv[1]):
        count = sum(1 for row in data["tests"] if row["kind"] == kind)
        lines.append(f"  {kind:<27} {seconds:7.1f} s  {100 * seconds / total:5.1f}%  {count:5d} tests")
    if slowest:
        lines.append(f"the {slowest} slowest tests:")
        for row in data["tests"][:slowest]:
            lines.append(f"  {row['seconds']:7.1f} s  {row['kind']:<27} {row['nodeid']}")
    return lines
