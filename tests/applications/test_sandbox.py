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
import textwrap
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
    (dict(memory_mb=10 ** 20), "memory_mb must be a whole number from 64"),
    (dict(processes=0), "processes must be a whole number from 1"),
    (dict(output_kb=True), "output_kb must be a whole number"),
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


# ---------------------------------------------------------------------------
# The second round of attacks (issue 24): each as model-written code would try
# ---------------------------------------------------------------------------
def job(code: str, **options) -> dict:
    return {"files": {"main.py": code}, "main": "main.py", "seconds": 5, "memory_mb": 512,
            "file_mb": 16, "processes": 32, "output_kb": 8, **options}


@linux_only
@pytest.mark.parametrize("isolate", [True, False], ids=["namespaces", "no namespaces"])
def test_swapping_the_output_file_for_a_link_reads_no_key(monkeypatch, isolate):
    """The code replaces its stdout file by a link to the assistant's
    environment; the launcher reads output only through the files it opened
    (without a name), and keeps no capability, even as root."""
    from genai.applications import sandbox

    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    code = textwrap.dedent(f"""\
        import os
        for fd in (1, 2):
            path = os.readlink(f"/proc/self/fd/{{fd}}")
            try:
                os.unlink(path)
                os.symlink("/proc/{os.getpid()}/environ", path)
                print("swapped", fd)
            except OSError as error:
                print("cannot swap", fd, type(error).__name__)
        for path in ("/proc/{os.getpid()}/environ", "/proc/{os.getppid()}/environ"):
            try:
                print(open(path, "rb").read())
            except OSError as error:
                print("cannot read", type(error).__name__)
        try:   # the launcher's answer to the assistant, forged
            with open(f"/proc/{{os.getppid()}}/fd/1", "w") as pipe:
                pipe.write('{{"returncode": 0, "output": "forged", "killed": "", "report": ""}}')
            print("forged the answer")
        except OSError as error:
            print("cannot forge", type(error).__name__)
        """)
    result = sandbox.launch(job(code, isolate=isolate))
    assert "cannot swap 1" in result["output"] and "cannot swap 2" in result["output"]
    assert "cannot forge" in result["output"] and result["output"] != "forged"
    assert KEY not in result["output"] and "DISTINCTIVE" not in result["output"]


@linux_only
def test_the_launcher_keeps_no_capability_as_root():
    from genai.applications import sandbox

    if os.geteuid() != 0:
        pytest.skip("only root has capabilities to give up")
    code = ("import os\nppid = os.getppid()\n"
            "print([l for l in open(f'/proc/{ppid}/status') if l.startswith('CapEff')])\n")
    result = sandbox.launch(job(code, isolate=False))
    assert "CapEff:\\t0000000000000000" in result["output"], result["output"]


STOP_THE_LAUNCHER = """\
import os, signal, subprocess, sys, time
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "{marker}"],
                 start_new_session=True)
print("parent", os.getppid(), flush=True)
if os.getppid():
    os.kill(os.getppid(), signal.{signal})
time.sleep(60)
"""


@linux_only
@pytest.mark.parametrize("how", ["SIGSTOP", "SIGKILL"])
def test_the_code_cannot_stop_or_kill_its_launcher(how):
    """In PID and user namespaces of its own the code has no parent it can
    name (getppid() is 0) and sees only its own processes: at the time limit
    everything is gone, as always."""
    from genai.applications import sandbox

    if not sandbox.isolation(job("")):
        pytest.skip("this kernel refuses user and PID namespaces")
    marker = f"{MARKER}-{how}"
    before = folders()
    start = time.monotonic()
    result = sandbox.launch(job(STOP_THE_LAUNCHER.format(marker=marker, signal=how), seconds=2))
    assert "parent 0" in result["output"] and result["killed"] == "no result after 2 s"
    assert time.monotonic() - start < 2 + sandbox.GRACE + 5
    assert wait_for(lambda: running(marker) == 0, 5) and folders() <= before


@linux_only
def test_without_namespaces_the_assistant_keeps_the_clock():
    """Where the kernel refuses namespaces the code can stop its launcher:
    the assistant kills it GRACE seconds after the limit, with the code's
    first process, removes the folder, and says so in one line. (What the
    code started in a session of its own may live on: the page says so.)"""
    from genai.applications import sandbox

    marker = f"{MARKER}-stopped"
    before = folders()
    start = time.monotonic()
    try:
        with pytest.raises(sandbox.SandboxError, match=r"^no answer from the sandbox 7 s after"):
            sandbox.launch(job(STOP_THE_LAUNCHER.format(marker=marker, signal="SIGSTOP"),
                               seconds=2, isolate=False))
        assert time.monotonic() - start < 2 + sandbox.GRACE + 10   # not 30 s more, not forever
        assert folders() <= before
    finally:
        subprocess.run(["pkill", "-f", marker], check=False)


@linux_only
def test_a_forged_pass_is_a_failure():
    """Code that ends the process with status 0 before the tests run, or
    prints what the runner prints, has not passed: the runner's report,
    written with this run's token, is missing."""
    from genai.applications.code_assistant import run_tests

    tests = "from solution import f\n\ndef test_f():\n    assert f() == 2\n"
    early = run_tests("import os\nprint('ok   test_f\\nall tests passed')\nos._exit(0)\n", tests)
    assert early.returncode == 0 and not early.passed
    assert "no report from the test runner" in early.output
    exits = run_tests("def f():\n    raise SystemExit(0)\n", tests)
    assert not exits.passed and "FAIL test_f: SystemExit: 0" in exits.output
    garbled = run_tests("import atexit, os\nreport = os.dup(int(os.environ['SANDBOX_REPORT_FD']))\n"
                        "atexit.register(os.write, report, b'junk')\n"
                        "def f():\n    return 2\n", tests)
    assert garbled.returncode == 0 and not garbled.passed   # a report spoiled after the fact
    right = run_tests("def f():\n    return 2\n", tests)
    assert right.passed and right.output == "ok   test_f\nall tests passed\n"


def test_the_tests_pass_only_when_every_test_reported_ok():
    from genai.applications.code_assistant import test_names

    assert test_names("def test_b(): pass\ndef helper(): pass\nasync def test_a(): pass\n") == [
        "test_a", "test_b"]
    assert test_names("def test_(:\n") == []


@pytest.mark.parametrize("files, main, message", [
    ({"../x.py": ""}, "../x.py", "file names are plain names"),
    ({"/tmp/x.py": ""}, "/tmp/x.py", "file names are plain names"),
    ({"a/b.py": ""}, "a/b.py", "file names are plain names"),
    ({"..": ""}, "..", "file names are plain names"),
    ({"main.py": ""}, "other.py", "main must be one of the files"),
    ({"main.py": b"bytes"}, "main.py", "is not a string"),
])
def test_files_stay_in_the_run_folder(files, main, message):
    from genai.applications.code_assistant import AssistantError

    with pytest.raises(AssistantError, match=message):
        run_sandboxed(files, main)


@pytest.mark.parametrize("limits, message", [
    (dict(memory_mb=100.5), "memory_mb must be a whole number"),
    (dict(processes=2.0), "processes must be a whole number"),
])
def test_whole_number_limits_are_whole(limits, message):
    from genai.applications.code_assistant import AssistantError

    with pytest.raises(AssistantError, match=message):
        Limits(**limits)


@pytest.mark.parametrize("out, message", [
    (b"not json", "not JSON"),
    (b'{"returncode": 0}', "not what it sends"),
    (b'{"returncode": true, "output": "", "killed": "", "report": ""}', "not what it sends"),
    (b'[1, 2]', "not what it sends"),
])
def test_an_answer_the_launcher_would_not_send_is_refused(out, message):
    from genai.applications import sandbox

    with pytest.raises(sandbox.SandboxError, match=message):
        sandbox.answer(out)


def test_escape_sequences_are_printed_as_text():
    from genai.cli import printable

    shown = printable("ok\x1b]0;pwned\x07\x1b[2J\rgone\u202eevil\tand\nmore é 👩‍💻")
    assert "\x1b" not in shown and "\x07" not in shown and "\r" not in shown
    assert "\u202e" not in shown and "\\x1b]0;pwned\\x07\\x1b[2J\\x0dgone\\u202eevil" in shown
    assert shown.endswith("\tand\nmore é 👩‍💻")


def test_the_assistant_prints_the_models_code_and_its_output_escaped(capsys):
    from genai.applications.code_assistant import Outcome, RunResult, report

    report(Outcome(True, "print('\x1b[2J')\n", "", [RunResult(0, "")]))
    report(Outcome(False, "", "", [RunResult(1, "FAIL test_x: \x1b]0;pwned\x07")]))
    shown = capsys.readouterr().out
    assert "\x1b" not in shown and "\x07" not in shown
    assert "print('\\x1b[2J')" in shown and "\\x1b]0;pwned\\x07" in shown
