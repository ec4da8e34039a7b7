"""Instruction tuning: from a text predictor to an assistant that answers.

The facts model completes "The capital of France is" but does not answer a
question: it was never shown one. Instruction tuning (supervised
fine-tuning, SFT) goes on training it on conversations written in a chat
format, with special tokens that mark who speaks and where a turn ends, and
counts the loss on the assistant's words only.

* chat_text(messages): a conversation in the chat format; chat_ids its
  token ids, with nothing a user types read as a special token;
* with_chat_tokens(model, tokenizer): the base model and tokenizer with
  the chat's special tokens added;
* instruction_data(): questions about the facts, in varied wordings, with
  their answers, and refusals for questions the model cannot know;
* sft_example(...) and masked targets: the loss counts the answer only;
* tune(...): the fine-tuning loop; evaluate(...): answer accuracy and how
  often a reply ends with <|end|>, on held-out wordings.

    python -m genai.llm.instruct
"""

from __future__ import annotations

import dataclasses
import random
import time
import warnings
from dataclasses import dataclass, field

import torch

from genai import store
from genai.device import get_device
from genai.llm.corpora import CAPITALS, CONTINENT
from genai.llm.gpt import GPT
from genai.llm.tokenizer import BPETokenizer, load_tokenizer


class ChatFormatError(ValueError):
    """A conversation that cannot be written in the chat format."""


# --8<-- [start:format]
SYSTEM, USER, ASSISTANT, END = ("<|system|>", "<|user|>", "<|assistant|>",
                                "<|end|>")
CHAT_TOKENS = (SYSTEM, USER, ASSISTANT, END)
OPENS = {"system": SYSTEM, "user": USER, "assistant": ASSISTANT}


def check_chat(messages) -> None:
    """Raise ChatFormatError unless messages is a conversation: a list of
    {"role", "content"} dicts, an optional system message first, and at
    least one user message."""
    if not isinstance(messages, list) or not messages:
        raise ChatFormatError("a chat is a non-empty list of messages")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or set(message) != {"role",
                                                             "content"}:
            raise ChatFormatError(f"message {i} must be a dict with 'role' "
                                  f"and 'content', got {message!r}")
        if message["role"] not in OPENS:
            raise ChatFormatError(f"message {i} has the unknown role "
                                  f"{message['role']!r}; roles are "
                                  f"{', '.join(OPENS)}")
        if not isinstance(message["content"], str):
            raise ChatFormatError(f"message {i}'s content must be text")
        if any(token in message["content"] for token in CHAT_TOKENS):
            raise ChatFormatError(f"message {i} contains a chat token "
                                  f"({', '.join(CHAT_TOKENS)}): they are "
                                  f"for the format alone")
        if message["role"] == "system" and i > 0:
            raise ChatFormatError("a system message can only come first")
    if not any(message["role"] == "user" for message in messages):
        raise ChatFormatError("the chat has no user message: there is "
                              "nothing to answer")


def chat_text(messages, add_generation_prompt: bool = True) -> str:
    """The conversation in the chat format: each turn opens with its
    role's token and closes with <|end|>; then <|assistant|>, the cue for
    the model's reply."""
    check_chat(messages)
    text = "".join(OPENS[m["role"]] + m["content"] + END for m in messages)
    return text + (ASSISTANT if add_generation_prompt else "")


def chat_ids(tokenizer, messages, add_generation_prompt: bool = True):
    """The token ids of chat_text(messages). The format's tokens are put in
    by id; what a message says is encoded with special tokens off, so a
    user who types "<|endoftext|>" (or any special token the tokenizer will
    ever have) gets the ids of those characters, never the control token."""
    check_chat(messages)
    special = tokenizer.special_tokens
    ids = []
    for m in messages:
        ids.append(special[OPENS[m["role"]]])
        ids += tokenizer.encode(m["content"], allowed_special=())
        ids.append(special[END])
    return ids + ([special[ASSISTANT]] if add_generation_prompt else [])
# --8<-- [end:format]


# --8<-- [start:tokens]
def with_chat_tokens(model: GPT, tokenizer: BPETokenizer, seed: int = 0):
    """(model, tokenizer) with the four chat tokens added.

    The tokenizer keeps its merges and gets four more special tokens; the
    model gets four more rows in its (tied) embedding, each the mean of
    the existing rows plus a little seeded noise, so that they start as an
    ordinary, average token and differ from each other.
    """
    if any(token in tokenizer.special_tokens for token in CHAT_TOKENS):
        raise ChatFormatError("the tokenizer already has the chat tokens")
    chat_tokenizer = BPETokenizer(
        list(tokenizer.ranks), tuple(tokenizer.special_tokens) + CHAT_TOKENS)
    old = model.transformer.wte.weight.detach()
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(len(CHAT_TOKENS), old.size(1), generator=generator)
    rows = old.mean(0) + 0.02 * noise.to(old.device, old.dtype)
    config = dataclasses.replace(model.config,
                                 vocab_size=chat_tokenizer.vocab_size)
    chat_model = GPT(config).to(old.device)
    state = model.state_dict()
    state["transformer.wte.weight"] = torch.cat([old, rows])
    state["lm_head.weight"] = state["transformer.wte.weight"]
    chat_model.load_state_dict(state)
    return chat_model, chat_tokenizer
# --8<-- [end:tokens]


# --8<-- [start:data]
# the questions that tuning sees, and others that only the evaluation asks
TRAIN_WORDINGS = [
    "What is the capital of {country}?",
    "Which city is the capital of {country}?",
    "Tell me the capital of {country}.",
    "Name the capital city of {country}.",
    "What city is {country}'s capital?",
    "{country}'s capital is which city?",
    "Capital city of {country}?",
    "Where is the capital of {country}?",
]
HELD_OUT_WORDINGS = [
    "What's the capital city of {country}?",
    "Do you know the capital of {country}?",
    "Which city is {country}'s capital?",
    "Capital of {country}?",
]
# made-up countries: the facts corpus says nothing about them
TRAIN_UNKNOWN = ["Atlantis", "Narnia", "Wakanda", "Genovia", "Mordor",
                 "Gondor", "Utopia", "Oz"]
HELD_OUT_UNKNOWN = ["Lilliput", "Freedonia", "Elbonia", "Camelot"]
REFUSAL = "I don't know."


def answer(country: str, verbose: bool = False) -> str:
    """The reply to a question about country's capital: the city, and, if
    verbose, a sentence more that is true but was not asked for."""
    capital = CAPITALS[country]
    text = f"{capital}."
    if verbose:
        text += f" {capital} is a city in {CONTINENT[capital]}."
    return text


def instruction_data(held_out: bool = False, verbose_share: float = 0.0,
                     seed: int = 0) -> list[tuple[str, str, str]]:
    """(question, reply, kind) for tuning (or, held_out, for evaluating):
    every country in every wording, then refusals. kind is the country, or
    "unknown" for a question the model cannot know. verbose_share of the
    capital answers add a sentence that nobody asked for."""
    rng = random.Random(seed)
    wordings = HELD_OUT_WORDINGS if held_out else TRAIN_WORDINGS
    rows = []
    for country in CAPITALS:
        for wording in wordings:
            question = wording.format(country=country)
            question = question[0].upper() + question[1:]
            rows.append((question, answer(country, rng.random() <
                                          verbose_share), country))
    for place in HELD_OUT_UNKNOWN if held_out else TRAIN_UNKNOWN:
        for wording in wordings:
            rows.append((wording.format(country=place), REFUSAL, "unknown"))
    return rows
# --8<-- [end:data]


# --8<-- [start:mask]
IGNORE = -100   # F.cross_entropy skips targets with this value


def sft_example(tokenizer, question: str, reply: str,
                system: str | None = None) -> tuple[list[int], list[int]]:
    """(ids, targets) of one conversation: targets are the next tokens of
    the reply and its <|end|>, and IGNORE everywhere else, so the loss
    counts what the assistant says and nothing of the question."""
    messages = ([{"role": "system", "content": system}] if system else [])
    messages.append({"role": "user", "content": question})
    prompt = chat_ids(tokenizer, messages)
    completion = tokenizer.encode(reply + END)
    ids = prompt + completion
    targets = [IGNORE] * (len(prompt) - 1) + completion + [IGNORE]
    return ids[:-1], targets[:-1]
# --8<-- [end:mask]


def batch_tensors(examples, pad_id: int, device) -> tuple[torch.Tensor,
                                                          torch.Tensor]:
    """Examples of different lengths as (B, T) tensors, padded on the
    right: the padding is never a target, and a causal model's earlier
    positions never see it."""
    length = max(len(ids) for ids, _ in examples)
    ids = [ids + [pad_id] * (length - len(ids)) for ids, _ in examples]
    targets = [t + [IGNORE] * (length - len(t)) for _, t in examples]
    return (torch.tensor(ids, device=device),
            torch.tensor(targets, device=device))


# --8<-- [start:config]
@dataclass(frozen=True)
class TuneConfig:
    """Instruction tuning of the facts model: about 45 s on one CPU thread."""
    base: str = "facts"          # the pretrained model (genai.store)
    steps: int = 500
    batch_size: int = 32
    lr: float = 7e-4             # lower than pretraining's 5e-3
    verbose_share: float = 2 / 3   # demonstrations that say more than asked
    seed: int = 0
# --8<-- [end:config]


# --8<-- [start:tune]
def tune(model: GPT, tokenizer, config: TuneConfig,
         parameters=None, log=print) -> list[float]:
    """Fine-tune model on the instruction data; returns the loss of every
    step. parameters: those to train (default: all of them)."""
    rows = instruction_data(verbose_share=config.verbose_share,
                            seed=config.seed)
    examples = [sft_example(tokenizer, q, r) for q, r, _ in rows]
    longest = max(len(ids) for ids, _ in examples)
    if longest > model.config.block_size:
        raise ChatFormatError(f"an example has {longest} tokens, more than "
                              f"the context of {model.config.block_size}")
    pad = tokenizer.special_tokens[END]
    device = next(model.parameters()).device
    parameters = [p for p in (parameters or model.parameters())
                  if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=config.lr, weight_decay=0.0)
    rng = random.Random(config.seed)
    losses = []
    model.train()
    for step in range(config.steps):
        batch = rng.sample(examples, config.batch_size)
        ids, targets = batch_tensors(batch, pad, device)
        _, loss = model(ids, targets)     # mean over the answer tokens
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if step % 100 == 0 or step == config.steps - 1:
            log(f"step {step:4d}  loss {loss.item():.3f}")
    model.eval()
    return losses
# --8<-- [end:tune]


# --8<-- [start:fit]
def fit_context(messages, tokenizer, block_size: int, room: int = 8):
    """The messages whose chat text leaves `room` tokens of the context for
    the reply: the oldest turns are dropped first (with a warning), the
    system message is kept, and the result starts with a user turn."""
    check_chat(messages)
    system = messages[:1] if messages[0]["role"] == "system" else []
    turns = messages[len(system):]
    dropped = 0
    while True:
        if not any(m["role"] == "user" for m in turns):
            raise ChatFormatError(
                f"the last user message does not fit the context of "
                f"{block_size} tokens (with {room} kept for the reply)"
                + (" and the system message" if system else ""))
        if len(chat_ids(tokenizer, system + turns)) <= \
                block_size - room:
            break
        turns = turns[1:]
        dropped += 1
        while turns and turns[0]["role"] != "user":
            turns, dropped = turns[1:], dropped + 1
    if dropped:
        warnings.warn(f"the conversation is longer than the context of "
                      f"{block_size} tokens: dropped the {dropped} oldest "
                      f"message(s)", stacklevel=2)
    return system + turns
# --8<-- [end:fit]


@torch.no_grad()
def reply_tokens(model: GPT, tokenizer, messages):
    """Yield the ids of the greedy reply to messages, one at a time, until
    <|end|> (the last one yielded) or the end of the context."""
    messages = fit_context(messages, tokenizer, model.config.block_size)
    ids = chat_ids(tokenizer, messages)
    device = next(model.parameters()).device
    while len(ids) < model.config.block_size:
        logits, _ = model(torch.tensor([ids], device=device))
        token = int(logits[0, -1].argmax())
        yield token
        if token == tokenizer.special_tokens.get(END):
            return
        ids.append(token)


def reply(model: GPT, tokenizer, messages) -> tuple[str, bool]:
    """(the greedy reply to messages, whether it ended with <|end|>)."""
    new = list(reply_tokens(model, tokenizer, messages))
    ended = bool(new) and new[-1] == tokenizer.special_tokens.get(END)
    return tokenizer.decode(new[:-1] if ended else new), ended


def right(text: str, kind: str) -> bool:
    """A reply is right if it names the capital and no other capital, or,
    for a question the model cannot know, if it says so."""
    if kind == "unknown":
        return text == REFUSAL
    named = {c for c in CAPITALS.values() if c in text}
    return named == {CAPITALS[kind]}


# --8<-- [start:evaluate]
@torch.no_grad()
def replies(model: GPT, tokenizer, questions) -> list[tuple[str, bool]]:
    """reply() to each question alone, computed together: the chats of one
    length go through the model as one batch, a token a step, so that 256
    questions cost the forward passes of a few. The model is causal, so a
    row never sees another; each row's tokens are what reply() gives."""
    end = tokenizer.special_tokens.get(END)
    block = model.config.block_size
    device = next(model.parameters()).device
    chats = [chat_ids(tokenizer, fit_context([{"role": "user", "content": q}],
                                             tokenizer, block))
             for q in questions]
    answers = [None] * len(chats)
    for length in sorted({len(ids) for ids in chats}):
        rows = [i for i, ids in enumerate(chats) if len(ids) == length]
        ids = torch.tensor([chats[i] for i in rows], device=device)
        new, done = [[] for _ in rows], [False] * len(rows)
        while ids.shape[1] < block and not all(done):
            logits, _ = model(ids)
            tokens = logits[:, -1].argmax(-1)
            for j, token in enumerate(tokens.tolist()):
                if not done[j]:
                    new[j].append(token)
                    done[j] = token == end
            ids = torch.cat([ids, tokens[:, None]], dim=1)
        for i, tokens, ended in zip(rows, new, done):
            answers[i] = (tokenizer.decode(tokens[:-1] if ended else tokens),
                          ended)
    return answers


def evaluate(model: GPT, tokenizer, rows) -> dict:
    """Accuracy and the share of replies that end with <|end|>, over
    (question, reply, kind) rows, with the average reply length."""
    scores = {"right": 0, "ended": 0, "verbose": 0, "words": 0}
    answers = replies(model, tokenizer, [question for question, _, _ in rows])
    for (_, _, kind), (text, ended) in zip(rows, answers):
        scores["right"] += right(text, kind)
        scores["ended"] += ended
        scores["verbose"] += " is a city in " in text
        scores["words"] += len(text.split())
    n = len(rows)
    return {"accuracy": scores["right"] / n, "ended": scores["ended"] / n,
            "verbose": scores["verbose"] / n, "words": scores["words"] / n,
            "n": n}
# --8<-- [end:evaluate]


# ---------------------------------------------------------------------------
# The reference model (genai.store)
# ---------------------------------------------------------------------------
@dataclass
class Assistant:
    """An instruction-tuned model, its tokenizer and its training."""
    model: GPT
    tokenizer: BPETokenizer
    losses: list[float] = field(default_factory=list)
    cpu_seconds: float = 0.0


# --8<-- [start:assistant]
def instruction_tune(config: TuneConfig = TuneConfig(), device=None,
                     log=print) -> Assistant:
    """The base model with the chat tokens, tuned on the instruction data."""
    device = device or get_device()
    base = store.load(config.base, device=device)
    model, tokenizer = with_chat_tokens(base.model, base.tokenizer,
                                        config.seed)
    start = time.process_time()
    losses = tune(model, tokenizer, config, log=log)
    return Assistant(model, tokenizer, losses, time.process_time() - start)


def assistant(device=None, log=None) -> Assistant:
    """The instruction-tuned facts model that the course ships."""
    return store.load("assistant", device=device, log=log)
# --8<-- [end:assistant]


def base_with_chat_tokens(config: TuneConfig = TuneConfig(), device=None):
    """(model, tokenizer): the base model before tuning, with the chat
    tokens added exactly as instruction_tune adds them."""
    base = store.load(config.base, device=device or get_device())
    return with_chat_tokens(base.model, base.tokenizer, config.seed)


def _train(config: TuneConfig, checkpoint, log) -> Assistant:
    return instruction_tune(config, torch.device("cpu"), log)


def _save(tuned: Assistant):
    return tuned.model.state_dict(), {"tokenizer": tuned.tokenizer.to_dict(),
                                      "losses": tuned.losses}


def _build(config: TuneConfig, tensors, data, device) -> Assistant:
    tokenizer = load_tokenizer(data["tokenizer"])
    base = store.recipe(config.base).config
    model = GPT(base.gpt_config(tokenizer.vocab_size))
    model.load_state_dict(tensors)
    return Assistant(model.to(device).eval(), tokenizer, data["losses"],
                     data.get("cpu_seconds", 0.0))


def _losses(tuned: Assistant) -> dict:
    return {"last_50_steps": sum(tuned.losses[-50:]) / 50}


def _quality(tuned: Assistant) -> dict:
    scores = evaluate(tuned.model, tuned.tokenizer,
                      instruction_data(held_out=True))
    return {key: value for key, value in scores.items() if key != "n"}


BARS = (store.Bar("accuracy", ">=", 0.90, why="right on held-out questions"),
        store.Bar("ended", ">=", 0.95, why="replies that end with <|end|>"))


RECIPE = store.Recipe(
    "assistant", "the facts GPT, instruction-tuned to answer questions",
    TuneConfig(), train=_train, save=_save, build=_build,
    losses=_losses, quality=_quality, bars=BARS, bases=("facts",))


if __name__ == "__main__":
    from genai.cli import demo_arguments

    demo_arguments(__doc__)   # --help says what the demo does
    tuned = assistant(device=torch.device("cpu"))
    for question in ["What is the capital of France?", "Capital of Peru?",
                     "What is the capital of Atlantis?"]:
        text, ended = reply(tuned.model, tuned.tokenizer,
                            [{"role": "user", "content": question}])
        print(f"{question!r} -> {text!r}" + ("" if ended else " (no end)"))
