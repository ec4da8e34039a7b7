"""The install: the real Python floor, stated everywhere and checked first;
and a quiet build that ships the package's data (references, recordings)."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
import tomllib
import zipfile

from support import ROOT


def floor(spec: str) -> tuple[int, ...]:
    """The lower bound of a Requires-Python such as '>=3.11.5'."""
    found = re.search(r">=\s*(\d+(?:\.\d+)*)", spec or "")
    return tuple(int(part) for part in found.group(1).split(".")) if found else (0,)


def pinned() -> list[str]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return [line.split("==")[0].strip() for line in lines
            if "==" in line and not line.lstrip().startswith("#")]


def test_the_python_floor_is_the_highest_any_pin_needs_and_is_stated_everywhere():
    needed = max(floor(importlib.metadata.metadata(name).get("Requires-Python"))
                 for name in pinned())
    version = ".".join(map(str, needed))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert floor(project["requires-python"]) == needed
    assert f"FLOOR = {needed}" in (ROOT / "setup.py").read_text()
    assert f"Python {version} or newer" in (ROOT / "README.md").read_text()
    assert f"Python {version}" in (ROOT / "CONTRIBUTING.md").read_text()


def test_an_older_python_stops_at_the_first_step_with_one_clear_message():
    """pip reads requirements.txt in order and prepares the course first;
    setup.py stops an older Python there, before any download."""
    first = next(line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()
                 if line.strip() and not line.lstrip().startswith("#"))
    assert first == "-e ."
    older = ("import sys; sys.version_info = (3, 10, 12, 'final', 0); "
             "sys.argv = ['setup.py', '--version']; exec(open('setup.py').read())")
    result = subprocess.run([sys.executable, "-c", older], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1
    assert "genai-course needs Python 3.11.5 or newer" in result.stderr


def test_the_build_is_quiet_and_ships_the_data(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-build-isolation",
         "-w", str(tmp_path), str(ROOT)], capture_output=True, text=True, timeout=300,
        cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    log = result.stdout + result.stderr
    assert "BuildBackendWarning" not in log and "would be ignored" not in log, log[-3000:]
    wheel = next(tmp_path.glob("genai_course-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "genai/references/manifest.json" in names
    assert "genai/references/facts.safetensors" in names
    assert "genai/llm_api/fake_server/replies/llm_api.json" in names
    assert "genai/applications/data/products.csv" in names
    assert not [n for n in names if "__pycache__" in n]
