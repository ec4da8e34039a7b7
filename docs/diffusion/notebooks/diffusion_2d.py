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
# # Notebook: diffusion on 2-D data
#
# This notebook trains the diffusion model of the chapter end to end, on the
# two moons. You will:
#
# 1. draw the moons and watch the forward process turn them into noise,
# 2. train a network to predict the noise,
# 3. generate new points with ancestral (DDPM) sampling and watch the
#    reverse process,
# 4. sample again with DDIM in fewer steps, and measure both with the
#    Chamfer distance.
#
# All the code comes from the course's package `genai` (the files
# `snippets/genai/diffusion/ddpm.py` and `snippets/genai/diffusion/noise_schedule.py` of the
# repository). Training takes about 15 seconds on a laptop CPU. Change the
# configuration and run it again: try fewer training steps, or a smaller
# network (`hidden=16`).

# %%
# %matplotlib inline
import time

import matplotlib.pyplot as plt
import torch

from genai.device import get_device
from genai.diffusion.ddpm import (MOONS, chamfer_distance, ddim_sample,
                                  ddpm_sample, moons, train_diffusion)

print(f"Running on: {get_device()}")


def show(ax, points, title, real=None):
    """Points in green over real data in grey, on a fixed square."""
    if real is not None:
        ax.scatter(real[:, 0], real[:, 1], s=3, color="0.6")
    ax.scatter(points[:, 0], points[:, 1], s=3, color="#228833", alpha=0.6)
    ax.set_xlim(-3, 3)
    ax.set_ylim(-3, 3)
    ax.set_aspect("equal")
    ax.set_title(title)


# %% [markdown]
# ## 1. The data and the forward process
#
# 1,000 points of two moons, standardised so that each axis has mean 0 and
# standard deviation 1. A second, held-out sample of 1,000 points judges the
# generated points at the end.
#
# The forward process mixes each point with Gaussian noise. After all 100
# steps of the schedule, nothing of the moons is left.

# %%
# alt: Four scatter plots of the two moons at noise steps t = 0, 10, 30 and 100: the two crescents blur into one round Gaussian cloud
data = moons(1000, seed=0)
held_out = moons(1000, seed=1).cpu()
config = MOONS
print(config)

run = train_diffusion(data, config)  # trained here, used in section 2
schedule = run.schedule

fig, axes = plt.subplots(1, 4, figsize=(12, 3.3), layout="constrained")
for ax, t in zip(axes, [0, 10, 30, 100]):
    noisy = schedule.q_sample(data, t).cpu()
    show(ax, noisy, f"forward, t = {t}")
plt.show()

# %% [markdown]
# ## 2. Training
#
# Each training step takes a batch of points, a random step t for each, and
# fresh noise; it noises the points in one jump and asks the network for the
# noise. The loss is the mean squared error of that prediction. The cell
# above already trained the model (3,000 steps); here is its loss, averaged
# over 100 steps.

# %%
# alt: The training loss, the noise-prediction error, falling fast in the first few hundred steps and then slowly over 3,000 steps
print(f"trained {len(run.losses)} steps in {run.seconds:.1f} s of CPU time")
smooth = torch.tensor(run.losses).unfold(0, 100, 100).mean(dim=1)
fig, ax = plt.subplots(figsize=(7, 3.3))
ax.plot(100 * torch.arange(1, len(smooth) + 1), smooth)
ax.set_xlabel("training step")
ax.set_ylabel("noise-prediction MSE")
ax.set_ylim(0, None)
plt.show()

# %% [markdown]
# ## 3. Ancestral sampling, step by step
#
# Start from 1,000 points of pure noise and walk back through all 100
# steps. The snapshots show the same points on the way.

# %%
# alt: Six scatter plots of the same 1,000 points walking back from t = 100 to t = 0: a round cloud of noise that gathers into the two moons, drawn over the real moons in grey
steps_to_show = (100, 50, 20, 10, 5, 0)
samples, snapshots = ddpm_sample(run.model, schedule, 1000,
                                 snapshot_at=steps_to_show)
fig, axes = plt.subplots(2, 3, figsize=(9, 6.4), layout="constrained")
for ax, t in zip(axes.flat, steps_to_show):
    show(ax, snapshots[t], f"reverse, t = {t}", real=held_out)
plt.show()

# %% [markdown]
# ## 4. DDIM, and how good the samples are
#
# DDIM jumps through a short sub-sequence of the steps, without fresh
# noise. The Chamfer distance compares each set of samples with the
# held-out points (lower is better); a second real sample and pure noise
# give the scale.

# %%
# alt: Three scatter plots of generated points over the real moons: DDPM with 100 steps, DDIM with 20 and with 5 steps, each with its Chamfer distance; the 5-step samples are the least tidy
noise = torch.randn(1000, 2, generator=torch.Generator().manual_seed(0))
second = moons(1000, seed=2)
print(f"second real sample: {chamfer_distance(second, held_out):.3f}")
print(f"pure noise:         {chamfer_distance(noise, held_out):.3f}")

results = []
start = time.perf_counter()
x, _ = ddpm_sample(run.model, schedule, 1000)
results.append(("DDPM, 100 steps", x, time.perf_counter() - start))
for n_steps in (20, 5):
    start = time.perf_counter()
    x = ddim_sample(run.model, schedule, 1000, n_steps)
    results.append((f"DDIM, {n_steps} steps", x, time.perf_counter() - start))

fig, axes = plt.subplots(1, 3, figsize=(12, 4.3), layout="constrained")
for ax, (name, x, seconds) in zip(axes, results):
    distance = chamfer_distance(x, held_out)
    print(f"{name}: {seconds:.2f} s, Chamfer {distance:.3f}")
    show(ax, x, f"{name}\nChamfer {distance:.3f}", real=held_out)
plt.show()
