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


@pytest.mark.parametrize("zygote", ["1", "0"], ids=["forked from the zygote", "a fresh interpreter"])
def test_a_snippet_runs_as_python_m_runs_it(tmp_path, monkeypatch, zygote):
    """harness/zygote.py forks what `python -m` would run: the same name,
    argv, output, exit status and traceback as a fresh interpreter."""
    import os

    from support import CoverageRecorder

    (tmp_path / "zmod_ok.py").write_text(
        "import sys\nprint(__name__, sys.argv[0].endswith('zmod_ok.py'), sys.argv[1:])\n")
    (tmp_path / "zmod_fails.py").write_text("raise ValueError('broken')\n")
    (tmp_path / "zmod_exits.py").write_text("import sys\nprint('bye')\nsys.exit(3)\n")
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    monkeypatch.setenv("COURSE_ZYGOTE", zygote)
    recorder = CoverageRecorder(tmp_path / "coverage", "test", trace=False)
    try:
        assert recorder.run_script("zmod_ok")[:2] == (0, "__main__ True []\n")
        code, _, err = recorder.run_script("zmod_fails")
        assert code == 1 and "ValueError: broken" in err
        assert recorder.run_script("zmod_exits")[:2] == (3, "bye\n")
        assert recorder.ran("zmod_ok")      # under coverage
    finally:
        recorder.close()
