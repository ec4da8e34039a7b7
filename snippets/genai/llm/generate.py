"""From a trained GPT to text: one token at a time.

At every step the model returns scores (logits) for every token of the
vocabulary; a decoding rule picks one: the most likely (greedy), or a random
draw from the distribution after temperature, top-k and top-p reshape it.
The token is appended and the loop goes on until ``max_new_tokens`` or a stop
sequence. A KV cache (genai.llm.gpt.KVCache) keeps the keys and values of the
tokens already read, so each step computes only the new token's.

    generate(model, tokenizer, "Once upon a time", max_new_tokens=40)
    for piece in stream(model, tokenizer, "Once upon a time"): ...
    next_token_probs(model, tokenizer, "The capital of France is", k=5)

Works with any tokenizer that has ``encode(str) -> list[int]`` and
``decode(list[int]) -> str``.

    python -m genai.llm.generate
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Iterator

import torch

from genai.device import one_thread
from genai.llm.gpt import GPT, KVCache


class GenerationError(ValueError):
    """Arguments that generation cannot work with."""


# --8<-- [start:filters]
def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the k highest logits; the others become -inf (probability 0)."""
    k = min(k, logits.size(-1))
    kth_best = torch.topk(logits, k).values[..., -1:]
    return logits.masked_fill(logits < kth_best, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Keep the smallest set of tokens whose probabilities sum to >= p."""
    sorted_logits, order = torch.sort(logits, descending=True)
    probs = sorted_logits.softmax(dim=-1)
    before = probs.cumsum(dim=-1) - probs    # mass of the better tokens
    drop_sorted = before >= p                # the set was full without it
    drop = drop_sorted.scatter(-1, order, drop_sorted)  # back to token order
    return logits.masked_fill(drop, float("-inf"))
# --8<-- [end:filters]


# --8<-- [start:pick]
def pick_token(logits: torch.Tensor, temperature: float = 1.0,
               top_k: int | None = None, top_p: float | None = None,
               generator: torch.Generator | None = None) -> int:
    """One token id from the logits (V,) of the last position.

    temperature <= 0 means greedy: the most likely token, no randomness.
    """
    if temperature <= 0:
        return int(logits.argmax())
    logits = logits.float() / temperature   # < 1 sharpens, > 1 flattens
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None:
        logits = top_p_filter(logits, top_p)
    probs = logits.softmax(dim=-1)
    return int(torch.multinomial(probs, 1, generator=generator))
# --8<-- [end:pick]


def _check(max_new_tokens, temperature, top_k, top_p, stop) -> list[str]:
    """Refuse arguments that make no sense; return the stop strings."""
    if (isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int)
            or max_new_tokens < 1):
        raise GenerationError(f"max_new_tokens must be a whole number >= 1, "
                              f"got {max_new_tokens!r}")
    if math.isnan(float(temperature)):
        raise GenerationError("temperature must be a number, got nan "
                              "(<= 0 means greedy)")
    if top_k is not None and (isinstance(top_k, bool)
                              or not isinstance(top_k, int) or top_k < 1):
        raise GenerationError(f"top_k must be a whole number >= 1 or None, "
                              f"got {top_k!r}")
    if top_p is not None and not 0 < top_p <= 1:
        raise GenerationError(f"top_p must be in (0, 1] or None, "
                              f"got {top_p!r}")
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    for s in stops:
        if not isinstance(s, str) or not s:
            raise GenerationError(f"stop sequences must be non-empty "
                                  f"strings, got {s!r}")
    return stops


def _prompt_ids(model: GPT, tokenizer, prompt: str) -> list[int]:
    """The prompt's token ids, cropped from the left to the context window."""
    if not isinstance(prompt, str) or not prompt:
        raise GenerationError(f"the prompt must be a non-empty string, got "
                              f"{prompt!r}: the model needs a token to "
                              f"continue from")
    ids = tokenizer.encode(prompt)   # unknown characters raise here
    block = model.config.block_size
    if len(ids) > block:
        warnings.warn(
            f"the prompt has {len(ids)} tokens but the context window holds "
            f"{block}: dropped the first {len(ids) - block} tokens",
            stacklevel=4)
        ids = ids[-block:]
    return ids


def _forward(model: GPT, ids: list[int], cache: KVCache | None):
    """Logits of the last position after reading ids (after the cache)."""
    device = next(model.parameters()).device
    idx = torch.tensor([ids], dtype=torch.long, device=device)
    with torch.no_grad():
        logits, _ = model(idx, cache=cache)
    return logits[0, -1]


# --8<-- [start:loop]
def new_token_ids(model: GPT, ids: list[int], max_new_tokens: int,
                  pick, use_cache: bool = True) -> Iterator[int]:
    """Yield max_new_tokens token ids that continue ids (already cropped).

    The context window holds block_size tokens. Without a cache every step
    reads the last block_size tokens: a window that slides one token a step.
    With a cache the stored keys and values belong to fixed positions, so
    when it is full it starts again from the last block_size // 2 tokens
    (one forward pass) and then goes on one token a step.
    """
    block = model.config.block_size
    ids = list(ids)
    cache = None
    if use_cache:
        param = next(model.parameters())
        cache = KVCache(model.config, 1, param.device, param.dtype)
    logits = _forward(model, ids, cache)          # read the whole prompt
    for step in range(max_new_tokens):
        token = pick(logits)
        yield token
        ids.append(token)
        if step == max_new_tokens - 1:
            break
        if cache is None:
            logits = _forward(model, ids[-block:], None)   # all again
        elif cache.length < block:
            logits = _forward(model, [token], cache)        # the new one
        else:                                   # full: slide and refill
            cache.length = 0
            logits = _forward(model, ids[-(block // 2):], cache)
# --8<-- [end:loop]


def _held_back(text: str, stops: list[str]) -> int:
    """How many final characters might still turn into a stop sequence."""
    longest = 0
    for s in stops:
        for n in range(min(len(s) - 1, len(text)), longest, -1):
            if text.endswith(s[:n]):
                longest = n
                break
    return longest


# --8<-- [start:stream]
def stream(model: GPT, tokenizer, prompt: str, max_new_tokens: int = 50,
           temperature: float = 1.0, top_k: int | None = None,
           top_p: float | None = None, stop: str | Iterable[str] | None = None,
           seed: int | None = 0, use_cache: bool = True) -> Iterator[str]:
    """The new text, one piece per generated token, as it is generated.

    temperature <= 0 is greedy decoding (top_k, top_p and seed are unused).
    The same seed gives the same text; seed=None draws from torch's global
    random state. Generation ends after max_new_tokens tokens or as soon as
    the new text contains one of the stop strings, which is not returned.
    A prompt longer than the context window is cropped from the left, with
    a warning.
    """
    stops = _check(max_new_tokens, temperature, top_k, top_p, stop)
    ids = _prompt_ids(model, tokenizer, prompt)
    generator = None
    if seed is not None:
        device = next(model.parameters()).device
        generator = torch.Generator(device=device).manual_seed(seed)

    def pick(logits):
        return pick_token(logits, temperature, top_k, top_p, generator)

    tokens = new_token_ids(model, ids, max_new_tokens, pick, use_cache)
    return _pieces(tokenizer, tokens, max_new_tokens, stops)


def _pieces(tokenizer, tokens, max_new_tokens, stops) -> Iterator[str]:
    new, shown = [], 0          # token ids so far, characters already given
    for step, token in enumerate(tokens, start=1):
        new.append(token)
        text = tokenizer.decode(new)
        hits = [i for i in (text.find(s) for s in stops) if i >= 0]
        if hits:                                  # stop: drop the stop text
            yield text[shown:min(hits)]
            return
        end = len(text)
        if step < max_new_tokens:   # hold back what may still change
            end -= _held_back(text, stops)
            while end > shown and text[end - 1] == "\ufffd":
                end -= 1            # an unfinished multi-byte character
        yield text[shown:end]
        shown = end
# --8<-- [end:stream]


def generate(model: GPT, tokenizer, prompt: str, max_new_tokens: int = 50,
             temperature: float = 1.0, top_k: int | None = None,
             top_p: float | None = None,
             stop: str | Iterable[str] | None = None, seed: int | None = 0,
             use_cache: bool = True) -> str:
    """The text that continues prompt (the new text only); see stream().

    It runs on one CPU thread, then restores the setting: each step of a
    small model is many tiny operations that a second thread does not speed
    up, and on a busy machine waiting for it makes them much slower. (On a
    GPU, the CPU's threads do not matter.)
    """
    pieces = stream(model, tokenizer, prompt, max_new_tokens, temperature,
                    top_k, top_p, stop, seed, use_cache)
    with one_thread():
        return "".join(pieces)


# --8<-- [start:probs]
def next_token_probs(model: GPT, tokenizer, prompt: str, k: int = 5,
                     temperature: float = 1.0) -> list[tuple[str, float]]:
    """The k most likely next tokens after prompt, with their probability."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise GenerationError(f"k must be a whole number >= 1, got {k!r}")
    ids = _prompt_ids(model, tokenizer, prompt)
    logits = _forward(model, ids, None).float()
    if temperature > 0:
        probs = (logits / temperature).softmax(dim=-1)
    else:                                   # greedy: all on the best one
        probs = torch.zeros_like(logits)
        probs[logits.argmax()] = 1.0
    top = torch.topk(probs, min(k, probs.numel()))
    return [(tokenizer.decode([i]), p)
            for i, p in zip(top.indices.tolist(), top.values.tolist())]
# --8<-- [end:probs]


if __name__ == "__main__":
    from genai.cli import demo_arguments

    demo_arguments(__doc__)   # --help says what the demo does
    from genai.device import get_device
    from genai.llm.pretrained import pretrained

    model, tokenizer = pretrained("facts", device=get_device())
    prompt = "The capital of France is"
    print(f"{prompt!r}, next token:")
    for text, p in next_token_probs(model, tokenizer, prompt, k=3):
        print(f"  {text!r:12} {p:.3f}")
    model, tokenizer = pretrained("stories", device=get_device())
    prompt = "Once upon a time"
    pieces = stream(model, tokenizer, prompt, 30, temperature=0, stop="\n")
    print("greedy, token by token:", prompt + "|".join(pieces))
    text = generate(model, tokenizer, prompt, 40, temperature=0.8, top_p=0.9,
                    seed=1, stop="\n")
    print("temperature 0.8, top-p 0.9, seed 1:", prompt + text)
