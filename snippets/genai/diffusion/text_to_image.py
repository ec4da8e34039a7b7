"""Text to image with Hugging Face diffusers and a Stable Diffusion model.

`text_to_image` runs a Stable Diffusion pipeline: with downloaded weights
(`model` names a Hugging Face repository or a local folder), or with the
tiny, randomly initialised pipeline that `build_tiny_pipeline` writes. The
tiny one has the same parts (tokenizer, CLIP text encoder, U-Net with
cross-attention, VAE, scheduler) at under a thousandth of the size, so the
course can test the whole path offline in seconds. Its pictures are noise:
nobody trained it.

    python -m genai.diffusion.text_to_image    # builds the tiny pipeline, makes one image
"""

from __future__ import annotations

import functools
import json
import math
import os
import tempfile
from pathlib import Path

import torch

from genai.device import get_device

SD15 = "stable-diffusion-v1-5/stable-diffusion-v1-5"


class TextToImageError(ValueError):
    """A prompt or a setting that the pipeline cannot use."""


# --8<-- [start:load]
@functools.lru_cache(maxsize=1)
def load_pipeline(model: str = SD15):
    """The pipeline in `model` (a repository or a folder), on get_device().

    Half precision (float16) on CUDA, float32 elsewhere. The last pipeline
    stays loaded, so a second call with the same model is instant."""
    from diffusers import StableDiffusionPipeline

    device = get_device()
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    pipe = StableDiffusionPipeline.from_pretrained(
        model, dtype=dtype, low_cpu_mem_usage=False,
        safety_checker=None, feature_extractor=None,
        requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)
# --8<-- [end:load]


# --8<-- [start:text_to_image]
def text_to_image(prompt: str, model: str = SD15, steps: int = 30,
                  guidance_scale: float = 7.5, seed: int = 0,
                  negative_prompt: str | None = None):
    """One image (a PIL.Image) for `prompt`; the same seed, the same image."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise TextToImageError(f"the prompt must be some text, got {prompt!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise TextToImageError(f"steps must be a whole number >= 1, "
                               f"got {steps!r}")
    if not guidance_scale >= 0:
        raise TextToImageError(f"guidance_scale must be >= 0 (1 or less "
                               f"turns guidance off), got {guidance_scale!r}")
    pipe = load_pipeline(str(model))
    # a CPU generator: the same starting noise on every device
    generator = torch.Generator("cpu").manual_seed(seed)
    result = pipe(prompt, negative_prompt=negative_prompt,
                  num_inference_steps=steps, guidance_scale=guidance_scale,
                  generator=generator)
    return result.images[0]
# --8<-- [end:text_to_image]


def _byte_characters() -> list[str]:
    """The 256 characters that stand for the bytes 0..255 in CLIP's BPE.

    Printable bytes stand for themselves; the others (spaces and control
    bytes) get characters from 256 upwards, as in GPT-2 and CLIP."""
    characters, spare = [], 256
    for byte in range(256):
        char = chr(byte)
        if char.isprintable() and not char.isspace() and byte != 0xAD:
            characters.append(char)
        else:
            characters.append(chr(spare))
            spare += 1
    return characters


# --8<-- [start:tiny]
def build_tiny_pipeline(folder: str | Path, seed: int = 0) -> Path:
    """Write a tiny, untrained Stable Diffusion pipeline into `folder`.

    Same parts and file layout as the real one; 32 x 32 pixel images."""
    from diffusers import (AutoencoderKL, DDIMScheduler,
                           StableDiffusionPipeline, UNet2DConditionModel)
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    folder = Path(folder)
    torch.manual_seed(seed)
    # Tokenizer: one token per byte, and per byte that ends a word; no merges
    chars = _byte_characters()
    vocab = {token: i for i, token in
             enumerate(chars + [c + "</w>" for c in chars])}
    start, end = len(vocab), len(vocab) + 1
    vocab.update({"<|startoftext|>": start, "<|endoftext|>": end})
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)
    # Text encoder: a 2-layer CLIP text transformer, 32 numbers per token
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(vocab), hidden_size=32, intermediate_size=64,
        num_hidden_layers=2, num_attention_heads=4,
        max_position_embeddings=77, projection_dim=32,
        bos_token_id=start, eos_token_id=end, pad_token_id=end))
    # U-Net on 4 x 16 x 16 latents, cross-attending to the text
    unet = UNet2DConditionModel(
        sample_size=16, in_channels=4, out_channels=4,
        block_out_channels=(16, 32), layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32, attention_head_dim=4, norm_num_groups=8)
    # VAE: 3 x 32 x 32 pixels <-> 4 x 16 x 16 latents
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4,
        block_out_channels=(16, 32),
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
        norm_num_groups=8, sample_size=32)
    # Scheduler: Stable Diffusion's betas, sampled with DDIM
    scheduler = DDIMScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
        clip_sample=False, set_alpha_to_one=False, steps_offset=1)
    pipe = StableDiffusionPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
        scheduler=scheduler, safety_checker=None, feature_extractor=None,
        requires_safety_checker=False)
    pipe.save_pretrained(folder)
    return folder
# --8<-- [end:tiny]


def describe(folder: str | Path) -> dict[str, str]:
    """Each part of a saved pipeline: its class and how many parameters."""
    index = json.loads((Path(folder) / "model_index.json").read_text())
    parts = {}
    for name, spec in index.items():
        if name.startswith("_") or not isinstance(spec, list) or not spec[1]:
            continue
        weights = sorted((Path(folder) / name).glob("*.safetensors"))
        size = sum(_parameter_count(w) for w in weights)
        parts[name] = spec[1] + (f", {size:,} parameters" if size else "")
    return parts


def _parameter_count(path: Path) -> int:
    from safetensors import safe_open

    with safe_open(str(path), "pt") as weights:
        return sum(math.prod(weights.get_slice(k).get_shape())
                   for k in weights.keys())


if __name__ == "__main__":
    from genai.cli import demo_arguments

    demo_arguments(__doc__)   # --help says what the demo does
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    os.environ["HF_HUB_OFFLINE"] = "1"  # everything here is local
    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()
    with tempfile.TemporaryDirectory() as folder:
        build_tiny_pipeline(folder)
        for name, part in describe(folder).items():
            print(f"{name:13s} {part}")
        image = text_to_image("a watercolour of a lighthouse", model=folder,
                              steps=4)
        print(f"image: {image.size[0]} x {image.size[1]} pixels, "
              f"mode {image.mode}, on {get_device()}")
