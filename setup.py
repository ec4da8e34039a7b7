"""The course's Python floor, checked first.

pip checks pyproject.toml's requires-python only after it has collected
every other requirement (several hundred megabytes). Setuptools runs this
file while pip prepares the course, the first line of requirements.txt, so
an older Python stops here at once, with one clear message.
"""

import sys

from setuptools import setup

FLOOR = (3, 11, 5)      # pymdown-extensions 13.1 needs it; see pyproject.toml

if sys.version_info[:3] < FLOOR:
    sys.exit(f"genai-course needs Python {'.'.join(map(str, FLOOR))} or newer "
             f"(pymdown-extensions 13.1 does); this is Python "
             f"{sys.version.split()[0]}. Make the virtual environment with a "
             f"newer Python, e.g. python3.11 -m venv .venv")

setup()
