"""The in-context learning chapter: the held-out split, the prompts, bad
input, the cache, and that the examples in the prompt really help."""

import dataclasses
import time

import pytest
import torch

import genai.llm.in_context as icl
from genai import store
from genai.llm.in_context import (ICL, ICLError, accuracy_by_k, complete, draw_codes, encode_prompt,
                                  few_shot_prompts, is_held_out, pretrained_icl, to_text, train_icl,
                                  training_batch)

TINY = dataclasses.replace(ICL, steps=12, batch_size=8, n_embd=16)
DIGIT_IDS = range(8, 16)


def test_the_split_keeps_test_codes_out_of_training(monkeypatch):
    rng = torch.Generator().manual_seed(0)
    train = draw_codes(500, rng)
    test = draw_codes(500, rng, held_out=True)
    assert not any(is_held_out(t) for t in train.tolist())
    assert all(is_held_out(t) for t in test.tolist())
    # training asks only for training codes, the test prompts only for
    # held-out ones
    asked = []

    def spy(n, generator, held_out=False):
        asked.append(held_out)
        return draw_codes(n, generator, held_out)

    monkeypatch.setattr(icl, "draw_codes", spy)
    training_batch(ICL, rng)
    assert asked == [False]
    few_shot_prompts(4, 10, rng)
    assert asked == [False, True]


def test_training_batch_targets_are_the_digits_of_the_code():
    x, y = training_batch(ICL, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (ICL.batch_size, ICL.block_size)
    for row, target in zip(x.tolist(), y.tolist()):
        code = {}
        for token, digit in zip(row, target):
            if token >= 16:                              # an example
                assert digit == -100 and not code.get("query")
                letter = (token - 16) // 8
                assert letter not in code                # different letters
                code[letter] = 8 + (token - 16) % 8
            else:                                        # a query letter
                code["query"] = True
                assert digit in DIGIT_IDS
                if token in code:
                    assert digit == code[token]          # the same code


def test_few_shot_prompts_shapes_and_answers():
    prompts, answers, seen = few_shot_prompts(
        4, 200, torch.Generator().manual_seed(0))
    assert prompts.shape == (200, 5) and answers.shape == seen.shape
    for p, a, s in zip(prompts.tolist(), answers.tolist(), seen.tolist()):
        shown = {(t - 16) // 8: 8 + (t - 16) % 8 for t in p[:-1]}
        assert len(shown) == 4 and p[-1] < 8
        assert s == (p[-1] in shown)
        if s:
            assert shown[p[-1]] == a
    assert len(to_text(prompts[0]).split()) == 5


@pytest.mark.parametrize("k", [-1, 9])
def test_k_outside_the_window_is_refused(k):
    with pytest.raises(ICLError, match="choose 0 to 8"):
        few_shot_prompts(k, 5, torch.Generator())


@pytest.mark.parametrize("prompt, message", [
    ("c5 x", r"unknown tokens \['x'\]"),
    ("c9 c", r"unknown tokens \['c9'\]"),
    ("", "then one query letter"),
    ("c5 a2", "then one query letter"),
    ("c5 a c", "then one query letter"),
    (" ".join(["a1"] * 16 + ["b"]), "17 tokens; the context window holds 16"),
])
def test_bad_prompts_are_explained(prompt, message):
    with pytest.raises(ICLError, match=message):
        encode_prompt(prompt)


def test_encode_prompt():
    assert encode_prompt("c5 a2 c") == [16 + 2 * 8 + 5, 16 + 2, 2]
    assert to_text(encode_prompt(" c5  a2 c ")) == "c5 a2 c"


def test_training_is_deterministic():
    _, first = train_icl(TINY, "cpu", log=lambda text: None)
    _, second = train_icl(TINY, "cpu", log=lambda text: None)
    assert first == second and len(first) == TINY.steps


def test_training_reports_its_loss_every_100_steps():
    said = []
    train_icl(dataclasses.replace(TINY, steps=100), "cpu", log=said.append)
    assert len(said) == 1 and said[0].startswith("step 100: loss ")


def test_another_configuration_is_trained_once_into_the_cache(tmp_path,
                                                              monkeypatch):
    monkeypatch.setattr(store, "CACHE", tmp_path)
    said = []
    model = pretrained_icl(device="cpu", config=TINY, log=said.append)
    assert len(said) == 1 and "training the 'icl' model" in said[0]
    assert len(model.losses) == TINY.steps and model.cpu_seconds >= 0
    again = pretrained_icl(device="cpu", config=TINY, log=said.append)
    assert len(said) == 1
    for a, b in zip(model.parameters(), again.parameters()):
        assert torch.equal(a, b)


@pytest.fixture(scope="module")
def model():
    return pretrained_icl()


def test_the_cached_model_loads_fast(model):
    start = time.perf_counter()
    pretrained_icl()
    assert time.perf_counter() - start < 5   # generous: a shared machine


def test_examples_in_the_prompt_help(model):
    rows = {row["k"]: row for row in accuracy_by_k(model, n=1000)}
    assert abs(rows[0]["accuracy"] - 1 / 8) < 0.03      # chance, no examples
    for k, row in rows.items():
        assert abs(row["accuracy"] - row["ideal"]) < 0.05
    assert rows[8]["accuracy"] > 0.95
    assert rows[1]["shown"] > 0.95         # one example, and it is the query


def test_complete_reads_the_code_from_the_prompt(model):
    assert complete(model, "b3 c") in icl.DIGITS
    assert complete(model, "b3 c6 b") == "3"
    assert complete(model, "b5 c6 b") == "5"
    assert complete(model, "a1 b2 c3 d4 e5 f6 g7 h0 g") == "7"


def test_without_examples_the_model_spreads_its_bets(model):
    prompts, _, _ = few_shot_prompts(0, 8, torch.Generator().manual_seed(0))
    with torch.no_grad():
        probs = model(prompts)[0][:, -1].softmax(-1)[:, DIGIT_IDS]
    # no digit stands out: the best guess stays far from a confident one
    assert (probs - 1 / 8).abs().max() < 0.1
    assert probs.max(dim=-1).values.mean() < 0.2
