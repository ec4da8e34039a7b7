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
# # Notebook: fit and sample a Gaussian mixture
#
# This notebook walks through the first chapter hands-on. You will:
#
# 1. make the two-moons data set,
# 2. fit a classifier to it and draw its decision boundary,
# 3. fit a Gaussian mixture to it with EM, and draw new points from it,
# 4. choose the number of components with held-out data.
#
# All the code comes from the course's package `genai` (the folder `snippets/`
# of the repository). Each step takes a fraction of a second on a laptop CPU.
# Change the numbers and run the cells again: that is what the notebook is for.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import torch

from genai.generative_models.classifier import accuracy, predict_proba, train_classifier
from genai.device import get_device
from genai.generative_models.gmm import fit_gmm, log_likelihood, sample
from genai.generative_models.toy_data import moons_train_test

device = get_device()
print(f"Running on: {device}")

# %% [markdown]
# ## 1. The data
#
# 400 training points and 400 held-out points, drawn independently from the
# same two moons. Try a larger `noise`, or fewer points.

# %%
# alt: The training points: two interleaved half-moons, class 0 in blue and class 1 in red
x_train, y_train, x_test, y_test = moons_train_test(
    seed=0, n_samples=400, noise=0.15, device=device)

fig, ax = plt.subplots(figsize=(6, 3.5))
for c, colour in enumerate(["#4477AA", "#EE6677"]):
    points = x_train[y_train == c].cpu()
    ax.scatter(points[:, 0], points[:, 1], s=10, color=colour,
               label=f"class {c}")
ax.set_title("Training points")
ax.legend()
plt.show()

# %% [markdown]
# ## 2. A discriminative model
#
# A small neural network learns the probability of each class given a point.
# The black line is where it is unsure (probability one half).

# %%
# alt: The classifier's probability of class 1 over the plane, blue to red, with its decision boundary as a black line between the two moons
classifier = train_classifier(x_train, y_train)
print(f"training accuracy {accuracy(classifier, x_train, y_train):.3f}")
print(f"held-out accuracy {accuracy(classifier, x_test, y_test):.3f}")

# a grid of points covering the plot, to colour every location
g1, g2 = torch.meshgrid(torch.linspace(-2, 3, 150),
                        torch.linspace(-1.5, 2, 150), indexing="xy")
grid = torch.stack([g1.flatten(), g2.flatten()], dim=1).to(device)  # (G, 2)
p_class1 = predict_proba(classifier, grid)[:, 1].reshape(g1.shape).cpu()

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.contourf(g1, g2, p_class1, levels=20, cmap="RdBu_r", alpha=0.4)
ax.contour(g1, g2, p_class1, levels=[0.5], colors="black")
ax.scatter(x_train[:, 0].cpu(), x_train[:, 1].cpu(), s=6, color="0.3")
ax.set_title("Classifier: probability of class 1")
plt.show()

# %% [markdown]
# ## 3. A generative model
#
# A mixture of 8 Gaussians, fitted with EM to the points without their labels.
# The list `history` holds the mean log-likelihood computed in each E-step,
# that is, with the parameters before that iteration's M-step: it never goes
# down. `fit_gmm` starts EM from random points chosen with `seed` (0 unless
# you pass another), so this fit gives the same numbers as the chapter's
# pages. Try `seed=1`: the digits change a little.

# %%
# alt: The mean log-likelihood after each EM iteration, rising quickly and then levelling off
gmm, history = fit_gmm(x_train, n_components=8)
print(f"EM iterations: {len(history)}")
train_ll = log_likelihood(x_train, gmm).mean()
test_ll = log_likelihood(x_test, gmm).mean()
print(f"mean log-likelihood, training points: {train_ll:.3f}")
print(f"mean log-likelihood, held-out points: {test_ll:.3f}")

fig, ax = plt.subplots(figsize=(6, 2.5))
ax.plot(range(1, len(history) + 1), history, marker=".")
ax.set_xlabel("EM iteration")
ax.set_ylabel("mean log-likelihood\n(after each E-step)")
plt.show()

# %% [markdown]
# Now the point of a generative model: draw new points from it. Each one
# picks a component, then draws from that component's Gaussian. The crosses
# mark the component centres.

# %%
# alt: The mixture's log-density as purple shading over the two moons, with the training points in grey, new samples in green and the eight centres as black crosses
new_points, component = sample(gmm, 400)
log_px = log_likelihood(grid, gmm).reshape(g1.shape).cpu()

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.contourf(g1, g2, log_px.clamp(min=-6), levels=12, cmap="Purples", alpha=0.7)
ax.scatter(x_train[:, 0].cpu(), x_train[:, 1].cpu(), s=6, color="0.45",
           label="training points")
ax.scatter(new_points[:, 0].cpu(), new_points[:, 1].cpu(), s=8,
           color="#228833", label="new samples")
ax.scatter(gmm.means[:, 0].cpu(), gmm.means[:, 1].cpu(), marker="x", s=60,
           color="black", label="centres")
ax.set_title("Mixture: log-density and new samples")
ax.legend(loc="lower left", fontsize=10)
plt.show()

# %% [markdown]
# ## 4. How many components?
#
# Fit a mixture for several numbers of components and score each one on the
# training points and on the held-out points. The training score rises with K;
# the held-out score tells you when extra components stop helping. Near its
# top the held-out curve is flat, so take the smallest K that scores about
# as well as the best.

# %%
# alt: Mean log-likelihood against the number of components K: the training score keeps rising while the held-out score peaks and then falls
ks = [1, 2, 3, 4, 6, 8, 10, 12, 16, 20]
train_scores, test_scores = [], []
for k in ks:
    model, _ = fit_gmm(x_train, n_components=k)
    train_scores.append(log_likelihood(x_train, model).mean().item())
    test_scores.append(log_likelihood(x_test, model).mean().item())
    print(f"K = {k:2d}: train {train_scores[-1]:.3f}, "
          f"held-out {test_scores[-1]:.3f}")

best = ks[max(range(len(ks)), key=lambda i: test_scores[i])]
print(f"best K on held-out data: {best}")

fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(ks, train_scores, "o-", label="training points")
ax.plot(ks, test_scores, "s-", label="held-out points")
ax.set_xticks(ks)
ax.set_xlabel("number of components K")
ax.set_ylabel("mean log-likelihood")
ax.legend()
plt.show()

# %% [markdown]
# ## Things to try
#
# - Set `noise=0.3` in the first cell. Does the best number of components
#   change?
# - Fit a mixture with as many components as training points
#   (`n_components=len(x_train)`). Compare its training and held-out scores.
# - Draw 5 points from the mixture with `sample(gmm, 5)` and print them next to
#   their nearest training points (`genai.generative_models.memorisation.nearest_distance` helps).
