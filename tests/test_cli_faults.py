"""The CLI's sweep killed with SIGKILL mid-sweep and run again resumes to the result of an uninterrupted run,
bit for bit (issue: results are never silently wrong; the library's own fault injection is in test_sweep_files)."""

import glob
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import jaxgd
from jaxgd import cli

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["sweep", "--problem", "rosenbrock", "--optimizer", "momentum", "--param", "learning_rate=log:1e-5:1e-3:384",
        "--param", "momentum=0.9", "--steps", "200000", "--chunk", "48", "--quiet"]  # fmt: skip


def _cli(out: Path, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    return subprocess.Popen([sys.executable, "-m", "jaxgd.cli", *ARGS, "--out", str(out)], env=env, cwd=out.parent,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, **kw)  # fmt: skip


def _result(out: Path) -> jaxgd.SweepResult:
    (npz,) = glob.glob(str(out / "*.npz"))
    return jaxgd.SweepResult.load(npz)


def test_a_killed_cli_sweep_resumes_to_the_uninterrupted_result(tmp_path):
    ref_out, out = tmp_path / "ref", tmp_path / "killed"
    ref_out.mkdir()
    out.mkdir()
    victim = _cli(out)
    deadline = time.monotonic() + 120
    while not glob.glob(str(out / "*.npz" / "chunk-*")) and victim.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(np.random.default_rng(0).uniform(0.0, 0.1))  # a chunk takes 0.1-0.5 s
    victim.send_signal(signal.SIGKILL)
    assert victim.wait() == -signal.SIGKILL, "the sweep ended before the kill: make it longer"
    assert any(Path(p).is_dir() for p in glob.glob(str(out / "*.npz")))  # killed mid-sweep: its folder of chunks
    assert cli.main([*ARGS, "--out", str(ref_out)]) == 0  # the uninterrupted reference, in this process
    resumed = _cli(out)
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read()
    a, b = _result(ref_out), _result(out)
    assert a.completed == b.completed == a.num_runs
    for name in ("final_loss", "best_loss", "diverge_step", "tol_step", "final_grad_norm"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
