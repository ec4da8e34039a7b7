"""Run a model's code under limits, and leave nothing behind.

The code assistant (genai.applications.code_assistant) calls launch(job):
it makes its own process undumpable (on Linux: no other process of the
user can read its memory or its environment, where the API key is), makes
the run's folder, then starts this file as a process of its own, ``python
-I sandbox.py --job``, with an environment that holds no key, and sends it
the job as JSON on stdin: the files, the one to run, the limits. The
assistant, not the launcher, keeps the clock: if no answer comes within
the time limit and a few seconds, it kills the launcher (and with it the
code) and removes the folder itself. The launcher

* run as root (a container, a CI job), first gives up every capability:
  nothing the code does can make it read what root without them cannot;
  it makes itself undumpable too (its open files are not the code's);
* on Linux, becomes a *child subreaper*: every process the code starts
  stays its descendant, even one that leaves its process group (setsid) or
  whose parent exits; and it asks the kernel for SIGTERM when the assistant
  dies, however it dies;
* writes the files into the folder and starts ``python -I <file>`` there,
  where the kernel allows it in **PID and user namespaces of its own**
  (util-linux's ``unshare``): the code is process 1 of a world that holds
  only its own processes, so it cannot see, signal or stop the launcher or
  the assistant, and when it ends, or the launcher dies, the kernel kills
  everything it started. Limits are set just before: address space
  (RLIMIT_AS), size of any file it writes, its output included
  (RLIMIT_FSIZE), number of processes (RLIMIT_NPROC), no core files, no
  new privileges, no capability, death with the launcher;
* captures stdout and stderr in files without a name (the code can write
  to them, never swap them for a link), waits up to the time limit
  (counting processes: the kernel does not limit root's), kills every
  descendant, keeps at most output_kb of each output, removes the folder,
  and answers with JSON on stdout.

Whatever ends it (the job's end, the time limit, SIGTERM from the assistant
on Ctrl-C, the assistant's death) it kills the code's processes and removes
the folder first. Only the standard library: it runs without the course's
package. Where the kernel refuses namespaces the code runs beside the
launcher and can signal it: the assistant's clock still kills the launcher
and the code's first process, but what the code started in a session of
its own may outlive them. Elsewhere than Linux it kills the code's process
group only.

    python -m genai.applications.sandbox     # a demo: code that leaves a process behind
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

LINUX = sys.platform.startswith("linux")
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP = 1, 4, 24
PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 36, 38
# the code in PID and user namespaces of its own, with its own /proc; it
# dies with unshare, which dies with the launcher
ISOLATE = ("--user", "--pid", "--fork", "--mount-proc", "--kill-child")
GRACE = 5.0           # seconds a launcher may take beyond the time limit
LIMITS = {"seconds": (int, float), "memory_mb": int, "file_mb": int,
          "processes": int, "output_kb": int}
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")


class Stop(Exception):
    """A signal asked the launcher to stop."""


class SandboxError(RuntimeError):
    """The sandbox could not run the job, or its answer cannot be used."""


class JobError(SandboxError, ValueError):
    """A job that asks for what the sandbox does not do."""


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


def give_up_capabilities() -> None:
    """This process, run as root, keeps none of root's capabilities (no
    CAP_SYS_PTRACE to read another process's memory or environment, no
    CAP_DAC_OVERRIDE to read any file): the bounding set first, then the
    effective, permitted and inheritable sets (capset(2))."""
    if not LINUX or os.geteuid() != 0:
        return
    drop_capabilities()
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)   # version 3, this process
    none = (ctypes.c_uint32 * 6)()                   # 2 x (effective, permitted, inheritable)
    try:
        ctypes.CDLL(None, use_errno=True).capset(header, none)
    except (OSError, AttributeError):
        pass


def isolation(job: dict) -> list[str]:
    """The command that puts the code in namespaces of its own, or [] where
    there is none or the kernel refuses (tried under the job's limits)."""
    tool = shutil.which("unshare", path=os.defpath) if LINUX else None
    if not tool or not job.get("isolate", True):
        return []
    try:
        tried = subprocess.run([tool, *ISOLATE, "true"], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               preexec_fn=limiter(job, extra=1), timeout=10)
    except (OSError, subprocess.SubprocessError):
        return []
    return [tool, *ISOLATE] if tried.returncode == 0 else []


def limiter(job: dict, extra: int = 0):
    """The function that runs in the child just before Python starts (extra:
    processes it takes that are not the code's, such as unshare)."""
    import resource

    memory = job["memory_mb"] * 1024 * 1024
    size = job["file_mb"] * 1024 * 1024
    # RLIMIT_NPROC counts all of the user's processes: allow this many more
    processes = processes_of(os.getuid()) + job["processes"] + extra
    root = os.geteuid() == 0

    def limit():
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
        if LINUX:
            prctl(PR_SET_PDEATHSIG, signal.SIGKILL)   # dies with the launcher
            resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
            if root:
                drop_capabilities()
            prctl(PR_SET_NO_NEW_PRIVS, 1)      # no setuid program helps
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    return limit


def clip(file, kilobytes: int, name: str) -> str:
    """At most `kilobytes` of a captured output, and a note if cut; read
    through the launcher's own open file, never by a path the code knows."""
    data = os.pread(file.fileno(), kilobytes * 1024 + 1, 0)
    text = data[:kilobytes * 1024].decode("utf-8", errors="replace")
    if len(data) > kilobytes * 1024:
        text += f"\n[{name} truncated after {kilobytes} KB]\n"
    return text


def wait(child: subprocess.Popen, job: dict, extra: int) -> tuple[int | None, str]:
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
        if LINUX and len(descendants(os.getpid())) > job["processes"] + extra:
            return None, f"more than {job['processes']} processes"


def remove(folder: str) -> None:
    """The folder and all in it, even what the code made unreadable: each
    folder is made ours again before os.walk reads it (top down)."""
    def unlock(path):
        try:
            if not os.path.islink(path):
                os.chmod(path, stat.S_IRWXU)
        except OSError:
            pass
    unlock(folder)
    for root, names, _ in os.walk(folder):
        for name in names:
            unlock(os.path.join(root, name))
    shutil.rmtree(folder, ignore_errors=True)


def run(job: dict) -> dict:
    """Run one job in job["folder"] (made by the assistant, emptied and
    removed here); return {"returncode", "output", "killed", "report"}:
    killed says why the code was stopped ("" if it ended by itself), report
    what the code wrote to the file whose descriptor $SANDBOX_REPORT_FD
    names (a test runner's results, apart from the output)."""
    check_job(job)
    folder = job["folder"]
    child = None
    try:
        for name, text in job["files"].items():
            with open(os.path.join(folder, name), "x", encoding="utf-8") as file:
                file.write(text)
        isolate = isolation(job)
        extra = 1 if isolate else 0               # unshare itself
        # files without a name: the code may write to them, never replace them
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
                tempfile.TemporaryFile() as given, tempfile.TemporaryFile() as report:
            given.write(job.get("stdin", "").encode())
            given.seek(0)
            child = subprocess.Popen(
                [*isolate, sys.executable, "-I", job["main"]],   # -I: no PYTHON* variables
                cwd=folder, stdin=given, stdout=out, stderr=err,
                pass_fds=(report.fileno(),),    # a file for a report, apart from the output
                env={"PATH": os.defpath, "HOME": folder, "LANG": "C.UTF-8",
                     "SANDBOX_REPORT_FD": str(report.fileno())},
                preexec_fn=limiter(job, extra), start_new_session=True)
            returncode, killed = wait(child, job, extra)
            kill_all(child.pid)                 # and whatever it started
            output = (clip(out, job["output_kb"], "stdout")
                      + clip(err, job["output_kb"], "stderr"))
            said = os.pread(report.fileno(), 65536, 0).decode("utf-8", errors="replace")
    finally:
        if child is not None:
            kill_all(child.pid)
        remove(folder)
    # paths in tracebacks: relative to the folder, the same every run
    output = output.replace(os.path.realpath(folder) + os.sep, "")
    output = output.replace(folder + os.sep, "")
    return {"returncode": returncode, "output": output, "killed": killed,
            "report": said}


def check_job(job: dict) -> None:
    """A job the launcher can run as asked, or SandboxError: whole numbers
    where the limits are whole, plain file names (no folder, no "..")."""
    if not isinstance(job, dict) or not isinstance(job.get("files"), dict):
        raise JobError("a job is a dict with the files to write")
    for name, kinds in LIMITS.items():
        value = job.get(name)
        if isinstance(value, bool) or not isinstance(value, kinds) or value <= 0:
            kind = "a whole number" if kinds is int else "a number"
            raise JobError(f"{name} must be {kind} above 0, got {value!r}")
    for name, text in job["files"].items():
        if not isinstance(name, str) or not NAME.fullmatch(name) or ".." in name:
            raise JobError(f"file names are plain names in the run's folder "
                               f"(letters, digits, _ . -), got {name!r}")
        if not isinstance(text, str):
            raise JobError(f"the text of {name} is not a string")
    if job.get("main") not in job["files"]:
        raise JobError(f"main must be one of the files, got {job.get('main')!r}")


def stop(signum, frame):
    raise Stop(signal.Signals(signum).name)


def main() -> int:
    assistant = os.getppid()
    for name in ("SIGTERM", "SIGINT", "SIGHUP"):
        signal.signal(getattr(signal, name), stop)
    prctl(PR_SET_PDEATHSIG, signal.SIGTERM)     # the assistant died: stop too
    prctl(PR_SET_CHILD_SUBREAPER, 1)            # orphans stay our descendants
    prctl(PR_SET_DUMPABLE, 0)                   # our open files are not the code's
    give_up_capabilities()                      # run as root: no more than the code
    if os.getppid() != assistant:               # it died before we asked
        return 1
    try:
        job = json.loads(sys.stdin.read())
        result = run(job)
    except Stop as signal_name:
        print(f"sandbox: stopped by {signal_name}", file=sys.stderr)
        return 130
    except (SandboxError, OSError, ValueError) as error:
        print(f"sandbox: {error}", file=sys.stderr)
        return 1
    json.dump(result, sys.stdout)
    return 0


# ---------------------------------------------------------------------------
# The assistant's side
# ---------------------------------------------------------------------------
def launch(job: dict) -> dict:
    """Run a job in a launcher process; its result (see run), with the
    run's "folder" (removed by then). SandboxError if the job cannot run
    or no trustworthy answer comes.

    The clock is kept here: no answer within the time limit and GRACE
    seconds (a launcher that the code stopped, say), and the launcher is
    killed, which kills the code, and the folder removed. Whatever
    interrupts the wait (Ctrl-C, SystemExit from a SIGTERM handler, an
    error), the launcher is told to stop, and it kills the code and removes
    the folder before it exits."""
    check_job(job)
    prctl(PR_SET_DUMPABLE, 0)      # our memory and environment: ours alone
    folder = tempfile.mkdtemp(prefix="assistant-")
    try:
        launcher = subprocess.Popen(
            [sys.executable, "-I", os.path.abspath(__file__), "--job"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env={"PATH": os.defpath, "LANG": "C.UTF-8"},   # no key, nothing
            start_new_session=True)    # Ctrl-C reaches us, and we stop it
        try:
            out, err = launcher.communicate(json.dumps({**job, "folder": folder}).encode(),
                                            timeout=job["seconds"] + GRACE)
        except subprocess.TimeoutExpired:
            end(launcher, kill=True)
            raise SandboxError(f"no answer from the sandbox {job['seconds'] + GRACE:g} s "
                               f"after it started: it was killed") from None
        except BaseException:
            end(launcher)
            raise
    finally:
        remove(folder)
    if launcher.returncode != 0:
        said = err.decode(errors="replace").strip().splitlines()
        raise SandboxError(f"the sandbox failed (exit code {launcher.returncode})"
                           + (f": {ascii(said[-1][-300:])}" if said else ""))
    return {**answer(out), "folder": folder}


def end(launcher: subprocess.Popen, kill: bool = False) -> None:
    """Stop the launcher: SIGTERM (it cleans up, then exits), or SIGKILL at
    once or after 10 s; the code dies with it."""
    if not kill:
        launcher.terminate()
        try:
            launcher.wait(10)
            return
        except subprocess.TimeoutExpired:
            pass
    launcher.kill()
    launcher.wait()


def answer(out: bytes) -> dict:
    """The launcher's JSON answer, checked: exactly what run() returns."""
    try:
        result = json.loads(out)
    except ValueError:
        raise SandboxError(f"the sandbox's answer is not JSON: {ascii(out[:80])}") from None
    kinds = {"returncode": (int, type(None)), "output": str, "killed": str, "report": str}
    if not isinstance(result, dict) or set(result) != set(kinds) or not all(
            isinstance(result[key], kind) and not isinstance(result[key], bool)
            for key, kind in kinds.items()):
        raise SandboxError(f"the sandbox's answer is not what it sends: {ascii(out[:80])}")
    return result


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
    if sys.argv[1:] in (["--help"], ["-h"]):     # the standard library only: no genai.cli
        print(__doc__.strip())
        sys.exit(0)
    if sys.argv[1:]:
        print(f"python -m genai.applications.sandbox: error: the demo takes no "
              f"arguments, got {ascii(' '.join(sys.argv[1:]))} (see --help)", file=sys.stderr)
        sys.exit(2)
    result = launch({"files": {"main.py": DEMO}, "main": "main.py",
                     "seconds": 5, "memory_mb": 512, "file_mb": 16,
                     "processes": 32, "output_kb": 8})
    print(result["output"].strip())
    print(f"exit code {result['returncode']}; still running: "
          f"{running('left-behind-by-the-demo')}; folder removed: "
          f"{not os.path.exists(result['folder'])}")
