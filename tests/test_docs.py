"""The documentation site builds from the docstrings in strict mode (a broken reference fails the build), and every
Python block of its pages runs."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mkdocs", reason="the docs test needs the [test] extra (mkdocs-material, mkdocstrings-python)")

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "docs").glob("*.md"))


def _build(config: Path, site: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    cmd = [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=config.parent, timeout=300)


def test_the_site_builds_in_strict_mode(tmp_path):
    done = _build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert done.returncode == 0, done.stdout + done.stderr
    for page in PAGES:
        assert (tmp_path / "site" / page.stem / "index.html").exists() or page.stem == "index"
    assert "jaxgd.adam" in (tmp_path / "site" / "optimizers" / "index.html").read_text()


def test_a_broken_reference_fails_the_build(tmp_path):
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    config = (ROOT / "mkdocs.yml").read_text().replace("paths: [.]", f"paths: [{ROOT}]")
    (tmp_path / "mkdocs.yml").write_text(config)
    with open(tmp_path / "docs" / "index.md", "a") as f:
        f.write("\nSee [this][jaxgd.no_such_function].\n")
    done = _build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert done.returncode != 0 and "no_such_function" in done.stdout + done.stderr


def test_every_area_has_a_page_with_an_example():
    names = {p.stem for p in PAGES}
    assert {"index", "optimizers", "schedules", "sweeps", "second_order", "analysis", "networks", "cli"} <= names
    for page in PAGES:
        assert "```python" in page.read_text() or page.stem == "cli", page.name


@pytest.mark.parametrize("page", [p for p in PAGES if "```python" in p.read_text()], ids=lambda p: p.stem)
def test_the_python_blocks_of_a_page_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for i, code in enumerate(re.findall(r"```python\n(.+?)\n```", page.read_text(), flags=re.S)):
        exec(compile(code, f"{page.name} python block {i}", "exec"), {"__name__": "__docs__"})
