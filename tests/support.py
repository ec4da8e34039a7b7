"""Paths and helpers shared by the tests (and the benchmarks)."""

from __future__ import annotations

import os
import random
import signal
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SNIPPETS = ROOT / "snippets"                 # the src folder
PACKAGE = SNIPPETS / "genai"                 # the course's code
REPLIES = PACKAGE / "llm_api" / "fake_server" / "replies"   # its recordings
SNIPPET_TIMEOUT_S = 300


class CoverageRecorder:
    """Coverage of snippets/ for this pytest process and its snippet scripts.

    directory: where every process of the run writes its data (one file
    each: `name` for this process, the module's name for a script);
    trace=False records nothing in this process (the xdist controller)."""

    def __init__(self, directory: Path | None = None, name: str = "pytest", trace: bool = True):
        import coverage

        self.directory = Path(directory or tempfile.mkdtemp(prefix="course-coverage-"))
        self._zygote = None
        self.directory.mkdir(parents=True, exist_ok=True)
        self.live = None
        if trace and sys.gettrace() is None:  # not already under a debugger or coverage run
            self.live = coverage.Coverage(
                data_file=str(self.directory / f".coverage.{name}"), source=[str(SNIPPETS)],
                config_file=False,
            )
            self.live.start()

    def script_command(self, module: str) -> list[str]:
        data_file = self.directory / f".coverage.{module}"
        return [sys.executable, "-m", "coverage", "run", f"--data-file={data_file}",
                f"--source={SNIPPETS}", "--rcfile=/dev/null", "-m", module]

    def run_script(self, module: str, timeout: float = 300) -> tuple[int, str, str]:
        """(exit status, stdout, stderr) of `python -m module` under coverage:
        forked from a zygote that imported torch once (harness/zygote.py) on
        Linux, or a fresh interpreter elsewhere (macOS forbids a fork after
        its frameworks started; Windows has none) or with COURSE_ZYGOTE=0."""
        import subprocess

        if not sys.platform.startswith("linux") or os.environ.get("COURSE_ZYGOTE") == "0":
            done = subprocess.run(self.script_command(module), cwd=ROOT, capture_output=True,
                                  text=True, timeout=timeout)
            return done.returncode, done.stdout, done.stderr
        import json
        import select

        if self._zygote is None or self._zygote.poll() is not None:
            self._zygote = subprocess.Popen(
                [sys.executable, str(ROOT / "tests" / "harness" / "zygote.py"), str(SNIPPETS)],
                cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                start_new_session=True)
        out, err = (self.directory / f"{module}.{name}" for name in ("out", "err"))
        self._zygote.stdin.write(json.dumps([module, str(self.directory / f".coverage.{module}"),
                                             str(out), str(err)]) + "\n")
        self._zygote.stdin.flush()
        ready, _, _ = select.select([self._zygote.stdout], [], [], timeout)
        if not ready:   # the module hangs: stop the zygote and its child; a new one next time
            os.killpg(self._zygote.pid, signal.SIGKILL)
            self._zygote.wait()
            self._zygote = None
            return -9, out.read_text(errors="replace"), f"timed out after {timeout} s"
        code = json.loads(self._zygote.stdout.readline())
        return code, out.read_text(errors="replace"), err.read_text(errors="replace")

    def combined(self) -> Path:
        """Save what this process recorded and merge every data file."""
        import coverage

        if self.live is not None:
            self.live.stop()
            self.live.save()
        combined = self.directory / "combined" / ".coverage"
        combined.parent.mkdir(exist_ok=True)
        merger = coverage.Coverage(data_file=str(combined))
        merger.combine([str(self.directory)], keep=True)
        merger.save()
        if self.live is not None:
            self.live.start()
        return combined

    def ran(self, module: str) -> bool:
        """Has `python -m module` run under coverage in this run?"""
        return (self.directory / f".coverage.{module}").is_file()

    def save(self):
        """This process's data, written now (a worker before it reports done)."""
        if self.live is not None:
            self.live.stop()
            self.live.save()
            self.live = None

    def close(self):
        self.save()
        if self._zygote is not None:
            self._zygote.stdin.close()
            self._zygote.wait(timeout=30)


def snippet_modules() -> list[str]:
    """Every module of the package, dotted: genai.llm.gpt, ..."""
    return sorted(".".join(p.relative_to(SNIPPETS).with_suffix("").parts)
                  for p in PACKAGE.rglob("*.py")
                  if p.stem not in {"__init__", "__main__"})


def claude(server, **options):
    """An Anthropic client for a test's own fake server (no retries unless asked)."""
    import anthropic

    return anthropic.Anthropic(base_url=server.anthropic_url, api_key=server.api_key,
                               **{"max_retries": 0, **options})


def start_fake_llm_api():
    """Set up os.environ as the course's tests (and benchmarks) need it.

    Starts a FakeLLMServer and points both SDKs at it (ANTHROPIC_BASE_URL,
    ANTHROPIC_API_KEY, OPENAI_BASE_URL, OPENAI_API_KEY), unless live_api()
    (COURSE_LIVE_API=1, never under CI): then the environment's real keys
    are used. Either way local_chat gets a tiny offline model
    (COURSE_LOCAL_MODEL=tiny-random) and the Hugging Face libraries are kept
    offline (HF_HUB_OFFLINE=1), unless already set. Returns the server
    (stop it when done), or None in live mode.
    """
    from genai.llm_api.fake_server import FakeLLMServer, live_api

    os.environ.setdefault("COURSE_LOCAL_MODEL", "tiny-random")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if live_api():
        return None
    server = FakeLLMServer().start()
    os.environ.update(server.env())
    return server


def ctrl_c_reaches_it() -> None:
    """preexec_fn for a child that a test stops with SIGINT. A shell without
    job control starts background commands with SIGINT ignored, and Python
    then never raises KeyboardInterrupt: `pytest &` in a script would fail
    these tests. A terminal's Ctrl-C reaches a program with SIGINT at its
    default, so the child gets that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def load_hook(name: str):
    """hooks/<name>.py, imported by its path (mkdocs loads hooks the same way)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"hook_{name}", ROOT / "hooks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def gpt(server, **options):
    """An OpenAI client for a test's own fake server."""
    import openai

    return openai.OpenAI(base_url=server.openai_url, api_key=server.api_key, **options)


def raw_post(url, body, headers):
    """POST JSON with the standard library: (status, text), errors included."""
    import json
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=json.dumps(body).encode(),
                                     headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


# Text that exercises a tokenizer (tests/llm/)
EOT = "<|endoftext|>"

# code point ranges that exercise UTF-8: 1 to 4 bytes, controls, combining
# marks, odd whitespace, CJK, emoji (surrogates are not characters)
RANGES = [(0x00, 0x7F), (0x80, 0x24F), (0x300, 0x36F), (0x370, 0x3FF),
          (0x600, 0x6FF), (0x2000, 0x206F), (0x3000, 0x303F),
          (0x4E00, 0x4FFF), (0xAC00, 0xAC80), (0xFFF0, 0xFFFF),
          (0x1F300, 0x1F64F), (0x1F1E6, 0x1F1FF), (0x10FFF0, 0x10FFFF)]


def random_strings(n, seed=0, max_len=40):
    """Hypothesis-style random strings, reproducible from the seed."""
    rng = random.Random(seed)
    pieces = ["", " ", "  ", "\n", "\t", "'s", "'ll", EOT, "<|", "|>", "é",
              "e\u0301", "\r\n", "123", "the", " the", "😀", "🇫🇷"]
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(0, max_len)):
            if rng.random() < 0.3:
                parts.append(rng.choice(pieces))
            else:
                lo, hi = rng.choice(RANGES)
                parts.append(chr(rng.randint(lo, hi)))
        yield "".join(parts)
