"""Outputs that come from recorded replies are labelled where the reader sees them.

A page block that sends a request to one of the course's fake LLM API
servers prints what a recording says, not what a model wrote today. Its
expected-output fence carries the class ``recorded``:

    <!--pytest-codeblocks:expected-output-->
    ```{.text .recorded}
    ...
    ```

and docs/assets/course.css labels such blocks "Recorded reply". ApiBlocks
(a plugin, registered by the top conftest.py) notes which page blocks made
a request during this session; tests/harness/test_guard.py then checks that
exactly those blocks' outputs are labelled.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

_FENCE = re.compile(r"^\s*(`{3,}|~{3,})(?P<info>.*)$")


class ApiBlocks:
    """The page blocks, (page, fence line), that sent a request to a fake LLM
    API server while they ran. (Not a set subclass: pluggy compares plugins
    by equality, and two empty sets are equal.)

    The process that runs a block notes the request on the block's reports
    (``user_properties``); the process that hears the reports (the xdist
    controller, or pytest itself) adds the block to the set."""

    def __init__(self, rootpath: Path):
        self.rootpath = Path(rootpath)
        self.blocks: set[tuple[Path, int]] = set()

    def __contains__(self, key) -> bool:
        return key in self.blocks

    def __bool__(self) -> bool:
        return bool(self.blocks)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item):
        from genai.llm_api.fake_server import FakeLLMServer

        before = FakeLLMServer.served
        yield
        if FakeLLMServer.served > before and "::line " in item.nodeid:
            item.user_properties.append(("course_api_block", int(item.name.split()[1])))

    def pytest_runtest_logreport(self, report):
        if report.when == "call":
            for name, line in report.user_properties:
                if name == "course_api_block":
                    self.blocks.add(((self.rootpath / report.nodeid.split("::")[0]).resolve(), line))


def output_fences(page: Path) -> dict[int, str]:
    """{line of a code fence: the info string of its expected-output fence}
    for every block of the page that has one."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found, last_code = {}, None
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if match:
            marker, start = match.group(1), i
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(marker):
                i += 1
            last_code = start + 1
        elif "pytest-codeblocks:expected-output" in lines[i] and last_code is not None:
            j = i + 1
            while j < len(lines) and not _FENCE.match(lines[j]):
                j += 1
            if j < len(lines):
                found[last_code] = _FENCE.match(lines[j]).group("info").strip()
        i += 1
    return found


def is_labelled(info: str) -> bool:
    return bool(re.search(r"(^|[\s{])\.recorded\b", info))
