"""What the course's command-line apps share.

Each app (`python -m genai.applications.content_generator`, `...chatbot`,
`...art`, `...code_assistant`, and the fake API server) builds its arguments
with `OneLineParser` and its number types, so a bad command line gives one
readable line on stderr and exit code 2, never a traceback: an argument that
is not UTF-8 text, a number that is not finite, a seed out of range. Its
`main` runs inside `stoppable()`: Ctrl-C or SIGTERM prints "Stopped." and
exits with 130, after the app's own clean-up ran.

    python -m genai.cli      # shows what a bad command line prints
"""

from __future__ import annotations

import argparse
import contextlib
import math
import signal
import sys

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
