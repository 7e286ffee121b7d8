"""Stochastic sweep throughput: jaxgd.stochastic.run under one jit(vmap) over (rate, seed) against a hand-written one.

Mini-batch SGD (B = 32, with replacement) on L2-regularised logistic regression (breast cancer,
569 x 31), learning rates log-spaced in [1e-3, 3], several seeds:

  (a) one jitted ``vmap(vmap(jaxgd.stochastic.run))`` over (rate, key), the full objective evaluated
      at the last step only, against a hand-written ``jit(vmap(vmap(lax.scan)))`` doing the same per-step
      work with ``optax.sgd`` (the same key derivation, so both runs draw the same batches and end at
      the same loss): throughput ratio, target >= 1.0;
  (b) compiled memory of the jaxgd program at 1e3 and 1e4 steps (target: flat; the batches are
      gathered inside the loop, nothing of length ``steps`` is materialised).

Prints optimizer-steps/s (runs x steps / seconds, median of --repeats) and the ratio.

    python benchmarks/stochastic_sweep.py            # 256 rates x 8 seeds x 2000 steps
    python benchmarks/stochastic_sweep.py --small    # 32 rates x 8 seeds x 2000 steps, quicker
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxgd
from jaxgd import stochastic as st

BATCH = 32


def timed_pair(first, second, repeats: int) -> tuple[float, float]:
    """Median seconds of two calls, alternated in ABBA order so that a busy machine slows both alike."""
    jax.block_until_ready(first())  # compile and warm up
    jax.block_until_ready(second())
    times: tuple[list[float], list[float]] = ([], [])
    for i in range(repeats):
        order = ((first, times[0]), (second, times[1]))
        for fn, out in order if i % 2 == 0 else order[::-1]:
            t0 = time.perf_counter()
            jax.block_until_ready(fn())
            out.append(time.perf_counter() - t0)
    return statistics.median(times[0]), statistics.median(times[1])


def jaxgd_sweep(problem: st.FiniteSum, steps: int):
    """Final full loss of every (rate, key): jaxgd.stochastic.run vmapped twice, one jit."""

    def one(lr, key):
        return st.run(jaxgd.sgd(lr), problem, problem.x0, steps, key=key, batch_size=BATCH, eval_at=(steps,)).loss[-1]

    return jax.jit(jax.vmap(jax.vmap(one, (None, 0)), (0, None)))


def hand_written(problem: st.FiniteSum, steps: int):
    """The same sweep written by hand with optax.sgd: a batch drawn and gathered each step inside lax.scan."""
    z, y, l2 = problem.data["features"], problem.data["labels"], problem.consts["l2"]
    n, x0 = z.shape[0], problem.x0

    def loss(w, zb, yb):
        return jnp.mean(jax.nn.softplus(-yb * (zb @ w))) + 0.5 * l2 * jnp.sum(w * w)

    def one(lr, key):
        opt = optax.sgd(lr)
        k_sample = jax.random.split(key)[0]

        def step(c, _):
            w, s, t = c
            idx = jax.random.randint(jax.random.fold_in(k_sample, t), (BATCH,), 0, n, dtype=jnp.int32)
            u, s = opt.update(jax.grad(loss)(w, z[idx], y[idx]), s, w)
            return (optax.apply_updates(w, u), s, t + 1), None

        (w, _, _), _ = jax.lax.scan(step, (x0, opt.init(x0), jnp.zeros([], jnp.int32)), None, length=steps)
        return loss(w, z, y)

    return jax.jit(jax.vmap(jax.vmap(one, (None, 0)), (0, None)))


def instructions(fn, *args) -> int:
    """HLO instructions of the optimised program (both sweeps should compile to the same loop)."""
    return sum(1 for line in fn.lower(*args).compile().as_text().splitlines() if " = " in line)


def compiled_bytes(fn, *args) -> dict:
    mem = fn.lower(*args).compile().memory_analysis()
    if mem is None:
        return {}
    keys = ("temp_size_in_bytes", "output_size_in_bytes", "argument_size_in_bytes", "generated_code_size_in_bytes")
    return {k.replace("_size_in_bytes", ""): int(getattr(mem, k, 0)) for k in keys}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="32 rates x 8 seeds x 2000 steps")
    parser.add_argument("--repeats", type=int, default=8)
    args = parser.parse_args()
    rates, seeds, steps = (32, 8, 2000) if args.small else (256, 8, 2000)
    problem = st.logistic_regression(0.01)
    lrs = jnp.asarray(np.geomspace(1e-3, 3.0, rates), jnp.float32)
    keys = jax.random.split(jax.random.key(0), seeds)
    ours, theirs = jaxgd_sweep(problem, steps), hand_written(problem, steps)
    diff = float(jnp.max(jnp.abs(ours(lrs, keys) - theirs(lrs, keys))))
    print(f"{jax.default_backend()}: {rates} rates x {seeds} seeds x {steps} steps, batch {BATCH}, n = {problem.n}")
    print(f"max |final loss difference| between the two (same batches): {diff:.2e}")
    n_ours, n_theirs = instructions(ours, lrs, keys), instructions(theirs, lrs, keys)
    print(f"optimised HLO instructions: jaxgd {n_ours}, hand-written {n_theirs}")
    work = rates * seeds * steps
    t_ours, t_theirs = timed_pair(lambda: ours(lrs, keys), lambda: theirs(lrs, keys), args.repeats)
    print(f"jaxgd.stochastic.run jit(vmap): {work / t_ours:.3e} steps/s ({t_ours:.2f} s)")
    print(f"hand-written optax jit(vmap):   {work / t_theirs:.3e} steps/s ({t_theirs:.2f} s)")
    print(f"throughput ratio jaxgd / hand-written: {t_theirs / t_ours:.2f} (target >= 1.0)")
    for n_steps in (1000, 10000):
        mem = compiled_bytes(jaxgd_sweep(problem, n_steps), lrs, keys)
        print(f"compiled buffers at {n_steps} steps: " + ", ".join(f"{k} {v / 2**20:.2f} MiB" for k, v in mem.items()))


if __name__ == "__main__":
    main()
