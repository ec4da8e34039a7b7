"""A code assistant: the model writes code, tests run it, errors go back.

Given a task and tests (or asked to write both), the assistant asks the
model for code, runs the tests on it in a separate Python process with a
time limit, a memory limit, capped output and no API keys, and, when the
tests fail, sends the failures back to the model to debug. After at most
--max-rounds rounds it reports success or the last failure.

    python -m genai.applications.code_assistant          # a demo: slugify, two rounds
    python -m genai.applications.code_assistant --help   # every option, examples
    python -m genai.applications.code_assistant "Write is_prime(n)" --tests test_p.py

It calls the Anthropic API through the SDK (`anthropic.Anthropic()` reads
ANTHROPIC_API_KEY). Without a key, the demo uses the course's local fake
server; everything else asks you to set the key.
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import anthropic

from genai.cli import OneLineParser
from genai.llm_api.calls import (ANTHROPIC_MODEL, MissingAPIKeyError,
                                 check_api_key)

if os.name == "posix":
    import resource


class AssistantError(ValueError):
    """A task, an option or a model reply that the assistant cannot use."""


# --8<-- [start:sandbox]
@dataclass
class Limits:
    """What one run of generated code may use."""
    seconds: float = 10.0       # wall-clock time, then the process is killed
    memory_mb: int = 512        # address space (POSIX only)
    output_kb: int = 8          # kept of stdout and of stderr, each


@dataclass
class RunResult:
    returncode: int | None      # None: killed at the time limit
    output: str                 # stdout and stderr, each truncated
    timed_out: bool = False


def run_sandboxed(files: dict[str, str], main: str,
                  limits: Limits = Limits()) -> RunResult:
    """Run `python main` in a fresh temporary folder holding `files`.

    A seatbelt, not a security boundary: the child is a separate process
    with limits, but it can still read your files and use the network."""
    with tempfile.TemporaryDirectory(prefix="assistant-") as folder:
        for name, text in files.items():
            Path(folder, name).write_text(text, encoding="utf-8")
        # posix: lower the child's address-space limit before it starts
        memory = limits.memory_mb * 1024 * 1024
        preexec = (functools.partial(resource.setrlimit, resource.RLIMIT_AS,
                                     (memory, memory))
                   if os.name == "posix" else None)
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            child = subprocess.Popen(
                [sys.executable, "-I", main],  # -I: no env vars, no site
                cwd=folder, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                env=minimal_environment(folder), shell=False,
                preexec_fn=preexec, start_new_session=True)
            try:
                returncode, timed_out = child.wait(limits.seconds), False
            except subprocess.TimeoutExpired:
                kill(child)
                returncode, timed_out = None, True
            output = (clip(out, limits.output_kb, "stdout")
                      + clip(err, limits.output_kb, "stderr"))
        # paths in tracebacks: relative to the folder, the same every run
        output = output.replace(os.path.realpath(folder) + os.sep, "")
        output = output.replace(folder + os.sep, "")
    if timed_out:
        output += f"\nkilled: no result after {limits.seconds:g} s\n"
    return RunResult(returncode, output, timed_out)


def minimal_environment(folder: str) -> dict[str, str]:
    """Only what Python needs: no API keys, no tokens, no proxies."""
    keep = {"SYSTEMROOT"} if os.name == "nt" else set()  # Windows needs it
    env = {k: v for k, v in os.environ.items() if k in keep}
    return {**env, "PATH": os.defpath, "HOME": folder, "LANG": "C.UTF-8"}


def kill(child: subprocess.Popen) -> None:
    """Kill the child and anything it started (its process group)."""
    if os.name == "posix":
        os.killpg(child.pid, signal.SIGKILL)
    child.kill()  # elsewhere: the child only
    child.wait()


def clip(file, kilobytes: int, name: str) -> str:
    """At most `kilobytes` of a captured output, and a note if cut."""
    file.seek(0)
    data = file.read(kilobytes * 1024 + 1)
    text = data[:kilobytes * 1024].decode("utf-8", errors="replace")
    if len(data) > kilobytes * 1024:
        text += f"\n[{name} truncated after {kilobytes} KB]\n"
    return text
# --8<-- [end:sandbox]


# --8<-- [start:runner]
# The test runner: calls every test_* function of test_solution.py and
# prints one line per test, so failures read the same on every Python.
RUNNER = '''\
import sys, traceback
sys.path.insert(0, ".")
import test_solution
failed = 0
for name in sorted(n for n in vars(test_solution) if n.startswith("test_")):
    try:
        getattr(test_solution, name)()
    except Exception as error:
        failed += 1
        where = traceback.extract_tb(error.__traceback__)[-1]
        print(f"FAIL {name}: {type(error).__name__}: {error}".rstrip(": "))
        print(f"  {where.filename.split('/')[-1]}:{where.lineno}: "
              f"{where.line}")
    else:
        print(f"ok   {name}")
print("all tests passed" if not failed else f"{failed} test(s) failed")
sys.exit(1 if failed else 0)
'''


def run_tests(code: str, tests: str, limits: Limits = Limits()) -> RunResult:
    """The tests, run against the code, in the sandbox."""
    files = {"solution.py": code, "test_solution.py": tests,
             "run_tests.py": RUNNER}
    return run_sandboxed(files, "run_tests.py", limits)
# --8<-- [end:runner]


# --8<-- [start:prompts]
SYSTEM = ("You are a careful Python programmer. Answer with the complete "
          "module in one ```python block; it is saved as solution.py. Use "
          "only the standard library. No explanations outside the block.")


def task_prompt(task: str, tests: str | None) -> str:
    """The first message: the task, and the tests the code must pass."""
    if not isinstance(task, str) or not task.strip():
        raise AssistantError("the task is empty: say what the code should "
                             "do, e.g. 'Write is_prime(n)'")
    if tests is None:
        return (f"{task.strip()}\n\nAnswer with two ```python blocks: "
                "first solution.py, then test_solution.py with test_* "
                "functions that use plain assert and import from solution.")
    return (f"{task.strip()}\n\nYour code must pass these tests "
            f"(test_solution.py):\n\n```python\n{tests.strip()}\n```")


def debug_prompt(result: RunResult) -> str:
    """The follow-up message: what went wrong, word for word."""
    return ("The tests failed. Here is their output:\n\n```text\n"
            f"{result.output.strip()}\n```\n\nFind the bug and answer "
            "with the whole corrected solution.py.")


def extract_code(reply: str, blocks: int = 1) -> list[str]:
    """The first `blocks` ```python blocks of a reply."""
    found = re.findall(r"```(?:python|py)[^\n]*\n(.*?)```", reply, re.S)
    if len(found) < blocks:
        raise AssistantError(f"the model's reply has {len(found)} ```python "
                             f"block(s), expected {blocks}: "
                             f"{reply.strip()[:80]!r}")
    return found[:blocks]
# --8<-- [end:prompts]


# --8<-- [start:loop]
@dataclass
class Outcome:
    passed: bool
    code: str
    tests: str
    rounds: list[RunResult] = field(default_factory=list)


def assist(task: str, tests: str | None = None, max_rounds: int = 3,
           limits: Limits = Limits(), client=None, log=print) -> Outcome:
    """Ask for code, test it, send failures back; at most max_rounds."""
    if isinstance(max_rounds, bool) or not isinstance(max_rounds, int) \
            or max_rounds < 1:
        raise AssistantError(f"max_rounds must be a whole number >= 1, "
                             f"got {max_rounds!r}")
    messages = [{"role": "user", "content": task_prompt(task, tests)}]
    client = client or anthropic.Anthropic()
    rounds = []
    for number in range(1, max_rounds + 1):
        reply = client.messages.create(
            model=ANTHROPIC_MODEL, max_tokens=4000, system=SYSTEM,
            messages=messages).content[0].text
        code, *written = extract_code(reply, 1 if tests else 2)
        tests = tests or written[0]  # the model's own tests, if asked
        result = run_tests(code, tests, limits)
        rounds.append(result)
        log(f"round {number}: "
            + ("tests pass" if result.returncode == 0 else "tests fail"))
        if result.returncode == 0:
            return Outcome(True, code, tests, rounds)
        messages += [{"role": "assistant", "content": reply},
                     {"role": "user", "content": debug_prompt(result)}]
    return Outcome(False, code, tests, rounds)
# --8<-- [end:loop]


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------
DEMO_TASK = ("Write a Python function slugify(title) that turns a title "
             "into a URL slug: lowercase ASCII letters and digits, words "
             "joined by single hyphens, no hyphen at either end.")
DEMO_TESTS = '''\
from solution import slugify


def test_words():
    assert slugify("Hello World") == "hello-world"


def test_punctuation():
    assert slugify("Hello, World!") == "hello-world"


def test_ends():
    assert slugify(" -Fast & Simple- ") == "fast-simple"
'''

EXAMPLES = """examples:
  python -m genai.applications.code_assistant "Write is_prime(n) for n >= 0" \\
      --tests test_prime.py
  python -m genai.applications.code_assistant "Write a function that parses 'HH:MM' \\
into minutes after midnight" --max-rounds 5 --out solution.py

Without --tests, the model writes the tests too (read them!). The code
runs in a separate process in a temporary folder, with a time limit, a
memory limit (POSIX), capped output and no API keys in its environment.
This is a seatbelt, not a sandbox: use a container or a virtual machine
for code you do not trust. It needs ANTHROPIC_API_KEY; the demo (no
arguments) uses the course's local fake server when the key is not set."""


def build_parser():
    parser = OneLineParser(
        prog="python -m genai.applications.code_assistant",
        description="Ask an LLM for Python code that passes tests. Failed\n"
        "tests go back to the model to debug, for a few rounds.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", help="what the code should do")
    parser.add_argument("--tests", metavar="FILE.py", help="tests: test_* "
                        "functions with assert, importing from solution")
    parser.add_argument("--max-rounds", type=int, default=3,
                        help="attempts, the first included (default: 3)")
    parser.add_argument("--timeout", type=float, default=10.0,
                        help="seconds per test run (default: 10)")
    parser.add_argument("--memory-mb", type=int, default=512,
                        help="memory per test run, POSIX (default: 512)")
    parser.add_argument("--out", metavar="FILE.py",
                        help="save the final code here")
    return parser


def report(outcome: Outcome) -> None:
    last = outcome.rounds[-1]
    if outcome.passed:
        print(f"\nThe tests pass after {len(outcome.rounds)} round(s):\n")
        print(outcome.code.rstrip())
    else:
        print(f"\nGave up after {len(outcome.rounds)} round(s). The last "
              f"test output:\n\n{last.output.rstrip()}")


def demo():
    """No arguments: slugify, against the fake server without a key."""
    from genai.llm_api.fake_server import unless_api_key

    with unless_api_key():
        print(f"Demo task: {DEMO_TASK}\nSee --help for more.\n")
        report(assist(DEMO_TASK, DEMO_TESTS))
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:
        return demo()
    args = build_parser().parse_args(argv)
    try:
        tests = None
        if args.tests:
            try:
                tests = Path(args.tests).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                raise AssistantError(f"cannot read --tests {args.tests}: "
                                     f"{error}") from None
        if args.timeout <= 0 or args.memory_mb < 64:
            raise AssistantError("--timeout must be > 0 and --memory-mb at "
                                 "least 64")
        task_prompt(args.task, tests)  # a bad task fails before the key
        if args.max_rounds < 1:
            raise AssistantError(f"--max-rounds must be at least 1, got "
                                 f"{args.max_rounds}")
        check_api_key()
        outcome = assist(args.task, tests, args.max_rounds,
                         Limits(args.timeout, args.memory_mb))
    except (AssistantError, MissingAPIKeyError) as error:
        print(f"code_assistant: error: {error}", file=sys.stderr)
        return 2
    except anthropic.APIError as error:
        print(f"code_assistant: the API call failed ({error})",
              file=sys.stderr)
        return 1
    report(outcome)
    if args.out:
        Path(args.out).write_text(outcome.code, encoding="utf-8")
        print(f"\nsaved {args.out}")
    return 0 if outcome.passed else 1


if __name__ == "__main__":
    sys.exit(main())
