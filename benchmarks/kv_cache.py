"""The KV cache, measured: generating 256 tokens with and without it.

The quality bar: with the cache, generating 256 new tokens is at least 3x
faster than recomputing the whole context at every step, for the same
output. Prints, never asserts.

The course's story model has a context of only 64 tokens, too short to hold
a prompt and 256 new tokens. The timing uses the same architecture (4
layers, 4 heads, width 128, 512 BPE tokens) with a context of 384 tokens, so
that nothing slides out of the window, and random weights: the time of a
forward pass does not depend on what the weights are. A 64-token prompt then
256 greedy tokens; both runs must produce the same 256 token ids. A second,
wider model (6 layers, width 384: nanoGPT's Shakespeare configuration;
timed once, as it is slow without the cache) shows how the gain grows with
the model.

    python benchmarks/kv_cache.py
    python benchmarks/kv_cache.py --threads 1

On a machine that other jobs keep busy, use --threads 1: with more threads
than free cores, each of the many small operations of a one-token step
waits for a descheduled thread, and the cached run suffers most.
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from genai.device import get_device
from genai.llm.generate import new_token_ids
from genai.llm.gpt import GPT, GPTConfig

NEW_TOKENS = 256
PROMPT_TOKENS = 64
MODELS = {   # name: (configuration, how many timed runs to take the best of)
    "story model, context 384": (GPTConfig(
        vocab_size=512, block_size=384, n_layer=4, n_head=4, n_embd=128), 3),
    "6 layers, width 384, context 384": (GPTConfig(
        vocab_size=512, block_size=384, n_layer=6, n_head=6, n_embd=384), 1),
}


def greedy(logits: torch.Tensor) -> int:
    return int(logits.argmax())


def timed_run(model: GPT, prompt: list[int], use_cache: bool,
              repeats: int = 1):
    """(best seconds of the runs, the token ids generated)."""
    best, tokens = float("inf"), None
    for _ in range(repeats):
        if model.transformer.wte.weight.device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        tokens = list(new_token_ids(model, prompt, NEW_TOKENS, greedy,
                                    use_cache=use_cache))
        best = min(best, time.perf_counter() - start)
    return best, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for torch (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = get_device()
    print(f"device: {device}, {os.cpu_count()} CPU cores, "
          f"{torch.get_num_threads()} torch threads")
    print(f"{PROMPT_TOKENS}-token prompt, {NEW_TOKENS} new tokens (greedy); "
          f"bar: cache >= 3x faster")
    for name, (config, repeats) in MODELS.items():
        torch.manual_seed(0)
        model = GPT(config).to(device).eval()
        prompt = torch.randint(config.vocab_size, (PROMPT_TOKENS,),
                               generator=torch.Generator().manual_seed(1))
        prompt = prompt.tolist()
        timed_run(model, prompt[:8], True)            # warm-up
        plain_s, plain = timed_run(model, prompt, False, repeats)
        cached_s, cached = timed_run(model, prompt, True, repeats)
        same = "same 256 tokens" if plain == cached else "OUTPUTS DIFFER"
        speedup = plain_s / cached_s
        verdict = "meets the bar" if speedup >= 3 else "BELOW THE BAR"
        print(f"{name} ({model.num_params() / 1e6:.1f}M parameters, "
              f"best of {repeats}):")
        print(f"  without cache {plain_s:6.2f} s "
              f"({NEW_TOKENS / plain_s:6.0f} tokens/s)")
        print(f"  with cache    {cached_s:6.2f} s "
              f"({NEW_TOKENS / cached_s:6.0f} tokens/s)")
        print(f"  speed-up {speedup:.1f}x ({verdict}), {same}")


if __name__ == "__main__":
    main()
