"""Every notebook in ``notebooks/`` runs top to bottom at its small size (``JAXGD_SMALL=1``) and is stored clean.

Executed with nbclient on a kernel spec written into a temporary folder that
points at this interpreter, so the kernel sees the same environment as the tests.
"""

import json
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the notebook tests need the [test] extra (nbformat)")
nbclient = pytest.importorskip("nbclient", reason="the notebook tests need the [test] extra (nbclient)")
kernelspec = pytest.importorskip("ipykernel.kernelspec", reason="the notebook tests need the [test] extra (ipykernel)")

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
KERNEL = "jaxgd-test-python3"


def test_there_are_notebooks():
    names = [p.name for p in NOTEBOOKS]
    assert "01_optimizer_tour.ipynb" in names and "04_training_lab.ipynb" in names


@pytest.fixture(scope="module")
def kernel_env(tmp_path_factory):
    """A kernel spec for sys.executable in a temporary JUPYTER_PATH, and JAXGD_SMALL=1 for the kernel."""
    prefix = tmp_path_factory.mktemp("jupyter")
    kernelspec.install(kernel_name=KERNEL, prefix=str(prefix))
    spec_dir = prefix / "share" / "jupyter" / "kernels" / KERNEL
    spec = json.loads((spec_dir / "kernel.json").read_text())
    spec["argv"][0] = sys.executable  # install() writes sys.executable already; make sure of it
    spec["env"] = {"JAXGD_SMALL": "1", "MPLBACKEND": "Agg", "PYTHONWARNINGS": "ignore::DeprecationWarning"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PATH", str(prefix / "share" / "jupyter"))
        yield


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: outputs stored"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    assert any("JAXGD_SMALL" in c.source for c in nb.cells if c.cell_type == "code")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path, tmp_path, kernel_env):
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=120,
        kernel_name=KERNEL,
        resources={"metadata": {"path": str(tmp_path)}},  # the kernel's working directory
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.execution_count is not None for c in code)
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors


def test_kernel_is_this_interpreter_with_small_sizes(kernel_env):
    check = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("import os, sys, jaxgd; print(sys.executable, os.environ.get('JAXGD_SMALL'))")]
    )
    nbclient.NotebookClient(check, timeout=60, kernel_name=KERNEL).execute()
    printed = check.cells[0].outputs[0]["text"].split()
    assert Path(printed[0]).resolve() == Path(sys.executable).resolve() and printed[1] == "1"
