"""Every file in snippets/ runs as a script (`python -m genai.<name>`) on the CPU."""

import pytest

from support import snippet_modules


@pytest.mark.parametrize("module", snippet_modules())
def test_snippet_runs_as_a_script(module, run_snippet):
    result = run_snippet(module)
    print(result.stdout)
    assert result.returncode == 0, f"python -m {module} failed:\n{result.stdout}\n{result.stderr}"
    assert result.stdout.strip(), f"python -m {module} printed nothing: a demo should show its result"
