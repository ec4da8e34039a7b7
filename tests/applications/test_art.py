"""The art app: the prompt parser (many phrasings, bad prompts), "draw a 7"
end to end to a PNG of the right size, training once and loading after, a
checkpoint from another configuration, the diffusers path with the tiny
pipeline, and bad input that ends with one clear line and exit code 2.

Models are trained for a few dozen steps: quality is the diffusion
chapter's job; here the plumbing is tested.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from PIL import Image

from genai import store
from genai.applications.art import ArtError, draw, load_model, main, parse_digit, to_png
from genai.applications.figures import plot_art_seven
from support import ROOT


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("art") / "quick.pt"
    return load_model(path, train_steps=20, log=lambda line: None)


@pytest.mark.parametrize("prompt, digit", [
    ("draw a 7", 7), ("7", 7), ("a seven", 7), ("Draw a SEVEN, please", 7),
    ("a 0", 0), ("zero", 0), ("draw one 7", 7), ("one seven", 7),
    ("draw a one", 1), ("a 7 and another seven", 7), ("digit:3!", 3),
    ("nine", 9), ("an eight in bold", 8), ("a row of sevens", 7),
    ("sixes", 6), ("ones", 1),
])
def test_the_parser_finds_the_digit(prompt, digit):
    assert parse_digit(prompt) == digit


@pytest.mark.parametrize("prompt, message", [
    ("", "the prompt is empty"), ("   ", "the prompt is empty"),
    (None, "the prompt is empty"), ("draw a cat", "names no digit"),
    ("draw a 3 and a 4", "several digits [3, 4]"),
    ("two sevens", "several digits [2, 7]"),
    ("draw a 12", "not 12"), ("draw 7 and 10", "not 10"),
])
def test_the_parser_refuses_bad_prompts(prompt, message):
    with pytest.raises(ArtError, match=message.replace("[", r"\[")):
        parse_digit(prompt)


def test_draw_a_seven_end_to_end(tmp_path, capsys):
    checkpoint, out = tmp_path / "model.pt", tmp_path / "seven.png"
    argv = ["draw a 7", "--out", str(out), "--checkpoint", str(checkpoint),
            "--train-steps", "20"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "training one, 20 steps" in printed and f"saved {out}" in printed
    assert Image.open(out).size == (128, 128) and checkpoint.is_file()
    # the second run loads the model: no training
    assert main(argv + ["-n", "3", "--size", "32"]) == 0
    assert "training" not in capsys.readouterr().out
    image = Image.open(out)
    assert image.size == (96, 32) and image.mode == "L"


def test_images_are_ink_on_white(quick_run, tmp_path):
    images = draw("a seven", quick_run, n=2, seed=1)
    assert images.shape == (2, 8, 8)
    assert 0 <= images.min() and images.max() <= 1
    path = to_png(images, tmp_path / "two.png", size=16)
    assert Image.open(path).size == (32, 16)
    with pytest.raises(ArtError, match="1 to 64"):
        draw("a 7", quick_run, n=0)
    with pytest.raises(ArtError, match="--size must be 8 to 1024"):
        to_png(images, tmp_path / "x.png", size=4)


def test_the_default_model_is_the_reference_and_other_steps_are_cached(
        tmp_path, monkeypatch):
    said = []
    run = load_model(log=said.append)
    assert said == [] and len(run.losses) == 2500      # no training
    monkeypatch.setattr(store, "CACHE", tmp_path)
    short = load_model(train_steps=20, log=said.append)
    assert len(short.losses) == 20 and "training the 'digits' model" in said[0]
    assert len(list(tmp_path.glob("digits-*.safetensors"))) == 1
    load_model(train_steps=20, log=said.append)
    assert len(said) == 1                                # loaded, not trained
    with pytest.raises(ArtError, match="at least 1"):
        load_model(train_steps=0)


def test_a_checkpoint_from_another_configuration(tmp_path, capsys):
    checkpoint = tmp_path / "model.pt"
    load_model(checkpoint, train_steps=10, log=lambda line: None)
    assert main(["draw a 7", "--out", str(tmp_path / "a.png"),
                 "--checkpoint", str(checkpoint), "--train-steps", "20"]) == 2
    err = capsys.readouterr().err
    assert "another configuration" in err
    assert "train_steps: checkpoint has 10, expected 20" in err
    assert len(err.strip().splitlines()) == 1


def test_the_figure(tmp_path):
    path = tmp_path / "art_seven.png"
    plot_art_seven(path)
    assert Image.open(path).size == (8 * 64, 64)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["art_seven.png"]


def test_the_diffusers_path_with_the_tiny_pipeline(tmp_path, monkeypatch,
                                                   capsys):
    from genai.diffusion.text_to_image import build_tiny_pipeline

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = build_tiny_pipeline(tmp_path / "tiny")
    out = tmp_path / "lighthouse.png"
    assert main(["a lighthouse at dusk", "--diffusers", str(folder),
                 "--steps", "2", "--out", str(out)]) == 0
    assert f"saved {out}" in capsys.readouterr().out
    width, height = Image.open(out).size
    assert width > 0 and height > 0
    assert main(["", "--diffusers", str(folder), "--out", str(out)]) == 2
    assert "the prompt must be some text" in capsys.readouterr().err


def test_help():
    result = subprocess.run([sys.executable, "-m", "genai.applications.art", "--help"],
                            cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0
    assert "examples:" in result.stdout and "--diffusers" in result.stdout


@pytest.mark.parametrize("args, message", [
    (["draw a cat"], "names no digit"),
    (["draw a 7", "-n", "100"], "1 to 64"),
    (["draw a 7", "--train-steps", "0"], "at least 1"),
    (["draw a 7", "-n", "x"], "invalid int value"),
])
def test_bad_command_lines_end_with_one_line(args, message, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "genai.applications.art", *args, "--checkpoint",
         str(tmp_path / "m.pt"), "--out", str(tmp_path / "a.png")],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
