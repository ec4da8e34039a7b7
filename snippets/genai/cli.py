"""What the course's command-line apps share.

Each app (`python -m genai.applications.content_generator`, `...chatbot`,
`...art`, `...code_assistant`, and the fake API server) builds its arguments
with `OneLineParser` and its number types, so a bad command line gives one
readable line on stderr and exit code 2, never a traceback: an argument that
is not UTF-8 text, a number that is not finite, a seed out of range. Its
`main` runs inside `stoppable()`: Ctrl-C or SIGTERM prints "Stopped." and
exits with 130, after the app's own clean-up ran. Text the app did not
write (a model's reply, the output of a model's code) goes through
`printable()` before it reaches the terminal.

    python -m genai.cli      # shows what a bad command line prints
"""

from __future__ import annotations

import argparse
import contextlib
import math
import signal
import stat
import sys
import unicodedata
from pathlib import Path

SEED_LIMIT = 2 ** 63      # torch.manual_seed takes 0 <= seed < 2**64; be safe


class OneLineParser(argparse.ArgumentParser):
    def error(self, message):
        """Bad arguments: one line on stderr and exit code 2."""
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")

    def parse_args(self, args=None, namespace=None):
        args = sys.argv[1:] if args is None else list(args)
        for number, arg in enumerate(args, 1):
            if not utf8(arg):
                self.error(f"argument {number} is not UTF-8 text: "
                           f"{arg.encode('utf-8', 'surrogateescape')!r}")
        return super().parse_args(args, namespace)


def utf8(text: str) -> bool:
    """False for text holding bytes that were not UTF-8 (Python keeps them
    as lone surrogates, which cannot be printed or sent)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# characters that change how the text around them is shown: the direction
# marks and overrides (a "Trojan source" line reads other than it runs)
BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def printable(text: str) -> str:
    """Untrusted text made safe to print: control characters (terminal
    escape sequences, a carriage return that overwrites a line, a bell) and
    bidirectional overrides written out as \\x1b or \\u202e; newline and
    tab kept."""
    return "".join(
        char if char in "\n\t" or not (unicodedata.category(char) in ("Cc", "Cs")
                                      or char in BIDI)
        else (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")
        for char in text)


def input_file(path, option: str, limit_mb: float = 10) -> Path:
    """The path of a regular file of at most limit_mb to read, or ValueError
    in one line: not a device (/dev/zero never ends), a FIFO (it waits for
    a writer) or a folder."""
    path = Path(path)
    try:
        info = path.stat()
    except OSError as error:
        raise ValueError(f"cannot read {option} {path}: {error.strerror or error}") from None
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"{option} {path} is not a regular file")
    if info.st_size > limit_mb * 1024 * 1024:
        raise ValueError(f"{option} {path} is over {limit_mb:g} MB")
    return path


def output_file(path, option: str) -> Path:
    """The path of a file to write, checked before any work: its folder
    exists (none is created that the user did not ask for) and takes a file,
    and it is not a folder itself; ValueError in one line."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{option} {path} is a folder: name a file")
    if not path.parent.is_dir():
        raise ValueError(f"{option} {path}: there is no folder {path.parent}")
    existed = path.exists()
    try:
        with open(path, "a"):
            pass
    except OSError as error:
        raise ValueError(f"cannot write {option} {path}: {error.strerror or error}") from None
    if not existed:
        path.unlink()
    return path


def demo_arguments(doc: str, argv: list[str] | None = None) -> None:
    """A module's demo takes no arguments: --help prints what it does (the
    module's docstring), anything else is one line and exit code 2."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    parser = OneLineParser(prog=f"python -m {spec.name}" if spec else None, description=doc,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.parse_args(sys.argv[1:] if argv is None else argv)


def finite(text: str) -> float:
    """An argparse type: a float, but not nan or infinity."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, "
                                         f"got {text!r}")
    return value


def seed(text: str) -> int:
    """An argparse type: a whole number from 0 to 2**63 - 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") \
            from None
    if not 0 <= value < SEED_LIMIT:
        raise argparse.ArgumentTypeError(f"a seed is a whole number from 0 "
                                         f"to 2**63 - 1, got {text}")
    return value


def boolean(text: str) -> bool:
    """An argparse type: true/false, yes/no, on/off or 1/0."""
    words = {"true": True, "yes": True, "on": True, "1": True,
             "false": False, "no": False, "off": False, "0": False}
    if text.lower() not in words:
        raise argparse.ArgumentTypeError(f"say true or false, got {text!r}")
    return words[text.lower()]


def _interrupt(signum, frame):
    raise KeyboardInterrupt


@contextlib.contextmanager
def stoppable():
    """SIGTERM behaves like Ctrl-C (KeyboardInterrupt) inside the block, so
    the app's `finally` and `with` clean-ups run whichever ends it. Catch
    KeyboardInterrupt in the app, or use stopped() below."""
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def stopped(message: str = "Stopped.") -> int:
    """What an app does on Ctrl-C or SIGTERM: one line, exit code 130."""
    print(message, file=sys.stderr)
    return 130


def app_main(argv, demo, run, build_parser) -> int:
    """An app's main(): no arguments run its demo, others are parsed and
    run; Ctrl-C or SIGTERM anywhere stops it with one line and code 130
    (the app's own clean-ups run first: see stoppable)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    with stoppable():
        try:
            return demo() if not argv else run(build_parser().parse_args(argv))
        except KeyboardInterrupt:
            return stopped()


if __name__ == "__main__":
    import io

    parser = OneLineParser(prog="python -m genai.example")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--temperature", type=finite, default=1.0)
    print("A bad command line prints one line:")
    for argv in (["--rounds", "three"], ["--temperature", "nan"],
                 ["--rounds", "3", "caf\udce9"]):
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr), \
                contextlib.suppress(SystemExit):
            parser.parse_args(argv)
        print(stderr.getvalue().strip())
