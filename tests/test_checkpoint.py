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


@pytest.mark.parametrize("payload", [
    {"format": 1},                                      # no config, no state
    {"format": 1, "config": {"width": 4, "depth": 2}},  # no state
    {"format": 1, "config": [4, 2], "state": {}},       # a config of the wrong type
    {"format": 1, "config": {"width": 4, "depth": 2}, "state": [1, 2]},
])
def test_a_format_1_file_without_its_parts_is_a_checkpoint_error(tmp_path, payload):
    path = tmp_path / "odd.pt"
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="lacks its configuration or its state"):
        load_checkpoint(path, Config())


def test_a_state_that_lacks_a_key_or_has_a_wrong_type_is_a_checkpoint_error(tmp_path):
    from genai.checkpoint import restoring

    model = torch.nn.Linear(2, 2)
    with pytest.raises(CheckpointError, match=r"ckpt.pt lacks 'model' in its state"):
        with restoring(tmp_path / "ckpt.pt"):
            model.load_state_dict({}["model"])
    with pytest.raises(CheckpointError, match=r"cannot use \(TypeError"):
        with restoring(tmp_path / "ckpt.pt"):
            model.load_state_dict(["not", "a", "state"])
    with pytest.raises(CheckpointError, match="trained on another text"):   # passed through
        with restoring(tmp_path / "ckpt.pt"):
            raise CheckpointError("trained on another text")
