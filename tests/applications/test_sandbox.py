"""The code assistant's sandbox keeps the page's promises (genai.applications.
sandbox): whatever ends the assistant (its return, an error, Ctrl-C, SIGTERM,
its death), the model's code, everything it started and its folder are gone;
processes that leave their group or are orphaned are killed too; output, file
size and the number of processes are limited; and the code cannot read the
assistant's API key, even through /proc.

The escape attempts come from a recorded model reply (code_assistant.json):
tests that scan every /proc/<pid>/environ for the key, start a process in a
session of its own and an orphan, then loop forever.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from genai.applications.code_assistant import Limits, run_sandboxed
from genai.applications.sandbox import running
from genai.llm_api.fake_server import FakeLLMServer
from support import ROOT, ctrl_c_reaches_it

LINUX = sys.platform.startswith("linux")
linux_only = pytest.mark.skipif(not LINUX, reason="the launcher's guarantees need Linux (/proc, prctl)")
KEY = "sk-ant-DISTINCTIVE-4217"
TASK = "Write answer() that returns 42, and tests that try to escape the sandbox."
MARKER = "escapee-4217"


def folders() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("assistant-*")}


@pytest.fixture
def keyed_server():
    """A fake API server that wants the distinctive key, and an environment
    that holds it, as a user's shell would."""
    with FakeLLMServer(api_key=KEY) as server:
        env = {**os.environ, **server.env(), "PYTHONPATH": str(ROOT / "snippets")}
        yield env


def assistant(env, *options) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "genai.applications.code_assistant", TASK, "--max-rounds", "1",
         *options], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, preexec_fn=ctrl_c_reaches_it)


def wait_for(condition, seconds=30.0):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return False


@linux_only
def test_at_the_time_limit_everything_is_killed_and_the_key_stayed_hidden(keyed_server):
    before = folders()
    process = assistant(keyed_server, "--timeout", "3")
    out, err = process.communicate(timeout=60)
    assert process.returncode == 1, err                       # gave up after one round
    assert "the key is readable in 0 process(es)" in out
    assert "started two escapees" in out and "killed: no result after 3 s" in out
    assert KEY not in out and "DISTINCTIVE-4217" not in err
    assert running(MARKER) == 0, "a process the code started is still running"
    assert folders() <= before, "the sandbox left its folder behind"


def test_the_scan_for_the_key_would_find_it_outside_the_sandbox(keyed_server):
    """The escape test can fail: the same scan, run by a plain child of a
    process that holds the key, finds it."""
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"],
                              env={**keyed_server, "ANTHROPIC_API_KEY": KEY})
    try:
        scan = subprocess.run([sys.executable, "-c",
                               "import os\nn = 0\nfor p in os.listdir('/proc'):\n"
                               "    try: n += b'DISTINCTIVE-4217' in open(f'/proc/{p}/environ', 'rb').read()\n"
                               "    except OSError: pass\nprint(n)"],
                              capture_output=True, text=True, check=True)
        assert LINUX is False or int(scan.stdout) >= 1
    finally:
        holder.kill()
        holder.wait()


@linux_only
@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM], ids=["Ctrl-C", "SIGTERM"])
def test_stopping_the_assistant_stops_the_code_and_removes_its_folder(keyed_server, how):
    before = folders()
    process = assistant(keyed_server, "--timeout", "60")
    try:
        assert wait_for(lambda: running(MARKER) == 2), "the escapees never started"
        process.send_signal(how)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 130 and err.strip() == "Stopped."
    assert wait_for(lambda: running(MARKER) == 0, 10), "the code outlived the assistant"
    assert folders() <= before


@linux_only
def test_killing_the_assistant_outright_still_stops_the_code(keyed_server):
    """SIGKILL leaves the assistant no time to clean up: the launcher, told
    by the kernel that its parent died, does it."""
    before = folders()
    process = assistant(keyed_server, "--timeout", "60")
    try:
        assert wait_for(lambda: running(MARKER) == 2), "the escapees never started"
        process.kill()
        process.communicate(timeout=30)
    finally:
        process.kill()
    assert wait_for(lambda: running(MARKER) == 0, 10), "the code outlived the assistant"
    assert wait_for(lambda: folders() <= before, 10)


def run(code: str, **limits):
    return run_sandboxed({"main.py": code}, "main.py", Limits(**limits))


@linux_only
def test_endless_output_stops_at_the_file_size_limit():
    start = time.monotonic()
    result = run("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n",
                 seconds=30, file_mb=2)
    assert time.monotonic() - start < 20, "the limit did not stop it"
    assert result.returncode != 0 and not result.timed_out
    # Python ignores SIGXFSZ, so the write fails: "File too large"
    assert "File too large" in result.output or result.returncode == -signal.SIGXFSZ
    assert "[stdout truncated after 8 KB]" in result.output


def test_a_big_file_stops_at_the_file_size_limit():
    result = run("open('big.bin', 'wb').write(b'0' * (5 * 1024 * 1024))\nprint('written')\n",
                 file_mb=1)
    assert result.returncode != 0 and "written" not in result.output


@linux_only
def test_too_many_processes_are_refused_or_stopped():
    code = (f"import subprocess, sys\nfor _ in range(100):\n"
            f"    subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)', "
            f"'{MARKER}-many'])\nprint('started 100')\n"
            "import time\ntime.sleep(30)\n")
    result = run(code, seconds=20, processes=8)
    assert "started 100" not in result.output
    # a normal user: the kernel refuses the 9th; root (not limited by the
    # kernel): the launcher sees more than 8 and stops the run
    assert ("killed: more than 8 processes" in result.output
            or "Resource temporarily unavailable" in result.output), result.output
    assert running(f"{MARKER}-many") == 0


@pytest.mark.parametrize("limits, message", [
    (dict(seconds=float("nan")), "seconds must be a number"),
    (dict(seconds=float("inf")), "seconds must be a number"),
    (dict(memory_mb=10 ** 20), "memory_mb must be a number from 64"),
    (dict(processes=0), "processes must be a number from 1"),
    (dict(output_kb=True), "output_kb must be a number"),
])
def test_limits_are_checked(limits, message):
    from genai.applications.code_assistant import AssistantError

    with pytest.raises(AssistantError, match=message):
        Limits(**limits)


def test_a_non_utf8_argument_is_one_clear_line():
    result = subprocess.run(
        [sys.executable.encode(), b"-m", b"genai.applications.code_assistant", b"Write f(\xff)"],
        cwd=ROOT, capture_output=True, timeout=60)
    assert result.returncode == 2
    assert b"argument 1 is not UTF-8 text" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_every_promise_on_the_page_names_a_test_that_exists():
    import re

    page = (ROOT / "docs" / "applications" / "code-assistant.md").read_text()
    named = set(re.findall(r"`(test_\w+)`", page))
    assert len(named) >= 9
    defined = set()
    for path in (ROOT / "tests" / "applications").glob("test_*.py"):
        defined |= set(re.findall(r"^def (test_\w+)", path.read_text(), re.M))
    assert named <= defined, named - defined
