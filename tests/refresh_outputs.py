"""Rewrite a page's expected outputs with what its code prints now.

Some pages print numbers that come from a trained model: the LLM chapter's
facts and story models, for example. When you change the code that trains
them, they are retrained and those numbers move. This runs the page's
blocks with pytest-codeblocks and, for each block whose output differs,
replaces the expected-output block that follows it:

    python tests/refresh_outputs.py docs/llm/generation.md [more pages]

Then read `git diff`: the new outputs must still say what the prose around
them says. Never use it to hide a failure you do not understand.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

FAILURE = re.compile(
    r"line (\d+), line \d+:\n```\nExpected output\n```\n(?:[^`]*?\n)??```\n"
    r"but got\n```\n(.*?)\n?```\n(?=[=_-])", re.S)


def refresh(page: Path) -> int:
    """Rewrite page's stale expected outputs; return how many."""
    # a block with a tolerance is compared exactly here: the page shows what
    # its code prints now, not an older output that is still within it
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         str(page)], capture_output=True, text=True,
        env={**os.environ, "COURSE_EXACT_OUTPUTS": "1"})
    fixes = [(int(m.group(1)), m.group(2))
             for m in FAILURE.finditer(result.stdout)]
    failures = result.stdout.count("\nFAILED ")
    if failures > len(fixes):
        print(result.stdout[-3000:])
        print(f"{page}: {failures - len(fixes)} failures are not about "
              f"outputs; fix those first")
    lines = page.read_text(encoding="utf-8").split("\n")
    for line_no, got in sorted(fixes, reverse=True):   # bottom up
        i = line_no - 1
        while "pytest-codeblocks:expected-output" not in lines[i]:
            i += 1
        start = i + 1                                   # the opening fence
        while not lines[start].lstrip().startswith("```"):
            start += 1
        indent = lines[start][:len(lines[start]) - len(lines[start].lstrip())]
        end = start + 1
        while lines[end].strip() != "```":
            end += 1
        # inside tabs and admonitions, blank lines keep the indent
        lines[start + 1:end] = [indent + text for text in got.split("\n")]
    page.write_text("\n".join(lines), encoding="utf-8")
    print(f"{page}: {len(fixes)} expected outputs rewritten")
    return len(fixes)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for name in sys.argv[1:]:
        refresh(Path(name))
