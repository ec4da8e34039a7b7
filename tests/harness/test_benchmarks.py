"""Benchmarks print only figures that are measurements."""

from __future__ import annotations

import importlib.util

from support import ROOT


def benchmark(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
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
