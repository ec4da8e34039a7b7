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
# # Notebook: train a GAN on a ring of Gaussians
#
# This notebook trains the GAN of the chapter end to end. You will:
#
# 1. draw the ring of 8 Gaussians,
# 2. train a generator and a discriminator against each other,
# 3. look at the samples during training, both losses, and the
#    discriminator's view of the plane,
# 4. measure the result: modes covered and high-quality samples.
#
# All the code comes from the course's package `genai` (the file
# `snippets/genai/gans/gan.py` of the repository). Training takes about 15 seconds on a
# laptop CPU. Change the configuration and run it again: try a slower
# discriminator (`lr_d=3e-4`) to see mode collapse.

# %%
# %matplotlib inline
import dataclasses

import matplotlib.pyplot as plt
import torch

from genai.device import get_device
from genai.gans.gan import (RING, ring_modes, ring_of_gaussians, ring_quality,
                            sample, train_gan)

device = get_device()
print(f"Running on: {device}")
# networks this small train fastest on one CPU thread
torch.set_num_threads(1)

# %% [markdown]
# ## 1. The data
#
# 2,000 points from 8 Gaussian clusters on a circle of radius 2, each with a
# standard deviation of 0.05. The crosses mark the cluster centres.

# %%
# alt: The real data: 2,000 grey points in eight round clusters on a ring, with a cross at the centre of each cluster
data = ring_of_gaussians(2000, seed=0)
real = data.cpu()

fig, ax = plt.subplots(figsize=(4, 4))
ax.scatter(real[:, 0], real[:, 1], s=4, color="0.5")
ax.scatter(ring_modes()[:, 0], ring_modes()[:, 1], marker="+", s=60,
           color="black")
ax.set_aspect("equal")
ax.set_title("Real data")
plt.show()

# %% [markdown]
# ## 2. Training
#
# The default configuration: two small MLPs, the non-saturating loss, Adam,
# 3,000 steps. `snapshot_at` keeps 2,000 generated points at a few steps, so
# you can watch the game afterwards.

# %%
config = dataclasses.replace(RING, seed=0)
print(config)
steps_to_show = (1, 200, 500, 1000, 2000, 3000)
run = train_gan(data, config, snapshot_at=steps_to_show)
print(f"trained {len(run.g_losses)} steps in {run.seconds:.1f} s of CPU time")

# %% [markdown]
# ## 3. Watching the game
#
# Green: generated points. Grey: real data. The title gives the two
# measures of the chapter.

# %%
# alt: Six scatter plots of generated points (green) over the real ring (grey) at six moments of training, each titled with the modes covered and the share of good samples: the green points spread from a blob to the eight clusters
fig, axes = plt.subplots(2, 3, figsize=(9, 6.4), layout="constrained")
for ax, step in zip(axes.flat, steps_to_show):
    fake = run.snapshots[step]
    covered, quality = ring_quality(fake)
    ax.scatter(real[:, 0], real[:, 1], s=3, color="0.6")
    ax.scatter(fake[:, 0], fake[:, 1], s=3, color="#228833", alpha=0.5)
    ax.set_xlim(-3, 3)
    ax.set_ylim(-3, 3)
    ax.set_aspect("equal")
    ax.set_title(f"step {step}: {covered}/8, {quality:.0%}")
plt.show()

# %% [markdown]
# The losses, averaged over 50 steps. They do not fall to zero: they settle
# near the values of a balanced game (dotted lines).

# %%
# alt: The discriminator's and the generator's losses over training, averaged over 50 steps, settling near the dotted lines of a balanced game
window = 50
d_smooth = torch.tensor(run.d_losses).unfold(0, window, window).mean(1)
g_smooth = torch.tensor(run.g_losses).unfold(0, window, window).mean(1)
steps = window * torch.arange(1, len(d_smooth) + 1)

fig, ax = plt.subplots(figsize=(7, 3.5))
ax.plot(steps, d_smooth, label="discriminator")
ax.plot(steps, g_smooth, label="generator")
ax.axhline(2 * torch.log(torch.tensor(2.0)), linestyle=":", color="C0")
ax.axhline(torch.log(torch.tensor(2.0)), linestyle=":", color="C1")
ax.set_xlabel("training step")
ax.set_ylabel("loss")
ax.legend()
plt.show()

# %% [markdown]
# The discriminator's probability of "real" over the plane, after training.

# %%
# alt: The discriminator's probability of real over the plane, from blue (fake) to red (real), with generated points in yellow sitting in the regions it rates as real
axis = torch.linspace(-3, 3, 150)
g1, g2 = torch.meshgrid(axis, axis, indexing="xy")
grid = torch.stack([g1.flatten(), g2.flatten()], dim=1).to(device)
with torch.no_grad():
    prob = torch.sigmoid(run.discriminator(grid)).reshape(g1.shape).cpu()
fake = sample(run.generator, 2000)

fig, ax = plt.subplots(figsize=(5.5, 4.5))
image = ax.contourf(g1, g2, prob, levels=20, cmap="RdBu_r")
fig.colorbar(image, ax=ax, label="D(x)")
ax.scatter(fake[:, 0], fake[:, 1], s=2, color="#FFDD44")
ax.set_aspect("equal")
plt.show()

# %% [markdown]
# ## 4. The result
#
# A mode is covered if at least 1% of the samples are high-quality samples
# next to it; a sample is high quality if it lies within 3 standard
# deviations of a cluster centre.

# %%
covered, quality = ring_quality(fake)
print(f"modes covered: {covered}/8")
print(f"high-quality samples: {quality:.1%}")
