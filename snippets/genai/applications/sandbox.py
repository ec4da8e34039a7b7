"""Run a model's code under limits, and leave nothing behind.

The code assistant (genai.applications.code_assistant) calls launch(job):
it makes its own process undumpable (on Linux: no other process of the
user can read its memory or its environment, where the API key is), then
starts this file as a process of its own, ``python -I sandbox.py --job``,
with an environment that holds no key, and sends it the job as JSON on
stdin: the files, the one to run, and the limits. This launcher

* makes a fresh temporary folder and writes the files there;
* on Linux, becomes a *child subreaper*: every process the code starts
  stays its descendant, even one that leaves its process group (setsid) or
  whose parent exits; and it asks the kernel for SIGTERM when the assistant
  dies, however it dies;
* starts ``python -I <file>`` in the folder, in a session of its own, with
  limits set just before Python starts: address space (RLIMIT_AS), size of
  any file it writes, its output included (RLIMIT_FSIZE), number of
  processes (RLIMIT_NPROC), no core files, no new privileges. Run as root,
  the code also loses every capability: root with none cannot read the
  memory or environment of a process that forbids it (the assistant), and
  cannot get them back by running a program. The kernel never limits
  root's number of processes, so the launcher counts them itself;
* waits up to the time limit (watching the number of processes), kills
  every descendant, keeps at most output_kb of stdout and of stderr,
  removes the folder, and answers with JSON on stdout.

Whatever ends it (the job's end, the time limit, SIGTERM from the assistant
on Ctrl-C, the assistant's death) it kills the code's processes and removes
the folder first. Only the standard library: it runs without the course's
package. Elsewhere than Linux it kills the code's process group only.

    python -m genai.applications.sandbox     # a demo: code that leaves a process behind
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

LINUX = sys.platform.startswith("linux")
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP = 1, 4, 24
PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 36, 38


class Stop(Exception):
    """A signal asked the launcher to stop."""


def prctl(option: int, value: int) -> bool:
    """Linux's prctl(2); False where there is none."""
    if not LINUX:
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def parent_of() -> dict[int, int]:
    """{pid: parent pid} of every process, from /proc (Linux)."""
    parents = {}
    for entry in os.listdir("/proc") if LINUX else []:
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as stat:
                    data = stat.read()
                # "pid (name) state ppid ...": the name may hold spaces
                parents[int(entry)] = int(data[data.rindex(b")") + 2:].split()[1])
            except (OSError, ValueError, IndexError):
                pass              # gone meanwhile
    return parents


def descendants(root: int) -> set[int]:
    parents, found, frontier = parent_of(), set(), {root}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - found
        found |= frontier
    return found


def kill_all(group: int) -> None:
    """SIGKILL the code's process group and every descendant of this process,
    and reap them, until none is left."""
    for _ in range(200):
        try:
            os.killpg(group, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        left = descendants(os.getpid())
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        while True:                               # reap what has died
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
        if not left and not descendants(os.getpid()):
            return
        time.sleep(0.01)


def processes_of(uid: int) -> int:
    """How many processes the user runs now (Linux), for RLIMIT_NPROC."""
    count = 0
    for entry in os.listdir("/proc") if LINUX else []:
        if entry.isdigit():
            try:
                count += os.stat(f"/proc/{entry}").st_uid == uid
            except OSError:
                pass
    return count


def drop_capabilities() -> None:
    """Root without its powers: empty the capability bounding set (what an
    exec may grant), so the program that starts next has none."""
    for capability in range(64):
        prctl(PR_CAPBSET_DROP, capability)     # fails past the last one: fine


def limiter(job: dict):
    """The function that runs in the child just before Python starts."""
    import resource

    memory = job["memory_mb"] * 1024 * 1024
    size = job["file_mb"] * 1024 * 1024
    # RLIMIT_NPROC counts all of the user's processes: allow this many more
    processes = processes_of(os.getuid()) + job["processes"]
    root = os.geteuid() == 0

    def limit():
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
        if LINUX:
            resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
            if root:
                drop_capabilities()
            prctl(PR_SET_NO_NEW_PRIVS, 1)      # no setuid program helps
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    return limit


def clip(path: str, kilobytes: int, name: str) -> str:
    """At most `kilobytes` of a captured output, and a note if cut."""
    with open(path, "rb") as file:
        data = file.read(kilobytes * 1024 + 1)
    text = data[:kilobytes * 1024].decode("utf-8", errors="replace")
    if len(data) > kilobytes * 1024:
        text += f"\n[{name} truncated after {kilobytes} KB]\n"
    return text


def wait(child: subprocess.Popen, job: dict) -> tuple[int | None, str]:
    """Wait for the child, at most job["seconds"]; (return code, why it was
    killed). Counts its processes as it waits: the kernel does not limit
    root's number of processes."""
    deadline = time.monotonic() + job["seconds"]
    while True:
        try:
            return child.wait(min(0.05, max(0.0, deadline - time.monotonic()))), ""
        except subprocess.TimeoutExpired:
            pass
        if time.monotonic() >= deadline:
            return None, f"no result after {job['seconds']:g} s"
        if LINUX and len(descendants(os.getpid())) > job["processes"]:
            return None, f"more than {job['processes']} processes"


def run(job: dict) -> dict:
    """Run one job; return {"returncode", "output", "killed", "folder"}:
    killed says why the code was stopped ("" if it ended by itself)."""
    folder = tempfile.mkdtemp(prefix="assistant-")
    captured = tempfile.mkdtemp(prefix="assistant-output-")
    child = None
    try:
        for name, text in job["files"].items():
            with open(os.path.join(folder, name), "w", encoding="utf-8") as file:
                file.write(text)
        out_path, err_path = (os.path.join(captured, n) for n in ("out", "err"))
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            child = subprocess.Popen(
                [sys.executable, "-I", job["main"]],   # -I: no PYTHON* variables
                cwd=folder, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                env={"PATH": os.defpath, "HOME": folder, "LANG": "C.UTF-8"},
                preexec_fn=limiter(job), start_new_session=True)
            returncode, killed = wait(child, job)
            kill_all(child.pid)                 # and whatever it started
        output = (clip(out_path, job["output_kb"], "stdout")
                  + clip(err_path, job["output_kb"], "stderr"))
    finally:
        if child is not None:
            kill_all(child.pid)
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(captured, ignore_errors=True)
    # paths in tracebacks: relative to the folder, the same every run
    output = output.replace(os.path.realpath(folder) + os.sep, "")
    output = output.replace(folder + os.sep, "")
    return {"returncode": returncode, "output": output, "killed": killed,
            "folder": folder}


def stop(signum, frame):
    raise Stop(signal.Signals(signum).name)


def main() -> int:
    assistant = os.getppid()
    for name in ("SIGTERM", "SIGINT", "SIGHUP"):
        signal.signal(getattr(signal, name), stop)
    prctl(PR_SET_PDEATHSIG, signal.SIGTERM)     # the assistant died: stop too
    prctl(PR_SET_CHILD_SUBREAPER, 1)            # orphans stay our descendants
    if os.getppid() != assistant:               # it died before we asked
        return 1
    try:
        job = json.loads(sys.stdin.read())
        result = run(job)
    except Stop as signal_name:
        print(f"sandbox: stopped by {signal_name}", file=sys.stderr)
        return 130
    json.dump(result, sys.stdout)
    return 0


# ---------------------------------------------------------------------------
# The assistant's side
# ---------------------------------------------------------------------------
def launch(job: dict, grace: float = 30.0) -> dict:
    """Run a job in a launcher process; its result (see run).

    Whatever interrupts the wait (Ctrl-C, SystemExit from a SIGTERM
    handler, an error), the launcher is told to stop, and it kills the
    code and removes the folder before it exits."""
    prctl(PR_SET_DUMPABLE, 0)      # our memory and environment: ours alone
    launcher = subprocess.Popen(
        [sys.executable, "-I", os.path.abspath(__file__), "--job"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={"PATH": os.defpath, "LANG": "C.UTF-8"},   # no key, nothing
        start_new_session=True)    # Ctrl-C reaches us, and we stop it
    try:
        out, err = launcher.communicate(json.dumps(job).encode(),
                                        timeout=job["seconds"] + grace)
    except BaseException:
        launcher.terminate()       # SIGTERM: it cleans up, then exits
        try:
            launcher.wait(10)
        except subprocess.TimeoutExpired:
            launcher.kill()
            launcher.wait()
        raise
    if launcher.returncode != 0:
        raise RuntimeError(f"the sandbox failed ({launcher.returncode}): "
                           f"{err.decode(errors='replace').strip()[-500:]}")
    return json.loads(out)


DEMO = """\
import subprocess, sys
# a process that leaves the process group and would outlive this one
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)",
                  "left-behind-by-the-demo"], start_new_session=True)
print("started a process that would sleep for a minute")
"""


def running(marker: str) -> int:
    """How many processes have marker in their command line (Linux)."""
    count = 0
    for entry in os.listdir("/proc") if LINUX else []:
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                count += marker.encode() in cmdline.read()
        except OSError:
            pass
    return count


if __name__ == "__main__":
    if sys.argv[1:] == ["--job"]:
        sys.exit(main())
    result = launch({"files": {"main.py": DEMO}, "main": "main.py",
                     "seconds": 5, "memory_mb": 512, "file_mb": 16,
                     "processes": 32, "output_kb": 8})
    print(result["output"].strip())
    print(f"exit code {result['returncode']}; still running: "
          f"{running('left-behind-by-the-demo')}; folder removed: "
          f"{not os.path.exists(result['folder'])}")
