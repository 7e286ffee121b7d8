"""Test-suite plumbing: how XLA compiles for the tests, and the longest files handed out first.

The tests' programs are small and run for milliseconds, so compiling them is most of the suite's time. They
are compiled with XLA's backend optimisation level 0 (no LLVM optimisation passes) and, where this jaxlib
knows the flag, with XLA:CPU's classic elemental emitters instead of its MLIR fusion emitters
(``--xla_cpu_use_fusion_emitters=false``): together less than half the default build's time to compile and
run (``jaxgd.minimize`` by each method on three problems: 2.3 s to 1.0 s; the suite: 6:35 to about 4:10), the
same programs. Results then differ from the default build's in the last bits (no fused multiply-adds, other
vector code for a vmapped loop than for a single run), as they do between CPUs and between CPU and GPU, so a
test that holds under both builds does not rest on the rounding of one: two programs of different shapes
(a sweep's row and the single run, one device and eight) agree to rounding, and bitwise only where the
program is the same (a resumed sweep, a re-run with the same key). Set ``JAXGD_TEST_XLA_OPT=default`` to
test the default build. Subprocesses (notebook kernels, CLI runs, the wheel's venv) and pytest-xdist's
workers inherit the flags through the environment.
"""

import os
import subprocess
import sys

FAST_COMPILE = ("--xla_backend_optimization_level=0", "--xla_cpu_use_fusion_emitters=false")


def _accepted(flag: str) -> bool:
    """Whether this jaxlib's XLA knows ``flag`` (an unknown flag in XLA_FLAGS aborts the process)."""
    env = dict(os.environ, XLA_FLAGS=flag, JAX_PLATFORMS="cpu")
    probe = "import jax.numpy as jnp; jnp.zeros(1).block_until_ready()"
    return subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, timeout=120).returncode == 0


if os.environ.get("JAXGD_TEST_XLA_OPT", "0") != "default":  # before any backend starts: XLA reads it once
    flags = os.environ.get("XLA_FLAGS", "").split()
    for flag in FAST_COMPILE:
        if flag not in flags and (flag == FAST_COMPILE[0] or _accepted(flag)):  # xdist workers inherit it
            flags.append(flag)
    os.environ["XLA_FLAGS"] = " ".join(flags)

LONG_FIRST = ("test_experiments.py", "test_notebooks.py", "test_second_order.py", "test_minimize_scipy.py",
              "test_nn_train.py", "test_nn_batchnorm.py", "test_packaging.py", "test_cli_faults.py")  # fmt: skip


def pytest_collection_modifyitems(session, config, items):
    rank = {name: i for i, name in enumerate(LONG_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONG_FIRST)))  # stable: file order kept otherwise
