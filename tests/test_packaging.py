"""Packaging: the wheel lists every package, carries the experiments, and its ``jaxgd reproduce`` runs one
from outside the checkout in a fresh virtual environment.
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def setuptools_table() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_package_is_listed_and_the_experiments_are_one():
    table = setuptools_table()
    folders = {
        ".".join(d.relative_to(ROOT).parts)
        for d in [ROOT / "jaxgd", *(ROOT / "jaxgd").rglob("*")]
        if d.is_dir() and d.name != "__pycache__" and any(d.glob("*.py"))
    }
    assert set(table["packages"]) == folders | {"jaxgd._experiments"}, "a package is missing from pyproject.toml"
    assert table["package-dir"] == {"jaxgd._experiments": "experiments"}
    assert (ROOT / "experiments" / "__init__.py").is_file()


def run(argv, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, **kwargs)


def test_the_wheel_runs_an_experiment_from_anywhere(tmp_path):
    """Build the wheel, install it (no dependencies) in a fresh venv that sees this interpreter's packages
    through a .pth file, and run ``jaxgd reproduce --small`` from a folder outside the checkout."""
    src = tmp_path / "src"  # a copy, so the build leaves nothing in the checkout
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for name in ("jaxgd", "experiments"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "JAXGD_EXPERIMENTS")}
    built = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(src)])
    if built.returncode and "satisfies the requirement setuptools" in built.stderr:
        pytest.skip("no package index to fetch the build's setuptools from")
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("jaxgd-*.whl")
    venv = tmp_path / "venv"
    assert run([sys.executable, "-m", "venv", "--without-pip", str(venv)]).returncode == 0
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index"]
    installed = run([*pip, str(wheel)])
    assert installed.returncode == 0, installed.stderr
    site = run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    Path(site, "_jaxgd_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")  # the dependencies
    elsewhere, out = tmp_path / "elsewhere", tmp_path / "out"
    elsewhere.mkdir()
    argv = [str(venv / "bin" / "jaxgd"), "reproduce", "--small", "nesterov_ravine", "--out", str(out)]
    done = run(argv, cwd=elsewhere, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 experiment(s)" in done.stdout
    summary = json.loads((out / "nesterov_ravine.json").read_text())
    assert summary["experiment"] == "nesterov_ravine" and summary["small"] is True
    where = run(
        [str(python), "-c", "import jaxgd.cli as c; print(c.__file__); print(c.experiments_dir())"],
        cwd=elsewhere,
        env=env,
    )
    module, experiments = where.stdout.split()
    assert Path(module).is_relative_to(venv) and Path(experiments).is_relative_to(venv), where.stdout
