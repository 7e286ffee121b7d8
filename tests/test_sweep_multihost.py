"""jaxgd.sweep under jax.distributed: two CPU processes of 2 devices each give the numbers of one process."""

import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import jaxgd

SPACE = {"learning_rate": np.geomspace(1e-3, 0.2, 9).tolist(), "momentum": [0.0, 0.5, 0.9]}
STEPS = 60

WORKER = textwrap.dedent(
    f"""
    import json, sys
    import jax
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=sys.argv[2], num_processes=2, process_id=int(sys.argv[1]))
    import numpy as np
    import jaxgd

    assert jax.process_count() == 2 and jax.device_count() == 4, (jax.process_count(), jax.device_count())
    problems = [jaxgd.problems.quadratic(np.array([1.0, k])) for k in (1.0, 30.0)]
    r = jaxgd.sweep(jaxgd.momentum, problems, jaxgd.grid(**{SPACE!r}), {STEPS}, tol=1e-3, chunk_size=8)
    print(json.dumps({{k: np.asarray(getattr(r, k)).tolist() for k in
                      ("final_loss", "best_loss", "tol_step", "diverge_step")}}))
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_equal_one():
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2").strip()
    address = f"127.0.0.1:{_free_port()}"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(i), address], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for i in range(2)
    ]
    outs = []
    for p in procs:
        try:
            stdout, stderr = p.communicate(timeout=240)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            pytest.fail("jax.distributed workers timed out")
        assert p.returncode == 0, stderr.decode()[-3000:]
        outs.append(json.loads(stdout.decode().strip().splitlines()[-1]))
    assert outs[0] == outs[1]  # every process gathers the whole result

    problems = [jaxgd.problems.quadratic(np.array([1.0, k])) for k in (1.0, 30.0)]
    one = jaxgd.sweep(jaxgd.momentum, problems, jaxgd.grid(**SPACE), STEPS, tol=1e-3, devices=1)
    np.testing.assert_array_equal(outs[0]["diverge_step"], one.diverge_step)
    np.testing.assert_array_equal(outs[0]["tol_step"], one.tol_step)
    np.testing.assert_allclose(outs[0]["final_loss"], one.final_loss, rtol=1e-5)
    np.testing.assert_allclose(outs[0]["best_loss"], one.best_loss, rtol=1e-5)
    assert 0 < one.diverged.sum() < one.num_runs
