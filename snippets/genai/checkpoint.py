"""Save and load training checkpoints safely.

* Saving writes to a temporary file in the same folder, flushes it to disk,
  then renames it over the target: an interrupted run leaves either the old
  checkpoint or the new one, never half of one.
* Every checkpoint stores the model's configuration (a dict or a dataclass).
  Loading compares it with the configuration you expect and explains any
  difference, instead of failing later with a cryptic shape error.

    python -m genai.checkpoint
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import tempfile
from pathlib import Path
from typing import Any

import torch


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used: missing, corrupt, or from another configuration."""


def _as_dict(config: Any) -> dict:
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return dataclasses.asdict(config)
    if isinstance(config, dict):
        return dict(config)
    raise TypeError(f"config must be a dataclass instance or a dict, got {type(config).__name__}")


def save_checkpoint(path: str | Path, config: Any, state: dict) -> Path:
    """Write {config, state} to path atomically: temporary file, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": 1, "config": _as_dict(config), "state": state}
    handle, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as tmp:
            torch.save(payload, tmp)
            tmp.flush()
            os.fsync(tmp.fileno())  # the bytes are on disk before the rename
        os.replace(tmp_name, path)  # atomic on POSIX and Windows
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | Path, expected_config: Any, map_location=None) -> dict:
    """The saved state, after checking it was made with expected_config."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # truncated, not a torch file, ...
        said = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise CheckpointError(f"{path} is not a readable checkpoint "
                              f"({said.split('. ')[0][:100]})") from None
    if not isinstance(payload, dict) or payload.get("format") != 1:
        raise CheckpointError(f"{path} was not written by save_checkpoint")
    if not isinstance(payload.get("config"), dict) or not isinstance(payload.get("state"), dict):
        raise CheckpointError(f"{path} lacks its configuration or its state")
    expected, saved = _as_dict(expected_config), payload["config"]
    differences = [
        f"{key}: checkpoint has {saved.get(key)!r}, expected {expected.get(key)!r}"
        for key in sorted(set(expected) | set(saved))
        if saved.get(key) != expected.get(key)
    ]
    if differences:
        raise CheckpointError(
            f"{path} was saved with another configuration:\n  " + "\n  ".join(differences)
        )
    return payload["state"]


@contextlib.contextmanager
def restoring(path):
    """Put a loaded state back inside this block: a state that lacks a key
    or holds a value of the wrong type raises CheckpointError, which names
    the file, not a KeyError or a TypeError from deep inside PyTorch."""
    try:
        yield
    except CheckpointError:
        raise
    except KeyError as error:
        raise CheckpointError(f"{path} lacks {error} in its state") from None
    except (TypeError, ValueError, RuntimeError, AttributeError, IndexError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise CheckpointError(f"{path} holds a state this code cannot use "
                              f"({type(error).__name__}: {first})") from None


if __name__ == "__main__":
    from genai.cli import demo_arguments

    demo_arguments(__doc__)   # --help says what the demo does
    from genai.device import get_device

    torch.manual_seed(0)
    config = {"in_features": 2, "out_features": 3}
    model = torch.nn.Linear(**config).to(get_device())
    with tempfile.TemporaryDirectory() as folder:
        path = save_checkpoint(Path(folder) / "linear.pt", config, {"model": model.state_dict(), "step": 100})
        state = load_checkpoint(path, config, map_location=get_device())
        restored = torch.nn.Linear(**config).to(get_device())
        restored.load_state_dict(state["model"])
        same = all(torch.equal(a, b) for a, b in zip(model.parameters(), restored.parameters()))
        print(f"saved and restored at step {state['step']}: identical weights {same}")
        print(f"files left in the folder: {sorted(p.name for p in Path(folder).iterdir())}")
        try:
            load_checkpoint(path, {"in_features": 2, "out_features": 4})
        except CheckpointError as error:
            print(f"CheckpointError: {error}")
        (Path(folder) / "broken.pt").write_bytes(path.read_bytes()[:100])
        try:
            load_checkpoint(Path(folder) / "broken.pt", config)
        except CheckpointError as error:
            print(f"CheckpointError: {str(error).split(' (')[0]}")
