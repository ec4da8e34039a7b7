"""Every command line fails cleanly: one line on stderr and exit code 2, never
a traceback, for input that is not UTF-8, numbers that are not finite, seeds
out of range and files it cannot read; Ctrl-C and SIGTERM print "Stopped."
and exit with 130; nothing half-written is left behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from genai.applications.content_generator import ContentError, read_products, write_atomically
from genai.llm_api.fake_server import FakeLLMServer
from support import ROOT, ctrl_c_reaches_it

# every app that a page tells readers to run
APPS = sorted({name for page in (ROOT / "docs").rglob("*.md") for name in re.findall(
    r"python -m genai\.applications\.(\w+)", page.read_text(encoding="utf-8"))})


def run(module: str, *args, stdin: bytes | None = None, env=None):
    command = [sys.executable.encode(), b"-m", module.encode(),
               *(a if isinstance(a, bytes) else a.encode() for a in args)]
    return subprocess.run(command, cwd=ROOT, input=stdin, capture_output=True, timeout=120,
                          env={**os.environ, **(env or {})})


def one_line(result, message: bytes):
    assert result.returncode == 2, result.stderr
    assert message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and b"Traceback" not in result.stderr


@pytest.mark.parametrize("app", APPS)
def test_an_argument_that_is_not_utf8_is_one_line(app):
    assert len(APPS) >= 4
    one_line(run(f"genai.applications.{app}", b"caf\xe9"), b"argument 1 is not UTF-8 text")


@pytest.mark.parametrize("args, message", [
    (["draw a 7", "--guidance", "nan"], b"must be a finite number, got 'nan'"),
    (["draw a 7", "--guidance", "inf"], b"must be a finite number, got 'inf'"),
    (["draw a 7", "--seed", str(2 ** 70)], b"a seed is a whole number from 0 to 2**63 - 1"),
    (["draw a 7", "--seed", "-1"], b"a seed is a whole number"),
])
def test_art_refuses_numbers_it_cannot_use(args, message):
    one_line(run("genai.applications.art", *args), message)


@pytest.mark.parametrize("args, message", [
    (["--lr", "nan"], b"argument --lr: must be a finite number"),
    (["--seed", str(2 ** 64)], b"argument --seed: a seed is a whole number"),
    (["--bias", "maybe"], b"argument --bias: say true or false"),
])
def test_the_training_command_refuses_numbers_it_cannot_use(args, message):
    one_line(run("genai.llm.train", *args), message)


def test_the_chatbot_refuses_input_that_is_not_utf8(server, tmp_path):
    result = run("genai.applications.chatbot", "shop", "--transcript",
                 str(tmp_path / "chat.jsonl"), stdin=b"Where is my order?\n\xff\xfe hi\n", env=server.env())
    assert result.returncode == 2
    assert result.stderr.strip().startswith(b"chatbot: error: the input is not UTF-8 text")
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_csv_field_over_the_csv_limit_is_a_content_error(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("name,notes\nmug," + "x" * 200_000 + "\n")
    with pytest.raises(ContentError, match="not a CSV file this app can read"):
        read_products(path)
    one_line(run("genai.applications.content_generator", "--batch", str(path), "--out-dir",
                 str(tmp_path / "out")), b"field larger than field limit")


def test_a_failed_rename_leaves_no_partial_file(tmp_path, monkeypatch):
    def no_rename(source, target):
        raise OSError("the disk said no")

    monkeypatch.setattr(os, "replace", no_rename)
    with pytest.raises(OSError, match="the disk said no"):
        write_atomically(tmp_path / "a.md", "text\n")
    assert list(tmp_path.iterdir()) == []


def stop(process: subprocess.Popen, how: int, ready) -> subprocess.CompletedProcess:
    deadline = time.monotonic() + 60
    while not ready() and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(how)
    out, err = process.communicate(timeout=60)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM], ids=["Ctrl-C", "SIGTERM"])
def test_content_generator_stops_cleanly(tmp_path, how):
    with FakeLLMServer() as server:
        server.delay = 30                       # a request that takes its time
        process = subprocess.Popen(
            [sys.executable, "-m", "genai.applications.content_generator", "product",
             "name: a mug", "--out", str(tmp_path / "mug.md")],
            cwd=ROOT, env={**os.environ, **server.env()}, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, preexec_fn=ctrl_c_reaches_it)
        result = stop(process, how, lambda: server.received > 0)   # the request is out
    assert result.returncode == 130 and result.stderr.strip() == "Stopped."
    assert list(tmp_path.iterdir()) == []      # nothing half-written


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM], ids=["Ctrl-C", "SIGTERM"])
def test_art_stops_cleanly(tmp_path, how):
    process = subprocess.Popen(
        [sys.executable, "-m", "genai.applications.art", "draw a 7", "--train-steps", "100000",
         "--checkpoint", str(tmp_path / "model.pt"), "--out", str(tmp_path / "seven.png")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"}, preexec_fn=ctrl_c_reaches_it)
    try:
        result = stop(process, how, lambda: "training one" in (process.stdout.readline() or ""))
    finally:
        process.kill()                          # a failed stop leaves nothing running
    assert result.returncode == 130 and result.stderr.strip() == "Stopped."
    assert not (tmp_path / "seven.png").exists()


# ---------------------------------------------------------------------------
# Hostile input, second round (issue 24): files that never end, folders
# nobody asked for, work done before a check that fails
# ---------------------------------------------------------------------------
def said_one_line(capsys, message: str):
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err


@pytest.fixture
def odd_inputs(tmp_path):
    """A device that never ends, a FIFO that waits for a writer, a folder."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    return ["/dev/zero", str(fifo), str(tmp_path)]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_only_regular_files_are_read(odd_inputs, tmp_path, capsys, server):
    from genai.applications import code_assistant, content_generator

    for path in odd_inputs:
        assert code_assistant.main(["Write f()", "--tests", path]) == 2
        said_one_line(capsys, "is not a regular file")
        assert content_generator.main(["--batch", path, "--out-dir", str(tmp_path / "out")]) == 2
        said_one_line(capsys, "not a regular file")
    big = tmp_path / "big_test.py"
    big.write_text("#" * (1024 * 1024 + 1))
    assert code_assistant.main(["Write f()", "--tests", str(big)]) == 2
    said_one_line(capsys, "is over 1 MB")
    huge = tmp_path / "huge.csv"
    with open(huge, "wb") as file:       # sparse: no 51 MB written
        file.truncate(51 * 2 ** 20)
    assert content_generator.main(["--batch", str(huge), "--out-dir", str(tmp_path / "out")]) == 2
    said_one_line(capsys, "over 50 MB")


def test_no_folder_is_made_that_nobody_asked_for(tmp_path, capsys):
    from genai.applications import art

    out = tmp_path / "nonexistent" / "x.png"
    assert art.main(["draw a 7", "--out", str(out)]) == 2
    said_one_line(capsys, "there is no folder")
    assert not out.parent.exists()
    (tmp_path / "evil.pt").write_bytes(b"not a checkpoint")
    assert art.main(["draw a 7", "--checkpoint", str(tmp_path / "evil.pt"),
                     "--out", str(tmp_path / "x.png")]) == 2
    said_one_line(capsys, "is not a readable checkpoint (Weights only load failed)")
    assert art.main(["draw a 7", "--diffusers", "/nonexistent", "--out", str(tmp_path / "x.png")]) == 2
    said_one_line(capsys, "--diffusers /nonexistent: no such folder")


def test_an_unusable_checkpoint_path_fails_before_training(tmp_path, capsys):
    from genai.llm import train_cli

    start = time.monotonic()
    assert train_cli.main(["--out", str(tmp_path), "--steps", "100000"]) == 2
    said_one_line(capsys, "is a folder: name a file")
    assert train_cli.main(["--out", str(tmp_path / "no" / "run.pt"), "--steps", "100000"]) == 2
    said_one_line(capsys, "there is no folder")
    assert time.monotonic() - start < 30     # it never trained (100,000 steps would take hours)


def test_a_figures_command_with_a_bad_folder_or_name_is_one_line(capsys):
    from genai.drawing import figures_main

    def plot_one(path):
        """A figure."""

    namespace = {"__spec__": type("Spec", (), {"name": "genai.x.figures"}), "plot_one": plot_one}
    for argv, message in ([["/proc/sys/x"], "cannot draw into /proc/sys/x"],
                          [["/tmp", "plot_none"], "no figure named plot_none"]):
        with pytest.raises(SystemExit) as stopped:
            figures_main(namespace, argv)
        assert stopped.value.code == 2
        said_one_line(capsys, message)


def test_every_demo_says_what_it_does_and_refuses_what_it_does_not_take(capsys):
    """--help prints the module's docstring; an unknown option is one line
    and exit code 2 (they ignored both). Every module's __main__ block
    either parses its arguments or calls demo_arguments."""
    import ast

    from genai.cli import demo_arguments

    with pytest.raises(SystemExit) as stopped:
        demo_arguments("Trains a tiny model.", ["--help"])
    assert stopped.value.code == 0 and "Trains a tiny model." in capsys.readouterr().out
    with pytest.raises(SystemExit) as stopped:
        demo_arguments("Trains a tiny model.", ["--bogus"])
    assert stopped.value.code == 2
    said_one_line(capsys, "unrecognized arguments: --bogus")
    unchecked = []
    for path in sorted((ROOT / "snippets" / "genai").rglob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.If) and "__main__" in ast.unparse(node.test):
                block = ast.unparse(node)
                if not re.search(r"demo_arguments\(|main\(|parse_args\(|sys\.argv", block):
                    unchecked.append(str(path.relative_to(ROOT)))
    assert not unchecked, f"a demo that ignores its command line: {unchecked}"


@pytest.mark.parametrize("module", ["genai.applications.sandbox", "genai.llm.corpora"])
def test_a_demo_module_refuses_an_unknown_option(module):
    result = run(module, "--bogus")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert run(module, "--help").returncode == 0


def test_a_reply_that_holds_escape_sequences_is_printed_as_text(capsys):
    """A model's reply is data: the chatbot and the content generator print
    its control characters as text, never to the terminal."""
    import io

    import anthropic

    from genai.applications import content_generator
    from genai.applications.chatbot import Chatbot

    nasty = "Hello\x1b]0;owned\x07\x1b[2J\rthere"
    replies = [{"prompt": "hi", "reply": nasty},
               {"prompt": content_generator.content_prompt("product", "a mug"), "reply": nasty}]
    with FakeLLMServer(replies=replies) as fake, fake.environment():
        shown = io.StringIO()
        bot = Chatbot(client=anthropic.Anthropic(base_url=fake.anthropic_url, api_key=fake.api_key))
        assert bot.say("hi", out=shown) == nasty              # kept as it came, shown escaped
        assert "\x1b" not in shown.getvalue() and "\\x1b]0;owned\\x07" in shown.getvalue()
        capsys.readouterr()
        content_generator.main(["product", "a mug"])
        printed = capsys.readouterr().out
    assert "\x1b" not in printed and "\r" not in printed and "\\x1b]0;owned" in printed, printed


def test_without_a_key_the_error_points_to_the_routes_that_need_none(monkeypatch, tmp_path, capsys):
    """The chatbot names --local and the fake server; every app names the
    fake server; and a bad CSV is named before the missing key."""
    from genai.applications import chatbot, code_assistant, content_generator

    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO(""))
    assert chatbot.main(["shop", "--transcript", str(tmp_path / "t.jsonl")]) == 2
    said_one_line(capsys, "ANTHROPIC_API_KEY is not set")
    assert chatbot.main(["shop", "--transcript", str(tmp_path / "t.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "--local" in err and "python -m genai.llm_api.fake_server --serve" in err
    assert code_assistant.main(["Write f()"]) == 2
    assert "genai.llm_api.fake_server --serve" in capsys.readouterr().err
    assert content_generator.main(["product", "a mug"]) == 2
    assert "genai.llm_api.fake_server --serve" in capsys.readouterr().err
    (tmp_path / "bad.csv").write_bytes(b"name\n\xff\xfe\n")
    for csv in ("missing.csv", "bad.csv"):
        assert content_generator.main(["--batch", str(tmp_path / csv),
                                       "--out-dir", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err
        assert "ANTHROPIC_API_KEY" not in err and csv in err, err


def run_it_examples() -> list[tuple[str, str, list[str], str]]:
    """(page, app, arguments, stdin) of every command in a page's "Run it"
    console blocks, continuation lines joined, a printf piped in as stdin."""
    import shlex

    examples = []
    for page in sorted((ROOT / "docs" / "applications").glob("*.md")):
        section = page.read_text(encoding="utf-8").partition("## Run it")[2].partition("\n## ")[0]
        for block in re.findall(r"```console\n(.*?)```", section, re.S):
            for line in block.replace("\\\n", " ").splitlines():
                stdin = ""
                if line.startswith("printf "):
                    printed, _, line = line.partition(" | ")
                    stdin = shlex.split(printed)[1].encode().decode("unicode_escape")
                words = shlex.split(line)
                if words[:2] == ["python", "-m"] and words[2].startswith("genai.applications."):
                    examples.append((page.name, words[2].rsplit(".", 1)[1], words[3:], stdin))
    return examples


# what a page tells the reader to run that the test server cannot answer, and why the page says so
NEEDS_A_KEY = {("code_assistant", "Write is_prime(n) for n >= 0"): "the reader's own tests"}


@pytest.mark.parametrize("page, app, args, stdin", run_it_examples(),
                         ids=lambda value: str(value)[:40])
def test_every_run_it_example_answers_offline(page, app, args, stdin, tmp_path, monkeypatch,
                                              fake_llm_server, capsys):
    """Each command of the applications' "Run it" sections, run as the page
    writes it, with the course's test server: exit code 0 and a real answer
    (an unrecorded prompt is an error that stops the app)."""
    import importlib
    import io

    if (app, args[0] if args else "") in NEEDS_A_KEY:
        pytest.skip(NEEDS_A_KEY[(app, args[0])])
    monkeypatch.chdir(tmp_path)
    for part in ("snippets",):
        (tmp_path / part).symlink_to(ROOT / part)      # paths as the page gives them, from the root
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    module = importlib.import_module(f"genai.applications.{app}")
    try:
        code = module.main(args)
    except SystemExit as stopped:                      # --help
        code = stopped.code
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "No recorded reply" not in out + err and "error" not in err.lower(), err
