# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Notebook: in-context learning
#
# A tiny GPT learns to read a secret code from the examples in its
# prompt. Each sequence it sees uses a new code: a random table that gives
# each letter from a to h a digit from 0 to 7. Nothing in the weights can
# know the code of a new sequence, so a right answer has to come from the
# context. You will:
#
# 1. build the training data and the test prompts,
# 2. train the model (or load it, if it is already trained),
# 3. measure its answers with and without examples in the prompt,
# 4. plot the accuracy against the number of examples,
# 5. try codes of your own.
#
# The code comes from the course's package `genai` (the file
# `snippets/genai/llm/in_context.py` of the repository). The trained model ships
# with the course, so it loads in a moment.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import torch

from genai.device import get_device
from genai.llm.in_context import (ICL, N, VOCAB, accuracy_by_k, complete,
                                  draw_codes, few_shot_prompts, ideal_accuracy,
                                  is_held_out, pretrained_icl, to_text,
                                  training_batch)

device = get_device()
print(f"Running on: {device}")

# %% [markdown]
# ## 1. The data
#
# The vocabulary has 80 tokens: the 8 letters, the 8 digits, and the 64
# examples from "a0" to "h7", each one token. A training sequence holds 16
# tokens: a few examples with different letters, then query letters. The
# targets say what the model must predict at each position: after a query
# letter comes its digit; after an example there is nothing to learn
# (-100 means "no target"). The targets are token ids: 8 is the digit 0,
# 15 the digit 7.

# %%
rng = torch.Generator().manual_seed(0)
x, y = training_batch(ICL, rng)
print("tokens:", tuple(x.shape))
for row in range(3):
    print(to_text(x[row]))
print("targets of the first sequence:", y[0].tolist())

# %% [markdown]
# A code is a list of 8 digits, one per letter. There are 8 to the power
# 8, about 16.8 million, codes. A fixed quarter of them is held out: the
# training data never uses one, and every test prompt does. Here you check
# the split on a few thousand codes of each side.

# %%
train_codes = draw_codes(5000, rng)
test_codes = draw_codes(5000, rng, held_out=True)
print("held out among training codes:",
      sum(is_held_out(c) for c in train_codes.tolist()))
print("held out among test codes:",
      sum(is_held_out(c) for c in test_codes.tolist()))
print(f"a test code: {dict(zip('abcdefgh', test_codes[0].tolist()))}")

# %% [markdown]
# A test prompt shows k examples with different letters, then a query
# letter drawn from all 8. The query letter may or may not be among the
# examples.

# %%
prompts, answers, shown = few_shot_prompts(3, 4, rng)
for p, a, s in zip(prompts, answers, shown):
    print(f"{to_text(p):14s} answer {VOCAB[a]}   query shown: {bool(s)}")

# %% [markdown]
# ## 2. The model
#
# A GPT with 2 layers of one attention head each, 64 numbers wide.
# `pretrained_icl` loads the model that the course trained (a fixed seed
# and a fixed number of steps) and ships. The loss curve shows a plateau near
# ln 8, about 2.08, where the model spreads its bets over the 8 digits,
# then a second fall when it learns to look back for the query letter.

# %%
# alt: The in-context model's training loss over 800 steps: a fast fall to about 2.1, a plateau, then a second fall to about 1.2
model = pretrained_icl(device)
print(f"{model.num_params():,} parameters, {ICL.steps} training steps, "
      f"{model.cpu_seconds:.0f} s of CPU time when it was trained")

window = 50
losses = torch.tensor(model.losses)
smooth = losses.view(-1, window).mean(dim=1)
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(window * torch.arange(1, len(smooth) + 1), smooth)
ax.set_xlabel("training step")
ax.set_ylabel("loss")
plt.show()

# %% [markdown]
# ## 3. With and without examples
#
# For each number of examples k, 2,000 prompts from held-out codes. The
# model's answer is its most likely next token (greedy decoding). The
# "ideal" column is a perfect reader of the examples: always right when
# the query letter was shown, right 1 time in 8 when it was not.

# %%
rows = accuracy_by_k(model)
print(" k  accuracy  ideal   shown letters")
for row in rows:
    shown = "" if row["shown"] is None else f"{row['shown']:.1%}"
    print(f"{row['k']:2d}  {row['accuracy']:7.1%}  {row['ideal']:6.1%}   "
          f"{shown}")
print(f"chance: {1 / N:.1%}")

# %% [markdown]
# ## 4. Accuracy against k

# %%
# alt: Accuracy against the number of examples k: the tiny GPT's points follow the dashed line of a perfect reader, from chance (1 in 8) at k = 0 to nearly 100% at k = 8
all_ks = list(range(N + 1))
rows = accuracy_by_k(model, ks=all_ks)
fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(all_ks, [100 * ideal_accuracy(k) for k in all_ks], "--",
        color="0.4", label="perfect reader")
ax.plot(all_ks, [100 * r["accuracy"] for r in rows], "o-",
        label="tiny GPT")
ax.axhline(100 / N, linestyle=":", color="C3", label="chance")
ax.set_xlabel("examples in the prompt, k")
ax.set_ylabel("right answers (%)")
ax.set_ylim(0, 100)
ax.legend()
plt.show()

# %% [markdown]
# ## 5. Your own code
#
# Write a prompt as examples, then the query letter, with spaces between
# the tokens. Change the code and the query and see whether the model
# follows. Tokens outside its vocabulary get a clear error.

# %%
my_code = {"a": 7, "b": 0, "c": 3, "d": 3, "e": 5}
examples = " ".join(f"{letter}{digit}" for letter, digit in my_code.items())
for query in "abcde":
    prompt = f"{examples} {query}"
    print(f"{prompt} -> {complete(model, prompt)}   (code: {my_code[query]})")

# %%
try:
    complete(model, "a7 z3 a")   # there is no letter z
except ValueError as error:
    print(f"{type(error).__name__}: {error}")
