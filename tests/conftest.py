"""Test-suite plumbing: how XLA compiles for the tests, and the longest files handed out first.

The tests' programs are small and run for milliseconds, so compiling them is most of the suite's time. They
are compiled with XLA's backend optimisation level 0 (no LLVM optimisation passes): about half the compile
time, the same programs. Results then differ from the default build's in the last bits (no fused
multiply-adds, for one), as they do between CPUs and between CPU and GPU, so a test that holds under both
builds does not rest on the rounding of one. Set ``JAXGD_TEST_XLA_OPT=default`` to test the default build.
Subprocesses (notebook kernels, CLI runs, the wheel's venv) inherit the flag through the environment.
"""

import os

if os.environ.get("JAXGD_TEST_XLA_OPT", "0") != "default":  # before any backend starts: XLA reads it once
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0").strip()

LONG_FIRST = ("test_experiments.py", "test_notebooks.py", "test_second_order.py", "test_minimize_scipy.py",
              "test_nn_train.py", "test_nn_batchnorm.py", "test_packaging.py", "test_cli_faults.py")  # fmt: skip


def pytest_collection_modifyitems(session, config, items):
    rank = {name: i for i, name in enumerate(LONG_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONG_FIRST)))  # stable: file order kept otherwise
