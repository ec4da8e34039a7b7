"""The code assistant: the debug loop against the fake server (a failing
first round, a passing second), giving up after --max-rounds, the sandbox
(time, memory and output limits, no API keys, a temporary folder that is
removed), and bad input that ends with one clear line and exit code 2.

Tests that count requests start their own FakeLLMServer.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from genai.applications.code_assistant import (DEMO_TASK, DEMO_TESTS, AssistantError, Limits,
                                               assist, debug_prompt, extract_code, main,
                                               run_sandboxed, run_tests, task_prompt)
from genai.llm_api.fake_server import FakeLLMServer, load_replies
from support import REPLIES, ROOT

RECORDINGS = REPLIES / "code_assistant.json"
EVEN_TASK = ("Write a Python function is_even(n) that says whether an "
             "integer is even.")


def test_the_recordings_load():
    assert len(load_replies(RECORDINGS.parent)) >= 3


def test_help():
    result = subprocess.run(
        [sys.executable, "-m", "genai.applications.code_assistant", "--help"],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "examples:" in result.stdout and "--max-rounds" in result.stdout
    assert "seatbelt" in result.stdout


# ---------------------------------------------------------------------------
# The debug loop
# ---------------------------------------------------------------------------
def test_round_one_fails_round_two_passes(server):
    lines = []
    outcome = assist(DEMO_TASK, DEMO_TESTS, log=lines.append)
    assert outcome.passed and len(outcome.rounds) == 2
    assert lines == ["round 1: tests fail", "round 2: tests pass"]
    assert "FAIL test_punctuation" in outcome.rounds[0].output
    assert "all tests passed" in outcome.rounds[1].output
    assert "re.findall" in outcome.code
    assert len(server.requests) == 2
    # the failure went back word for word: the recording matched it
    assert debug_prompt(outcome.rounds[0]).count("FAIL") == 2


def test_gives_up_after_max_rounds(server, capsys):
    outcome = assist(DEMO_TASK, DEMO_TESTS, max_rounds=1, log=print)
    assert not outcome.passed and len(outcome.rounds) == 1
    assert len(server.requests) == 1
    assert main([DEMO_TASK, "--tests", str(_tests_file()), "--max-rounds",
                 "1"]) == 1
    out = capsys.readouterr().out
    assert "Gave up after 1 round(s)" in out and "FAIL test_ends" in out


def test_the_model_writes_the_tests_too(server):
    outcome = assist(EVEN_TASK, log=lambda line: None)
    assert outcome.passed and len(outcome.rounds) == 1
    assert "def test_negative_numbers" in outcome.tests
    assert "ok   test_negative_numbers" in outcome.rounds[0].output


def test_the_command_line_saves_the_code(tmp_path, capsys):
    out = tmp_path / "slug.py"
    assert main([DEMO_TASK, "--tests", str(_tests_file()), "--out",
                 str(out)]) == 0
    assert "The tests pass after 2 round(s)" in capsys.readouterr().out
    assert "def slugify" in out.read_text()


def _tests_file() -> Path:
    import tempfile

    path = Path(tempfile.mkdtemp()) / "test_slug.py"
    path.write_text(DEMO_TESTS)
    return path


# ---------------------------------------------------------------------------
# The sandbox
# ---------------------------------------------------------------------------
def run(code: str, **limits):
    return run_sandboxed({"main.py": code}, "main.py", Limits(**limits))


def test_an_endless_loop_is_killed_at_the_time_limit():
    result = run("while True:\n    pass\n", seconds=1)
    assert result.timed_out and result.returncode is None
    assert "killed: no result after 1 s" in result.output


def test_a_huge_allocation_hits_the_memory_limit():
    if os.name != "posix":
        pytest.skip("memory limits need POSIX rlimits")
    result = run("x = bytearray(4 * 1024 ** 3)\nprint('allocated')\n",
                 memory_mb=256)
    assert result.returncode != 0 and "MemoryError" in result.output
    assert "allocated" not in result.output


def test_a_flood_of_output_is_truncated():
    result = run("print('x' * 1_000_000)\nimport sys\n"
                 "print('e' * 50_000, file=sys.stderr)\n", output_kb=2)
    assert result.returncode == 0
    assert "[stdout truncated after 2 KB]" in result.output
    assert "[stderr truncated after 2 KB]" in result.output
    assert len(result.output) < 5000


def test_the_child_sees_no_api_key(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    result = run("import os\nprint(sorted(os.environ))\n"
                 "print(open('/proc/self/environ').read() if "
                 "os.path.exists('/proc/self/environ') else '')\n")
    assert result.returncode == 0
    assert "secret" not in result.output and "API_KEY" not in result.output


def test_it_runs_in_a_temporary_folder_that_is_removed():
    result = run("import os\nprint(os.getcwd())\n"
                 "open('left-behind.txt', 'w').write('x')\n")
    folder = Path(result.output.strip())
    assert folder.name.startswith("assistant-")
    assert folder != Path.cwd() and not folder.exists()


def test_tracebacks_name_files_without_the_temporary_folder():
    result = run_tests("def slugify(title):\n    return 1 / 0\n", DEMO_TESTS)
    assert result.returncode == 1
    assert "ZeroDivisionError: division by zero" in result.output
    assert "solution.py:2: return 1 / 0" in result.output
    broken = run_tests("def slugify(:\n", DEMO_TESTS)
    assert "SyntaxError" in broken.output
    assert 'File "solution.py", line 1' in broken.output
    assert "assistant-" not in broken.output


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("task", ["", "   ", None])
def test_an_empty_task_is_refused(task):
    with pytest.raises(AssistantError, match="the task is empty"):
        task_prompt(task, DEMO_TESTS)


@pytest.mark.parametrize("rounds", [0, -1, 1.5, True])
def test_max_rounds_must_be_positive(rounds):
    with pytest.raises(AssistantError, match="max_rounds must be"):
        assist(DEMO_TASK, DEMO_TESTS, max_rounds=rounds)


def test_a_reply_without_code_is_refused():
    with pytest.raises(AssistantError, match=r"has 0 ```python block"):
        extract_code("Sorry, I cannot help with that.")
    task = "Write f()."
    recording = [{"prompt": task_prompt(task, DEMO_TESTS),
                  "reply": "Here you go: def f(): pass"}]
    with FakeLLMServer(replies=recording) as fake, fake.environment():
        with pytest.raises(AssistantError, match="has 0 ```python"):
            assist(task, DEMO_TESTS, log=lambda line: None)
    assert extract_code("```py\nx = 1\n```\n```python\ny = 2\n```", 2) == [
        "x = 1\n", "y = 2\n"]


@pytest.mark.parametrize("args, message", [
    (["  "], "the task is empty"),
    (["Write f()", "--max-rounds", "0"], "--max-rounds must be at least 1"),
    (["Write f()", "--tests", "no-such-file.py"], "cannot read --tests"),
    (["Write f()", "--timeout", "0"], "--timeout must be a number from 0.1 to 3,600"),
    (["Write f()", "--timeout", "nan"], "must be a finite number, got 'nan'"),
    (["Write f()", "--timeout", "inf"], "must be a finite number, got 'inf'"),
    (["Write f()", "--memory-mb", "99999999999999999999"],
     "--memory-mb must be a whole number from 64 to 1,048,576"),
    (["Write f()", "--out", "/proc/version"], "cannot write --out /proc/version"),
    (["Write f()", "--out", "/tmp"], "--out /tmp is a folder"),
    (["Write f()", "--max-rounds", "two"], "invalid int value"),
])
def test_bad_command_lines_end_with_one_line(args, message):
    result = subprocess.run(
        [sys.executable, "-m", "genai.applications.code_assistant", *args], cwd=ROOT,
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_bad_input_in_process(capsys, monkeypatch):
    assert main(["", "--max-rounds", "2"]) == 2
    assert main(["Write f()", "--max-rounds", "0"]) == 2
    assert main(["Write f()", "--tests", "no-such-file.py"]) == 2
    assert main(["Write f()", "--memory-mb", "1"]) == 2
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    assert main(["Write f()"]) == 2
    err = capsys.readouterr().err
    assert "ANTHROPIC_API_KEY is not set" in err
    assert err.count("code_assistant: error:") == 5
