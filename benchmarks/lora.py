"""LoRA against full fine-tuning, measured: prints, never asserts
(tests/test_store.py asserts the bars, tests/llm/test_lora.py the rest).

Instruction tuning of the facts model with the chat tokens (the same data,
steps, batch and seed as genai.llm.instruct), five ways, each tuned anew
from the facts model here, on one CPU thread:

* full fine-tuning (every number; the "assistant" recipe's settings);
* LoRA adapters only, rank 2 on every attention and MLP Linear layer;
* the adapters and the four chat tokens' embedding rows;
* the embedding rows only (the chat tokens and the replies' tokens);
* LoRA: adapters and rows (the "lora" recipe, the shipped reference).

For each: how many numbers train, and their share of the model's; the
median time of a training step; the bytes that training keeps between
steps (weights, gradients, AdamW's state; the activations are not
counted); accuracy and replies ended with <|end|> on the 256
held-out questions, and the reply to one of them. The bar: LoRA trains at
most 5% as many numbers as the model has and comes within 5 points of full
fine-tuning's accuracy.

    python benchmarks/lora.py
"""

import dataclasses
import os
import statistics
import sys
import time

import torch

from genai.llm.instruct import (TuneConfig, base_with_chat_tokens, evaluate,
                                instruction_data, reply, tune)
from genai.llm.lora import LoRAConfig, lora_model, trainable, training_bytes

CPU = torch.device("cpu")
QUESTION = "What's the capital city of France?"      # a held-out wording


class Timed(torch.optim.AdamW):
    """AdamW that records when each step ends, and keeps itself findable."""
    last = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.ends = []
        Timed.last = self

    def step(self, *args, **kwargs):
        result = super().step(*args, **kwargs)
        self.ends.append(time.perf_counter())
        return result


def main() -> None:
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, CPU capability "
          f"{torch.backends.cpu.get_cpu_capability()}, one thread, load "
          f"average {os.getloadavg()[0]:.2f}")
    lora = LoRAConfig()
    ways = [("full fine-tuning", None),
            ("LoRA adapters only", dataclasses.replace(lora, rows="")),
            ("adapters + chat rows", dataclasses.replace(lora, rows="chat")),
            ("embedding rows only", dataclasses.replace(lora, rank=0)),
            ("LoRA: adapters + rows", lora)]
    held_out = instruction_data(held_out=True)
    adamw = torch.optim.AdamW
    torch.optim.AdamW = Timed      # instruct.tune builds its optimizer so
    try:
        print(f"\n{'':24s} {'trained':>9s} {'share':>6s} {'ms/step':>8s} "
              f"{'MB kept':>8s} {'right':>6s} {'ended':>6s}")
        for name, config in ways:
            if config is None:
                model, tokenizer = base_with_chat_tokens(device=CPU)
                settings = TuneConfig()
            else:
                model, tokenizer = lora_model(config, CPU)
                settings = config.tune_config()
            size = sum(p.numel() for p in model.parameters()
                       if not p.requires_grad) or trainable(model)
            tune(model, tokenizer, settings, log=lambda text: None)
            ends = Timed.last.ends
            step = statistics.median(b - a for a, b in zip(ends, ends[1:]))
            kept = training_bytes(model, Timed.last)
            s = evaluate(model, tokenizer, held_out)
            print(f"{name:24s} {trainable(model):9,d} "
                  f"{trainable(model) / size:6.2%} {step * 1e3:8.1f} "
                  f"{kept / 1e6:8.2f} {s['accuracy']:6.1%} "
                  f"{s['ended']:6.1%}", flush=True)
            text, _ = reply(model, tokenizer, [{"role": "user",
                                                "content": QUESTION}])
            print(f"{'':24s} {QUESTION} -> {text}", flush=True)
    finally:
        torch.optim.AdamW = adamw


if __name__ == "__main__":
    sys.exit(main())
