"""Where the test suite's time goes, by kind of work, and its slowest tests.

    pytest                                        # writes test-artifacts/durations.json
    python benchmarks/suite_time.py               # the table of that run
    python benchmarks/suite_time.py --slowest 25  # more of the slowest tests
    python benchmarks/suite_time.py --pages       # each page's blocks added up: the slowest pages
    python benchmarks/suite_time.py A.json B.json # several runs (.ci/run's two passes)

Every run of pytest records, for each test, its seconds (setup, call and
teardown) and its kind of work (tests/harness/timing.py: trainings, the
strict build, browser and accessibility runs, nested pytest runs and
builds, snippets run as scripts, other subprocesses, page code blocks, unit
tests). The kinds add up worker time: with two workers, the wall time is
about half of their sum. The suite's budget (.ci/run in 15 minutes on 2
cores, pytest itself in 11) is watched here, never asserted by a test.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from harness.timing import table  # noqa: E402  (tests/harness/timing.py)

DEFAULT = ROOT / "test-artifacts" / "durations.json"


def pages(data: dict) -> list[tuple[float, str, int]]:
    """(seconds, page, blocks) of each page, slowest first: `pytest docs/<page>` alone
    takes about this plus the start-up of its worker."""
    found = collections.defaultdict(lambda: [0.0, 0])
    for row in data["tests"]:
        path = row["nodeid"].split("::")[0]
        if path.startswith("docs/") and path.endswith(".md"):
            found[path][0] += row["seconds"]
            found[path][1] += 1
    return sorted(((seconds, page, count) for page, (seconds, count) in found.items()), reverse=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path, help=f"durations files (default {DEFAULT})")
    parser.add_argument("--slowest", type=int, default=10, help="how many of the slowest tests")
    parser.add_argument("--pages", action="store_true", help="the slowest pages, their blocks added up")
    args = parser.parse_args(argv)
    for path in args.files or [DEFAULT]:
        if not path.is_file():
            print(f"suite_time: no {path}: run pytest first", file=sys.stderr)
            return 1
        data = json.loads(path.read_text())
        print(f"--- {path}")
        for line in table(data, slowest=args.slowest):
            print(line)
        if args.pages:
            print("the slowest pages (their blocks' seconds added up):")
            for seconds, page, count in pages(data)[:args.slowest]:
                print(f"  {seconds:7.1f} s  {count:3d} blocks  {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
