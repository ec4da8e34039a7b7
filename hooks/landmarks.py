"""Every navigation landmark named by its section's title.

Material for MkDocs names a section's sub-navigation (``<nav
aria-labelledby="__nav_5_label">``) after the label that expands it; for a
section with an index page that label holds only an icon, so the landmark
has no name and axe-core reports ``landmark-unique``. The same ``<nav>``
starts with a title label that holds the section's name: name the landmark
after that instead. Nothing changes for the eye.
"""

from __future__ import annotations

import re

_NAV = re.compile(
    r'(<nav class="md-nav" data-md-level="\d+" aria-labelledby=")[^"]+("[^>]*>\s*'
    r'<label class="md-nav__title" for="([^"]+)")')


def name_navigation(html: str) -> str:
    """Point each sub-navigation's aria-labelledby at its title label."""
    return _NAV.sub(lambda m: f'{m.group(1)}{m.group(3)}_title{m.group(2)} id="{m.group(3)}_title"',
                    html)


def on_post_page(output, page, config):
    return name_navigation(output)
