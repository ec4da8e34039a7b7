"""AI art from text: a prompt such as "draw a 7" becomes a PNG image.

Offline, the course's own class-conditional diffusion model draws the digit
that the prompt names, with classifier-free guidance (genai.diffusion.ddpm). The
model is the reference that the course ships (genai.store). With
--diffusers MODEL, a real Stable Diffusion pipeline draws any prompt
(genai.diffusion.text_to_image).

    python -m genai.applications.art                  # a quick demo (a short training)
    python -m genai.applications.art --help           # every option, examples
    python -m genai.applications.art "draw a 7" --out seven.png
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import sys
from pathlib import Path

import torch

from genai import store
from genai.cli import OneLineParser, app_main, finite, output_file, seed
from genai.diffusion.ddpm import (DIGITS, GUIDANCE, DiffusionRun, ddim_sample,
                                  train_diffusion)
from genai.diffusion.digits import load_digits_data


class ArtError(ValueError):
    """A prompt or an option that the art app cannot use."""


# --8<-- [start:parse]
WORDS = ["zero", "one", "two", "three", "four",
         "five", "six", "seven", "eight", "nine"]


def parse_digit(prompt: str) -> int:
    """The one digit 0-9 that a prompt asks for: "draw a 7" -> 7,
    "a seven, please" -> 7. Numerals win over words ("one 7" -> 7)."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise ArtError("the prompt is empty: name a digit, e.g. 'draw a 7'")
    tokens = re.findall(r"[a-z]+|\d+", prompt.lower())
    numbers = {int(t) for t in tokens if t.isdigit()}
    singular = [re.sub(r"(?<=x)es$|s$", "", t) for t in tokens]  # sevens
    words = {WORDS.index(t) for t in singular if t in WORDS}
    if len(words) > 1:
        words.discard(1)  # "one seven": "one" counts, the digit is 7
    found = numbers or words
    if any(n > 9 for n in found):
        raise ArtError(f"{prompt!r}: this model draws the digits 0 to 9, "
                       f"not {max(found)}")
    if len(found) != 1:
        what = "no digit" if not found else f"several digits {sorted(found)}"
        raise ArtError(f"{prompt!r} names {what}: name one digit 0-9, "
                       "e.g. 'draw a 7'")
    return found.pop()
# --8<-- [end:parse]


# --8<-- [start:model]
def load_model(checkpoint=None, train_steps: int = DIGITS.train_steps,
               log=print) -> DiffusionRun:
    """The digits model. By default the course's reference (genai.store);
    with another number of steps, trained once on this machine and cached;
    with checkpoint, your own file: trained there if it is missing,
    resumed if a training was interrupted."""
    if train_steps < 1:
        raise ArtError(f"--train-steps must be at least 1, got {train_steps}")
    config = dataclasses.replace(DIGITS, train_steps=train_steps)
    if checkpoint is None:
        return store.load("digits", config=config, log=log)
    path = Path(checkpoint)
    if not path.is_file():
        log(f"No model at {path}: training one, {train_steps} steps "
            f"(about {train_steps / 100:.0f} s on a laptop CPU) ...")
    pixels, labels = load_digits_data()
    return train_diffusion(pixels, config, labels=labels, checkpoint=path)
# --8<-- [end:model]


# --8<-- [start:draw]
def draw(prompt: str, run: DiffusionRun, n: int = 1,
         guidance: float = GUIDANCE, seed: int = 0) -> torch.Tensor:
    """n images (n, 8, 8) of the digit in prompt, ink from 0 to 1."""
    digit = parse_digit(prompt)
    if not 1 <= n <= 64:
        raise ArtError(f"the number of images must be 1 to 64, got {n}")
    x = ddim_sample(run.model, run.schedule, n, n_steps=50, labels=digit,
                    guidance=guidance, seed=seed)
    # pixels in [-1, 1] (-1: no ink) -> [0, 1]
    return ((x + 1) / 2).clamp(0, 1).reshape(n, 8, 8)


def to_png(images: torch.Tensor, path, size: int = 128) -> Path:
    """Save images side by side, each upscaled to size x size pixels
    (nearest neighbour, so the 8x8 pixels stay sharp): black ink on white."""
    from PIL import Image

    if not 8 <= size <= 1024:
        raise ArtError(f"--size must be 8 to 1024 pixels, got {size}")
    row = torch.cat(list(images), dim=1)              # (8, 8 * n)
    gray = ((1 - row) * 255).round().to(torch.uint8).numpy()
    picture = Image.fromarray(gray).resize(
        (size * len(images), size), Image.NEAREST)
    path = Path(path)
    picture.save(path)
    return path
# --8<-- [end:draw]


# --8<-- [start:diffusers]
def draw_with_diffusers(prompt: str, model: str, path, steps: int = 30,
                        seed: int = 0) -> Path:
    """Any prompt, drawn by a Stable Diffusion pipeline, saved as a PNG."""
    from genai.diffusion.text_to_image import text_to_image

    image = text_to_image(prompt, model=model, steps=steps, seed=seed)
    path = Path(path)
    image.save(path)
    return path
# --8<-- [end:diffusers]


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------
EXAMPLES = f"""examples:
  python -m genai.applications.art "draw a 7" --out seven.png
  python -m genai.applications.art "a row of threes" -n 8 --out threes.png
  python -m genai.applications.art "draw a 2" --guidance 4 --seed 1 --out two.png
  python -m genai.applications.art "a lighthouse at dusk" --out lighthouse.png \\
      --diffusers stable-diffusion-v1-5/stable-diffusion-v1-5

The digits model is the course's reference ({DIGITS.train_steps} steps), shipped
with it; --train-steps N trains another once (N / 100 seconds or so) and
keeps it in ~/.cache/genai-course/, --checkpoint FILE in FILE. With no
arguments, a quick demo trains a small model in a few seconds."""


def build_parser():
    parser = OneLineParser(
        prog="python -m genai.applications.art",
        description="Turn a text prompt into a PNG. Offline, the course's\n"
        "diffusion model draws the digit 0-9 that the prompt names, with\n"
        "classifier-free guidance; --diffusers draws any prompt.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("prompt", help='what to draw, e.g. "draw a 7"')
    parser.add_argument("--out", default="art.png", metavar="FILE.png",
                        help="where to save the image (default: art.png)")
    parser.add_argument("-n", type=int, default=1,
                        help="how many images, side by side (default: 1)")
    parser.add_argument("--size", type=int, default=128,
                        help="pixels per image side (default: 128)")
    parser.add_argument("--guidance", type=finite, default=GUIDANCE,
                        help=f"guidance scale w (default: {GUIDANCE})")
    parser.add_argument("--seed", type=seed, default=0,
                        help="0 to 2**63 - 1 (default: 0)")
    parser.add_argument("--checkpoint", metavar="FILE.pt",
                        help="your own digits model (trained there if "
                        "missing)")
    parser.add_argument("--train-steps", type=int,
                        default=DIGITS.train_steps, help="training steps of"
                        f" the digits model (default: {DIGITS.train_steps})")
    parser.add_argument("--diffusers", metavar="MODEL", help="use this "
                        "Stable Diffusion model (a repository or folder)")
    parser.add_argument("--steps", type=int, default=30,
                        help="--diffusers sampling steps (default: 30)")
    return parser


def demo():
    """No arguments: 'draw a 7' with the course's digits model."""
    import tempfile

    from genai.diffusion.digits import DigitJudge

    print('Demo: "draw a 7" with the course\'s digits model. See --help '
          "for more.")
    with tempfile.TemporaryDirectory() as folder:
        sevens = draw("draw a 7", load_model(), n=4)
        path = to_png(sevens, Path(folder) / "sevens.png")
        read = DigitJudge().predict(sevens.reshape(4, 64) * 2 - 1).tolist()
        print(f"four 7s, {path.stat().st_size} bytes of PNG; the judge "
              f"reads {read}")
    return 0


def main(argv=None):
    return app_main(argv, demo, run, build_parser)


def run(args) -> int:
    try:
        output_file(args.out, "--out")   # before any work; no folder is made
        if args.diffusers:
            looks_local = args.diffusers.startswith((".", "/", "~")) or "\\" in args.diffusers
            if looks_local and not Path(args.diffusers).expanduser().is_dir():
                raise ArtError(f"--diffusers {args.diffusers}: no such folder (give a "
                               f"pipeline's folder, or a Hugging Face repository id)")
            os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")   # no notes about torchvision
            path = draw_with_diffusers(args.prompt, args.diffusers, args.out,
                                       steps=args.steps, seed=args.seed)
        else:
            parse_digit(args.prompt)  # bad input fails before training
            if not 1 <= args.n <= 64 or not 8 <= args.size <= 1024:
                raise ArtError(f"-n must be 1 to 64 and --size 8 to 1024, "
                               f"got {args.n} and {args.size}")
            run = load_model(args.checkpoint, args.train_steps)
            images = draw(args.prompt, run, args.n, args.guidance, args.seed)
            path = to_png(images, args.out, args.size)
    except (ValueError, OSError) as error:
        message = "; ".join(line.strip() for line in str(error).splitlines())
        print(f"art: error: {message}", file=sys.stderr)
        return 2
    print(f"saved {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
