"""Benchmarks print only figures that are measurements."""

from __future__ import annotations

import importlib.util
import sys

import torch

from support import ROOT


def benchmark(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module   # (dataclasses look their module up there)
    spec.loader.exec_module(module)
    return module


def test_a_time_from_a_difference_never_shows_a_fastest_or_negative_figure():
    throughput = benchmark("gpt_throughput")
    figures = dict(per_step=1e9, peak=1e11)
    # the course loop: (loop of 2n steps - loop of n steps) / n, noisy
    noisy = [0.020, -0.0181, 0.030]
    line = throughput.row("course loop, biases", noisy, direct=False, **figures)
    assert "-18.1" not in line and "(" not in line and "20.0 ms/step" in line
    lost = throughput.row("course loop, biases", [-0.01, 0.0, 0.002], direct=False, **figures)
    assert "not measured" in lost and "ms/step" not in lost
    direct = throughput.row("bare step, biases", [0.020, 0.018, 0.030], direct=True, **figures)
    assert "20.0 ms/step ( 18.0)" in direct


def test_the_gpu_check_runs_its_every_model_here_and_says_when_there_is_no_cuda(capsys, monkeypatch):
    """CI has no GPU: the same script compares the CPU with itself, so that
    what a GPU machine runs has run somewhere; without CUDA it says so."""
    on_gpu = benchmark("on_gpu")
    monkeypatch.setattr(on_gpu, "STEPS", 12)
    monkeypatch.setattr(on_gpu.torch.cuda, "is_available", lambda: False)
    assert on_gpu.main() == 0
    assert capsys.readouterr().out.startswith("on_gpu: no CUDA device here")
    assert on_gpu.main("cpu") == 0
    out = capsys.readouterr().out
    assert f"{len(on_gpu.CASES)} of {len(on_gpu.CASES)} models pass" in out
    broken = on_gpu.Case("a loss that grows", "samples", 1,
                         lambda device: ([torch.zeros(1, requires_grad=True)],
                                         lambda step: torch.tensor(float(step), requires_grad=True) * 1, False))
    monkeypatch.setattr(on_gpu, "CASES", [broken])
    assert on_gpu.main("cpu") == 1
    assert "did not fall" in capsys.readouterr().out
