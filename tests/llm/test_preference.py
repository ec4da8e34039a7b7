"""Preference tuning with DPO: the pairs, the log-probabilities, the loss
written out against its formula, a little training that widens the margin,
and the shipped model's behaviour against the instruction-tuned one's."""

import copy
import math

import pytest
import torch

from genai.llm.corpora import CAPITALS
from genai.llm.instruct import (END, REFUSAL, answer, assistant, evaluate, instruction_data,
                                sft_example)
from genai.llm.preference import (DPOConfig, dpo_loss, evaluate_pairs, preference_pairs, preferred,
                                  sequence_logp, sft_loss, train_dpo)

CPU = torch.device("cpu")


def test_every_pair_prefers_the_concise_right_answer_or_an_honest_refusal():
    pairs = preference_pairs()
    assert len(pairs) == len(instruction_data())
    for (question, chosen, rejected), (q, _, kind) in zip(pairs, instruction_data()):
        assert question == q and chosen != rejected
        assert chosen == (REFUSAL if kind == "unknown" else answer(kind))
    rejected = [r for _, c, r in pairs if c != REFUSAL]
    assert any(" is a city in " in r for r in rejected)            # verbose
    assert any(r == REFUSAL for r in rejected)                     # a needless refusal
    assert any(r[:-1] in CAPITALS.values() for r in rejected)      # a wrong city
    held = {q for q, _, _ in preference_pairs(held_out=True)}
    assert not held & {q for q, _, _ in pairs}


def test_the_log_probability_of_a_reply_is_the_sum_over_its_tokens():
    tuned = assistant(device=CPU)
    model, tokenizer = tuned.model, tuned.tokenizer
    logp, n = sequence_logp(model, tokenizer, ["Capital of Peru?", "Capital of Chile?"],
                            ["Lima.", "Santiago. Santiago is a city in South America."])
    ids, targets = sft_example(tokenizer, "Capital of Peru?", "Lima.")
    with torch.no_grad():
        logits, _ = model(torch.tensor([ids]))
    by_hand = sum(logits[0, i].log_softmax(-1)[t].item()
                  for i, t in enumerate(targets) if t >= 0)
    assert logp[0].item() == pytest.approx(by_hand, abs=1e-4)
    assert n[0].item() == len(tokenizer.encode("Lima." + END))
    assert n[1] > n[0]


def test_the_dpo_loss_follows_its_formula():
    chosen, rejected = torch.tensor([-1.0, -2.0]), torch.tensor([-3.0, -1.0])
    ref_chosen, ref_rejected = torch.tensor([-2.0, -2.0]), torch.tensor([-2.0, -2.0])
    loss, r_chosen, r_rejected = dpo_loss(chosen, rejected, ref_chosen, ref_rejected, beta=0.5)
    assert r_chosen.tolist() == [0.5, 0.0] and r_rejected.tolist() == [-0.5, 0.5]
    by_hand = (-math.log(1 / (1 + math.exp(-1.0))) - math.log(1 / (1 + math.exp(0.5)))) / 2
    assert loss.item() == pytest.approx(by_hand)
    # the policy equal to the reference: every reward 0, loss ln 2
    same, _, _ = dpo_loss(chosen, rejected, chosen, rejected)
    assert same.item() == pytest.approx(math.log(2))
    assert sft_loss(torch.tensor([-2.0, -4.0]), torch.tensor([1, 3])).item() == 1.5


def test_a_little_dpo_widens_the_margin_on_its_pairs():
    tuned = assistant(device=CPU)
    model = copy.deepcopy(tuned.model)
    torch.manual_seed(0)
    train_dpo(model, tuned.tokenizer, DPOConfig(steps=10, batch_size=8), log=lambda _: None)
    pairs = preference_pairs()[::10]
    before = evaluate_pairs(tuned.model, tuned.model, tuned.tokenizer, pairs)
    after = evaluate_pairs(model, tuned.model, tuned.tokenizer, pairs)
    assert before == {"preference_accuracy": 0.0, "reward_margin": 0.0}
    assert after["reward_margin"] > 0.2 and after["preference_accuracy"] > 0.5
    # the reference stayed frozen
    for a, b in zip(tuned.model.parameters(), assistant(device=CPU).model.parameters()):
        assert torch.equal(a, b)


def test_the_shipped_dpo_model_is_concise_where_the_tuned_one_was_verbose():
    rows = instruction_data(held_out=True)[::4]          # 64 questions
    sft, dpo = assistant(device=CPU), preferred(device=CPU)
    before = evaluate(sft.model, sft.tokenizer, rows)
    after = evaluate(dpo.model, dpo.tokenizer, rows)
    assert before["verbose"] >= 0.3 and after["verbose"] <= 0.1
    assert after["words"] < before["words"] and after["accuracy"] >= 0.85
    pairs = evaluate_pairs(dpo.model, sft.model, dpo.tokenizer, preference_pairs(held_out=True))
    assert pairs["preference_accuracy"] >= 0.9 and pairs["reward_margin"] > 0


def test_trl_computes_the_same_loss_on_the_exported_models():
    """Up to float32 rounding: TRL's default bf16=True would run the
    reference in bfloat16 and move the loss by about 7e-5."""
    from genai.llm.preference import trl_dpo_loss

    sft, dpo, config = assistant(device=CPU), preferred(device=CPU), DPOConfig()
    pairs = preference_pairs(held_out=True)[8:20]
    questions, chosen, rejected = zip(*pairs)
    with torch.no_grad():
        chosen_logp, n_chosen = sequence_logp(dpo.model, dpo.tokenizer, questions, chosen)
        ours, _, _ = dpo_loss(chosen_logp, sequence_logp(dpo.model, dpo.tokenizer, questions, rejected)[0],
                              sequence_logp(sft.model, dpo.tokenizer, questions, chosen)[0],
                              sequence_logp(sft.model, dpo.tokenizer, questions, rejected)[0], config.beta)
        ours = ours + config.sft_weight * sft_loss(chosen_logp, n_chosen)
    assert trl_dpo_loss(dpo.model, sft.model, dpo.tokenizer, pairs, config) == \
        pytest.approx(ours.item(), abs=1e-5)
