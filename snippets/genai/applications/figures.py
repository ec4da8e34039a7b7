"""Figures of the Applications chapter, drawn while the site is built.

Each ``plot_<name>`` function writes ``docs/applications/img/<name>.png``
(the build hook finds them here: hooks/figures.py).

    python -m genai.applications.figures          # list the figures
    python -m genai.applications.figures out/     # draw all of them into out/
"""

from __future__ import annotations

from genai.applications.art import draw, load_model, to_png


def plot_art_seven(path) -> None:
    """Eight 7s from the course's digits model, as the art app draws them."""
    run = load_model(log=lambda text: None)
    to_png(draw("draw a 7", run, n=8), path, size=64)


if __name__ == "__main__":
    from genai.drawing import figures_main

    figures_main(globals())
