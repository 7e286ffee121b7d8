"""The README's two commands are the contract; CI runs exactly the test command."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _commands():
    return re.findall(r"```bash\n(.+?)\n```", (ROOT / "README.md").read_text())


def test_readme_has_exactly_two_commands():
    cmds = _commands()
    assert len(cmds) == 2, cmds
    main, test = cmds
    assert "python3 -m venv" in main and "jaxgd reproduce" in main
    assert "python3 -m venv" in test and "pytest" in test and "ruff check" in test


def test_ci_runs_the_readme_test_command_and_nothing_else():
    ci_lines = [
        line
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.startswith("#") and not line.startswith(("set ", "cd "))
    ]
    assert ci_lines == [_commands()[1]]


def _python_blocks():
    return re.findall(r"```python\n(.+?)\n```", (ROOT / "README.md").read_text(), flags=re.S)


def test_readme_has_python_examples():
    assert len(_python_blocks()) >= 3


@pytest.mark.parametrize("index", range(len(_python_blocks())))
def test_every_python_block_of_the_readme_runs_from_a_fresh_namespace(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # blocks that write files write them here
    code = _python_blocks()[index]
    exec(compile(code, f"README.md python block {index}", "exec"), {"__name__": "__readme__"})
