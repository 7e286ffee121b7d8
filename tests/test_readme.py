"""The README's two commands are the contract; CI runs exactly the test command."""

import re
from pathlib import Path

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
