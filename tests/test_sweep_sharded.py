"""jaxgd.sweep sharded over 8 (forced host) CPU devices gives the numbers of one device, to rounding."""

import json
import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import json
    import jax
    import numpy as np
    import jaxgd
    from jaxgd import sweeps as S
    from jaxgd.sweeps import engine

    assert len(jax.devices()) == 8, jax.devices()
    seen = []
    inner = engine.sweep_chunk

    def spy(*args, **kwargs):
        out = inner(*args, **kwargs)
        seen.append(len(out.final_loss.sharding.device_set))
        return out

    engine.sweep_chunk = spy
    problems = [jaxgd.problems.quadratic(np.array([1.0, k])) for k in (1.0, 30.0)]
    space = S.grid(learning_rate=np.geomspace(1e-3, 0.2, 13), momentum=[0.0, 0.5, 0.9])
    kw = dict(tol=1e-3, curve_every=7, chunk_size=2 * 16)
    sharded = S.sweep(jaxgd.momentum, problems, space, 60, **kw)
    one = S.sweep(jaxgd.momentum, problems, space, 60, devices=1, **kw)
    fields = ("final_loss", "best_loss", "final_grad_norm", "tol_step", "diverge_step", "final_params", "curve")
    # one device and eight run other shapes of the same loop: equal to rounding (the integers exactly)
    equal = {k: bool(np.allclose(getattr(sharded, k), getattr(one, k), rtol=1e-6, atol=0, equal_nan=True))
             for k in fields}
    equal.update({k: bool(np.array_equal(getattr(sharded, k), getattr(one, k))) for k in ("tol_step", "diverge_step")})
    seen_before_saving = list(seen)

    import tempfile  # saved from 8 devices, it loads whole; it is refused to a sweep on one device
    out = tempfile.mkdtemp() + "/m"
    S.sweep(jaxgd.momentum, problems, space, 60, out=out, **kw)
    loaded = S.SweepResult.load(out)
    saved = all(np.array_equal(getattr(loaded, k), getattr(sharded, k), equal_nan=True) for k in fields)
    try:
        S.sweep(jaxgd.momentum, problems, space, 60, out=out, devices=1, **kw)
        refused = ""
    except S.SweepFileError as err:
        refused = str(err)

    from jaxgd import stochastic as st  # a seeded sweep (its seed axis is the outermost vmap) shards alike
    mb = st.least_squares(n=64, d=3, seed=0).minibatch(8)
    seeds = jax.random.split(jax.random.key(1), 3)
    skw = dict(seeds=seeds, eval_every=10, chunk_size=16)
    s8 = S.sweep(jaxgd.sgd, mb, {"learning_rate": np.geomspace(1e-3, 0.5, 16)}, 30, **skw)
    s1 = S.sweep(jaxgd.sgd, mb, {"learning_rate": np.geomspace(1e-3, 0.5, 16)}, 30, devices=1, **skw)
    # to rounding, not bitwise: each device's batched products of mini-batches have other shapes
    seeded = {k: bool(np.allclose(getattr(s8, k), getattr(s1, k), rtol=1e-5, atol=1e-6, equal_nan=True))
              for k in ("final_loss", "best_loss", "final_params", "diverge_step")}
    seeded["differ"] = bool(np.ptp(s8.final_loss) > 0.1)  # the rates do different things
    print(json.dumps({"equal": equal, "seen": seen_before_saving, "diverged": int(sharded.diverged.sum()),
                      "runs": sharded.num_runs, "saved": saved, "refused": refused, "seeded": seeded,
                      "seeded_shape": list(s8.final_loss.shape)}))
    """
)


def test_sharded_over_8_cpu_devices_equals_one_device():
    env = dict(os.environ)
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8").strip()
    env["JAX_PLATFORMS"] = "cpu"
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert all(out["equal"].values()), out["equal"]
    assert all(out["seeded"].values()), out["seeded"]
    assert out["seeded_shape"] == [16 * 3]  # (rate, seed) flattened, the seed running fastest
    assert out["runs"] == 13 * 3 * 2
    assert 0 < out["diverged"] < out["runs"]  # both kinds of run are compared
    # 39 configurations in chunks of 16 (a multiple of 8): 3 sharded chunks over 8 devices, then 3 on one device.
    assert out["seen"] == [8, 8, 8, 1, 1, 1]
    assert out["saved"]
    assert "in its devices (file: 8 x cpu (cpu); now: 1 x cpu (cpu))" in out["refused"]
