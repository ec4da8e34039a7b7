"""A code assistant: the model writes code, tests run it, errors go back.

Given a task and tests (or asked to write both), the assistant asks the
model for code, runs the tests on it in a separate Python process with
limits and no API keys (genai.applications.sandbox), and, when the tests
fail, sends the failures back to the model to debug. After at most
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
import ast
import dataclasses
import json
import math
import re
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path

import anthropic

from genai.applications import sandbox
from genai.cli import (OneLineParser, app_main, finite, input_file, output_file,
                       printable)
from genai.llm_api.calls import (ANTHROPIC_MODEL, MissingAPIKeyError,
                                 check_api_key)


class AssistantError(ValueError):
    """A task, an option or a model reply that the assistant cannot use."""


# --8<-- [start:sandbox]
@dataclass
class Limits:
    """What one run of generated code may use."""
    seconds: float = 10.0       # wall-clock time, then everything is killed
    memory_mb: int = 512        # address space of each process (Linux)
    file_mb: int = 16           # size of any file it writes, output included
    processes: int = 32         # processes at once, the first included
    output_kb: int = 8          # kept of stdout and of stderr, each

    def __post_init__(self):
        checks = {"seconds": (0.1, 3600), "memory_mb": (64, 1 << 20),
                  "file_mb": (1, 1 << 20), "processes": (1, 4096),
                  "output_kb": (1, 1024)}
        for name, (low, high) in checks.items():
            value = getattr(self, name)
            kinds = (int, float) if name == "seconds" else int
            number = isinstance(value, kinds) and not isinstance(value, bool)
            if not number or not math.isfinite(value) \
                    or not low <= value <= high:
                kind = "a number" if name == "seconds" else "a whole number"
                raise AssistantError(f"{name} must be {kind} from {low:,}"
                                     f" to {high:,}, got {value!r}")


@dataclass
class RunResult:
    returncode: int | None      # None: killed, see timed_out and output
    output: str                 # stdout and stderr, each truncated
    timed_out: bool = False     # killed at the time limit
    passed: bool = False        # ended well (the tests: each one reported ok)
    report: str = ""            # what the code wrote to its report file


def run_sandboxed(files: dict[str, str], main: str,
                  limits: Limits = Limits(), stdin: str = "") -> RunResult:
    """Run `python main` in a fresh temporary folder holding `files`, with
    the limits, through the launcher in genai.applications.sandbox; stdin
    is what the code may read first.

    A seatbelt, not a security boundary: the code runs as you, so it can
    read your files and use the network (see the page for what is limited).
    Whatever ends the run (its end, the limits, Ctrl-C, SIGTERM), the code,
    everything it started and its folder are gone."""
    try:
        result = sandbox.launch({"files": files, "main": main, "stdin": stdin,
                                 **dataclasses.asdict(limits)})
    except sandbox.JobError as error:             # the caller's mistake
        raise AssistantError(str(error)) from None
    output = result["output"]
    if result["killed"]:
        output += f"\nkilled: {result['killed']}\n"
    return RunResult(result["returncode"], output,
                     result["killed"].startswith("no result"),
                     passed=result["returncode"] == 0, report=result["report"])
# --8<-- [end:sandbox]


# --8<-- [start:runner]
# The test runner: calls every test_* function of test_solution.py and
# prints one line per test, so failures read the same on every Python.
# At the end it writes the results to the run's report file, after this
# run's token: the token comes on stdin, read and closed before the
# model's code is imported, so code that ends the process early
# (os._exit(0)) or prints "all tests passed" cannot pass for the tests.
RUNNER = '''\
import json, os, sys, traceback
token = sys.stdin.readline().strip()
os.close(0)
report = os.fdopen(int(os.environ["SANDBOX_REPORT_FD"]), "w")
sys.path.insert(0, ".")
import test_solution
results = {}
for name in sorted(n for n in vars(test_solution) if n.startswith("test_")):
    try:
        getattr(test_solution, name)()
    except BaseException as error:      # sys.exit() in a test fails it too
        results[name] = "fail"
        where = traceback.extract_tb(error.__traceback__)[-1]
        print(f"FAIL {name}: {type(error).__name__}: {error}".rstrip(": "))
        print(f"  {where.filename.split('/')[-1]}:{where.lineno}: "
              f"{where.line}")
    else:
        results[name] = "ok"
        print(f"ok   {name}")
failed = list(results.values()).count("fail")
print("all tests passed" if not failed else f"{failed} test(s) failed")
report.write(f"{token} {json.dumps(results)}")
report.close()
sys.exit(1 if failed else 0)
'''


def run_tests(code: str, tests: str, limits: Limits = Limits()) -> RunResult:
    """The tests, run against the code, in the sandbox. They pass when the
    runner's report, with this run's token, says ok for every test_*
    function that the tests file defines."""
    token = secrets.token_hex(16)
    files = {"solution.py": code, "test_solution.py": tests,
             "run_tests.py": RUNNER}
    result = run_sandboxed(files, "run_tests.py", limits, stdin=token + "\n")
    report = None
    if result.report.startswith(token + " "):
        try:
            report = json.loads(result.report[len(token) + 1:])
        except ValueError:
            pass
    expected = test_names(tests)
    result.passed = (result.returncode == 0 and bool(expected) and report is not None
                     and report == {name: "ok" for name in expected})
    if result.returncode == 0 and not result.passed:
        result.output += ("\nno report from the test runner: the code ended the "
                          "process before every test ran\n" if report is None else
                          "\nthe test runner did not run every test\n")
    return result


def test_names(tests: str) -> list[str]:
    """The test_* functions a tests file defines (none if it does not parse)."""
    try:
        tree = ast.parse(tests)
    except (SyntaxError, ValueError):
        return []
    return sorted(node.name for node in tree.body
                  if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.name.startswith("test_"))
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
            + ("tests pass" if result.passed else "tests fail"))
        if result.passed:
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
runs in a separate process in a temporary folder, with limits on time,
memory, file size, processes and output, and no API keys; whatever ends
the run, everything it started and its folder are gone. This is a
seatbelt, not a sandbox: the code runs as you and can read your files and
use the network. Use a container or a virtual machine for code you do not
trust. It needs ANTHROPIC_API_KEY; the demo (no
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
    parser.add_argument("--timeout", type=finite, default=10.0,
                        help="seconds per test run (default: 10)")
    parser.add_argument("--memory-mb", type=int, default=512,
                        help="memory per process, Linux (default: 512)")
    parser.add_argument("--out", metavar="FILE.py",
                        help="save the final code here")
    return parser


def report(outcome: Outcome) -> None:
    last = outcome.rounds[-1]
    if outcome.passed:      # the model's code and its output: escaped
        print(f"\nThe tests pass after {len(outcome.rounds)} round(s):\n")
        print(printable(outcome.code.rstrip()))
    else:
        print(f"\nGave up after {len(outcome.rounds)} round(s). The last "
              f"test output:\n\n{printable(last.output.rstrip())}")


def demo():
    """No arguments: slugify, against the fake server without a key."""
    from genai.llm_api.fake_server import unless_api_key

    with unless_api_key():
        print(f"Demo task: {DEMO_TASK}\nSee --help for more.\n")
        report(assist(DEMO_TASK, DEMO_TESTS))
    return 0


def main(argv=None):
    # SIGTERM, like Ctrl-C, stops the sandbox first (genai.cli.app_main)
    return app_main(argv, demo, run, build_parser)


def run(args) -> int:
    try:
        tests = None
        if args.tests:
            try:   # a regular file of at most 1 MB: not /dev/zero, not a FIFO
                tests = input_file(args.tests, "--tests", 1).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                raise AssistantError(f"cannot read --tests {args.tests}: "
                                     f"{error}") from None
            except ValueError as error:
                raise AssistantError(str(error)) from None
        try:
            limits = Limits(args.timeout, args.memory_mb)
        except AssistantError as error:   # name the option, not the field
            field_name, _, rest = str(error).partition(" ")
            option = {"seconds": "--timeout"}.get(field_name, "--memory-mb")
            raise AssistantError(f"{option} {rest}") from None
        task_prompt(args.task, tests)  # a bad task fails before the key
        if args.max_rounds < 1:
            raise AssistantError(f"--max-rounds must be at least 1, got "
                                 f"{args.max_rounds}")
        if args.out:   # fail now, before any model round, if it cannot be saved
            try:
                output_file(args.out, "--out")
            except ValueError as error:
                raise AssistantError(str(error)) from None
        check_api_key()
        outcome = assist(args.task, tests, args.max_rounds, limits)
    except (AssistantError, MissingAPIKeyError) as error:
        print(f"code_assistant: error: {error}", file=sys.stderr)
        return 2
    except anthropic.APIError as error:
        print(f"code_assistant: the API call failed ({error})",
              file=sys.stderr)
        return 1
    except sandbox.SandboxError as error:
        print(f"code_assistant: {error}", file=sys.stderr)
        return 1
    report(outcome)
    if args.out:
        Path(args.out).write_text(outcome.code, encoding="utf-8")
        print(f"\nsaved {args.out}")
    return 0 if outcome.passed else 1


if __name__ == "__main__":
    sys.exit(main())
