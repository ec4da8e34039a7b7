"""Build a GPT up one idea at a time, and measure what each idea buys.

Every stage is a language model over the characters of the course's
stories, trained by the same short loop with the same budget and the same
seed, so that the validation losses compare the ideas and nothing else:

    bigram -> one attention head -> several heads -> an MLP -> residual
    connections -> LayerNorm -> the full GPT (a final LayerNorm, tied
    embeddings, GPT-2's initialisation)

The last stage computes exactly what genai.llm.gpt.GPT computes: as_gpt()
copies its weights into one, and the outputs are the same.

    python -m genai.llm.buildup        # every stage: validation loss, a sample
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from genai import store
from genai.llm.corpora import story_corpus
from genai.llm.gpt import GPT, GPTConfig
from genai.llm.tokenizer import CharTokenizer

# the budget every stage gets
BLOCK_SIZE = 32       # characters of context
BATCH_SIZE = 32       # windows per step
STEPS = 500           # optimiser steps
LR = 3e-3             # AdamW's learning rate, constant
N_EMBD = 64           # width of every token's vector
N_HEAD = 4            # heads, from the multi-head stage on
SEED = 0


# --8<-- [start:data]
def stories_data(n_stories: int = 1000):
    """The stories at character level: (tokenizer, train ids, validation ids),
    the first 90% of the characters for training, the last 10% to measure."""
    text = story_corpus(n_stories=n_stories)
    tokenizer = CharTokenizer.train(text)
    data = torch.tensor(tokenizer.encode(text))
    n_train = int(0.9 * len(data))
    return tokenizer, data[:n_train], data[n_train:]


def batch(data: torch.Tensor, generator: torch.Generator):
    """BATCH_SIZE random windows: inputs x (B, T) and targets y, x shifted by
    one: at every position the target is the next character."""
    starts = torch.randint(len(data) - BLOCK_SIZE, (BATCH_SIZE,),
                           generator=generator)
    x = torch.stack([data[i:i + BLOCK_SIZE] for i in starts])
    y = torch.stack([data[i + 1:i + 1 + BLOCK_SIZE] for i in starts])
    return x, y
# --8<-- [end:data]


# --8<-- [start:bigram]
class Bigram(nn.Module):
    """Stage 1: the next character from the current one alone. Row a of the
    table holds the scores (logits) of every character that may follow a."""

    def __init__(self, vocab_size: int):
        super().__init__()
        self.table = nn.Embedding(vocab_size, vocab_size)

    def forward(self, idx, targets=None):
        logits = self.table(idx)                     # (B, T, V)
        return logits, next_token_loss(logits, targets)


def next_token_loss(logits, targets):
    """Mean cross-entropy of the true next tokens (None without targets)."""
    if targets is None:
        return None
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten())
# --8<-- [end:bigram]


# --8<-- [start:head]
class Head(nn.Module):
    """One head of causal self-attention: every position asks a question
    (query), offers a description (key) and a message (value); it reads
    the messages of the earlier positions, weighted by how well their keys
    answer its query."""

    def __init__(self, n_embd: int, head_size: int):
        super().__init__()
        self.query = nn.Linear(n_embd, head_size)    # W_Q
        self.key = nn.Linear(n_embd, head_size)      # W_K
        self.value = nn.Linear(n_embd, head_size)    # W_V

    def forward(self, x):                            # x: (B, T, C)
        q, k, v = self.query(x), self.key(x), self.value(x)   # (B, T, h)
        # how well each key answers each query, scaled by sqrt(h)
        scores = q @ k.transpose(-2, -1) / math.sqrt(k.size(-1))  # (B, T, T)
        T = x.size(1)
        earlier = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        scores = scores.masked_fill(~earlier, float("-inf"))  # no peeking
        return scores.softmax(dim=-1) @ v            # (B, T, h)
# --8<-- [end:head]


# --8<-- [start:multihead]
class MultiHead(nn.Module):
    """Several heads side by side, each on its own slice of the width;
    their outputs are concatenated and mixed by one more matrix, W_O."""

    def __init__(self, n_embd: int, n_head: int):
        super().__init__()
        self.heads = nn.ModuleList(Head(n_embd, n_embd // n_head)
                                   for _ in range(n_head))
        self.proj = nn.Linear(n_embd, n_embd)        # W_O

    def forward(self, x):                            # x: (B, T, C)
        return self.proj(torch.cat([head(x) for head in self.heads], dim=-1))
# --8<-- [end:multihead]


# --8<-- [start:mlp]
class FeedForward(nn.Module):
    """The MLP: each position alone, through 4 times the width and back.
    Attention gathers information; this is where each position works on it."""

    def __init__(self, n_embd: int):
        super().__init__()
        self.c_fc = nn.Linear(n_embd, 4 * n_embd)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * n_embd, n_embd)

    def forward(self, x):
        return self.c_proj(self.gelu(self.c_fc(x)))
# --8<-- [end:mlp]


# --8<-- [start:block]
class Block(nn.Module):
    """Attention, then the MLP. With residual=True each adds its result to
    its input (x + f(x)) instead of replacing it; with layer_norm=True each
    reads a normalised copy of x (pre-LN, as in GPT-2)."""

    def __init__(self, n_embd: int, n_head: int, mlp: bool = True,
                 residual: bool = True, layer_norm: bool = True):
        super().__init__()
        norm = nn.LayerNorm if layer_norm else (lambda n: nn.Identity())
        self.ln_1, self.ln_2 = norm(n_embd), norm(n_embd)
        self.attn = (Head(n_embd, n_embd) if n_head == 1
                     else MultiHead(n_embd, n_head))
        self.mlp = FeedForward(n_embd) if mlp else nn.Identity()
        self.residual = residual

    def forward(self, x):
        if self.residual:
            x = x + self.attn(self.ln_1(x))          # tokens talk
            return x + self.mlp(self.ln_2(x))        # each token thinks
        return self.mlp(self.ln_2(self.attn(self.ln_1(x))))
# --8<-- [end:block]


# --8<-- [start:model]
@dataclass(frozen=True)
class Stage:
    """What a stage's model has; each stage adds one thing (the fourth
    adds two: the MLP and a second block)."""
    name: str
    n_head: int = 1              # 1: one head; more: multi-head
    mlp: bool = False            # a feed-forward MLP after attention
    residual: bool = False       # x + f(x) instead of f(x)
    layer_norm: bool = False     # pre-LN inside each block
    n_layer: int = 1             # blocks, one on top of the other
    gpt: bool = False            # final LayerNorm, tied embeddings, GPT-2 init


class Transformer(nn.Module):
    """Token and position embeddings, the stage's blocks, and a head that
    turns every position's vector into scores for the next token."""

    def __init__(self, vocab_size: int, stage: Stage):
        super().__init__()
        self.stage = stage
        self.wte = nn.Embedding(vocab_size, N_EMBD)    # which token
        self.wpe = nn.Embedding(BLOCK_SIZE, N_EMBD)    # where it stands
        self.blocks = nn.ModuleList(
            Block(N_EMBD, stage.n_head, stage.mlp, stage.residual,
                  stage.layer_norm) for _ in range(stage.n_layer))
        self.ln_f = nn.LayerNorm(N_EMBD) if stage.gpt else nn.Identity()
        self.lm_head = nn.Linear(N_EMBD, vocab_size, bias=False)
        if stage.gpt:
            self.wte.weight = self.lm_head.weight      # tied: one matrix
            self.apply(gpt2_init)
            for name, p in self.named_parameters():    # the residual writers
                if name.endswith(("attn.proj.weight", "mlp.c_proj.weight")):
                    nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * stage.n_layer))

    def forward(self, idx, targets=None):              # idx: (B, T)
        T = idx.size(1)
        pos = torch.arange(T, device=idx.device)
        x = self.wte(idx) + self.wpe(pos)              # (B, T, C)
        for block in self.blocks:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))            # (B, T, V)
        return logits, next_token_loss(logits, targets)


def gpt2_init(module):
    """GPT-2's start: small normal weights, zero biases."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)
# --8<-- [end:model]


# --8<-- [start:stages]
STAGES = [
    Stage("bigram"),
    Stage("one head"),
    Stage("multi-head", n_head=N_HEAD),
    Stage("+ MLP", n_head=N_HEAD, mlp=True, n_layer=2),
    Stage("+ residual", n_head=N_HEAD, mlp=True, residual=True, n_layer=2),
    Stage("+ LayerNorm", n_head=N_HEAD, mlp=True, residual=True,
          layer_norm=True, n_layer=2),
    Stage("full GPT", n_head=N_HEAD, mlp=True, residual=True,
          layer_norm=True, n_layer=2, gpt=True),
]


def build(stage: Stage, vocab_size: int) -> nn.Module:
    """The stage's model, with the same seeded start for every run."""
    torch.manual_seed(SEED)
    return Bigram(vocab_size) if stage.name == "bigram" \
        else Transformer(vocab_size, stage)
# --8<-- [end:stages]


# --8<-- [start:train]
def train(model: nn.Module, train_ids, log_every: int = 100, log=print):
    """STEPS steps of AdamW on random batches; the same batches for every
    model (the generator is seeded)."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR)
    rng = torch.Generator().manual_seed(SEED)
    for step in range(1, STEPS + 1):
        x, y = batch(train_ids, rng)                 # a batch ...
        _, loss = model(x, y)                        # ... its loss ...
        optimizer.zero_grad(set_to_none=True)
        loss.backward()                              # ... the gradients ...
        optimizer.step()                             # ... one step down
        if step % log_every == 0:
            log(f"step {step}: loss {loss.item():.2f}")
    return model


@torch.no_grad()
def validation_loss(model: nn.Module, val_ids, batches: int = 20) -> float:
    """Mean loss on the same 20 batches of text that training never saw."""
    model.eval()
    rng = torch.Generator().manual_seed(SEED + 1)
    losses = [model(*batch(val_ids, rng))[1].item() for _ in range(batches)]
    model.train()
    return sum(losses) / batches
# --8<-- [end:train]


@torch.no_grad()
def sample(model: nn.Module, tokenizer, prompt: str = "Once upon a time",
           length: int = 60, seed: int = 0) -> str:
    """length characters after prompt, each drawn from the model's
    probabilities (temperature 1), with a seeded generator."""
    model.eval()
    rng = torch.Generator().manual_seed(seed)
    ids = tokenizer.encode(prompt)
    for _ in range(length):
        logits, _ = model(torch.tensor([ids[-BLOCK_SIZE:]]))
        probs = logits[0, -1].softmax(dim=-1)
        ids.append(int(torch.multinomial(probs, 1, generator=rng)))
    return tokenizer.decode(ids[len(tokenizer.encode(prompt)):])


# --8<-- [start:as_gpt]
def as_gpt(model: Transformer) -> GPT:
    """The full-GPT stage as genai.llm.gpt.GPT, with the same weights: the
    heads' W_Q, W_K, W_V stacked into GPT's c_attn, W_O as its c_proj."""
    stage = model.stage
    gpt = GPT(GPTConfig(vocab_size=model.wte.num_embeddings,
                        block_size=BLOCK_SIZE, n_layer=stage.n_layer,
                        n_head=stage.n_head, n_embd=N_EMBD))
    state = {"transformer.wte.weight": model.wte.weight,
             "transformer.wpe.weight": model.wpe.weight,
             "transformer.ln_f.weight": model.ln_f.weight,
             "transformer.ln_f.bias": model.ln_f.bias,
             "lm_head.weight": model.lm_head.weight}
    for i, block in enumerate(model.blocks):
        heads = block.attn.heads
        qkv = [getattr(h, part) for part in ("query", "key", "value")
               for h in heads]                       # Q of every head, K, V
        prefix = f"transformer.h.{i}."
        state[prefix + "attn.c_attn.weight"] = torch.cat(
            [linear.weight for linear in qkv])
        state[prefix + "attn.c_attn.bias"] = torch.cat(
            [linear.bias for linear in qkv])
        for ours, theirs in (("attn.proj", "attn.c_proj"),
                             ("mlp.c_fc", "mlp.c_fc"),
                             ("mlp.c_proj", "mlp.c_proj"),
                             ("ln_1", "ln_1"), ("ln_2", "ln_2")):
            layer = block.get_submodule(ours)
            state[prefix + theirs + ".weight"] = layer.weight
            state[prefix + theirs + ".bias"] = layer.bias
    gpt.load_state_dict(state)
    return gpt.eval()
# --8<-- [end:as_gpt]


# ---------------------------------------------------------------------------
# The seven trained stages, kept as one reference model (genai.store): the
# page's table, samples and figure read them; the page trains them anew too
# ---------------------------------------------------------------------------
def _train_all(config, checkpoint, log):
    tokenizer, train_ids, val_ids = stories_data()
    models = {stage.name: train(build(stage, tokenizer.vocab_size),
                                train_ids, log=lambda text: None)
              for stage in STAGES}
    return {"tokenizer": tokenizer, "models": models,
            "losses": {name: validation_loss(model, val_ids)
                       for name, model in models.items()}}


def _save(trained):
    tensors = {f"{i}.{key}": value for i, stage in enumerate(STAGES)
               for key, value in trained["models"][stage.name]
               .state_dict().items()}
    return tensors, {"tokenizer": trained["tokenizer"].to_dict(),
                     "losses": trained["losses"]}


def _build(config, tensors, data, device):
    tokenizer = CharTokenizer.from_dict(data["tokenizer"])
    models = {}
    for i, stage in enumerate(STAGES):
        model = build(stage, tokenizer.vocab_size)
        model.load_state_dict({key.split(".", 1)[1]: value
                               for key, value in tensors.items()
                               if key.split(".", 1)[0] == str(i)})
        models[stage.name] = model.eval()
    return {"tokenizer": tokenizer, "models": models,     # in STAGES' order
            "losses": {stage.name: data["losses"][stage.name]
                       for stage in STAGES}}


def _quality(trained) -> dict:
    return {_key(name): loss for name, loss in trained["losses"].items()}


def _key(stage_name: str) -> str:
    return stage_name.replace(" ", "_").replace("+_", "plus_")


# each stage within 0.1 of the reference's validation loss, and the full GPT
# well below the bigram
BARS = tuple(store.Bar(_key(stage.name), "within", 0.1, against="reference")
             for stage in STAGES) + (
    store.Bar("full_GPT", "<=", -0.3, against="quality", of="bigram",
              why="clearly better than the bigram"),)


@dataclass(frozen=True)
class BuildupConfig:
    """The budget, for the store's code hash and manifest."""
    block_size: int = BLOCK_SIZE
    batch_size: int = BATCH_SIZE
    steps: int = STEPS
    lr: float = LR
    n_embd: int = N_EMBD
    n_head: int = N_HEAD
    seed: int = SEED


RECIPE = store.Recipe(
    "buildup", "the seven stages of the GPT build-up, trained on the stories",
    BuildupConfig(),
    train=_train_all, save=_save, build=_build,
    losses=lambda trained: {}, quality=_quality, bars=BARS)


def stages() -> dict:
    """The trained stages: {"tokenizer", "models": {name: model},
    "losses": {name: validation loss}} (the reference, see genai.store)."""
    return store.load("buildup")


if __name__ == "__main__":
    from genai.cli import demo_arguments

    demo_arguments(__doc__)   # --help says what the demo does
    trained = stages()
    vocab = trained["tokenizer"].vocab_size
    print(f"{vocab} characters; ln V = {math.log(vocab):.2f}")
    for name, model in trained["models"].items():
        print(f"{name:12s} {trained['losses'][name]:.2f}  "
              f"{sample(model, trained['tokenizer'], length=40)!r}")
