"""The device helper: CUDA, then MPS, then CPU; COURSE_DEVICE forces one."""

import pytest
import torch

from genai.device import get_device


def test_cpu_can_be_forced(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")


def test_default_prefers_an_accelerator(monkeypatch):
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert get_device().type == expected


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_forcing_a_missing_device_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "cuda")
    with pytest.raises(RuntimeError, match="COURSE_DEVICE=cuda but CUDA is not available"):
        get_device()


def test_unknown_device_name_is_rejected(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "tpu-please")
    with pytest.raises(RuntimeError):
        get_device()


def test_one_thread_restores_the_setting_as_decorator_and_block():
    from genai.device import one_thread

    before = torch.get_num_threads()

    @one_thread
    def inside():
        return torch.get_num_threads()

    assert inside() == 1 and torch.get_num_threads() == before
    with one_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(ZeroDivisionError), one_thread():
        1 / 0
    assert torch.get_num_threads() == before
