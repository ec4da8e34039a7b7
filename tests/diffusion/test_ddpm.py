"""The diffusion chapter's code: training, sampling, guidance, bad input."""

import dataclasses

import pytest
import torch

from genai.checkpoint import CheckpointError
from genai.device import get_device
from genai.diffusion.ddpm import (DIGITS, MOONS, CheckpointMismatch, Denoiser, DiffusionConfig,
                                  DiffusionError, build_model, chamfer_distance, ddim_sample,
                                  ddim_steps, ddpm_sample, diffusion_loss, make_schedule, moons,
                                  predict_noise, time_embedding, train_diffusion)
from genai.diffusion.digits import DigitJudge, class_accuracy, load_digits_data
from genai.diffusion.noise_schedule import ScheduleError

TINY = dataclasses.replace(MOONS, steps=50, train_steps=60, batch_size=64,
                           hidden=32, blocks=1)
TINY_COND = dataclasses.replace(TINY, n_classes=3)


@pytest.fixture(scope="module")
def points():
    return moons(300, seed=0)


@pytest.fixture(scope="module")
def labels(points):
    return torch.arange(len(points), device=points.device) % 3


@pytest.fixture(scope="module")
def run(points):
    return train_diffusion(points, TINY)


@pytest.fixture(scope="module")
def cond_run(points, labels):
    return train_diffusion(points, TINY_COND, labels=labels)


def test_everything_lives_on_the_course_device(run):
    assert next(run.model.parameters()).device.type == get_device().type
    assert moons(10).device.type == get_device().type


def test_moons_are_standardised():
    x = moons(5000, seed=3).cpu()
    assert x.mean(dim=0).abs().max() < 0.05
    assert (x.std(dim=0) - 1).abs().max() < 0.05


def test_loss_falls(points):
    run = train_diffusion(points, dataclasses.replace(TINY, train_steps=300))
    first, last = run.losses[:30], run.losses[-30:]
    assert sum(last) / 30 < 0.8 * sum(first) / 30


def test_time_embedding_shape_and_distinct_steps():
    emb = time_embedding(torch.tensor([1, 2, 50]), 16)
    assert emb.shape == (3, 16)
    assert not torch.allclose(emb[0], emb[1])


def test_ddpm_samples_and_snapshots(run):
    x, snaps = ddpm_sample(run.model, run.schedule, 7, snapshot_at=(50, 5, 0))
    assert x.shape == (7, 2)
    assert sorted(snaps) == [0, 5, 50]
    assert torch.equal(snaps[0], x)
    assert snaps[50].shape == (7, 2)
    again, _ = ddpm_sample(run.model, run.schedule, 7)
    assert torch.equal(x, again)  # seeded


def test_ddim_with_every_step_and_with_few(run):
    assert ddim_steps(run.schedule, 5) == [50, 40, 30, 20, 10, 0]
    assert ddim_steps(run.schedule, 50) == list(range(50, -1, -1))
    full = ddim_sample(run.model, run.schedule, 9, n_steps=50)
    few = ddim_sample(run.model, run.schedule, 9, n_steps=4)
    assert full.shape == few.shape == (9, 2)
    # eta = 0: deterministic given the starting noise
    assert torch.equal(few, ddim_sample(run.model, run.schedule, 9, 4))


def test_ddim_with_one_step_is_the_clipped_first_guess(run):
    x = ddim_sample(run.model, run.schedule, 50, n_steps=1)
    assert x.abs().max() <= TINY.data_range


def test_conditional_sampling_returns_one_sample_per_label(cond_run):
    model, schedule = cond_run.model, cond_run.schedule
    x, _ = ddpm_sample(model, schedule, 6, labels=torch.tensor([0, 1, 2] * 2))
    assert x.shape == (6, 2)
    y = ddim_sample(model, schedule, 4, 5, labels=2, guidance=3.0)
    assert y.shape == (4, 2)


def test_guidance_scale_zero_and_one(cond_run):
    model = cond_run.model
    device = next(model.parameters()).device
    x = torch.randn(5, 2, device=device)
    t = torch.full((5,), 10, device=device)
    y = torch.tensor([0, 1, 2, 0, 1], device=device)
    with torch.no_grad():
        uncond, cond = model(x, t), model(x, t, y)
        # w = 0 ignores the label, w = 1 is the conditional model
        assert torch.allclose(predict_noise(model, x, t, y, 0.0), uncond,
                              atol=1e-6)
        assert torch.equal(predict_noise(model, x, t, y, 1.0), cond)
        w3 = predict_noise(model, x, t, y, 3.0)
    assert torch.allclose(w3, uncond + 3 * (cond - uncond), atol=1e-5)


def test_chamfer_distance():
    a = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    assert chamfer_distance(a, a) == 0
    b = torch.tensor([[0.0, 1.0]])
    # a -> b: 1 and sqrt(2); b -> a: 1; averaged both ways
    expected = 0.5 * ((1 + 2 ** 0.5) / 2 + 1)
    assert chamfer_distance(a, b) == pytest.approx(expected)
    with pytest.raises(DiffusionError, match=r"\(N, D\) and \(M, D\)"):
        chamfer_distance(a, torch.zeros(3, 3))


# ---- bad input --------------------------------------------------------------

def test_step_outside_the_schedule_is_refused(run):
    x = torch.zeros(2, 2, device=get_device())
    for t in (0, TINY.steps + 1):
        with pytest.raises(ScheduleError, match=r"steps 1\.\.50, got"):
            run.model(x, torch.full((2,), t, device=x.device))
    with pytest.raises(ScheduleError, match=r"1\.\.50 steps"):
        ddim_sample(run.model, run.schedule, 3, n_steps=51)
    with pytest.raises(ScheduleError, match=r"1\.\.50 steps"):
        ddim_steps(run.schedule, 0)
    with pytest.raises(ScheduleError, match=r"outside 0\.\.50"):
        ddpm_sample(run.model, run.schedule, 3, snapshot_at=(55,))


def test_data_of_another_shape_is_refused(points, run):
    with pytest.raises(DiffusionError, match=r"\(N, 2\).*got \(300, 3\)"):
        train_diffusion(torch.cat([points, points[:, :1]], dim=1), TINY)
    x = torch.zeros(4, 3, device=get_device())
    t = torch.ones(4, dtype=torch.long, device=get_device())
    with pytest.raises(DiffusionError, match=r"\(N, 2\)"):
        run.model(x, t)
    with pytest.raises(DiffusionError, match="one step per item"):
        run.model(x[:, :2], t[:3])


def test_negative_guidance_scale_is_refused(cond_run):
    with pytest.raises(DiffusionError, match=r"guidance scale must be >= 0"):
        ddim_sample(cond_run.model, cond_run.schedule, 2, 5, labels=1,
                    guidance=-0.5)


def test_label_outside_the_trained_classes(cond_run, run, points):
    model, schedule = cond_run.model, cond_run.schedule
    with pytest.raises(DiffusionError, match=r"label 3 .* classes 0\.\.2"):
        ddim_sample(model, schedule, 2, 5, labels=3)
    with pytest.raises(DiffusionError, match=r"label -1"):
        ddpm_sample(model, schedule, 2, labels=torch.tensor([0, -1]))
    with pytest.raises(DiffusionError, match="one label per sample"):
        ddim_sample(model, schedule, 3, 5, labels=torch.tensor([0, 1]))
    with pytest.raises(DiffusionError, match="trained without classes"):
        ddim_sample(run.model, run.schedule, 2, 5, labels=0)
    with pytest.raises(DiffusionError, match=r"label 3 .* classes 0\.\.2"):
        train_diffusion(points, TINY_COND,
                        labels=torch.full((300,), 3, device=points.device))


def test_bad_configuration():
    with pytest.raises(ScheduleError, match="too few for the linear"):
        make_schedule(dataclasses.replace(TINY, steps=20))
    with pytest.raises(DiffusionError, match="schedule must be"):
        DiffusionConfig(schedule="quadratic")
    with pytest.raises(DiffusionError, match="p_uncond"):
        DiffusionConfig(p_uncond=1.0)


# ---- checkpoints --------------------------------------------------------------

def test_resumed_run_matches_uninterrupted_run(points, labels, tmp_path):
    whole = train_diffusion(points, TINY_COND, labels=labels)
    path = tmp_path / "diffusion.pt"
    part = train_diffusion(points, TINY_COND, labels=labels, checkpoint=path,
                           checkpoint_every=20, stop_after=30)
    assert len(part.losses) == 30
    resumed = train_diffusion(points, TINY_COND, labels=labels,
                              checkpoint=path, checkpoint_every=20)
    assert resumed.losses == whole.losses
    for a, b in zip(whole.model.parameters(), resumed.model.parameters()):
        assert torch.equal(a, b)
    assert [p.name for p in tmp_path.iterdir()] == ["diffusion.pt"]


def test_checkpoint_of_another_configuration(points, tmp_path):
    path = tmp_path / "diffusion.pt"
    train_diffusion(points, TINY, checkpoint=path)
    other = dataclasses.replace(TINY, hidden=16)
    with pytest.raises(CheckpointMismatch, match="hidden: checkpoint has 32"):
        train_diffusion(points, other, checkpoint=path)
    # one error, both kinds: a bad checkpoint and a bad value
    assert issubclass(CheckpointMismatch, CheckpointError)
    assert issubclass(CheckpointMismatch, ValueError)


# ---- digits ---------------------------------------------------------------------

def test_digits_model_and_judge():
    x, y = load_digits_data()
    assert x.shape == (1797, 64) and y.shape == (1797,)
    assert x.min() == -1 and x.max() == 1
    judge = DigitJudge()
    assert judge.test_accuracy > 0.9
    assert (judge.predict(x[:100]) == y[:100].cpu()).float().mean() > 0.9
    with pytest.raises(DiffusionError, match=r"images \(N, 64\)"):
        judge.predict(x[:, :10])
    config = dataclasses.replace(DIGITS, train_steps=5, hidden=32, steps=50)
    run = train_diffusion(x, config, labels=y)
    assert isinstance(run.model, Denoiser)
    accuracy = class_accuracy(run.model, run.schedule, judge, 2.0,
                              per_class=2, n_steps=5)
    assert 0 <= accuracy <= 1
    accuracy = class_accuracy(run.model, make_schedule(config), judge, 1.0,
                              per_class=1, n_steps=None)
    assert 0 <= accuracy <= 1


def test_loss_is_a_positive_number(run, points):
    rng = torch.Generator().manual_seed(0)
    loss = diffusion_loss(build_model(TINY), run.schedule, points, None, rng)
    assert loss.ndim == 0 and loss.item() > 0


def test_a_damaged_checkpoint_is_a_checkpoint_error(points, tmp_path):
    path = tmp_path / "diffusion.pt"
    train_diffusion(points, TINY, checkpoint=path, stop_after=5, checkpoint_every=5)
    payload = torch.load(path, weights_only=True)
    del payload["state"]["opt"]
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="lacks 'opt'"):
        train_diffusion(points, TINY, checkpoint=path)
