"""genai.llm.generate: decoding rules, stop sequences, the KV cache, bad input."""

import math
import string

import pytest
import torch

from genai.llm.generate import (GenerationError, generate, new_token_ids, next_token_probs,
                                pick_token, stream, top_k_filter, top_p_filter)
from genai.llm.gpt import GPT, GPTConfig
from genai.llm.tokenizer import CharTokenizer, TokenizerError


class Bytes:
    """Any object with encode and decode will do: one token per UTF-8 byte."""

    def encode(self, text):
        return list(text.encode("utf-8"))

    def decode(self, ids):
        return bytes(ids).decode("utf-8", errors="replace")


TOK = CharTokenizer.train(string.ascii_letters + string.digits + " .,!?\n")


def tiny_model(vocab_size, block_size=32, seed=0):
    torch.manual_seed(seed)
    config = GPTConfig(vocab_size=vocab_size, block_size=block_size,
                       n_layer=2, n_head=2, n_embd=32)
    model = GPT(config).eval()
    with torch.no_grad():        # bigger weights: varied, decisive outputs
        for p in model.parameters():
            if p.dim() == 2:
                p.mul_(25)
    return model


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models: one thread is as fast, and steady on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def model():
    return tiny_model(len(TOK.chars))


def test_cached_and_uncached_greedy_text_are_identical(model):
    for prompt in ("a", "Once upon a time", "x" * 20):
        room = model.config.block_size - len(prompt)
        cached = generate(model, TOK, prompt, room, temperature=0)
        plain = generate(model, TOK, prompt, room, temperature=0,
                         use_cache=False)
        assert len(cached) == room
        assert cached == plain


def test_cached_and_uncached_agree_when_sampling(model):
    kwargs = dict(max_new_tokens=25, temperature=1.0, seed=3)
    assert (generate(model, TOK, "Hello", **kwargs)
            == generate(model, TOK, "Hello", use_cache=False, **kwargs))


def test_same_seed_same_text_other_seed_other_text(model):
    texts = [generate(model, TOK, "Once", 30, temperature=1.5, seed=s)
             for s in (0, 0, 1)]
    assert texts[0] == texts[1]
    assert texts[0] != texts[2]


def test_temperature_zero_or_below_is_greedy(model):
    greedy = generate(model, TOK, "Once", 20, temperature=0)
    assert generate(model, TOK, "Once", 20, temperature=-1.0) == greedy
    assert generate(model, TOK, "Once", 20, top_k=1, seed=5) == greedy
    # a nucleus smaller than the best token's probability is greedy too
    assert generate(model, TOK, "Once", 20, top_p=1e-6, seed=9) == greedy


def test_top_k_filter_keeps_the_k_best():
    logits = torch.tensor([1.0, 4.0, 3.0, 2.0, 0.0])
    kept = top_k_filter(logits, 2)
    assert torch.isfinite(kept).tolist() == [False, True, True, False, False]
    assert torch.equal(top_k_filter(logits, 99), logits)


def test_top_p_filter_keeps_the_smallest_set_reaching_p():
    probs = torch.tensor([0.15, 0.5, 0.05, 0.3])
    logits = probs.log()

    def kept(p):
        return torch.isfinite(top_p_filter(logits, p)).tolist()

    assert kept(0.5) == [False, True, False, False]      # 0.5 >= 0.5
    assert kept(0.6) == [False, True, False, True]       # 0.8 >= 0.6
    assert kept(0.81) == [True, True, False, True]       # 0.95
    assert kept(1.0) == [True, True, True, True]


def test_sampling_stays_inside_top_k_and_top_p():
    logits = torch.tensor([0.15, 0.5, 0.05, 0.3]).log()
    g = torch.Generator().manual_seed(0)
    k2 = {pick_token(logits, 1.0, top_k=2, generator=g) for _ in range(200)}
    p8 = {pick_token(logits, 1.0, top_p=0.8, generator=g) for _ in range(200)}
    free = {pick_token(logits, 1.0, generator=g) for _ in range(200)}
    assert k2 == {1, 3} and p8 == {1, 3} and free == {0, 1, 2, 3}


def test_stop_sequence_spanning_several_tokens(model):
    full = generate(model, TOK, "Once", 30, temperature=0)
    stop = full[10:13]                    # three characters: three tokens
    cut = full[:full.find(stop)]
    assert generate(model, TOK, "Once", 30, temperature=0, stop=stop) == cut
    both = generate(model, TOK, "Once", 30, temperature=0,
                    stop=["not there", stop])
    assert both == cut
    assert "".join(stream(model, TOK, "Once", 30, temperature=0,
                          stop=stop)) == cut


def test_stream_gives_one_piece_per_token(model):
    pieces = list(stream(model, TOK, "Once", 12, temperature=0))
    assert len(pieces) == 12 and all(len(p) == 1 for p in pieces)
    assert "".join(pieces) == generate(model, TOK, "Once", 12, temperature=0)
    # a possible start of a stop string waits until it is decided
    full = "".join(pieces)
    held = list(stream(model, TOK, "Once", 12, temperature=0,
                       stop=full[3] + "#"))
    assert "".join(held) == full and len(held) == 12
    assert held[3] == "" and held[4] == full[3:5]


def test_stream_never_splits_a_multibyte_character():
    tok = Bytes()
    model = tiny_model(256)
    pieces = list(stream(model, tok, "é", 40, temperature=1.0, seed=0))
    assert len(pieces) == 40
    assert "".join(pieces) == generate(model, tok, "é", 40, temperature=1.0)
    ids = list(new_token_ids(model, tok.encode("é"), 40,
                             lambda logits: 0xC3))    # a lead byte, forever
    assert ids == [0xC3] * 40
    waiting = list(stream(model, tok, "é", 3, temperature=0))
    assert "".join(waiting) == generate(model, tok, "é", 3, temperature=0)


def test_long_prompt_is_cropped_from_the_left_with_a_warning(model):
    block = model.config.block_size
    prompt = "ab" * block                       # 2 * block tokens
    with pytest.warns(UserWarning, match=rf"dropped the first {block} "):
        text = generate(model, TOK, prompt, 5, temperature=0)
    assert text == generate(model, TOK, prompt[-block:], 5, temperature=0)


def test_generation_runs_past_the_context_window(model):
    block = model.config.block_size
    cached = generate(model, TOK, "Once", 2 * block, temperature=0)
    plain = generate(model, TOK, "Once", 2 * block, temperature=0,
                     use_cache=False)
    assert len(cached) == len(plain) == 2 * block
    # identical until the window first fills; then the windows differ
    assert cached[:block - 4] == plain[:block - 4]


def test_next_token_probs(model):
    top = next_token_probs(model, TOK, "Once upon", k=5)
    assert len(top) == 5
    probs = [p for _, p in top]
    assert probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-6
    greedy = generate(model, TOK, "Once upon", 1, temperature=0)
    assert top[0][0] == greedy
    first, second = next_token_probs(model, TOK, "Once upon", 2,
                                     temperature=0)
    assert first == (greedy, 1.0) and second[1] == 0.0
    sharp = next_token_probs(model, TOK, "Once upon", 1, temperature=0.5)
    assert sharp[0][1] > top[0][1]
    assert len(next_token_probs(model, TOK, "a", k=1000)) == len(TOK.chars)


@pytest.mark.parametrize("kwargs, message", [
    (dict(prompt=""), "prompt must be a non-empty string"),
    (dict(max_new_tokens=0), "max_new_tokens must be a whole number >= 1"),
    (dict(max_new_tokens=-3), "got -3"),
    (dict(max_new_tokens=2.5), "got 2.5"),
    (dict(top_p=0.0), r"top_p must be in \(0, 1\]"),
    (dict(top_p=1.5), r"top_p must be in \(0, 1\]"),
    (dict(top_k=0), "top_k must be a whole number >= 1"),
    (dict(temperature=math.nan), "temperature must be a number"),
    (dict(stop=""), "stop sequences must be non-empty strings"),
    (dict(stop=["ok", 3]), "got 3"),
])
def test_bad_arguments_are_explained(model, kwargs, message):
    args = dict(prompt="Once", max_new_tokens=5) | kwargs
    with pytest.raises(GenerationError, match=message):
        generate(model, TOK, **args)
    with pytest.raises(ValueError, match=message):  # raised before any token
        stream(model, TOK, **args)


def test_unknown_character_is_named(model):
    with pytest.raises(TokenizerError, match="'é'"):
        generate(model, TOK, "café", 5)


def test_bad_k_for_next_token_probs(model):
    with pytest.raises(GenerationError, match="k must be a whole number"):
        next_token_probs(model, TOK, "Once", k=0)


def test_generate_restores_the_thread_setting(model):
    torch.set_num_threads(2)
    generate(model, TOK, "Once", 3)
    assert torch.get_num_threads() == 2
    torch.set_num_threads(1)
