"""Snippets run as scripts without paying Python's and PyTorch's start-up each time.

`python -m genai.<chapter>.<module>` for each of the course's ~50 modules
costs a new interpreter that imports torch, numpy and matplotlib: about
two seconds each, before the module does anything. A *zygote* (run as
``python tests/harness/zygote.py``) imports them once; for each module it
is asked for, it forks, and the child runs exactly what ``python -m
module`` runs (``runpy.run_module(module, run_name="__main__")``, with
``sys.argv`` as ``-m`` sets it), under coverage, with its own stdout and
stderr, then exits with the module's exit status. The zygote never runs a
torch operation itself, so the children start with no thread pool to
inherit.

Protocol: one JSON line in, ``[module, data_file, out_path, err_path]``;
one JSON line out, the exit status. Off Linux (macOS does not allow a
fork once its frameworks have started; Windows has no fork), or with
COURSE_ZYGOTE=0, the tests start a fresh interpreter for each module
instead (tests/support.py: CoverageRecorder.run_script).
"""

from __future__ import annotations

import json
import os
import sys


def child(module: str, data_file: str, out_path: str, err_path: str, source: str) -> None:
    """(in the forked child) run `module` as `python -m` would, then _exit."""
    import runpy

    import coverage

    out = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    err = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)   # not the zygote's pipe
    os.dup2(out, 1)
    os.dup2(err, 2)
    sys.stdin = open(os.devnull)
    status = 0
    cov = coverage.Coverage(data_file=data_file, source=[source], config_file=False)
    cov.start()
    try:
        sys.argv = [module]                   # runpy puts the module's path here
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as stop:
        code = stop.code
        status = code if isinstance(code, int) else (0 if code is None else 1)
        if code is not None and not isinstance(code, int):
            print(code, file=sys.stderr)
    except BaseException:                     # noqa: BLE001  (reported as python -m would)
        import traceback

        traceback.print_exc()
        status = 1
    finally:
        cov.stop()
        cov.save()
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(status)


def main() -> None:
    source = sys.argv[1]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401
    import numpy  # noqa: F401
    import torch  # noqa: F401

    import genai  # noqa: F401

    for line in sys.stdin:
        module, data_file, out_path, err_path = json.loads(line)
        pid = os.fork()
        if pid == 0:
            child(module, data_file, out_path, err_path, source)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        sys.stdout.write(json.dumps(code) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
