"""Pick the device every sample runs on: CUDA, then Apple MPS, then CPU.

Set the environment variable ``COURSE_DEVICE`` (``cpu``, ``cuda``, ``cuda:1``,
``mps``) to force one. Nothing else in the course asks which device to use.

    python -m genai.device
"""

import os

import torch


# --8<-- [start:get_device]
def get_device() -> torch.device:
    """CUDA if present, else Apple MPS, else CPU; COURSE_DEVICE overrides."""
    forced = os.environ.get("COURSE_DEVICE", "").strip()
    if forced:
        device = torch.device(forced)  # raises on a name torch does not know
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"COURSE_DEVICE={forced} but CUDA is not available")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise RuntimeError(f"COURSE_DEVICE={forced} but MPS is not available")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
# --8<-- [end:get_device]


if __name__ == "__main__":
    print(f"Samples run on: {get_device()}")
