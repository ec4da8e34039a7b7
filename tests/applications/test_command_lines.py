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
                 str(tmp_path / "chat.jsonl"), stdin=b"Hello\n\xff\xfe hi\n", env=server.env())
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
