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


def test_command_blocks_are_runnable_as_written():
    """No placeholder syntax a shell would choke on (`[--space nb201]` in a block is not a command)."""
    for block in _bash_blocks((PROJECT_ROOT / "README.md").read_text()):
        for line in block.splitlines():
            command = line.split("  #", 1)[0]
            assert not re.search(r"\[--|<[a-z]", command), f"README command with placeholder syntax: {line}"


def test_main_job_reports_on_the_shipped_table():
    first = _bash_blocks((PROJECT_ROOT / "README.md").read_text())[0]
    assert "--space nb201" in first and "--report" in first and "data import" not in first
