"""The course's figure style, and the command line of a chapter's figures module
(genai.<chapter>.figures).

    python -m genai.gans.figures                  # list the figures it can draw
    python -m genai.gans.figures out/             # draw all of them into out/
    python -m genai.gans.figures out/ plot_losses # draw some of them

The site build draws every plot_* function itself (hooks/figures.py); this
is for looking at one while you work on it.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path

import matplotlib
from matplotlib.figure import Figure

# The course's figure style. Sizes are in points; figures are scaled down to a
# phone's width, so the text starts large enough to stay readable there.
DPI = 150
FONTS = {"font.size": 12, "axes.titlesize": 12, "axes.labelsize": 12,
         "legend.fontsize": 11, "xtick.labelsize": 11, "ytick.labelsize": 11}


def course_style(plot):
    """Decorator: draw the figure with the course's font sizes."""
    @functools.wraps(plot)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context(FONTS):
            return plot(*args, **kwargs)
    return wrapper


def save_figure(fig: Figure, path: str | Path) -> None:
    """Write a figure as the site shows it: white background, tight, DPI dots per inch."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, facecolor="white", bbox_inches="tight")


def figures_main(namespace: dict, argv: list[str] | None = None) -> None:
    """List or draw the plot_* functions of a figures module."""
    plots = {name: f for name, f in namespace.items() if name.startswith("plot_") and callable(f)}
    from genai.cli import OneLineParser

    parser = OneLineParser(prog=f"python -m {namespace['__spec__'].name}",
                           description="List or draw this chapter's figures.")
    parser.add_argument("out", nargs="?", type=Path, help="folder to draw the figures into")
    parser.add_argument("names", nargs="*", help="which figures (default: all)")
    args = parser.parse_args(argv)
    if args.out is None:
        for name, plot in sorted(plots.items()):
            summary = (plot.__doc__ or "").strip().splitlines()[:1]
            print(f"{name}: {summary[0] if summary else ''}")
        print(f"draw them with: {parser.prog} OUTPUT_FOLDER [NAME ...]")
        return
    unknown = sorted(set(args.names) - set(plots))
    if unknown:
        parser.error(f"no figure named {', '.join(unknown)}; choose from {', '.join(sorted(plots))}")
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        parser.error(f"cannot draw into {args.out}: {error.strerror or error}")
    for name in args.names or sorted(plots):
        start = time.perf_counter()
        path = args.out / f"{name.removeprefix('plot_')}.png"
        plots[name](path)
        print(f"{path}: {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":

    def plot_example(path: Path) -> None:
        """A made-up figure, to show the listing."""

    figures_main({"__spec__": __spec__, "plot_example": plot_example})
