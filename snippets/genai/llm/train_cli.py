"""The command line of genai.llm.train: train a small GPT on the course's
facts or stories, or on a UTF-8 text file of yours, alone or under torchrun.

    python -m genai.llm.train                  # a demo of a few seconds
    python -m genai.llm.train --help           # every option
    python -m genai.llm.train --data facts --steps 600 --out facts.pt
    torchrun --nproc_per_node=2 -m genai.llm.train --data stories --out s.pt
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from genai.checkpoint import CheckpointError
from genai.cli import OneLineParser, boolean, finite, output_file, seed
from genai.llm.train import (AMP, TOKENIZERS, TrainConfig, TrainError,
                             complete, init_distributed,
                             same_weights_everywhere, train)

EXAMPLES = """examples:
  python -m genai.llm.train --data facts --steps 600 --out facts.pt
  python -m genai.llm.train --data stories --tokenizer char --out s.pt
  python -m genai.llm.train --data input.txt --tokenizer char \\
      --block-size 128 --steps 2000 --out shakespeare.pt
  torchrun --nproc_per_node=2 -m genai.llm.train --data stories --out s.pt

Run the same command again to resume from --out after an interruption."""


def option_type(name: str, defaults: TrainConfig):
    """How to read --NAME: seeds and numbers checked, booleans as words."""
    default = getattr(defaults, name)
    if name == "seed":
        return seed
    if isinstance(default, bool):
        return boolean
    return finite if isinstance(default, float) else type(default)


def build_parser() -> OneLineParser:
    defaults = TrainConfig()
    parser = OneLineParser(
        prog="python -m genai.llm.train",
        description="Train a small GPT on the course's facts or stories, "
        "or on a UTF-8 text file.", epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=defaults.data,
                        help="facts, stories, or the path of a text file")
    parser.add_argument("--out", metavar="CKPT", help="checkpoint file: "
                        "written as training goes, resumed if it exists")
    parser.add_argument("--checkpoint-every", type=int, default=100)
    parser.add_argument("--sample", default="",
                        help="a prompt to complete after training")
    for f in dataclasses.fields(TrainConfig):
        if f.name == "data":
            continue
        flag = "--" + f.name.replace("_", "-")
        kwargs = {"choices": TOKENIZERS} if f.name == "tokenizer" else {}
        kwargs = {"choices": AMP} if f.name == "amp" else kwargs
        parser.add_argument(flag, type=option_type(f.name, defaults),
                            default=getattr(defaults, f.name),
                            help=f"(default: {getattr(defaults, f.name)})",
                            **kwargs)
    return parser


def demo() -> int:
    """No arguments: a small character-level model on the stories, with
    an interruption and a resume, in a few seconds."""
    import tempfile

    config = TrainConfig(data="stories", tokenizer="char", block_size=32,
                         n_layer=2, n_embd=64, batch_size=16, steps=120,
                         warmup_steps=10, eval_interval=40, eval_steps=2)
    print("Demo: 120 steps of a tiny character-level GPT on the stories, "
          "interrupted at step 60 and resumed. See --help for more.")
    torch.set_num_threads(1)   # a model this small runs best on one thread
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "demo.pt"
        train(config, checkpoint=path, checkpoint_every=60, stop_after=61)
        print("... interrupted; starting again")
        run = train(config, checkpoint=path, checkpoint_every=60)
    prompt = "Once upon a time"
    print(f"{prompt!r} -> {complete(run.model, run.tokenizer, prompt, 40)!r}")
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:
        return demo()
    args = build_parser().parse_args(argv)
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    try:
        config = TrainConfig(**{k: v for k, v in vars(args).items()
                                if k in names})
        if args.out:
            output_file(args.out, "--out")   # before the training, not after
        try:
            device = init_distributed()
        except RuntimeError as error:   # e.g. COURSE_DEVICE=cuda, no GPU
            raise TrainError(str(error)) from None
        run = train(config, checkpoint=args.out,
                    checkpoint_every=args.checkpoint_every, device=device)
        if dist.is_initialized():
            same = same_weights_everywhere(run.model)
            rank, world = dist.get_rank(), dist.get_world_size()
            dist.destroy_process_group()
            if rank != 0:
                return 0
            print(f"{world} processes, identical weights: {same}")
        if args.sample:
            print(f"{args.sample!r} -> "
                  f"{complete(run.model, run.tokenizer, args.sample)!r}")
    except (ValueError, OSError, CheckpointError) as error:
        message = "; ".join(line.strip() for line in str(error).splitlines())
        print(f"python -m genai.llm.train: error: {message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
