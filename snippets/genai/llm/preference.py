"""Preference tuning with DPO: prefer the concise, correct answer.

The instruction-tuned model copied its demonstrations, and two in three of
them said more than was asked. Preference tuning shows it pairs of replies
to the same question, one preferred (chosen) and one not (rejected), and
moves it towards the chosen ones. Direct Preference Optimization (DPO)
does it with one loss on the pairs, against a frozen copy of the model
(the reference): no reward model, no reinforcement learning.

* preference_pairs(): (question, chosen, rejected) triples;
* sequence_logp(...): the log-probability of each reply, summed over its
  tokens;
* dpo_loss(...): the DPO loss, and the implicit rewards;
* train_dpo(...): the loop; evaluate_pairs(...): preference accuracy and
  reward margin on held-out pairs.

    python -m genai.llm.preference
"""

from __future__ import annotations

import copy
import random
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from genai import store
from genai.device import get_device
from genai.llm.corpora import CAPITALS
from genai.llm.gpt import GPT
from genai.llm.instruct import END, IGNORE
from genai.llm.instruct import RECIPE as ASSISTANT
from genai.llm.instruct import (REFUSAL, Assistant, answer, batch_tensors,
                                evaluate, instruction_data, sft_example)


# --8<-- [start:pairs]
def preference_pairs(held_out: bool = False, seed: int = 0
                     ) -> list[tuple[str, str, str]]:
    """(question, chosen, rejected) for every question of the instruction
    data: the concise right answer is chosen over the same answer with a
    sentence nobody asked for, over a wrong city, or over a needless
    "I don't know."; for a made-up country, "I don't know." is chosen over
    a real capital given as if it were the answer."""
    rng = random.Random(seed)
    cities = list(CAPITALS.values())
    pairs = []
    for i, (question, _, kind) in enumerate(
            instruction_data(held_out=held_out)):
        if kind == "unknown":
            pairs.append((question, REFUSAL, rng.choice(cities) + "."))
            continue
        wrong = rng.choice([c for c in cities if c != CAPITALS[kind]])
        rejected = [answer(kind, verbose=True), wrong + ".", REFUSAL][i % 3]
        pairs.append((question, answer(kind), rejected))
    return pairs
# --8<-- [end:pairs]


# --8<-- [start:logp]
def sequence_logp(model: GPT, tokenizer, questions, replies
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """(log p(reply | question), the reply's length in tokens) for each
    pair: the sum, over the reply's tokens and its <|end|>, of each
    token's log-probability."""
    examples = [sft_example(tokenizer, q, r) for q, r in zip(questions,
                                                              replies)]
    device = next(model.parameters()).device
    ids, targets = batch_tensors(examples, tokenizer.special_tokens[END],
                                 device)
    logits, _ = model(ids)
    counted = targets != IGNORE
    logp = logits.log_softmax(-1).gather(
        -1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (logp * counted).sum(-1), counted.sum(-1)
# --8<-- [end:logp]


# --8<-- [start:loss]
def dpo_loss(policy_chosen, policy_rejected, reference_chosen,
             reference_rejected, beta: float = 0.1):
    """The DPO loss (Rafailov et al., 2023), and the implicit rewards
    beta * log(pi / pi_ref) of the chosen and rejected replies."""
    chosen = beta * (policy_chosen - reference_chosen)
    rejected = beta * (policy_rejected - reference_rejected)
    loss = -F.logsigmoid(chosen - rejected).mean()
    return loss, chosen.detach(), rejected.detach()


def sft_loss(policy_chosen, chosen_tokens):
    """The mean negative log-likelihood of the chosen replies' tokens: it
    keeps their probability up while DPO widens the gap."""
    return -policy_chosen.sum() / chosen_tokens.sum()
# --8<-- [end:loss]


# --8<-- [start:config]
@dataclass(frozen=True)
class DPOConfig:
    """DPO on the instruction-tuned model: about 20 s on one CPU thread."""
    base: str = "assistant"      # the model to tune (genai.store)
    steps: int = 150
    batch_size: int = 16         # pairs per step
    lr: float = 2e-4
    beta: float = 0.1            # weight of the KL penalty: larger stays closer
    sft_weight: float = 2.0      # the weight of the chosen replies' NLL
    seed: int = 0
# --8<-- [end:config]


# --8<-- [start:train]
def train_dpo(model: GPT, tokenizer, config: DPOConfig, log=print
              ) -> list[float]:
    """Tune model in place on the preference pairs; returns the losses."""
    reference = copy.deepcopy(model).eval()     # frozen: never trained
    for p in reference.parameters():
        p.requires_grad_(False)
    pairs = preference_pairs(seed=config.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr,
                                  weight_decay=0.0)
    rng = random.Random(config.seed)
    losses = []
    model.train()
    for step in range(config.steps):
        questions, chosen, rejected = zip(*rng.sample(pairs,
                                                      config.batch_size))
        with torch.no_grad():
            ref_chosen, _ = sequence_logp(reference, tokenizer, questions,
                                          chosen)
            ref_rejected, _ = sequence_logp(reference, tokenizer, questions,
                                            rejected)
        logp_chosen, n_chosen = sequence_logp(model, tokenizer, questions,
                                              chosen)
        logp_rejected, _ = sequence_logp(model, tokenizer, questions,
                                         rejected)
        loss, _, _ = dpo_loss(logp_chosen, logp_rejected, ref_chosen,
                              ref_rejected, config.beta)
        loss = loss + config.sft_weight * sft_loss(logp_chosen, n_chosen)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if step % 50 == 0 or step == config.steps - 1:
            log(f"step {step:4d}  loss {loss.item():.3f}")
    model.eval()
    return losses
# --8<-- [end:train]


# --8<-- [start:evaluate]
@torch.no_grad()
def evaluate_pairs(model: GPT, reference: GPT, tokenizer, pairs,
                   beta: float = 0.1) -> dict:
    """Preference accuracy (the chosen reply's reward is the higher) and
    the mean reward margin, over (question, chosen, rejected) pairs."""
    questions, chosen, rejected = zip(*pairs)
    _, r_chosen, r_rejected = dpo_loss(
        sequence_logp(model, tokenizer, questions, chosen)[0],
        sequence_logp(model, tokenizer, questions, rejected)[0],
        sequence_logp(reference, tokenizer, questions, chosen)[0],
        sequence_logp(reference, tokenizer, questions, rejected)[0], beta)
    return {"preference_accuracy": (r_chosen > r_rejected).float().mean()
            .item(),
            "reward_margin": (r_chosen - r_rejected).mean().item()}
# --8<-- [end:evaluate]


# --8<-- [start:trl]
def trl_dpo_loss(policy: GPT, reference: GPT, tokenizer, pairs,
                 config: DPOConfig = DPOConfig()) -> float:
    """The same loss (DPO plus the chosen replies' NLL) on the same pairs,
    computed by Hugging Face TRL's DPOTrainer on the exported models."""
    import tempfile
    from pathlib import Path

    import trl
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from genai.llm.hf_export import export_hf
    from genai.llm.instruct import chat_text

    with tempfile.TemporaryDirectory() as tmp:
        folders = [export_hf(model, tokenizer, Path(tmp) / name)
                   for model, name in ((policy, "policy"),
                                       (reference, "reference"))]
        hf_policy, hf_reference = (AutoModelForCausalLM.from_pretrained(f)
                                   for f in folders)
        hf_tokenizer = AutoTokenizer.from_pretrained(folders[0])
        # TRL adds the tokenizer's end token, <|end|>, after each reply
        data = Dataset.from_list([
            {"prompt": chat_text([{"role": "user", "content": q}]),
             "chosen": chosen, "rejected": rejected}
            for q, chosen, rejected in pairs])
        args = trl.DPOConfig(
            output_dir=str(Path(tmp) / "out"), beta=config.beta,
            loss_type=["sigmoid", "sft"],
            loss_weights=[1.0, config.sft_weight],
            per_device_train_batch_size=len(pairs), report_to=[],
            use_cpu=True, max_length=None,
            bf16=False)   # TRL's default runs the reference in bfloat16
        trainer = trl.DPOTrainer(model=hf_policy, ref_model=hf_reference,
                                 args=args, train_dataset=data,
                                 processing_class=hf_tokenizer)
        batch = next(iter(trainer.get_train_dataloader()))
        with torch.no_grad():
            return trainer.compute_loss(hf_policy.eval(), batch).item()
# --8<-- [end:trl]


# ---------------------------------------------------------------------------
# The reference model (genai.store)
# ---------------------------------------------------------------------------
def preference_tune(config: DPOConfig = DPOConfig(), device=None,
                    log=print) -> Assistant:
    """The instruction-tuned model, tuned further with DPO."""
    tuned = store.load(config.base, device=device or get_device())
    model = copy.deepcopy(tuned.model)
    start = time.process_time()
    losses = train_dpo(model, tuned.tokenizer, config, log)
    return Assistant(model, tuned.tokenizer, losses,
                     time.process_time() - start)


def preferred(device=None, log=None) -> Assistant:
    """The DPO-tuned assistant that the course ships."""
    return store.load("dpo", device=device, log=log)


def _train(config: DPOConfig, checkpoint, log) -> Assistant:
    return preference_tune(config, torch.device("cpu"), log)


def _build(config: DPOConfig, tensors, data, device) -> Assistant:
    recipe = store.recipe(config.base)
    return recipe.build(recipe.config, tensors, data, device)


def _quality(tuned: Assistant) -> dict:
    reference = store.load(DPOConfig.base, device=torch.device("cpu")).model
    pairs = evaluate_pairs(tuned.model.cpu(), reference, tuned.tokenizer,
                           preference_pairs(held_out=True))
    scores = evaluate(tuned.model, tuned.tokenizer,
                      instruction_data(held_out=True))
    return {**pairs, **{k: v for k, v in scores.items() if k != "n"}}


# 90% of held-out pairs preferred the right way; at most one reply in ten
# verbose (about half were before); at least 85% of the answers still right
# (DPO costs a few points of the tuned model's 96%)
BARS = (store.Bar("preference_accuracy", ">=", 0.90),
        store.Bar("verbose", "<=", 0.10),
        store.Bar("accuracy", ">=", 0.85))


RECIPE = store.Recipe(
    "dpo", "the instruction-tuned assistant, preference-tuned with DPO",
    DPOConfig(), bases=("assistant",),
    # saved and summed up as the instruction-tuned model is
    train=_train, save=ASSISTANT.save, build=_build, losses=ASSISTANT.losses,
    quality=_quality, bars=BARS)


if __name__ == "__main__":
    from genai.cli import demo_arguments

    demo_arguments(__doc__)   # --help says what the demo does
    tuned = preferred(device=torch.device("cpu"))
    print(evaluate(tuned.model, tuned.tokenizer,
                   instruction_data(held_out=True)))
