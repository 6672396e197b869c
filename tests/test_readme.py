"""The README's first-screen commands stay true: CI runs the README's test command."""
from __future__ import annotations

import re

from conftest import PROJECT_ROOT


def _bash_blocks(text: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", text, flags=re.S)


def test_ci_runs_the_readme_test_command():
    readme = (PROJECT_ROOT / "README.md").read_text()
    blocks = _bash_blocks(readme)
    test_cmd = blocks[1].strip()
    assert test_cmd.startswith("pip install -e '.[test]' && ")
    pytest_cmd = test_cmd.split(" && ", 1)[1]
    ci = (PROJECT_ROOT / ".ci" / "run").read_text().splitlines()
    assert pytest_cmd in ci, f"{pytest_cmd!r} must be the command .ci/run runs"


def test_main_job_command_is_first():
    blocks = _bash_blocks((PROJECT_ROOT / "README.md").read_text())
    assert "python -m harness run" in blocks[0]
