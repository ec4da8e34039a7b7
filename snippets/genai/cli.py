"""What the course's command-line apps share.

Each app (`python -m genai.applications.content_generator`, `genai.applications.chatbot`, `genai.applications.art`,
`genai.applications.code_assistant`) builds its arguments with `OneLineParser`, so a bad
command line gives one readable line and exit code 2, never a traceback.

    python -m genai.cli      # shows what a bad command line prints
"""

import argparse


class OneLineParser(argparse.ArgumentParser):
    def error(self, message):
        """Bad arguments: one line on stderr and exit code 2."""
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


if __name__ == "__main__":
    import contextlib
    import io

    parser = OneLineParser(prog="python -m genai.example")
    parser.add_argument("--rounds", type=int, default=3)
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.suppress(SystemExit):
        parser.parse_args(["--rounds", "three"])
    print("A bad command line prints one line:")
    print(stderr.getvalue().strip())
