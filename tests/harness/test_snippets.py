"""Every module of the package runs as a script (`python -m genai.<chapter>.<module>`) on the CPU."""

import subprocess
import sys

import pytest

from support import ROOT, snippet_modules

pytestmark = pytest.mark.spread   # each script is its own subprocess: any worker may run it


@pytest.mark.parametrize("module", snippet_modules())
def test_snippet_runs_as_a_script(module, run_snippet):
    result = run_snippet(module)
    print(result.stdout)
    assert result.returncode == 0, f"python -m {module} failed:\n{result.stdout}\n{result.stderr}"
    assert result.stdout.strip(), f"python -m {module} printed nothing: a demo should show its result"


def test_a_figures_module_draws_on_request(tmp_path, run_snippet):
    """`python -m genai.<chapter>.figures` lists its figures; with a folder it draws them."""
    assert "plot_gpt_sizes" in run_snippet("genai.generative_models.figures").stdout
    subprocess.run([sys.executable, "-m", "genai.generative_models.figures", str(tmp_path), "plot_gpt_sizes"],
                   cwd=ROOT, check=True, capture_output=True)
    assert (tmp_path / "gpt_sizes.png").stat().st_size > 1000
