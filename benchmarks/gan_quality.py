"""Quality bars of the GAN chapter, measured: prints, never asserts.

* The default configuration on the ring of 8 Gaussians, seeds 0, 1, 2:
  modes covered (out of 8), share of high-quality samples, training seconds
  (CPU time of the training loop, one thread). The bar: 8/8 modes and at
  least 90% high-quality samples within 30 s.
* The collapse configuration, and the same with the WGAN-GP loss, with the
  course's penalty weight (lambda = 1) and with 0.1 and the paper's 10.

    python benchmarks/gan_quality.py
"""

import dataclasses

import torch

from genai.gans.gan import (COLLAPSE, COLLAPSE_WGAN, RING, ring_of_gaussians, ring_quality, sample,
                            train_gan)


def measure(name, config, data):
    print(f"{name}:")
    for seed in (0, 1, 2):
        run = train_gan(data, dataclasses.replace(config, seed=seed))
        covered, quality = ring_quality(sample(run.generator, 2000, seed=seed))
        print(f"  seed {seed}: {covered}/8 modes, {quality:.1%} high quality,"
              f" {run.seconds:.1f} s training", flush=True)


if __name__ == "__main__":
    torch.set_num_threads(1)
    data = ring_of_gaussians(2000, seed=0)
    measure("default (non-saturating loss)", RING, data)
    measure("collapse (discriminator learns 10x slower)", COLLAPSE, data)
    measure("collapse configuration with WGAN-GP, lambda = 1", COLLAPSE_WGAN, data)
    for weight in (0.1, 10.0):
        measure(f"the same with lambda = {weight:g}",
                dataclasses.replace(COLLAPSE_WGAN, gp_weight=weight), data)
