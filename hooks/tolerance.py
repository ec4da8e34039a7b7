"""Show the reader the tolerance that a block's test allows.

A page block whose numbers depend on float rounding (one that trains as it
runs, say) carries, on the line before its fence,
``<!--pytest.mark.tolerance(abs=0.05)-->`` (see tests/tolerance.py): its
printed numbers are checked within that tolerance, because float rounding,
and so training, differs between CPUs. The comment is invisible on the site;
this hook puts a short note in its place, with the same numbers, so the
reader knows how far their own output may be from the page's.
"""

from __future__ import annotations

import ast
import re

MARK = re.compile(r"^(?P<indent>[ \t]*)<!--\s*pytest\.mark\.tolerance\((?P<args>[^)]*)\)\s*-->[ \t]*$",
                  re.M)


def describe(args: str) -> str:
    """'abs=0.05, rel=0.1' -> 'by up to 0.05 or 10%, whichever is larger'."""
    call = ast.parse(f"f({args})", mode="eval").body
    values = {keyword.arg: ast.literal_eval(keyword.value) for keyword in call.keywords}
    parts = []
    if values.get("abs"):
        parts.append(f"{values['abs']:g}")
    if values.get("rel"):
        parts.append(f"{values['rel']:.0%}")
    if not parts:
        raise ValueError(f"pytest.mark.tolerance({args}): give abs=, rel= or both")
    return "by up to " + " or ".join(parts) + (", whichever is larger" if len(parts) > 1 else "")


def note(match: re.Match) -> str:
    indent = match.group("indent")
    body = (f"The numbers this block prints depend on float rounding, which differs from one "
            f"CPU to another (and training magnifies it): yours may differ from the ones "
            f"shown here {describe(match.group('args'))}. The tests allow that much.")
    return (f"{match.group(0)}\n\n{indent}!!! info \"Your numbers may differ\"\n\n"
            f"{indent}    {body}\n")


def on_page_markdown(markdown: str, **kwargs) -> str:
    return MARK.sub(note, markdown)
