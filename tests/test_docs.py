"""The documentation site builds from the docstrings in strict mode (a broken reference fails the build), the
docstrings' Sphinx roles render as links (docs/sphinx_roles.py), and every Python block of its pages runs."""

import importlib.util
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
    # no Sphinx role shows as text; a role is a link: absolute on its page, relative, and to another page
    pages = {p.stem: (tmp_path / "site" / p.stem / "index.html").read_text() for p in PAGES if p.stem != "index"}
    for name, html in pages.items():
        assert not re.search(r":(func|class|mod|meth|attr|data|obj|exc):", html), name
    assert 'href="#jaxgd._recipe.Optimizer"><code>jaxgd.Optimizer</code></a>' in pages["optimizers"]
    assert 'href="#jaxgd.problems.Problem"><code>Problem</code></a>' in pages["analysis"]
    assert 'href="../optimizers/#jaxgd._recipe.Schedule"><code>jaxgd.Schedule</code></a>' in pages["schedules"]


def test_a_broken_reference_fails_the_build(tmp_path):
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    config = (ROOT / "mkdocs.yml").read_text().replace("paths: [.]", f"paths: [{ROOT}]")
    (tmp_path / "mkdocs.yml").write_text(config)
    with open(tmp_path / "docs" / "index.md", "a") as f:
        f.write("\nSee [this][jaxgd.no_such_function].\n")
    done = _build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert done.returncode != 0 and "no_such_function" in done.stdout + done.stderr


def test_sphinx_roles_become_links_where_the_site_renders_the_target(tmp_path):
    griffe = pytest.importorskip("griffe")
    spec = importlib.util.spec_from_file_location("sphinx_roles", ROOT / "docs" / "sphinx_roles.py")
    roles = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(roles)
    (tmp_path / "api.md").write_text("# API\n\n::: pkg.mod\n    options:\n      members: [C, f]\n")
    mod = '''
import jax
class C:
    """A class."""
def f():
    """See :class:`C`, :func:`~pkg.f`, :py:meth:`C.m`, :func:`jax.grad`, :func:`_g`, :func:`title <pkg.mod.f>`."""
def _g():
    """Private."""
'''
    init = "from pkg.mod import C, f\n__all__ = ['C', 'f']\n"
    extensions = griffe.load_extensions(roles.SphinxRoles(docs=str(tmp_path)))
    with griffe.temporary_visited_package("pkg", {"__init__.py": init, "mod.py": mod}, extensions=extensions) as pkg:
        text = pkg["mod.f"].docstring.value

    def link(path, shown):
        return f'<autoref identifier="{path}" optional>`{shown}`</autoref>'

    linked = f"{link('pkg.mod.C', 'C')}, {link('pkg.mod.f', 'f')}"
    assert text == f"See {linked}, `C.m`, `jax.grad`, `_g`, {link('pkg.mod.f', 'title')}."


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
