"""The forward process, its figures, and the text-to-image pipeline.

* genai.diffusion.noise_schedule agrees with Hugging Face diffusers, refuses bad steps
  and shapes with clear errors, and ends both schedules in noise.
* The slider's sprite sheet and its JSON index describe the same frames.
* genai.diffusion.text_to_image builds a tiny Stable Diffusion pipeline and loads it
  back with no network at all.
"""

import json
import socket

import numpy as np
import pytest
import torch
from PIL import Image

from genai.diffusion.noise_schedule import NoiseSchedule, ScheduleError, load_photo, to_image_array

SCHEDULES = [("linear", "linear"), ("cosine", "squaredcos_cap_v2")]


# ---------------------------------------------------------------------------
# Schedules
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("ours, theirs", SCHEDULES)
@pytest.mark.parametrize("steps", [100, 1000])
def test_schedule_matches_diffusers(ours, theirs, steps):
    from diffusers import DDPMScheduler

    schedule = getattr(NoiseSchedule, ours)(steps)
    scale = 1000 / steps  # diffusers takes the ends of the betas as given
    scheduler = DDPMScheduler(num_train_timesteps=steps,
                              beta_start=1e-4 * scale, beta_end=0.02 * scale,
                              beta_schedule=theirs)
    # our alpha_bars[t] is their alphas_cumprod[t - 1]
    assert len(schedule.alpha_bars) == len(scheduler.alphas_cumprod) + 1
    torch.testing.assert_close(schedule.alpha_bars[1:].float(),
                               scheduler.alphas_cumprod, atol=1e-6, rtol=0)
    generator = torch.Generator().manual_seed(0)
    x0 = torch.randn(steps, 3, 4, 4, generator=generator)
    noise = torch.randn(x0.shape, generator=generator)
    t = torch.arange(1, steps + 1)
    torch.testing.assert_close(schedule.q_sample(x0, t, noise),
                               scheduler.add_noise(x0, noise, t - 1),
                               atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", ["linear", "cosine"])
def test_alpha_bars_fall_from_one_to_almost_zero(name):
    schedule = getattr(NoiseSchedule, name)(100)
    ab = schedule.alpha_bars
    assert len(ab) == 101 and ab[0] == 1
    assert torch.all(ab[1:] < ab[:-1]), "alpha-bar must fall at every step"
    assert ab[100] < 1e-4
    assert torch.all((schedule.betas > 0) & (schedule.betas < 1))
    snr = schedule.snr()
    assert torch.all(snr[1:] < snr[:-1])


@pytest.mark.parametrize("steps", [0, -3, 2.5, True, "100", None])
def test_bad_number_of_steps(steps):
    for make in (NoiseSchedule.linear, NoiseSchedule.cosine):
        with pytest.raises(ScheduleError, match="whole number of steps >= 1"):
            make(steps)


def test_q_sample_step_zero_is_the_data_and_steps_are_per_item():
    schedule = NoiseSchedule.linear(100)
    x0 = torch.randn(3, 2, 5)
    noise = torch.randn_like(x0)
    torch.testing.assert_close(schedule.q_sample(x0, 0, noise), x0)
    xt = schedule.q_sample(x0, torch.tensor([0, 50, 100]), noise)
    for i, t in enumerate([0, 50, 100]):
        torch.testing.assert_close(xt[i], schedule.q_sample(x0, t, noise)[i])


@pytest.mark.parametrize("t, message", [
    (101, r"step 101 is outside 0..100"),
    (-1, r"step -1 is outside 0..100"),
    (torch.tensor([0, 7, 250]), r"step 250 is outside 0..100"),
    (0.5, "steps must be whole numbers"),
    (torch.tensor([1, 2]), r"got \(2,\) steps for a batch of 3"),
    (torch.ones(3, 1, dtype=torch.long), r"got \(3, 1\) steps for a batch"),
])
def test_q_sample_refuses_bad_steps(t, message):
    with pytest.raises(ScheduleError, match=message):
        NoiseSchedule.cosine(100).q_sample(torch.zeros(3, 4), t)


def test_q_sample_refuses_noise_of_another_shape():
    with pytest.raises(ScheduleError, match=r"noise has shape \(3, 5\) but "
                                            r"x0 has shape \(3, 4\)"):
        NoiseSchedule.linear(10).q_sample(torch.zeros(3, 4), 5,
                                          torch.zeros(3, 5))


def test_photo_is_scaled_to_minus_one_one():
    photo = load_photo(48)
    assert photo.shape == (3, 48, 72) and photo.dtype == torch.float32
    assert -1 <= photo.min() < -0.9 and 0.9 < photo.max() <= 1
    image = to_image_array(photo)
    assert image.shape == (48, 72, 3) and image.dtype == np.uint8
    for height in (4, 1000, 32.0):
        with pytest.raises(ScheduleError, match="height must be"):
            load_photo(height)


# ---------------------------------------------------------------------------
# Figures: the slider's sprite sheet and its index
# ---------------------------------------------------------------------------
def test_sprite_sheet_and_index_describe_the_same_frames(tmp_path):
    from genai.diffusion import figures as ff

    ff.plot_forward_sprite(tmp_path / "forward_sprite.json")
    index = json.loads((tmp_path / "forward_sprite.json").read_text())
    sheet = np.asarray(Image.open(tmp_path / index["sprite"]))
    w, h = index["frame_width"], index["frame_height"]
    assert index["frames"] == 101 and index["steps"] == 100
    assert index["columns"] * index["rows"] >= index["frames"]
    assert sheet.shape == (index["rows"] * h, index["columns"] * w, 3)
    expected = NoiseSchedule.cosine(100).alpha_bars.numpy()
    np.testing.assert_allclose(index["alpha_bars"], expected, rtol=1e-3,
                               atol=1e-12)
    # frame 0 is the clean photo; the last frame is noise, not the photo
    photo = to_image_array(load_photo(h)).astype(int)
    assert np.array_equal(sheet[:h, :w], photo)
    row, column = divmod(100, index["columns"])
    last = sheet[row * h:(row + 1) * h, column * w:(column + 1) * w]
    r = np.corrcoef(last.ravel(), photo.ravel())[0, 1]
    assert abs(r) < 0.05


def test_figures_are_drawn(tmp_path):
    from genai.diffusion import figures as ff

    for plot in (ff.plot_forward_steps, ff.plot_forward_strip,
                 ff.plot_schedules):
        path = tmp_path / f"{plot.__name__}.png"
        plot(path)
        assert Image.open(path).size[0] > 500


# ---------------------------------------------------------------------------
# Text to image: a tiny Stable Diffusion, built and loaded offline
# ---------------------------------------------------------------------------
@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a network connection fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args[1:]}")

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_tiny_pipeline_round_trip_offline(tmp_path, no_network):
    from genai.diffusion.text_to_image import (build_tiny_pipeline, describe, load_pipeline,
                                               text_to_image)

    folder = build_tiny_pipeline(tmp_path / "tiny")
    assert (folder / "model_index.json").is_file()
    parts = describe(folder)
    assert sorted(parts) == ["scheduler", "text_encoder", "tokenizer",
                             "unet", "vae"]
    assert not (folder / "safety_checker").exists()
    first = text_to_image("a red square", model=folder, steps=3, seed=1)
    again = text_to_image("a red square", model=str(folder), steps=3, seed=1)
    other = text_to_image("a red square", model=folder, steps=3, seed=2)
    unguided = text_to_image("a red square", model=folder, steps=3, seed=1,
                             guidance_scale=1.0, negative_prompt=None)
    assert first.size == (32, 32) and first.mode == "RGB"
    assert np.array_equal(np.asarray(first), np.asarray(again))
    assert not np.array_equal(np.asarray(first), np.asarray(other))
    assert not np.array_equal(np.asarray(first), np.asarray(unguided))
    pipe = load_pipeline(str(folder))
    assert pipe.unet.dtype == torch.float32  # float16 only on CUDA
    assert pipe.safety_checker is None


@pytest.mark.parametrize("kwargs, message", [
    ({"prompt": ""}, "the prompt must be some text"),
    ({"prompt": None}, "the prompt must be some text"),
    ({"steps": 0}, "steps must be a whole number >= 1"),
    ({"steps": 2.5}, "steps must be a whole number >= 1"),
    ({"guidance_scale": -1.0}, "guidance_scale must be >= 0"),
    ({"guidance_scale": float("nan")}, "guidance_scale must be >= 0"),
])
def test_text_to_image_refuses_bad_settings(kwargs, message, no_network):
    from genai.diffusion.text_to_image import TextToImageError, text_to_image

    args = {"prompt": "a cat", "model": "/nonexistent", **kwargs}
    with pytest.raises(TextToImageError, match=message):
        text_to_image(**args)
