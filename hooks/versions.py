"""The footer's "verified with": the versions the site's samples ran with.

The build runs every notebook and draws every figure, and the tests run every
sample, with the packages installed at that moment. This hook reads their
versions then (and the day), and overrides/partials/copyright.html prints
them at the foot of every page, so a reader on other versions knows why their
output may differ.
"""

from __future__ import annotations

import datetime
import importlib.metadata

PACKAGES = ("torch", "transformers", "diffusers", "anthropic", "openai")


def verified_with() -> dict[str, str]:
    found = []
    for name in PACKAGES:
        try:
            found.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return {"packages": ", ".join(found),
            "built": datetime.date.today().isoformat()}


def on_config(config):
    config.extra["verified_with"] = verified_with()
    return config
