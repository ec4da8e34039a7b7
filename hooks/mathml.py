"""Render the pages' LaTeX as MathML while the site builds.

pymdownx.arithmatex (generic mode) wraps every formula as
``<span class="arithmatex">\\(...\\)</span>`` or ``<div class="arithmatex">\\[...\\]</div>``.
This hook turns each one into MathML with latex2mathml, so browsers draw the
math natively: no math JavaScript, no web fonts, no request to a CDN.
A formula that latex2mathml cannot translate stops the build with the page
and the formula in the message.
"""

from __future__ import annotations

import html
import logging
import re

import latex2mathml.converter

log = logging.getLogger("mkdocs.hooks.math")

_ARITHMATEX = re.compile(
    r'<(?P<tag>span|div) class="arithmatex">\s*'
    r"(?:\\\((?P<inline>.*?)\\\)|\\\[(?P<block>.*?)\\\])"
    r"\s*</(?P=tag)>",
    re.DOTALL,
)


class MathError(ValueError):
    """A formula on a page could not be rendered."""


def to_mathml(latex: str, display: bool) -> str:
    """One LaTeX formula as a MathML element; MathError when it is malformed."""
    if latex.count("{") - latex.count("\\{") != latex.count("}") - latex.count("\\}"):
        raise MathError(f"unbalanced braces in formula: {latex!r}")
    mathml = latex2mathml.converter.convert(latex, display="block" if display else "inline")
    unknown = re.findall(r"<mi>(\\[A-Za-z]+)</mi>", mathml)
    if unknown:
        raise MathError(f"unknown LaTeX command {unknown[0]} in formula: {latex!r}")
    if "<mi>&</mi>" in mathml:
        raise MathError(
            "an alignment '&' that latex2mathml does not lay out (it has no 'aligned'); "
            f"use \\begin{{array}}{{rl}} ... \\end{{array}} instead, in formula: {latex!r}"
        )
    # For screen readers and copy-paste: the LaTeX as alttext, and as an
    # annotation beside the presentation MathML (a reader that speaks MathML
    # keeps doing so). Search indexes the formula once, as the text a reader
    # sees: the annotation carries Material's data-search-exclude.
    source = html.escape(latex, quote=True)
    head, _, rest = mathml.partition(">")
    body, _, _ = rest.rpartition("</math>")
    return (f'{head.replace("<math ", f"<math alttext={chr(34)}{source}{chr(34)} ", 1)}>'
            f'<semantics><mrow>{body}</mrow><annotation encoding="application/x-tex" '
            f'data-search-exclude>{source}</annotation></semantics></math>')


def render_math(content: str) -> str:
    """Replace every arithmatex wrapper in a page's HTML by MathML."""

    def replace(match: re.Match) -> str:
        display = match.group("block") is not None
        latex = html.unescape(match.group("block") if display else match.group("inline"))
        mathml = to_mathml(latex.strip(), display)
        if display:
            return f'<div class="math-display">{mathml}</div>'
        return mathml

    return _ARITHMATEX.sub(replace, content)


_TOC_INLINE = re.compile(r"\\\((?P<inline>.*?)\\\)", re.DOTALL)


def _render_toc(items) -> None:
    """Math in a heading: the table of contents shows MathML too, not raw LaTeX."""
    for item in items:
        if "\\(" in item.title:
            item.title = _TOC_INLINE.sub(
                lambda m: to_mathml(html.unescape(m.group("inline")).strip(), display=False), item.title
            )
        _render_toc(item.children)


def on_page_content(html_content, page, config, files):
    try:
        _render_toc(page.toc)
        return render_math(html_content)
    except MathError as error:
        raise MathError(f"{page.file.src_uri}: {error}") from None
