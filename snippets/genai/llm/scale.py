"""From the course's tiny GPT to GPT-3: sizes, where the parameters are, and
what training costs.

The published configurations are built with the course's own GPT class on
PyTorch's meta device: every tensor has a shape and no memory, so even the
175-billion-parameter GPT-3 is built in a second or two.

    python -m genai.llm.scale
"""

from __future__ import annotations

import functools
import time

import torch

from genai.llm.gpt import GPT, GPTConfig

# --8<-- [start:configs]
CONFIGS = {   # the published shapes (GPT-2 and GPT-3 papers)
    "course": GPTConfig(vocab_size=1024, block_size=64, n_layer=4,
                        n_head=4, n_embd=128),
    "GPT": GPTConfig(vocab_size=40478, block_size=512, n_layer=12,
                     n_head=12, n_embd=768),
    "GPT-2 small": GPTConfig(vocab_size=50257, block_size=1024,
                             n_layer=12, n_head=12, n_embd=768),
    "GPT-2 XL": GPTConfig(vocab_size=50257, block_size=1024, n_layer=48,
                          n_head=25, n_embd=1600),
    "GPT-3": GPTConfig(vocab_size=50257, block_size=2048, n_layer=96,
                       n_head=96, n_embd=12288),
}


@functools.cache
def meta_model(config: GPTConfig) -> GPT:
    """The network with shapes only: no memory, no initialisation cost."""
    with torch.device("meta"):
        return GPT(config)
# --8<-- [end:configs]


# --8<-- [start:split]
def parameter_split(model: GPT) -> dict[str, int]:
    """Parameters of the embeddings, attention, MLPs and LayerNorms."""
    split = dict.fromkeys(["embeddings", "attention", "MLP", "LayerNorm"],
                          0)
    for name, p in model.named_parameters():   # the tied matrix: once
        if ".wte." in name or ".wpe." in name:
            split["embeddings"] += p.numel()
        elif ".attn." in name:
            split["attention"] += p.numel()
        elif ".mlp." in name:
            split["MLP"] += p.numel()
        else:
            split["LayerNorm"] += p.numel()
    return split
# --8<-- [end:split]


# --8<-- [start:compute]
def training_flops(n_params: float, n_tokens: float) -> float:
    """About 6 N FLOPs per token: 2 N forward, 4 N backward."""
    return 6 * n_params * n_tokens


def matmul_flops(n: int = 512, seconds: float = 0.5) -> float:
    """What this machine's default device does in float32 matmuls, per second:
    the best of several timed batches of n x n products."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b                                   # warm up
    best, start = 0.0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        tic = time.perf_counter()
        for _ in range(5):
            a @ b
        best = max(best, 5 * 2 * n ** 3 / (time.perf_counter() - tic))
    return best
# --8<-- [end:compute]


if __name__ == "__main__":
    from genai.cli import demo_arguments

    demo_arguments(__doc__)   # --help says what the demo does
    for name, config in CONFIGS.items():
        n = meta_model(config).num_params()
        print(f"{name:12s} {config.n_layer:3d} layers, width "
              f"{config.n_embd:6,d}: {n:15,d} parameters")
    flops = matmul_flops()
    print(f"this CPU: {flops / 1e9:.0f} GFLOP/s in float32 matmuls")
    seconds = training_flops(175e9, 300e9) / flops
    print(f"GPT-3 on 300B tokens at that speed: "
          f"{seconds / 3.156e7:,.0f} years")
