"""Checkpoints: atomic writes, configuration checks, clear errors."""

from dataclasses import dataclass

import pytest
import torch

from genai.checkpoint import CheckpointError, load_checkpoint, save_checkpoint


@dataclass
class Config:
    width: int = 4
    depth: int = 2


def test_round_trip_with_a_dataclass_config(tmp_path):
    path = save_checkpoint(tmp_path / "run" / "ckpt.pt", Config(), {"weights": torch.arange(3.0), "step": 7})
    state = load_checkpoint(path, Config())
    assert state["step"] == 7 and torch.equal(state["weights"], torch.arange(3.0))
    assert [p.name for p in path.parent.iterdir()] == ["ckpt.pt"], "no temporary file is left behind"


def test_another_configuration_is_explained(tmp_path):
    path = save_checkpoint(tmp_path / "ckpt.pt", Config(), {})
    with pytest.raises(CheckpointError, match=r"width: checkpoint has 4, expected 8"):
        load_checkpoint(path, Config(width=8))


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "nothing.pt", Config())
    path = save_checkpoint(tmp_path / "ckpt.pt", Config(), {"x": torch.zeros(1000)})
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(path, Config())


def test_a_failed_save_keeps_the_previous_checkpoint(tmp_path):
    path = save_checkpoint(tmp_path / "ckpt.pt", Config(), {"step": 1})

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("interrupted while writing")

    with pytest.raises(RuntimeError, match="interrupted"):
        save_checkpoint(path, Config(), {"step": 2, "bad": Unpicklable()})
    assert load_checkpoint(path, Config())["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]
