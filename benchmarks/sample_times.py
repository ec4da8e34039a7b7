"""How long every code sample on the site takes on this machine.

    python benchmarks/sample_times.py                  # everything
    python benchmarks/sample_times.py llm/build.md     # one page's blocks

Prints the wall-clock time of each snippet run as a script, each inline code
block of each page, and each notebook, next to the course's budgets (a few
seconds for a sample on top of starting Python and importing torch, under a
minute for a notebook or a chapter's figures). Tests never assert on
time; this script is where the budgets are watched.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jupytext
import nbclient
import torch
from pytest_codeblocks.main import extract_from_file

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_BUDGET_S = 5.0
NOTEBOOK_BUDGET_S = 60.0

os.environ.setdefault("COURSE_DEVICE", "cpu")
os.environ.setdefault("MPLBACKEND", "Agg")


def row(kind: str, name: str, seconds: float, budget: float) -> None:
    flag = "" if seconds <= budget else f"  OVER BUDGET ({budget:.0f} s)"
    print(f"{kind:<9} {name:<58} {seconds:7.2f} s{flag}")


def main() -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from support import snippet_modules, start_fake_llm_api

    pages = sys.argv[1:]  # pages under docs/: only their inline blocks
    missing = [page for page in pages if not (ROOT / "docs" / page).is_file()]
    if missing:
        sys.exit(f"sample_times: no page docs/{missing[0]}")
    start_fake_llm_api()  # LLM API samples reach a local fake server, as in the tests
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {os.environ['COURSE_DEVICE']}\n")
    totals = {}

    # Every script pays for starting Python and importing torch; measure that once.
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch"], check=True)
    startup = time.perf_counter() - start
    print(f"start-up of a script (python + import torch): {startup:.2f} s, included in each snippet time\n")

    for module in [] if pages else snippet_modules():
        command = [sys.executable, "-m", module]
        if module.endswith(".figures"):
            # a chapter's figures module draws its figures during the build: time drawing all
            # of them, against a notebook-sized budget.
            command.append(tempfile.mkdtemp(prefix="figures-"))
            kind, budget = "figures", NOTEBOOK_BUDGET_S
        else:
            kind, budget = "snippet", startup + SAMPLE_BUDGET_S
        start = time.perf_counter()
        result = subprocess.run(command, cwd=ROOT, capture_output=True)
        seconds = time.perf_counter() - start
        status = "" if result.returncode == 0 else " (FAILED)"
        row(kind, f"{module}{status}", seconds, budget)
        totals["snippets"] = totals.get("snippets", 0) + seconds

    for page in [ROOT / "docs" / page for page in pages] or sorted((ROOT / "docs").rglob("*.md")):
        for block in extract_from_file(page):
            if block.syntax != "python" or any("skip" in mark for mark in block.marks):
                continue
            start = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(block.code, str(page), "exec"), {"__name__": "__main__"})
            seconds = time.perf_counter() - start
            row("inline", f"{page.relative_to(ROOT / 'docs')}:{block.lineno}", seconds, SAMPLE_BUDGET_S)
            totals["inline blocks"] = totals.get("inline blocks", 0) + seconds

    for path in [] if pages else sorted((ROOT / "docs").glob("*/notebooks/*.py")):
        notebook = jupytext.read(path)
        start = time.perf_counter()
        nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}}).execute()
        seconds = time.perf_counter() - start
        row("notebook", str(path.relative_to(ROOT / "docs")), seconds, NOTEBOOK_BUDGET_S)
        totals["notebooks"] = totals.get("notebooks", 0) + seconds

    print()
    for kind, seconds in totals.items():
        print(f"total {kind:<16} {seconds:7.2f} s")


if __name__ == "__main__":
    main()
