"""Each chapter's model trains on a CUDA GPU as it does on the CPU.

    python benchmarks/on_gpu.py            # exits 0 with one line when there is no CUDA

CI never has a GPU, yet the course promises that its code runs unchanged
on one. This script is that check, ready for any machine with CUDA: for
each chapter's model (the GAN on the ring, the convolutional GAN on the
digits, the diffusion denoiser on the moons and on the digits, the GPT on
the stories' characters) it

1. computes the loss of the same initial weights on the same batch on the
   CPU and on CUDA: they must agree within STEP0_RTOL (float32; TF32 is
   turned off for this comparison, since it rounds matmul inputs to 10
   bits), and within AMP_RTOL for the GPT under bfloat16 autocast, as
   `genai.llm.train` runs it on CUDA;
2. trains STEPS steps on each device: every loss must be finite, and the
   mean of the last ten below the mean of the first ten;
3. prints examples (or tokens) per second on each device.

It exits non-zero if any check fails. Nothing here is a test: the suite
runs on the CPU.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

STEPS = 60
STEP0_RTOL = 1e-3     # float32 on both devices: the same numbers, summed in another order
AMP_RTOL = 3e-2       # bfloat16 keeps 8 bits of mantissa


@dataclass
class Case:
    name: str
    unit: str                      # what a step processes: "samples", "tokens", "images"
    per_step: int                  # how many of them
    make: Callable                 # device -> (parameters, loss(step) -> tensor, adversarial)
    amp: bool = False              # bfloat16 autocast on CUDA


def _gan(g, d, data, z_all, opt_d):
    """The generator's loss at a step, after one step of the discriminator
    (which has its own optimizer: the generator's is run()'s)."""
    from genai.gans.gan import d_loss_gan, g_loss_nonsaturating

    batch = z_all.shape[1]

    def loss(step):
        start = (step * batch) % len(data)
        real = data[start:start + batch]
        fake = g(z_all[step])
        loss_d = d_loss_gan(d(real), d(fake.detach()))
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        return g_loss_nonsaturating(d(fake))

    return list(g.parameters()), loss, True   # adversarial: the loss need not fall


def gan_ring(device):
    from genai.gans.gan import Discriminator, Generator, ring_of_gaussians

    torch.manual_seed(0)
    g, d = Generator(2, 2).to(device), Discriminator(2).to(device)
    data = ring_of_gaussians(2048, seed=0).to(device)
    z_all = torch.randn(STEPS + 1, 256, 2, generator=torch.Generator().manual_seed(1)).to(device)
    return _gan(g, d, data, z_all, torch.optim.Adam(d.parameters(), lr=1e-3))


def gan_digits(device):
    from genai.gans.gan import ConvDiscriminator, ConvGenerator, load_digits_tensor

    torch.manual_seed(0)
    g, d = ConvGenerator(16).to(device), ConvDiscriminator().to(device)
    data = load_digits_tensor().to(device)[:1024]
    z_all = torch.randn(STEPS + 1, 128, 16, generator=torch.Generator().manual_seed(1)).to(device)
    return _gan(g, d, data, z_all, torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999)))


def _diffusion(device, data, config):
    from genai.diffusion.ddpm import Denoiser, make_schedule

    torch.manual_seed(0)
    model = Denoiser(config).to(device)
    schedule = make_schedule(config)
    rng = torch.Generator().manual_seed(1)
    batches = [(torch.randint(1, schedule.steps + 1, (256,), generator=rng),
                torch.randn(256, config.data_dim, generator=rng)) for _ in range(STEPS + 1)]

    def loss(step):
        t, eps = (tensor.to(device) for tensor in batches[step])
        x0 = data[(step * 256) % len(data):][:256]
        x0 = x0 if len(x0) == 256 else data[:256]
        x_t = schedule.q_sample(x0, t, eps)
        return F.mse_loss(model(x_t, t), eps)

    return list(model.parameters()), loss, False


def diffusion_moons(device):
    from genai.diffusion.ddpm import DiffusionConfig, moons

    return _diffusion(device, moons(4096, seed=0).to(device), DiffusionConfig())


def diffusion_digits(device):
    from genai.diffusion.ddpm import DiffusionConfig
    from genai.gans.gan import load_digits_tensor

    return _diffusion(device, load_digits_tensor().to(device),
                      DiffusionConfig(data_dim=64, hidden=256, data_range=1.0))


def gpt_stories(device):
    from genai.llm.corpora import story_corpus
    from genai.llm.gpt import GPT, GPTConfig
    from genai.llm.tokenizer import CharTokenizer

    text = story_corpus(seed=0, n_stories=300)
    tokenizer = CharTokenizer.train(text)
    ids = torch.tensor(tokenizer.encode(text), dtype=torch.long)
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=tokenizer.vocab_size, block_size=64)).to(device)
    rng = torch.Generator().manual_seed(1)
    starts = torch.randint(len(ids) - 65, (STEPS + 1, 32), generator=rng)

    def loss(step):
        windows = torch.stack([ids[s:s + 65] for s in starts[step]]).to(device)
        _, value = model(windows[:, :-1], windows[:, 1:])
        return value

    return list(model.parameters()), loss, False


CASES = [
    Case("GAN, ring of Gaussians (MLP)", "samples", 256, gan_ring),
    Case("GAN, digits (convolutional)", "images", 128, gan_digits),
    Case("diffusion, two moons", "samples", 256, diffusion_moons),
    Case("diffusion, digits", "images", 256, diffusion_digits),
    Case("GPT, stories' characters (float32)", "tokens", 32 * 64, gpt_stories),
    Case("GPT, stories' characters (bfloat16 autocast)", "tokens", 32 * 64, gpt_stories, amp=True),
]


def run(case: Case, device: torch.device):
    """(every loss, seconds per step, adversarial) of STEPS Adam steps."""
    parameters, loss_at, adversarial = case.make(device)
    optimizer = torch.optim.Adam(parameters, lr=1e-3)
    losses = []
    synchronize = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    torch.manual_seed(0)
    start = None
    for step in range(STEPS):
        if step == min(5, STEPS // 2):   # after warm-up (CUDA kernels, allocator)
            synchronize()
            start = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=case.amp and device.type == "cuda"):
            loss = loss_at(step)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    synchronize()
    return losses, (time.perf_counter() - start) / (STEPS - min(5, STEPS // 2)), adversarial


def main(device: str = "cuda") -> int:
    """Compare the CPU with `device` (the tests compare the CPU with itself:
    the same script, so that what runs on a GPU was run somewhere first)."""
    if device == "cuda" and not torch.cuda.is_available():
        print(f"on_gpu: no CUDA device here (torch {torch.__version__}): nothing to check")
        return 0
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    cuda = torch.device(device)
    other = device.upper()
    name = torch.cuda.get_device_name(0) if cuda.type == "cuda" else cuda.type
    print(f"torch {torch.__version__}, {name}, CPU threads {torch.get_num_threads()}")
    print(f"{STEPS} Adam steps per model; step-0 loss CPU vs CUDA within rtol {STEP0_RTOL:g} "
          f"(float32) or {AMP_RTOL:g} (bfloat16)\n")
    failures = []
    for case in CASES:
        cpu_losses, cpu_step, _ = run(case, torch.device("cpu"))
        gpu_losses, gpu_step, adversarial = run(case, cuda)
        tolerance = AMP_RTOL if case.amp else STEP0_RTOL
        problems = []
        if not all(math.isfinite(x) for x in gpu_losses):
            problems.append(f"a loss on {other} is not finite")
        difference = abs(gpu_losses[0] - cpu_losses[0]) / max(abs(cpu_losses[0]), 1e-12)
        if difference > tolerance:
            problems.append(f"step 0: {other} {gpu_losses[0]:.6f}, CPU {cpu_losses[0]:.6f} "
                            f"(rel. difference {difference:.1e} > {tolerance:g})")
        k = min(10, STEPS // 2)   # the first and the last k steps
        first, last = sum(gpu_losses[:k]) / k, sum(gpu_losses[-k:]) / k
        if not adversarial and not last < first:
            problems.append(f"the loss on {other} did not fall ({first:.4f} -> {last:.4f})")
        rate = lambda seconds: f"{case.per_step / seconds:12,.0f} {case.unit}/s"   # noqa: E731
        print(f"{case.name}\n  step 0: CPU {cpu_losses[0]:.6f}, {other} {gpu_losses[0]:.6f}; "
              f"{other} loss {first:.4f} -> {last:.4f} (first and last {k} steps)\n"
              f"  CPU {rate(cpu_step)}   {other} {rate(gpu_step)}   x{cpu_step / gpu_step:.1f}")
        for problem in problems:
            print(f"  FAILED: {problem}")
        failures += [f"{case.name}: {problem}" for problem in problems]
    print(f"\n{len(CASES) - len({f.split(':')[0] for f in failures})} of {len(CASES)} models pass")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
