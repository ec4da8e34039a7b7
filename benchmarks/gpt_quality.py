"""Quality bars of the training page, measured: prints, never asserts.

* The facts model, trained from scratch with its pretrained configuration
  in a child process (one CPU thread, as pretrained() trains it): wall and
  CPU time of the training loop, and how many of the 60 capitals it gets
  right (top-1: the most likely next token is the capital's first token;
  greedy: the whole greedy completion up to "." is the capital). The bar:
  at least 20 right after at most 60 s of CPU training.
* Peak memory of that training run: the child's ru_maxrss (peak resident
  set size, from getrusage), next to a child that only builds the model.
* The stories model (pretrained, cached): its validation loss and two
  sampled tales.
* How long pretrained() takes to load a cached model.

The machine's load average is printed too: other work on the same cores
inflates the wall-clock times (less so the CPU times).

    python benchmarks/gpt_quality.py
"""

import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import torch

from genai.llm.corpora import CAPITALS
from genai.llm.generate import generate
from genai.llm.pretrained import PRETRAINED, pretrained_run
from genai.llm.train import complete, load_run

CHILD = """
import json, sys, time, torch
torch.set_num_threads(1)
from genai.llm.train import GPT, train
from genai.llm.pretrained import PRETRAINED
config = PRETRAINED["facts"]
if sys.argv[1] == "train":
    run = train(config, checkpoint=sys.argv[2], log=lambda text: None)
    print(json.dumps({"wall": run.seconds, "cpu": run.cpu_seconds}))
else:   # only build the model and its optimizer
    model = GPT(config.gpt_config(1024))
    model.configure_optimizer(config.lr)
    print("{}")
"""


def child(*args):
    """Run CHILD; (its printed JSON, its peak resident memory in MiB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out = subprocess.run([sys.executable, "-c", CHILD, *args], check=True,
                         capture_output=True, text=True,
                         env=dict(os.environ, COURSE_DEVICE="cpu")).stdout
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of the children is the largest so far, in KiB on Linux
    if peak <= before:
        print("  (peak memory: an earlier child was larger)")
    return json.loads(out), peak / 1024


def capitals_right(model, tokenizer):
    top1 = greedy = 0
    for country, capital in CAPITALS.items():
        prompt = f"The capital of {country} is"
        first = tokenizer.encode(" " + capital)[0]
        logits, _ = model(torch.tensor([tokenizer.encode(prompt)]))
        top1 += int(logits[0, -1].argmax()) == first
        greedy += complete(model, tokenizer, prompt, stop=".").strip() \
            == capital
    return top1, greedy


if __name__ == "__main__":
    print(f"{os.cpu_count()} CPU cores, load average "
          f"{os.getloadavg()[0]:.1f}; torch {torch.__version__}")
    config = PRETRAINED["facts"]
    print(f"facts model: {config.steps} steps, batch {config.batch_size} x "
          f"{config.block_size} tokens, {config.n_layer} layers, width "
          f"{config.n_embd}, BPE vocabulary up to {config.vocab_size}")
    _, base = child("build")
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "facts.pt")
        times, peak = child("train", path)
        run = load_run(path, config, device=torch.device("cpu"))
    print(f"  training: {times['wall']:.1f} s wall, {times['cpu']:.1f} s "
          f"CPU (one thread)")
    with torch.no_grad():
        top1, greedy = capitals_right(run.model.eval(), run.tokenizer)
    print(f"  capitals right: {top1}/{len(CAPITALS)} top-1 next token, "
          f"{greedy}/{len(CAPITALS)} greedy completions")
    print(f"  final loss: train {run.history[-1][1]:.3f}, validation "
          f"{run.history[-1][2]:.3f}")
    print(f"peak memory (ru_maxrss of the child process): {peak:.0f} MiB "
          f"training, {base:.0f} MiB building the model only")

    start = time.perf_counter()
    stories = pretrained_run("stories", device=torch.device("cpu"))
    print(f"stories model: loaded in {time.perf_counter() - start:.2f} s; "
          f"validation loss {stories.history[-1][2]:.3f} after "
          f"{stories.step} steps (ln {stories.tokenizer.vocab_size} = "
          f"{torch.log(torch.tensor(stories.tokenizer.vocab_size)):.2f} "
          f"at the start); trained in {stories.cpu_seconds:.1f} s CPU")
    for seed in (0, 1):
        text = generate(stories.model.eval(), stories.tokenizer,
                        "Once upon a time", max_new_tokens=90,
                        temperature=0.8, seed=seed, stop="<|endoftext|>")
        print(f"  sample (temperature 0.8, seed {seed}): Once upon a "
              f"time{text}")
