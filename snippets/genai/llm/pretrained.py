"""The course's two trained GPTs: "facts" and "stories".

They are reference models (see genai.store): genai.llm.train trained each
once with the configuration below, in under a minute on one CPU thread, and
the course ships the weights, so every page prints the same numbers on
every machine. Changing the code that trains them (whatever train and
save reach: genai.store.training_code) makes the store train them again
on your machine, once.

    python -m genai.llm.pretrained        # what the two models know
"""

from __future__ import annotations

import math

import torch

from genai import store
from genai.llm.corpora import CAPITALS
from genai.llm.gpt import GPT
from genai.llm.tokenizer import load_tokenizer
from genai.llm.train import TrainConfig, TrainError, TrainRun, complete, train

# the modules whose code trains the models (see genai.store)
# --8<-- [start:pretrained]
PRETRAINED = {
    # 60 countries and capitals, in 7 kinds of sentence
    "facts": TrainConfig(data="facts", vocab_size=1024, block_size=32,
                         batch_size=24, steps=400, lr=5e-3, min_lr=3e-4,
                         warmup_steps=50, eval_interval=25),
    # tales from a small grammar
    "stories": TrainConfig(data="stories", vocab_size=512, block_size=64,
                           batch_size=16, steps=250, lr=3e-3, min_lr=3e-4,
                           warmup_steps=25, eval_interval=25),
}


def pretrained_run(name: str, device=None, log=None) -> TrainRun:
    """The run (model, tokenizer, loss history) of "facts" or "stories":
    the reference shipped with the course (see genai.store)."""
    if name not in PRETRAINED:
        raise TrainError(f"no pretrained model {name!r}: choose from "
                         f"{sorted(PRETRAINED)}")
    return store.load(name, device=device, log=log)


def pretrained(name: str, device=None):
    """(model in eval mode, tokenizer) of the course's "facts" or
    "stories" model, on device (default: genai.device.get_device())."""
    run = pretrained_run(name, device)
    return run.model.eval(), run.tokenizer
# --8<-- [end:pretrained]


@torch.no_grad()
def capitals_right(model: GPT, tokenizer) -> int:
    """How many of the 60 capitals the greedy completion of "The capital
    of <country> is" gets right."""
    return sum(complete(model, tokenizer, f"The capital of {country} is",
                        stop=".").strip() == capital
               for country, capital in CAPITALS.items())


@torch.no_grad()
def first_token_right(model: GPT, tokenizer) -> int:
    """How many of the 60 capitals are the most likely next token after
    "The capital of <country> is" (their first token, for long names)."""
    return sum(int(next_token_probs(model, tokenizer, f"The capital of "
                                    f"{country} is").argmax())
               == tokenizer.encode(" " + capital)[0]
               for country, capital in CAPITALS.items())


@torch.no_grad()
def next_token_probs(model: GPT, tokenizer, prompt: str) -> torch.Tensor:
    """The model's probabilities (V,) for the token after prompt."""
    model.eval()
    ids = tokenizer.encode(prompt)[-model.config.block_size:]
    logits, _ = model(torch.tensor([ids],
                                   device=next(model.parameters()).device))
    return logits[0, -1].softmax(-1)


def _save_run(run: TrainRun):
    return run.model.state_dict(), {
        "tokenizer": run.tokenizer.to_dict(), "step": run.step,
        "history": run.history}


def _build_run(config: TrainConfig, tensors, data, device) -> TrainRun:
    tokenizer = load_tokenizer(data["tokenizer"])
    model = GPT(config.gpt_config(tokenizer.vocab_size))
    model.load_state_dict(tensors)
    return TrainRun(model.to(device).eval(), tokenizer, config,
                    step=data["step"],
                    history=[tuple(row) for row in data["history"]],
                    seconds=data.get("seconds", 0.0),
                    cpu_seconds=data.get("cpu_seconds", 0.0))


def _final_losses(run: TrainRun) -> dict:
    step, train_loss, val_loss, _ = run.history[-1]
    return {"step": step, "train": train_loss, "validation": val_loss}


def _facts_quality(run: TrainRun) -> dict:
    model, tokenizer = run.model.eval(), run.tokenizer
    probs = next_token_probs(model, tokenizer, "The capital of France is")
    return {"capitals_right": capitals_right(model, tokenizer),
            "first_token_right": first_token_right(model, tokenizer),
            "paris_first": int(probs.argmax()) == tokenizer.encode(" Paris")[0],
            "paris_probability": probs[tokenizer.encode(" Paris")[0]].item(),
            "validation_loss": run.history[-1][2]}


def _stories_quality(run: TrainRun) -> dict:
    return {"validation_loss": run.history[-1][2],
            "ln_vocabulary": math.log(run.tokenizer.vocab_size)}


FACTS_BARS = (
    store.Bar("capitals_right", ">=", len(CAPITALS), why="all of them"),
    store.Bar("paris_first", "==", True,
              why="' Paris' the most likely token after 'The capital of France is'"),
    store.Bar("validation_loss", "<=", 0.1, against="reference"),
)
STORIES_BARS = (store.Bar("validation_loss", "<=", 0.1, against="reference"),)


def _train_cpu(config: TrainConfig, checkpoint, log) -> TrainRun:
    return train(config, checkpoint=checkpoint, device=torch.device("cpu"),
                 log=log)


_GPT = dict(train=_train_cpu, save=_save_run,
            build=_build_run, losses=_final_losses)
FACTS = store.Recipe("facts", "GPT on 60 countries and their capitals",
                     PRETRAINED["facts"], quality=_facts_quality,
                     bars=FACTS_BARS, **_GPT)
STORIES = store.Recipe("stories", "GPT on tales from a small grammar",
                       PRETRAINED["stories"], quality=_stories_quality,
                       bars=STORIES_BARS, **_GPT)


if __name__ == "__main__":
    from genai.cli import demo_arguments

    demo_arguments(__doc__)   # --help says what the demo does
    for name in PRETRAINED:
        run = pretrained_run(name, device=torch.device("cpu"))
        step, train_loss, val_loss, _ = run.history[-1]
        print(f"{name}: {run.model.num_params():,} parameters, {step} steps, "
              f"validation loss {val_loss:.2f}")
    model, tokenizer = pretrained("facts", device=torch.device("cpu"))
    print(f"capitals right: {capitals_right(model, tokenizer)} of "
          f"{len(CAPITALS)}")
    model, tokenizer = pretrained("stories", device=torch.device("cpu"))
    print("Once upon a time" + complete(model, tokenizer, "Once upon a time",
                                        30, stop=None))
