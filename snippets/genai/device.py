"""Pick the device every sample runs on: CUDA, then Apple MPS, then CPU.

Set the environment variable ``COURSE_DEVICE`` (``cpu``, ``cuda``, ``cuda:1``,
``mps``) to force one. Nothing else in the course asks which device to use.

    python -m genai.device
"""

import contextlib
import os

import torch


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


@contextlib.contextmanager
def _single_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def one_thread(work=None):
    """Run on one CPU thread, then restore the setting.

    Use it on a function (``@one_thread``) or a block (``with
    one_thread():``). For the course's small networks a second thread costs
    more to coordinate than it saves, and on a busy machine waiting for it
    makes each step many times slower. The results do not depend on it.
    """
    if work is None:
        return _single_thread()
    return _single_thread()(work)


if __name__ == "__main__":
    from genai.cli import demo_arguments

    demo_arguments(__doc__)   # --help says what the demo does
    print(f"Samples run on: {get_device()}")
