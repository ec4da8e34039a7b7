"""The GAN chapter's code: bad input fails clearly, training resumes exactly."""

import dataclasses

import pytest
import torch

from genai.checkpoint import CheckpointError
from genai.gans.gan import (COLLAPSE_WGAN, DIGITS, RING, GANConfig, build_models,
                            load_digits_tensor, ring_of_gaussians, ring_quality, sample,
                            sample_latent, train_gan)

TINY = dataclasses.replace(RING, steps=60, batch_size=64, hidden=32)


@pytest.fixture(scope="module")
def ring():
    return ring_of_gaussians(500, seed=0)


def test_wrong_latent_size_is_explained():
    g, _ = build_models(TINY)
    with pytest.raises(ValueError, match=r"noise of shape \(N, 8\)"):
        g(torch.zeros(4, 3))


def test_data_of_another_dimension_is_refused(ring):
    with pytest.raises(ValueError, match=r"shape \(N, 2\).*got \(500, 3\)"):
        train_gan(torch.cat([ring, ring[:, :1]], dim=1), TINY)


def test_unknown_loss_and_bad_dcgan_size():
    with pytest.raises(ValueError, match="loss must be one of"):
        GANConfig(loss="hinge")
    with pytest.raises(ValueError, match="data_dim must be 64"):
        GANConfig(arch="dcgan", data_dim=2)


def test_resumed_run_matches_uninterrupted_run(ring, tmp_path):
    whole = train_gan(ring, TINY)
    path = tmp_path / "gan.pt"
    part = train_gan(ring, TINY, checkpoint=path, checkpoint_every=20,
                     stop_after=30)
    assert len(part.g_losses) == 30
    resumed = train_gan(ring, TINY, checkpoint=path, checkpoint_every=20)
    assert resumed.g_losses == whole.g_losses
    for a, b in zip(whole.generator.parameters(),
                    resumed.generator.parameters()):
        assert torch.equal(a, b)


def test_snapshots_record_the_generator_during_training(ring):
    run = train_gan(ring, dataclasses.replace(TINY, steps=10), snapshot_at=(5, 10))
    assert sorted(run.snapshots) == [5, 10]
    assert run.snapshots[5].shape[1] == 2
    assert not torch.equal(run.snapshots[5], run.snapshots[10])


def test_checkpoint_of_another_configuration(ring, tmp_path):
    path = tmp_path / "gan.pt"
    train_gan(ring, TINY, checkpoint=path)
    other = dataclasses.replace(TINY, latent_dim=4)
    with pytest.raises(CheckpointError, match="latent_dim: checkpoint has 8"):
        train_gan(ring, other, checkpoint=path)


@pytest.mark.parametrize("loss", ["minimax", "wgan-gp"])
def test_every_loss_trains(ring, loss):
    config = dataclasses.replace(COLLAPSE_WGAN, loss=loss, steps=20,
                                 batch_size=64, hidden=32, d_steps=2)
    run = train_gan(ring, config)
    assert len(run.d_losses) == 20
    assert all(torch.isfinite(torch.tensor(run.d_losses)))


def test_ring_quality_of_real_data():
    covered, quality = ring_quality(ring_of_gaussians(2000, seed=1).cpu())
    assert covered == 8 and quality > 0.98


def test_dcgan_makes_8x8_images():
    config = dataclasses.replace(DIGITS, steps=3)
    run = train_gan(load_digits_tensor(), config)
    images = sample(run.generator, 5)
    assert images.shape == (5, 64)
    assert images.abs().max() <= 1
    assert sample_latent(5, 16).shape == (5, 16)


def test_a_damaged_checkpoint_is_a_checkpoint_error(ring, tmp_path):
    path = tmp_path / "gan.pt"
    train_gan(ring, TINY, checkpoint=path, checkpoint_every=5, stop_after=5)
    payload = torch.load(path, weights_only=True)
    payload["state"]["rng"] = "not a generator state"
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="cannot use"):
        train_gan(ring, TINY, checkpoint=path)
