"""In-context learning with a tiny GPT: a secret code it has never seen.

Every training sequence uses its own random code: a table that gives each
of the letters a-h a digit 0-7. The sequence first shows some examples of
the code, each one token such as "c5" (in this sequence, c stands for 5),
then asks for letters, and the model must answer with their digits. The
code is new in every sequence, so the answers can only come from the
examples in the context.

At test time the codes come from a held-out quarter of all possible tables
that training never draws (see is_held_out), and the prompts hold k = 0, 1,
2, 4 or 8 examples before the query letter.

    python -m genai.llm.in_context
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass

import torch

from genai import store
from genai.device import get_device, one_thread
from genai.llm.gpt import GPT, GPTConfig
from genai.llm.train import lr_at


class ICLError(ValueError):
    """A prompt or a setting that the in-context experiment cannot use."""


# --8<-- [start:vocabulary]
LETTERS = "abcdefgh"
DIGITS = "01234567"
N = len(LETTERS)      # 8 letters and 8 digits: a guess is right 1 time in 8
# 80 tokens: the letters (ids 0-7), the digits (8-15), and every example
# "a0", "a1", ..., "h7" (16-79), each one token, as a word can be
VOCAB = ([*LETTERS] + [*DIGITS]
         + [letter + digit for letter in LETTERS for digit in DIGITS])


def example_token(letter, digit):
    """The id of the example token "letter digit" (ids or tensors)."""
    return 2 * N + N * letter + digit


def is_held_out(code: list[int]) -> bool:
    """True for about a quarter of all 8**8 codes: those whose CRC-32
    checksum is divisible by 4. Training never uses them; tests only do."""
    return zlib.crc32(bytes(code)) % 4 == 0


def draw_codes(n: int, generator: torch.Generator,
               held_out: bool = False) -> torch.Tensor:
    """n random codes (n, 8): code[i] is the digit of letter i. Codes on
    the wrong side of the split are thrown away and drawn again."""
    codes = torch.empty(0, N, dtype=torch.long)
    while len(codes) < n:
        candidates = torch.randint(N, (n, N), generator=generator)
        keep = [is_held_out(c) == held_out for c in candidates.tolist()]
        codes = torch.cat([codes, candidates[torch.tensor(keep)]])
    return codes[:n]
# --8<-- [end:vocabulary]


# --8<-- [start:config]
@dataclass(frozen=True)
class ICLConfig:
    """The network, the data and the training; the checkpoint stores it."""
    block_size: int = 16      # tokens per training sequence
    n_layer: int = 2
    n_head: int = 1
    n_embd: int = 64
    batch_size: int = 64
    steps: int = 800
    lr: float = 3e-3          # the peak, after a linear warm-up
    min_lr: float = 0.0       # the end of the cosine decay
    warmup_steps: int = 50
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    seed: int = 0

    def gpt_config(self) -> GPTConfig:
        return GPTConfig(vocab_size=len(VOCAB), block_size=self.block_size,
                         n_layer=self.n_layer, n_head=self.n_head,
                         n_embd=self.n_embd, dropout=0.0)


ICL = ICLConfig()
# --8<-- [end:config]


# --8<-- [start:data]
def training_batch(config: ICLConfig, generator: torch.Generator):
    """Token ids x (B, block_size) and targets y (B, block_size).

    Each sequence shows n examples with different letters (n is 0 to 8),
    then asks for random letters until the sequence is full. The target
    after a query letter is its digit; after an example there is nothing
    to predict (-100: the loss skips it). A query whose letter was not
    shown has no knowable answer: the model learns to spread its bets.
    """
    B, T = config.batch_size, config.block_size
    codes = draw_codes(B, generator)                       # (B, 8)
    n = torch.randint(0, N + 1, (B, 1), generator=generator)
    order = torch.rand(B, N, generator=generator).argsort(dim=1)
    examples = torch.zeros(B, T, dtype=torch.long)
    examples[:, :N] = example_token(order, codes.gather(1, order))
    queries = torch.randint(N, (B, T), generator=generator)   # any letter
    shown = torch.arange(T) < n              # (B, T): an example here
    x = torch.where(shown, examples, queries)
    y = torch.where(shown, -100, codes.gather(1, queries) + N)
    return x, y


def few_shot_prompts(k: int, n: int, generator: torch.Generator,
                     config: ICLConfig = ICL):
    """n test prompts from held-out codes: k examples with different
    letters, then a query letter drawn from all 8. Returns the prompts
    (n, k + 1), the right digits' ids (n,), and whether the query letter
    was among the examples (n,)."""
    most = min(N, config.block_size - 1)
    if not 0 <= k <= most:
        raise ICLError(f"k={k} examples: choose 0 to {most} (there are "
                       f"{N} letters, and the context window holds "
                       f"{config.block_size} tokens with the query)")
    codes = draw_codes(n, generator, held_out=True)
    order = torch.rand(n, N, generator=generator).argsort(dim=1)[:, :k]
    query = torch.randint(N, (n, 1), generator=generator)
    examples = example_token(order, codes.gather(1, order))
    prompts = torch.cat([examples, query], dim=1)
    answers = codes.gather(1, query)[:, 0] + N
    return prompts, answers, (order == query).any(dim=1)
# --8<-- [end:data]


def to_text(ids) -> str:
    """Token ids as text, one token per word: "c5 a2 c"."""
    return " ".join(VOCAB[i] for i in torch.as_tensor(ids).tolist())


# --8<-- [start:train]
@one_thread
def train_icl(config: ICLConfig = ICL, device=None, log=print):
    """A GPT trained on config.steps batches of fresh random codes.
    Returns the model (eval mode) and the loss of every step."""
    device = device or get_device()
    torch.manual_seed(config.seed)                 # the initial weights
    model = GPT(config.gpt_config()).to(device)
    optimizer = model.configure_optimizer(config.lr, config.weight_decay)
    rng = torch.Generator().manual_seed(config.seed)   # every batch
    losses = []
    for step in range(config.steps):
        for group in optimizer.param_groups:     # genai.llm.train's schedule
            group["lr"] = lr_at(step, config)
        x, y = training_batch(config, rng)
        _, loss = model(x.to(device), y.to(device))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
        if (step + 1) % 100 == 0:
            log(f"step {step + 1}: loss {loss.item():.3f}")
    return model.eval(), losses
# --8<-- [end:train]


# --8<-- [start:pretrained]
def pretrained_icl(device=None, config: ICLConfig = ICL, log=None):
    """The trained model (eval mode), with .losses (one per step) and
    .cpu_seconds: the reference shipped with the course, or, for another
    configuration or changed code, trained once and kept in
    ~/.cache/genai-course/ (see genai.store)."""
    return store.load("icl", config=config, device=device, log=log)
# --8<-- [end:pretrained]


def _train(config: ICLConfig, checkpoint, log):
    start = time.process_time()
    model, losses = train_icl(config, torch.device("cpu"), log=log)
    model.losses, model.cpu_seconds = losses, time.process_time() - start
    return model


def _save(model: GPT):
    return model.state_dict(), {"losses": model.losses}


def _build(config: ICLConfig, tensors, data, device) -> GPT:
    model = GPT(config.gpt_config())
    model.load_state_dict(tensors)
    model.losses = data["losses"]
    model.cpu_seconds = data.get("cpu_seconds", 0.0)
    return model.to(device or get_device()).eval()


def _losses(model: GPT) -> dict:
    return {"last_50_steps": sum(model.losses[-50:]) / 50}


def _quality(model: GPT) -> dict:
    return {f"accuracy_k{row['k']}": row["accuracy"]
            for row in accuracy_by_k(model)}


# --8<-- [start:evaluate]
def ideal_accuracy(k: int) -> float:
    """A perfect reader of the examples: right when the query letter was
    shown (k of 8 letters), a 1-in-8 guess otherwise."""
    return k / N + (1 - k / N) / N


@torch.no_grad()
def accuracy_by_k(model: GPT, ks=(0, 1, 2, 4, 8), n: int = 2000,
                  seed: int = 1) -> list[dict]:
    """Top-1 accuracy of the greedy answer for each number of examples k,
    on n prompts from held-out codes."""
    device = next(model.parameters()).device
    rows = []
    for k in ks:
        rng = torch.Generator().manual_seed(seed + k)
        prompts, answers, seen = few_shot_prompts(k, n, rng)
        logits, _ = model(prompts.to(device))
        right = (logits[:, -1].argmax(-1).cpu() == answers).float()
        rows.append({"k": k, "accuracy": right.mean().item(),
                     "ideal": ideal_accuracy(k),
                     "shown": right[seen].mean().item() if k else None})
    return rows
# --8<-- [end:evaluate]


# --8<-- [start:complete]
def encode_prompt(prompt: str, config: ICLConfig = ICL) -> list[int]:
    """ "c5 a2 c" -> token ids: examples, then one query letter."""
    words = prompt.split()
    unknown = [w for w in words if w not in VOCAB]
    if unknown:
        raise ICLError(f"unknown tokens {unknown}: use examples a0 to h7, "
                       f"then a letter a to h")
    if not words or words[-1] not in LETTERS or any(
            len(w) != 2 for w in words[:-1]):
        raise ICLError(f"{prompt!r}: write examples, then one query "
                       f"letter, e.g. 'c5 a2 c'")
    if len(words) > config.block_size:
        raise ICLError(f"{prompt!r} has {len(words)} tokens; the context "
                       f"window holds {config.block_size}")
    return [VOCAB.index(w) for w in words]


@torch.no_grad()
def complete(model: GPT, prompt: str) -> str:
    """The model's answer to the query letter: its most likely token."""
    ids = torch.tensor([encode_prompt(prompt)],
                       device=next(model.parameters()).device)
    logits, _ = model(ids)
    return VOCAB[int(logits[0, -1].argmax())]
# --8<-- [end:complete]


RECIPE = store.Recipe(
    "icl", "GPT that reads a secret code from the examples in its prompt",
    ICL, train=_train,
    save=_save, build=_build, losses=_losses, quality=_quality,
    # within 3 points of a perfect reader of the examples, for every k
    bars=tuple(store.Bar(f"accuracy_k{k}", ">=", ideal_accuracy(k) - 0.03)
               for k in (0, 1, 2, 4, 8)))


if __name__ == "__main__":
    from genai.cli import demo_arguments

    demo_arguments(__doc__)   # --help says what the demo does
    model = pretrained_icl()
    print(f"a GPT with {model.num_params():,} parameters, trained for "
          f"{ICL.steps} steps ({model.cpu_seconds:.0f} s of CPU time)")
    for prompt in ("b3 c", "b3 c6 b", "a1 e5 h0 d4 f2 g7 a"):
        print(f"{prompt!r} -> {complete(model, prompt)}")
    print(" k  accuracy  ideal   (held-out codes; chance 12.5%)")
    for row in accuracy_by_k(model, n=500):
        print(f"{row['k']:2d}  {row['accuracy']:7.1%}  {row['ideal']:6.1%}")
