"""LoRA: fine-tune a few low-rank matrices instead of the whole model.

Full fine-tuning changes every weight, so each tuned model is a full copy,
and training keeps gradients and optimizer state for all of them. LoRA
(Hu et al., 2021) freezes the pretrained weights and learns, beside each
chosen Linear layer W, a low-rank update B @ A: the layer computes
W x + (alpha / r) B A x, with A of shape (r, in) and B of shape (out, r).
B starts at zero, so tuning starts from the pretrained model exactly.

* LoRALinear: a frozen Linear layer with a trainable low-rank update;
* add_lora(model, rank): the model with adapters on its attention and MLP
  layers, everything else frozen;
* train_rows(model, rows): a few rows of the (tied) token embedding
  trainable too: the tokens that the replies use;
* merge_lora(model): everything folded back into the weights, so that the
  tuned model is a plain GPT again, as fast as before;
* lora_tune(config): the instruction tuning of genai.llm.instruct, with
  LoRA; the reference model "lora" ships the adapters only.

    python -m genai.llm.lora
"""

from __future__ import annotations

import copy
import hashlib
import math
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from genai import store
from genai.device import get_device
from genai.llm.gpt import GPT
from genai.llm.instruct import CHAT_TOKENS, END
from genai.llm.instruct import RECIPE as ASSISTANT
from genai.llm.instruct import (Assistant, TuneConfig, evaluate,
                                instruction_data, tune, with_chat_tokens)


class LoRAError(ValueError):
    """Adapters that cannot be added or merged."""


# --8<-- [start:layer]
class LoRALinear(nn.Module):
    """base(x) + (alpha / rank) * B(A(x)), with base frozen."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float):
        super().__init__()
        if not 1 <= rank <= min(base.in_features, base.out_features):
            raise LoRAError(f"rank must be between 1 and "
                            f"{min(base.in_features, base.out_features)}, "
                            f"got {rank}")
        self.base = base.requires_grad_(False)
        self.scale = alpha / rank
        like = {"device": base.weight.device, "dtype": base.weight.dtype}
        # A starts random, as nn.Linear would; B at zero, so B @ A = 0
        self.A = nn.Parameter(torch.empty(rank, base.in_features, **like))
        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))
        self.B = nn.Parameter(torch.zeros(base.out_features, rank, **like))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + self.scale * (x @ self.A.T @ self.B.T)

    def merged(self) -> nn.Linear:
        """A plain Linear layer with W + (alpha / rank) B A as its weight."""
        layer = copy.deepcopy(self.base)
        with torch.no_grad():
            layer.weight += self.scale * self.B @ self.A
        return layer.requires_grad_(True)
# --8<-- [end:layer]


# --8<-- [start:add]
TARGETS = ("c_attn", "c_proj", "c_fc")   # attention and MLP, every block


def block_layers(model: GPT):
    """(parent, name, layer) for each layer of the blocks' attention and
    MLP: setattr(parent, name, new) replaces one."""
    for block in model.transformer.h:
        for parent in (block.attn, block.mlp):
            for name, layer in list(parent.named_children()):
                yield parent, name, layer


def add_lora(model: GPT, rank: int = 2, alpha: float = 8.0,
             targets=TARGETS) -> GPT:
    """Freeze model and wrap each of its Linear layers named in targets in
    a LoRALinear (in place; returns model). It freezes everything else:
    call it first, then train_rows."""
    model.requires_grad_(False)
    wrapped = 0
    for parent, name, layer in list(block_layers(model)):
        if name in targets and isinstance(layer, nn.Linear):
            setattr(parent, name, LoRALinear(layer, rank, alpha))
            wrapped += 1
    if not wrapped:
        raise LoRAError(f"the model has no Linear layer named "
                        f"{', '.join(targets)}")
    return model
# --8<-- [end:add]


# --8<-- [start:rows]
class TokenRows(nn.Module):
    """The frozen token embedding, plus a trainable change to some rows.

    The embedding is tied: the same matrix reads tokens in (wte) and
    scores them out (lm_head), so both use table(), the matrix with the
    change added to the chosen rows.
    """

    def __init__(self, weight: nn.Parameter, rows):
        super().__init__()
        self.weight = weight.requires_grad_(False)
        self.register_buffer("rows", torch.tensor(sorted(set(rows)),
                                                  device=weight.device))
        self.delta = nn.Parameter(torch.zeros(len(self.rows), weight.size(1),
                                              device=weight.device))

    def table(self) -> torch.Tensor:
        return self.weight.index_add(0, self.rows, self.delta)


class RowsEmbedding(nn.Module):        # stands in for transformer.wte
    def __init__(self, rows: TokenRows):
        super().__init__()
        self.token_rows = rows

    def forward(self, idx):
        return F.embedding(idx, self.token_rows.table())


class RowsHead(nn.Module):             # stands in for lm_head
    def __init__(self, rows: TokenRows):
        super().__init__()
        self.token_rows = rows

    def forward(self, x):
        return F.linear(x, self.token_rows.table())


def train_rows(model: GPT, rows) -> GPT:
    """Make the given rows of model's tied token embedding trainable (in
    place; returns model)."""
    if model.transformer.wte.weight is not model.lm_head.weight:
        raise LoRAError("train_rows needs a tied embedding (wte and "
                        "lm_head sharing one matrix)")
    rows = sorted(set(rows))
    if not rows or not 0 <= rows[0] <= rows[-1] < model.config.vocab_size:
        raise LoRAError(f"rows must be token ids from 0 to "
                        f"{model.config.vocab_size - 1}")
    token_rows = TokenRows(model.lm_head.weight, rows)
    model.transformer.wte = RowsEmbedding(token_rows)
    model.lm_head = RowsHead(token_rows)
    return model


def new_and_reply_rows(tokenizer, examples,
                       replies: bool = True) -> list[int]:
    """The rows to train: the chat tokens, which are new, and (replies)
    the tokens that the replies of (question, reply, kind) examples use."""
    rows = {tokenizer.special_tokens[token] for token in CHAT_TOKENS}
    for _, reply, _ in examples if replies else []:
        rows.update(tokenizer.encode(reply + END))
    return sorted(rows)
# --8<-- [end:rows]


# --8<-- [start:merge]
def merge_lora(model: GPT) -> GPT:
    """Fold the adapters and the rows' change into the weights (in place):
    the result is a plain GPT, with nothing extra to compute."""
    for parent, name, layer in list(block_layers(model)):
        if isinstance(layer, LoRALinear):
            setattr(parent, name, layer.merged())
    if isinstance(model.lm_head, RowsHead):
        with torch.no_grad():
            table = model.lm_head.token_rows.table()
        model.lm_head = nn.Linear(model.config.n_embd,
                                  model.config.vocab_size, bias=False,
                                  device=table.device)
        model.transformer.wte = nn.Embedding(model.config.vocab_size,
                                             model.config.n_embd,
                                             device=table.device)
        model.lm_head.weight = nn.Parameter(table)
        model.transformer.wte.weight = model.lm_head.weight     # tied again
    return model.requires_grad_(True)
# --8<-- [end:merge]


# --8<-- [start:count]
def trainable(model: nn.Module) -> int:
    """How many numbers of model train (each shared tensor counted once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def training_bytes(model: nn.Module, optimizer) -> int:
    """Bytes that training keeps between steps: the weights, the gradients
    and the optimizer's state (AdamW: two running averages per trained
    number). Not counted: the activations of each step."""
    tensors = {}
    for p in model.parameters():
        tensors[p.data_ptr()] = p
        if p.grad is not None:
            tensors[p.grad.data_ptr()] = p.grad
    for state in optimizer.state.values():
        for value in state.values():
            if torch.is_tensor(value) and value.dim():
                tensors[value.data_ptr()] = value
    return sum(t.numel() * t.element_size() for t in tensors.values())
# --8<-- [end:count]


# --8<-- [start:config]
@dataclass(frozen=True)
class LoRAConfig:
    """Instruction tuning with LoRA: about 35 s on one CPU thread."""
    base: str = "facts"       # the pretrained model (genai.store)
    rank: int = 2             # 0: no adapters
    alpha: float = 8.0        # the update is scaled by alpha / rank
    rows: str = "chat+replies"   # embedding rows to train: or "chat", ""
    steps: int = 500
    batch_size: int = 32
    lr: float = 5e-3          # adapters start at zero: a higher rate
    verbose_share: float = 2 / 3
    seed: int = 0

    def tune_config(self) -> TuneConfig:
        return TuneConfig(base=self.base, steps=self.steps,
                          batch_size=self.batch_size, lr=self.lr,
                          verbose_share=self.verbose_share, seed=self.seed)
# --8<-- [end:config]


ROWS = ("chat+replies", "chat", "")


# --8<-- [start:lora_model]
def lora_model(config: LoRAConfig = LoRAConfig(), device=None):
    """(model, tokenizer): the base model with the chat tokens, frozen,
    with adapters (and the replies' rows) ready to train."""
    base = store.load(config.base, device=device or get_device())
    model, tokenizer = with_chat_tokens(base.model, base.tokenizer,
                                        config.seed)
    model.requires_grad_(False)
    if config.rank:                         # rank 0: no adapters
        torch.manual_seed(config.seed)      # A's random start
        add_lora(model, config.rank, config.alpha)
    if config.rows not in ROWS:
        raise LoRAError(f"rows must be one of {ROWS}, got {config.rows!r}")
    if config.rows:
        train_rows(model, new_and_reply_rows(
            tokenizer, instruction_data(verbose_share=config.verbose_share,
                                        seed=config.seed),
            replies=config.rows == "chat+replies"))
    if not trainable(model):
        raise LoRAError("nothing to train: rank 0 and no rows")
    return model, tokenizer


def lora_tune(config: LoRAConfig = LoRAConfig(), device=None,
              log=print) -> Assistant:
    """Instruction tuning (genai.llm.instruct.tune), training only the
    adapters and the rows."""
    model, tokenizer = lora_model(config, device)
    start = time.process_time()
    losses = tune(model, tokenizer, config.tune_config(), log=log)
    return Assistant(model, tokenizer, losses, time.process_time() - start)
# --8<-- [end:lora_model]


# --8<-- [start:peft]
def peft_lora(model: GPT, tokenizer, config: LoRAConfig = LoRAConfig()):
    """The same LoRA with Hugging Face's peft, on the model exported to a
    GPT2LMHeadModel: the same layers, rank, alpha and embedding rows."""
    import peft

    from genai.llm.hf_export import EOT, hf_model

    hf = hf_model(model, tokenizer.special_tokens[EOT],
                  tokenizer.special_tokens[END])
    rows = new_and_reply_rows(tokenizer, instruction_data(
        verbose_share=config.verbose_share, seed=config.seed),
        replies=config.rows == "chat+replies") if config.rows else None
    settings = peft.LoraConfig(
        r=config.rank, lora_alpha=config.alpha, lora_dropout=0.0,
        target_modules=list(TARGETS),
        fan_in_fan_out=True,     # GPT-2's Conv1D stores W as (in, out)
        trainable_token_indices=rows)
    return peft.get_peft_model(hf, settings)
# --8<-- [end:peft]


def adapted(device=None, log=None) -> Assistant:
    """The LoRA-tuned assistant that the course ships (not merged)."""
    return store.load("lora", device=device, log=log)


# ---------------------------------------------------------------------------
# The reference model (genai.store): the adapters and rows only
# ---------------------------------------------------------------------------
def _train(config: LoRAConfig, checkpoint, log) -> Assistant:
    return lora_tune(config, torch.device("cpu"), log)


def _save(tuned: Assistant):
    tensors = {name: p.detach().clone() for name, p in
               tuned.model.named_parameters() if p.requires_grad}
    return tensors, {"losses": tuned.losses}


def _build(config: LoRAConfig, tensors, data, device) -> Assistant:
    # the file holds the change only: the store checks that the base is
    # the one it was trained on (its manifest's "bases")
    model, tokenizer = lora_model(config, device)
    wanted = {name: p.shape for name, p in model.named_parameters()
              if p.requires_grad}
    found = {name: t.shape for name, t in tensors.items()}
    wrong = [f"{name}: saved {found.get(name)}, the model {wanted.get(name)}"
             for name in sorted(set(found) | set(wanted))
             if found.get(name) != wanted.get(name)]
    if wrong:
        raise store.StoreError("the saved adapters do not fit the model: "
                               + "; ".join(wrong))
    model.load_state_dict(tensors, strict=False)
    return Assistant(model.eval(), tokenizer, data["losses"],
                     data.get("cpu_seconds", 0.0))


def _quality(tuned: Assistant) -> dict:
    """The instruction-tuned model's figures, and the share trained."""
    frozen = sum(p.numel() for p in tuned.model.parameters()
                 if not p.requires_grad)
    return {**ASSISTANT.quality(tuned),
            "trained_share": trainable(tuned.model) / frozen}


BARS = (
    store.Bar("trained_share", "<=", 0.05, why="of the model's numbers trained"),
    store.Bar("accuracy", ">=", -0.05, against="assistant",
              why="within 5 points of full fine-tuning, the shipped assistant"),
    store.Bar("ended", ">=", 0.95),
)


RECIPE = store.Recipe(
    "lora", "the facts GPT, instruction-tuned with LoRA adapters",
    LoRAConfig(), bases=("facts",),
    train=_train, save=_save, build=_build, losses=ASSISTANT.losses,
    quality=_quality, bars=BARS)


if __name__ == "__main__":
    from genai.cli import demo_arguments

    demo_arguments(__doc__)   # --help says what the demo does
    tuned = adapted(device=torch.device("cpu"))
    total = sum(p.numel() for p in tuned.model.parameters())
    print(f"{trainable(tuned.model):,} of {total:,} numbers trained")
    print(evaluate(tuned.model, tuned.tokenizer,
                   instruction_data(held_out=True)))
