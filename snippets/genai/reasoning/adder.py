"""Reasoning on a laptop: a task with a checkable answer, thinking out loud,
spending compute at answer time, and reinforcement learning from a checker.

The task is addition of two numbers of up to DIGITS digits, written at a
fixed width so that every problem, and every reply, has the same length
(a batch needs no padding):

    direct       00347+00029=000376.
    scratchpad   00347+00029=7+9+0=16,4+2+1=07,3+0+0=03,0+0+0=00,0+0+0=00,000376.

The scratchpad writes the column sums from the right, each with the carry
that comes in and the two digits that come out (carry, digit), and then
the answer. A checker reads the answer and says whether it is right: the
reward needs no model and no person.

The store's models (genai.store):
    adder-direct, adder-scratchpad   the same GPT, the same 700 steps, the
                                     two formats (reasoning/thinking.md)
    adder-sft       adder-scratchpad after 300 more steps on scratchpads of
                    which 60% forget every carry: the start of
                    reinforcement learning
    adder-grpo      adder-sft after 40 steps of GRPO with the checker's
                    reward (reasoning/rl.md)

    python -m genai.reasoning.adder    # each model's scores on 100 held-out sums
"""

from __future__ import annotations

import copy
import math
import random
from collections import Counter
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from genai import store
from genai.llm.gpt import GPT, GPTConfig, KVCache
from genai.llm.tokenizer import CharTokenizer

DIGITS = 5                        # the widest operand
ALPHABET = "0123456789+=,."       # every character a prompt or reply holds
END = "."
DECIMAL = "0123456789"            # str.isdigit() would also accept '٣' and '³'
TOKENIZER = CharTokenizer(sorted(ALPHABET))


class TaskError(ValueError):
    """A problem, reply, reward or setting that the task cannot use."""


# --8<-- [start:task]
def problems(n: int, seed: int = 0, digits: int = DIGITS,
             exclude: set | None = None) -> list[tuple[int, int]]:
    """n problems (a, b), as many with a larger operand of 1, 2, ...,
    digits digits, drawn with a seeded generator; none in exclude."""
    if n < 1 or digits < 1:
        raise TaskError(f"need n >= 1 and digits >= 1, got n={n}, digits={digits}")
    rng, found = random.Random(seed), []
    exclude = exclude or set()
    while len(found) < n:
        size = 1 + len(found) % digits                 # sizes in turn
        a = rng.randrange(10 ** (size - 1) if size > 1 else 0, 10 ** size)
        b = rng.randrange(0, 10 ** size)
        if rng.random() < 0.5:
            a, b = b, a
        if (a, b) not in exclude:
            found.append((a, b))
    return found


def size(problem) -> int:
    """The number of digits of the larger operand: the problem's difficulty."""
    return len(str(max(problem)))


def prompt_text(problem, digits: int = DIGITS) -> str:
    a, b = problem
    if not all(isinstance(x, int) and 0 <= x < 10 ** digits for x in (a, b)):
        raise TaskError(f"{a}+{b}: operands must be whole numbers of at most "
                        f"{digits} digits")
    return f"{a:0{digits}d}+{b:0{digits}d}="


def direct_text(problem, digits: int = DIGITS) -> str:
    """The reply without steps: the sum, digits + 1 wide, then END."""
    return f"{sum(problem):0{digits + 1}d}{END}"


def scratchpad_text(problem, digits: int = DIGITS, forget_carries: bool = False) -> str:
    """The reply with steps: each column from the right as x+y+carry=cd
    (carry out, digit), then the sum the steps give. forget_carries: the
    slip of a hurried pupil, every carry written as 0 (a wrong sum
    whenever a column overflows)."""
    a, b = (f"{x:0{digits}d}" for x in problem)
    steps, carry, answer = [], 0, ""
    for x, y in zip(reversed(a), reversed(b)):
        total = int(x) + int(y) + carry
        steps.append(f"{x}+{y}+{carry}={total:02d}")
        answer = str(total % 10) + answer
        carry = 0 if forget_carries else total // 10
    return ",".join(steps) + "," + f"{carry}{answer}{END}"
# --8<-- [end:task]


STYLES = {"direct": direct_text, "scratchpad": scratchpad_text}


def _style(style: str) -> str:
    if style not in STYLES:
        raise TaskError(f"unknown style {style!r}; the styles are {', '.join(STYLES)}")
    return style


def reply_length(style: str, digits: int = DIGITS) -> int:
    """Tokens in every reply of this style (one character, one token)."""
    return len(STYLES[_style(style)]((0, 0), digits))


# --8<-- [start:check]
def answer_of(reply: str, style: str, digits: int = DIGITS) -> int | None:
    """The sum a reply gives, or None when it does not have the style's
    shape (digits where the digits go, END last). A scratchpad's steps
    are not checked: only the answer."""
    shape = STYLES[_style(style)]((0, 0), digits)
    if not isinstance(reply, str) or len(reply) != len(shape) or not all(
            (c in DECIMAL and s in DECIMAL) or c == s for c, s in zip(reply, shape)):
        return None
    return int(reply[-(digits + 2):-1])


def check(problem, reply: str, style: str, digits: int = DIGITS) -> tuple[bool, bool]:
    """(well_formed, right): the reply has the asked-for form; its answer
    is the sum."""
    answer = answer_of(reply, style, digits)
    return answer is not None, answer == sum(problem)


def reward(problem, reply: str, style: str, digits: int = DIGITS) -> float:
    """1.0 for a right answer in the asked-for form, else 0.0."""
    return float(check(problem, reply, style, digits)[1])
# --8<-- [end:check]


def block_size(digits: int = DIGITS) -> int:
    """The context that a prompt and the longer reply (the scratchpad) fill."""
    return len(prompt_text((0, 0), digits)) + reply_length("scratchpad", digits)


def held_out(n: int = 500, digits: int = DIGITS) -> list:
    """Problems that no training ever sees (the trainings exclude them)."""
    return problems(n, seed=10_000, digits=digits)


@dataclass
class Reasoner:
    """A model of the store: the GPT, the reply style it was trained for,
    and what its training logged."""
    model: GPT
    style: str
    digits: int = DIGITS
    history: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------
# Supervised training: the same loop for both formats
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class SFTConfig:
    style: str = "scratchpad"
    digits: int = DIGITS
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 64
    steps: int = 700
    batch_size: int = 32
    lr: float = 3e-3
    slips: float = 0.0            # share of scratchpads that forget every carry
    warmup: int = 100             # steps of rising learning rate
    seed: int = 0

    def __post_init__(self):
        _style(self.style)
        if not 0 <= self.slips <= 1:
            raise TaskError(f"slips is a share of the examples, from 0 to 1, got {self.slips}")
        if self.slips and self.style != "scratchpad":
            raise TaskError("slips forget carries in a scratchpad: use style='scratchpad'")


# --8<-- [start:sft]
def examples(batch, style: str, digits: int = DIGITS, slips: float = 0.0, rng=None):
    """(x, y) for a batch of problems: the tokens of prompt + reply, and
    the next token at each position, -1 (no loss) where it is the prompt's:
    the model learns to write replies, not problems."""
    prompt_len = len(prompt_text((0, 0), digits))

    def reply(p):
        if slips and rng.random() < slips:
            return scratchpad_text(p, digits, forget_carries=True)
        return STYLES[style](p, digits)
    ids = torch.tensor([TOKENIZER.encode(prompt_text(p, digits) + reply(p)) for p in batch])
    x, y = ids[:, :-1], ids[:, 1:].clone()
    y[:, :prompt_len - 1] = -1
    return x, y


def train_sft(config: SFTConfig, log=print, model: GPT | None = None) -> Reasoner:
    """A new GPT trained on the style's replies, or model trained further."""
    torch.manual_seed(config.seed)
    if model is None:
        model = GPT(GPTConfig(vocab_size=TOKENIZER.vocab_size,
                              block_size=block_size(config.digits), n_layer=config.n_layer,
                              n_head=config.n_head, n_embd=config.n_embd))
    model.train()
    optimizer = model.configure_optimizer(config.lr, weight_decay=0.0)
    rng = random.Random(config.seed)
    test = set(held_out(digits=config.digits))
    losses = []
    for step in range(1, config.steps + 1):
        # a short warm-up, then a cosine decay of the learning rate
        warm = min(1.0, step / config.warmup) if config.warmup else 1.0
        lr = config.lr * warm * 0.5 * (1 + math.cos(math.pi * step / config.steps))
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = problems(config.batch_size, seed=rng.randrange(2**31), digits=config.digits,
                         exclude=test)
        x, y = examples(batch, config.style, config.digits, config.slips, rng)
        logits, _ = model(x)
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten(), ignore_index=-1)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(round(loss.item(), 4))
        if step % 100 == 0:
            log(f"step {step}: loss {sum(losses[-100:]) / 100:.3f}")
    return Reasoner(model.eval(), config.style, config.digits, {"loss": losses})
# --8<-- [end:sft]


# ---------------------------------------------------------------------------
# Sampling: many replies at once through one KV cache
# ---------------------------------------------------------------------------
# --8<-- [start:sample]
@torch.no_grad()
def sample(model: GPT, batch, style: str, temperature: float = 1.0, k: int = 1,
           generator: torch.Generator | None = None, digits: int = DIGITS) -> list[list[str]]:
    """k replies to each problem, all at once through one KV cache: every
    prompt has one length and every reply another, so nothing is padded.
    temperature 0 takes the likeliest token (greedy)."""
    reply_len = reply_length(style, digits)
    prompts = torch.tensor([TOKENIZER.encode(prompt_text(p, digits)) for p in batch])
    if prompts.size(1) + reply_len - 1 > model.config.block_size:
        raise TaskError(f"a prompt of {prompts.size(1)} tokens and a reply of {reply_len} "
                        f"do not fit the model's context of {model.config.block_size}: "
                        f"it was trained for fewer digits")
    device = next(model.parameters()).device
    prompts = prompts.repeat_interleave(k, dim=0).to(device)       # (B*k, P)
    cache = KVCache(model.config, prompts.size(0), device=device)
    logits, _ = model(prompts, cache=cache)
    out = []
    for _ in range(reply_len):
        last = logits[:, -1].float()
        if temperature == 0:
            token = last.argmax(-1, keepdim=True)
        else:
            probs = (last / temperature).softmax(-1).cpu()
            token = torch.multinomial(probs, 1, generator=generator).to(device)
        out.append(token)
        if len(out) < reply_len:
            logits, _ = model(token, cache=cache)
    replies = [TOKENIZER.decode(row) for row in torch.cat(out, 1).tolist()]
    return [replies[i * k:(i + 1) * k] for i in range(len(batch))]
# --8<-- [end:sample]


# ---------------------------------------------------------------------------
# Reinforcement learning from the checker: GRPO (Shao et al. 2024)
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class SlipsConfig:
    """adder-sft: a trained adder tuned further on scratchpads of which a
    share forget every carry (the habit that reinforcement learning will
    have to unlearn)."""
    base: str = "adder-scratchpad"
    steps: int = 300
    lr: float = 1e-3
    slips: float = 0.6
    batch_size: int = 32
    seed: int = 0


@dataclass(frozen=True)
class GRPOConfig:
    base: str = "adder-sft"       # the store's model to start from
    steps: int = 40
    prompts: int = 16             # problems per step
    group: int = 8                # replies sampled for each
    lr: float = 3e-5
    clip: float = 0.2             # PPO's clipped ratio: 1 - clip .. 1 + clip
    beta: float = 0.0             # weight of the KL term to the start; 0: off
    updates: int = 2              # gradient steps on each batch of replies
    scale: bool = True            # divide each advantage by its group's std
    evaluate_every: int = 10      # held-out pass@1 every this many steps
    seed: int = 0

    def __post_init__(self):
        if self.group < 2:
            raise TaskError(f"group={self.group}: a group of one reply has no baseline; "
                            f"sample at least 2 per prompt")
        if min(self.steps, self.prompts, self.updates, self.evaluate_every) < 1 or self.lr <= 0:
            raise TaskError("steps, prompts, updates and evaluate_every must be at least 1, "
                            "lr above 0")


# --8<-- [start:advantages]
def advantages(rewards: torch.Tensor, scale: bool = True) -> torch.Tensor:
    """(prompts, G) rewards -> advantages: each reward minus its group's
    mean (the baseline), divided by the group's standard deviation when
    scale. A group whose replies all scored the same teaches nothing: its
    advantages are 0."""
    if rewards.dim() != 2 or rewards.size(1) < 2:
        raise TaskError(f"rewards of shape {tuple(rewards.shape)}: need (prompts, G) with "
                        f"G >= 2; a group of one reply has no baseline")
    centred = rewards - rewards.mean(1, keepdim=True)
    return centred / (rewards.std(1, keepdim=True) + 1e-4) if scale else centred
# --8<-- [end:advantages]


def checked_reward(reward_fn, problem, reply, style, digits) -> float:
    """reward_fn's value for one reply, or a clear error naming the reply."""
    try:
        value = reward_fn(problem, reply, style, digits)
    except Exception as error:
        raise TaskError(f"the reward function failed on the reply {reply!r} to "
                        f"{prompt_text(problem, digits)}: {error!r}") from error
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TaskError(f"the reward function returned {value!r} for the reply {reply!r}: "
                        f"it must return a finite number")
    return float(value)


# --8<-- [start:grpo]
def reply_logprobs(model: GPT, prompts: torch.Tensor, replies: torch.Tensor) -> torch.Tensor:
    """log p(token) of each reply token given everything before it: (N, R)."""
    ids = torch.cat([prompts, replies], 1)
    logits, _ = model(ids[:, :-1])
    logp = logits[:, prompts.size(1) - 1:].log_softmax(-1)
    return logp.gather(-1, replies.unsqueeze(-1)).squeeze(-1)


def grpo(start: Reasoner, config: GRPOConfig, reward_fn=reward, log=print) -> Reasoner:
    model, style, digits = start.model, start.style, start.digits
    device = next(model.parameters()).device
    reference = copy.deepcopy(model).eval().requires_grad_(False)   # the start, for the KL term
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.0)
    rng, generator = random.Random(config.seed), torch.Generator().manual_seed(config.seed)
    test = held_out(digits=digits)
    history = {"reward": [], "pass_at_1": {0: pass_at_1(model.eval(), test[:100], style, k=4,
                                                        digits=digits)}}
    for step in range(1, config.steps + 1):
        # 1. sample a group of replies to each problem, and score them
        batch = problems(config.prompts, seed=rng.randrange(2**31), digits=digits,
                         exclude=set(test))
        replies = sample(model.eval(), batch, style, k=config.group, generator=generator,
                         digits=digits)
        rewards = torch.tensor([[checked_reward(reward_fn, p, r, style, digits) for r in group]
                                for p, group in zip(batch, replies)])
        adv = advantages(rewards, config.scale).flatten().unsqueeze(1).to(device)   # (N, 1)
        prompts = torch.tensor([TOKENIZER.encode(prompt_text(p, digits)) for p in batch])
        prompts = prompts.repeat_interleave(config.group, 0).to(device)
        tokens = torch.tensor([TOKENIZER.encode(r) for group in replies for r in group],
                              device=device)
        with torch.no_grad():
            old = reply_logprobs(model, prompts, tokens)       # the policy that sampled
            ref = reply_logprobs(reference, prompts, tokens) if config.beta else None
        # 2. a few steps on those replies: raise the log-probability of the
        #    tokens of replies better than their group's mean, lower the rest
        model.train()
        for _ in range(config.updates):
            new = reply_logprobs(model, prompts, tokens)
            ratio = (new - old).exp()
            clipped = ratio.clamp(1 - config.clip, 1 + config.clip)
            loss = -torch.min(ratio * adv, clipped * adv).mean()
            if config.beta:      # k3 estimate of KL(model || reference), per token
                kl = ((ref - new).exp() - (ref - new) - 1).mean()
                loss = loss + config.beta * kl
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
        history["reward"].append(rewards.mean().item())
        if step % config.evaluate_every == 0 or step == config.steps:
            score = pass_at_1(model.eval(), test[:100], style, k=4, digits=digits)
            history["pass_at_1"][step] = score
            recent = history["reward"][-config.evaluate_every:]
            log(f"step {step}: mean reward {sum(recent) / len(recent):.2f}, "
                f"held-out pass@1 {score:.2f}")
    return Reasoner(model.eval(), style, digits, history)
# --8<-- [end:grpo]


# ---------------------------------------------------------------------------
# Spending compute at answer time: one sample, a vote, a verifier
# ---------------------------------------------------------------------------
def pass_at_1(model: GPT, batch, style: str, k: int = 8, digits: int = DIGITS,
              seed: int = 1) -> float:
    """The share of right replies among k samples of each problem at
    temperature 1: the chance that one sample is right."""
    replies = sample(model, batch, style, k=k, generator=torch.Generator().manual_seed(seed),
                     digits=digits)
    right = sum(check(p, r, style, digits)[1] for p, group in zip(batch, replies) for r in group)
    return right / (k * len(batch))


# --8<-- [start:vote]
def majority(replies: list[str], style: str, digits: int = DIGITS) -> int | None:
    """The answer that most of the well-formed replies give (self-
    consistency); a tie goes to the answer seen first. None if none is
    well formed."""
    answers = [a for r in replies if (a := answer_of(r, style, digits)) is not None]
    return Counter(answers).most_common(1)[0][0] if answers else None


def best_of(problem, replies: list[str], style: str, digits: int = DIGITS) -> str:
    """The first reply that the checker accepts (a verifier picks), else
    the first reply."""
    return next((r for r in replies if check(problem, r, style, digits)[1]), replies[0])


def pass_at_k(n: int, c: int, k: int) -> float:
    """The chance that at least one of k replies drawn from n, c of them
    right, is right (Chen et al. 2021's unbiased estimator)."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise TaskError(f"need 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    return 1.0 if n - c < k else 1.0 - math.comb(n - c, k) / math.comb(n, k)
# --8<-- [end:vote]


def _sampled(reasoner: Reasoner, batch, n: int, seed: int):
    """n replies to each problem at temperature 1, and the checker's
    (well_formed, right) for each."""
    model, style, digits = reasoner.model, reasoner.style, reasoner.digits
    replies = sample(model, batch, style, k=n, generator=torch.Generator().manual_seed(seed),
                     digits=digits)
    return replies, [[check(p, r, style, digits) for r in group]
                     for p, group in zip(batch, replies)]


def _one_vote_best(reasoner: Reasoner, batch, replies, checks, k: int) -> tuple:
    """(one sample, majority of the first k, best of k) from n >= k replies
    to each problem: one sample is the mean over all n; best of k is the
    chance that a checker finds a right one among k (pass@k)."""
    n = len(replies[0])
    right = [sum(ok for _, ok in c) for c in checks]
    vote = sum(majority(group[:k], reasoner.style, reasoner.digits) == sum(p)
               for p, group in zip(batch, replies))
    return (sum(right) / (n * len(batch)), vote / len(batch),
            sum(pass_at_k(n, c, k) for c in right) / len(batch))


def scores(reasoner: Reasoner, batch=None, k: int = 8, seed: int = 1) -> dict:
    """Held-out figures: greedy accuracy by size (greedy_1 ...) and on the
    sums of 3 or more digits (greedy_hard), and from k samples at
    temperature 1: pass_at_1, majority_k, best_of_k, and well_formed (the
    share of samples in the asked-for form)."""
    model, style, digits = reasoner.model, reasoner.style, reasoner.digits
    batch = held_out(digits=digits) if batch is None else batch
    greedy = [r for (r,) in sample(model, batch, style, temperature=0, digits=digits)]
    by_size: dict = {}
    for p, r in zip(batch, greedy):
        by_size.setdefault(size(p), []).append(check(p, r, style, digits)[1])
    result = {f"greedy_{s}": sum(v) / len(v) for s, v in sorted(by_size.items())}
    hard = [ok for s, v in by_size.items() if s >= 3 for ok in v]
    result["greedy_hard"] = sum(hard) / len(hard) if hard else 0.0
    replies, checks = _sampled(reasoner, batch, k, seed)
    (result["pass_at_1"], result[f"majority_{k}"],
     result[f"best_of_{k}"]) = _one_vote_best(reasoner, batch, replies, checks, k)
    result["well_formed"] = sum(formed for c in checks for formed, _ in c) / (k * len(batch))
    return {key: round(value, 4) for key, value in result.items()}


def by_samples(reasoner: Reasoner, batch, ks=(1, 2, 4, 8, 16), seed: int = 1) -> dict:
    """{k: (one sample, majority of k, best of k)}: held-out accuracy when
    k replies are sampled per problem, from max(ks) replies to each."""
    replies, checks = _sampled(reasoner, batch, max(ks), seed)
    return {k: _one_vote_best(reasoner, batch, replies, checks, k) for k in ks}


# ---------------------------------------------------------------------------
# The store's recipes
# ---------------------------------------------------------------------------
def _train_sft(config: SFTConfig, checkpoint, log) -> Reasoner:
    return train_sft(config, log)


def _train_slips(config: SlipsConfig, checkpoint, log) -> Reasoner:
    start = store.load(config.base, device=torch.device("cpu"))
    sft = SFTConfig(style=start.style, digits=start.digits, steps=config.steps, lr=config.lr,
                    slips=config.slips, batch_size=config.batch_size, warmup=0,
                    seed=config.seed)
    return train_sft(sft, log, model=start.model)


def _train_grpo(config: GRPOConfig, checkpoint, log) -> Reasoner:
    start = store.load(config.base, device=torch.device("cpu"))
    return grpo(start, config, log=log)


def _save(reasoner: Reasoner):
    return reasoner.model.state_dict(), {"style": reasoner.style, "digits": reasoner.digits,
                                         "history": reasoner.history}


def _build(config, tensors, data, device) -> Reasoner:
    digits = data["digits"]
    model = GPT(GPTConfig(vocab_size=TOKENIZER.vocab_size, block_size=block_size(digits),
                          n_layer=config_of(config).n_layer, n_head=config_of(config).n_head,
                          n_embd=config_of(config).n_embd))
    model.load_state_dict(tensors)
    history = data["history"]
    if "pass_at_1" in history:       # JSON keys are strings
        history["pass_at_1"] = {int(s): v for s, v in history["pass_at_1"].items()}
    return Reasoner(model.to(device).eval(), data["style"], digits, history)


def config_of(config) -> SFTConfig:
    """The configuration that built the network (a tuned model's is its
    first base's)."""
    while not isinstance(config, SFTConfig):
        config = store.recipe(config.base).config
    return config


def _losses(reasoner: Reasoner) -> dict:
    if "loss" in reasoner.history:
        return {"last_100_steps": round(sum(reasoner.history["loss"][-100:]) / 100, 4)}
    rewards = reasoner.history["reward"]
    return {"first_10_rewards": round(sum(rewards[:10]) / 10, 4),
            "last_10_rewards": round(sum(rewards[-10:]) / 10, 4)}


def _recipe(name, about, config, bars, train=_train_sft, bases=()):
    return store.Recipe(name, about, config, train=train, save=_save, build=_build,
                        losses=_losses, quality=scores, bars=bars, bases=bases)


DIRECT = _recipe(
    "adder-direct", "a 2-layer GPT that writes the sum at once (700 steps)",
    SFTConfig(style="direct"),
    (store.Bar("greedy_1", ">=", 0.5, why="it learned the one-digit sums"),
     store.Bar("greedy_hard", "<=", 0.3, why="at this budget, sums of 3+ digits fail")))

SCRATCHPAD = _recipe(
    "adder-scratchpad", "the same GPT and budget, writing the column sums first",
    SFTConfig(style="scratchpad"),
    (store.Bar("greedy_hard", ">=", 0.5, against="adder-direct",
               why="50 points above the direct model on sums of 3+ digits"),
     store.Bar("majority_8", ">=", 0.05, against="quality", of="pass_at_1",
               why="a vote of 8 samples beats one sample by 5 points")))

SFT = _recipe(
    "adder-sft", "adder-scratchpad, 300 steps more on scratchpads, 60% forgetting every carry",
    SlipsConfig(), train=_train_slips, bases=("adder-scratchpad",),
    bars=(store.Bar("pass_at_1", "<=", 0.7, why="room for reinforcement learning"),
          store.Bar("best_of_8", ">=", 0.85, why="a right reply is among 8 samples"),
          store.Bar("well_formed", ">=", 0.95, why="the form is right from the start")))

RL = _recipe(
    "adder-grpo", "adder-sft after 40 steps of GRPO with the checker's reward",
    GRPOConfig(), train=_train_grpo, bases=("adder-sft",),
    bars=(store.Bar("pass_at_1", ">=", 0.2, against="adder-sft",
                    why="20 points above its supervised start"),
          store.Bar("greedy_hard", ">=", 0.85, why="right on long sums, greedy too"),
          store.Bar("well_formed", ">=", 0.95)))


# ---------------------------------------------------------------------------
# The same with Hugging Face's TRL
# ---------------------------------------------------------------------------
# --8<-- [start:trl]
def trl_grpo(start: Reasoner, steps: int = 10, seed: int = 0, log=print) -> list[float]:
    """GRPO with TRL's GRPOTrainer on start exported to GPT2LMHeadModel,
    rewarded by the course's checker; the mean reward of each step."""
    import tempfile
    import warnings

    from datasets import Dataset
    from trl import GRPOConfig as TRLConfig
    from transformers import PrinterCallback
    from trl import GRPOTrainer

    from genai.llm.hf_export import hf_char_tokenizer, hf_model

    end_id = TOKENIZER.encode(END)[0]
    model = hf_model(start.model, eot_id=end_id)
    model.generation_config.eos_token_id = end_id
    batch = problems(4 * steps, seed=seed + 1, digits=start.digits,
                     exclude=set(held_out(digits=start.digits)))
    data = Dataset.from_dict({"prompt": [prompt_text(p, start.digits) for p in batch],
                              "a": [a for a, _ in batch], "b": [b for _, b in batch]})

    def checker(prompts, completions, a, b, **_):
        # TRL drops the end of sequence from the text: the checker wants it
        return [reward((x, y), c + END, start.style, start.digits)
                for c, x, y in zip(completions, a, b)]

    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        # transformers 5 warns of its own renamed settings that TRL still uses
        warnings.simplefilter("ignore", FutureWarning)
        args = TRLConfig(
            output_dir=folder, max_steps=steps, seed=seed, learning_rate=3e-5,
            per_device_train_batch_size=32, num_generations=8,  # 4 problems, 8 replies each
            max_completion_length=reply_length(start.style, start.digits), temperature=1.0,
            use_cpu=True, bf16=False, logging_steps=1, report_to=[], save_strategy="no",
            disable_tqdm=True)
        trainer = GRPOTrainer(model=model, reward_funcs=checker, args=args,
                              train_dataset=data,
                              processing_class=hf_char_tokenizer(TOKENIZER, END,
                                                                 block_size(start.digits)))
        trainer.remove_callback(PrinterCallback)        # we print the rewards ourselves
        trainer.train()
    rewards = [entry["reward"] for entry in trainer.state.log_history if "reward" in entry]
    for step, value in enumerate(rewards, 1):
        log(f"step {step}: mean reward {value:.3f}")
    return rewards
# --8<-- [end:trl]


def reasoner(name: str, device=None, log=None) -> Reasoner:
    """One of the store's adders: adder-direct, adder-scratchpad, adder-sft
    or adder-grpo."""
    if not name.startswith("adder-"):
        raise TaskError(f"{name!r} is not one of the adders: adder-direct, adder-scratchpad, "
                        f"adder-sft, adder-grpo")
    return store.load(name, device=device, log=log)


if __name__ == "__main__":
    from genai.cli import demo_arguments

    demo_arguments(__doc__)
    for name in ("adder-direct", "adder-scratchpad", "adder-sft", "adder-grpo"):
        print(name, scores(reasoner(name), held_out()[:100]))
