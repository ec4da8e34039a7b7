"""Reasoning: the addition task and its checker (attacked with replies that
only look right), the reward's guard, GRPO's advantages and its sign, the
KV-cache sampler against a plain forward pass, votes and pass@k, bad
settings, and the character-level Hugging Face tokenizer of the TRL tab.
The store's retrain test holds the four adders to their bars."""

import math
import random

import pytest
import torch

from genai.reasoning.adder import (DIGITS, TOKENIZER, GRPOConfig, Reasoner, SFTConfig, TaskError,
                                 advantages, answer_of, best_of, block_size, by_samples, check,
                                 checked_reward, direct_text, examples, grpo, held_out, majority,
                                 pass_at_k, problems, prompt_text, reasoner, reply_length,
                                 reward, sample, scratchpad_text, size)

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def sft():
    return reasoner("adder-sft", device=CPU)


def test_problems_are_seeded_balanced_and_never_the_held_out_ones():
    assert problems(50, seed=3) == problems(50, seed=3) != problems(50, seed=4)
    assert [size(p) for p in problems(10)] == [1, 2, 3, 4, 5] * 2
    assert [size(p) for p in held_out()].count(1) == 100
    test = set(held_out())
    assert len(test) > 450          # one-digit sums repeat: there are 100 of them
    assert not test & set(problems(2000, seed=7, exclude=test))


def test_the_formats_are_fixed_width_and_the_scratchpad_adds_right():
    assert prompt_text((347, 29)) + direct_text((347, 29)) == "00347+00029=000376."
    assert scratchpad_text((347, 29)) == "7+9+0=16,4+2+1=07,3+0+0=03,0+0+0=00,0+0+0=00,000376."
    assert scratchpad_text((347, 29), forget_carries=True).endswith(",000366.")
    rng = random.Random(0)
    for _ in range(300):
        p = (rng.randrange(10**DIGITS), rng.randrange(10**DIGITS))
        assert len(prompt_text(p)) + reply_length("scratchpad") == block_size()
        assert answer_of(scratchpad_text(p), "scratchpad") == sum(p)
        assert answer_of(direct_text(p), "direct") == sum(p)
        slip = answer_of(scratchpad_text(p, forget_carries=True), "scratchpad")
        digitwise = int("".join(str((int(x) + int(y)) % 10)
                                for x, y in zip(*(f"{v:05d}" for v in p))))
        assert slip == digitwise


@pytest.mark.parametrize("n, digits", [(0, 5), (3, 0)])
def test_no_problems_is_a_clear_error(n, digits):
    with pytest.raises(TaskError, match="need n >= 1 and digits >= 1"):
        problems(n, digits=digits)


@pytest.mark.parametrize("problem", [(-1, 2), (100000, 1), (1.5, 2), ("12", 3)])
def test_an_operand_out_of_range_is_a_clear_error(problem):
    with pytest.raises(TaskError, match="operands must be whole numbers of at most 5 digits"):
        prompt_text(problem)


@pytest.mark.parametrize("reply", [
    "000376",              # no end
    "000376..",            # too long
    "00376.",              # too short
    "0003 6.",             # a space for a digit
    "000٣76.",             # an Arabic-Indic three: str.isdigit() says it is a digit
    "000³76.",             # a superscript three
    "+00376.",             # a sign where a digit goes
    "000376\n",            # a newline for the end
    None, 376,             # not text at all
])
def test_the_checker_rejects_replies_that_only_look_right(reply):
    assert check((347, 29), reply, "direct") == (False, False)
    assert reward((347, 29), reply, "direct") == 0.0


def test_the_checker_reads_the_answer_not_the_steps():
    right = scratchpad_text((347, 29))
    wrong_steps = "1+1+0=02" + right[8:]             # steps are not checked
    assert check((347, 29), right, "scratchpad") == (True, True)
    assert check((347, 29), wrong_steps, "scratchpad") == (True, True)
    assert check((347, 29), right[:-7] + "000366.", "scratchpad") == (True, False)
    assert check((347, 29), "000376.", "scratchpad") == (False, False)   # the other style
    with pytest.raises(TaskError, match="unknown style 'poem'; the styles are direct, scratchpad"):
        check((347, 29), right, "poem")


@pytest.mark.parametrize("bad, message", [
    (lambda *a: None, "returned None"), (lambda *a: "1", "returned '1'"),
    (lambda *a: True, "returned True"), (lambda *a: math.nan, "returned nan"),
    (lambda *a: 1 / 0, "failed on the reply '000376.' to 00347\\+00029=: ZeroDivisionError"),
])
def test_a_reward_function_that_raises_or_returns_no_number_is_a_clear_error(bad, message):
    with pytest.raises(TaskError, match=message):
        checked_reward(bad, (347, 29), "000376.", "direct", DIGITS)
    assert checked_reward(lambda *a: 1, (347, 29), "000376.", "direct", DIGITS) == 1.0


def test_a_bad_reward_stops_grpo_before_any_update(sft):
    before = {k: v.clone() for k, v in sft.model.state_dict().items()}
    start = Reasoner(sft.model, sft.style)
    with pytest.raises(TaskError, match="must return a finite number"):
        grpo(start, GRPOConfig(steps=1, prompts=2), reward_fn=lambda *a: "yes", log=print)
    assert all(torch.equal(v, sft.model.state_dict()[k]) for k, v in before.items())


def test_advantages_are_relative_to_the_group():
    rewards = torch.tensor([[1.0, 0, 0, 0, 0, 0, 0, 0], [1.0, 1, 1, 1, 0, 0, 0, 0],
                            [1.0] * 8])
    scaled = advantages(rewards)
    assert scaled[0, 0] == pytest.approx(7 / 8 / math.sqrt(1 / 8), rel=1e-3)   # 2.47
    assert scaled[1, 0] == pytest.approx(0.5 / math.sqrt(2 / 7), rel=1e-3)    # 0.94
    assert torch.equal(scaled[2], torch.zeros(8))          # all the same: nothing to learn
    assert torch.allclose(advantages(rewards, scale=False).sum(1), torch.zeros(3))


@pytest.mark.parametrize("shape", [(4, 1), (8,)])
def test_a_group_of_one_has_no_baseline(shape):
    with pytest.raises(TaskError, match="a group of one reply has no baseline"):
        advantages(torch.ones(shape))
    with pytest.raises(TaskError, match="a group of one reply has no baseline"):
        GRPOConfig(group=1)


@pytest.mark.parametrize("config, message", [
    (dict(slips=1.5), "slips is a share"), (dict(style="direct", slips=0.2), "use style='scratchpad'"),
    (dict(style="poem"), "unknown style 'poem'")])
def test_bad_training_settings_are_clear_errors(config, message):
    with pytest.raises(TaskError, match=message):
        SFTConfig(**config)


def test_the_loss_counts_the_reply_only():
    x, y = examples([(347, 29)], "direct")
    assert TOKENIZER.decode(x[0].tolist()) == "00347+00029=000376"
    assert (y[0, :11] == -1).all() and TOKENIZER.decode(y[0, 11:].tolist()) == "000376."


def test_the_sampler_with_its_cache_writes_what_the_plain_model_writes(sft):
    batch = held_out()[:12]
    cached = [r for (r,) in sample(sft.model, batch, "scratchpad", temperature=0)]
    ids = torch.tensor([TOKENIZER.encode(prompt_text(p)) for p in batch])
    with torch.no_grad():
        for _ in range(reply_length("scratchpad")):
            logits, _ = sft.model(ids)
            ids = torch.cat([ids, logits[:, -1].argmax(-1, keepdim=True)], 1)
    assert cached == [TOKENIZER.decode(row[12:]) for row in ids.tolist()]
    replies = sample(sft.model, batch[:3], "scratchpad", k=5,
                     generator=torch.Generator().manual_seed(0))
    assert [len(group) for group in replies] == [5, 5, 5]
    assert replies == sample(sft.model, batch[:3], "scratchpad", k=5,
                             generator=torch.Generator().manual_seed(0))


def test_a_prompt_longer_than_the_context_is_a_clear_error(sft):
    with pytest.raises(TaskError, match="do not fit the model's context of 64"):
        sample(sft.model, [(123456, 1)], "scratchpad", digits=6)


def test_a_vote_takes_the_commonest_well_formed_answer():
    assert majority(["000366.", "000376.", "000376.", "bad"], "direct") == 376
    assert majority(["000366.", "000376."], "direct") == 366          # a tie: the first
    assert majority(["bad", "worse"], "direct") is None
    assert best_of((347, 29), ["000366.", "000376."], "direct") == "000376."
    assert best_of((347, 29), ["000366.", "000367."], "direct") == "000366."


def test_pass_at_k_is_the_chance_of_one_right_among_k():
    assert pass_at_k(8, 3, 1) == pytest.approx(3 / 8)
    assert pass_at_k(8, 0, 8) == 0.0 and pass_at_k(8, 1, 8) == 1.0
    assert pass_at_k(4, 2, 2) == pytest.approx(1 - 1 / 6)        # 1 - C(2,2)/C(4,2)
    with pytest.raises(TaskError, match="need 0 <= c <= n and 1 <= k <= n"):
        pass_at_k(4, 2, 5)


def test_a_vote_elects_the_habit_and_a_checker_finds_the_right_reply(sft):
    """adder-sft often forgets the carries, and forgetting always gives the
    same wrong sum: a vote of 16 elects it where it is the likelier
    procedure and does worse than one sample; a checker finds a right
    reply among them."""
    one, vote, best = by_samples(sft, held_out()[:100], ks=(16,))[16]
    assert vote < one and best > 0.9 and best > one + 0.3


def test_grpo_follows_the_reward_it_is_given():
    """Rewarded for forgetting carries, GRPO makes the habit likelier and
    right answers rarer: the checker, not the truth, decides what is
    learned."""
    forgot = lambda p, r, style, digits: float(      # noqa: E731
        r == scratchpad_text(p, digits, forget_carries=True))
    tuned = grpo(reasoner("adder-sft", device=CPU), GRPOConfig(steps=6, evaluate_every=100,
                                                               lr=1e-4),
                 reward_fn=forgot, log=lambda text: None)
    rewards, held = tuned.history["reward"], tuned.history["pass_at_1"]
    assert list(held) == [0, 6]
    assert rewards[-1] > rewards[0] + 0.1 and held[6] < held[0] - 0.15


def test_only_the_adders_are_reasoners():
    with pytest.raises(TaskError, match="'facts' is not one of the adders"):
        reasoner("facts")


def test_the_exported_adder_and_its_tokenizer_match_ours(sft):
    pytest.importorskip("transformers")
    from genai.llm.hf_export import hf_char_tokenizer, hf_model

    tokenizer = hf_char_tokenizer(TOKENIZER, ".", block_size())
    text = prompt_text((347, 29)) + scratchpad_text((347, 29))
    assert tokenizer(text).input_ids == TOKENIZER.encode(text)
    assert tokenizer.decode(TOKENIZER.encode(text)) == text
    assert tokenizer.eos_token == tokenizer.pad_token == "."
    hf = hf_model(sft.model, eot_id=TOKENIZER.encode(".")[0])
    ids = torch.tensor([TOKENIZER.encode(text[:-1])])
    with torch.no_grad():
        assert torch.allclose(hf(ids).logits, sft.model(ids)[0], atol=1e-5)


def test_the_kl_term_changes_the_update_and_can_be_switched_off():
    """beta > 0 adds the k3 estimate of KL(model || start) to the loss: the
    same seeds give other weights; beta = 0 leaves the reference out."""
    runs = {beta: grpo(reasoner("adder-sft", device=CPU),
                       GRPOConfig(steps=2, prompts=4, beta=beta, lr=1e-3, evaluate_every=100),
                       log=lambda text: None).model for beta in (0.0, 5.0)}
    weights = [torch.cat([p.flatten() for p in model.parameters()]) for model in runs.values()]
    start = torch.cat([p.flatten() for p in reasoner("adder-sft", device=CPU).model.parameters()])
    assert all(torch.isfinite(w).all() for w in weights)
    assert not torch.equal(weights[0], weights[1])
    assert (weights[1] - start).norm() < (weights[0] - start).norm()
