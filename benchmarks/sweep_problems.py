"""Sweep throughput across the built-in problems: jaxgd.sweep against the hand-written optax sweep.

For each problem, heavy ball (0.9) over log-spaced learning rates, the same code as
``sweep_throughput.py`` (a) and (c) but on losses written with ``jnp.sum`` (the ravine,
a 16-D quadratic, 10-D Rosenbrock, Rastrigin, Ackley) and on logistic regression:

  * jaxgd.sweep with its summaries, as it runs (on CPU the loss's small sums become adds),
    and with that rewrite off;
  * the hand-written optax.inject_hyperparams(optax.sgd) + vmap + lax.scan sweep with the same
    summaries, its final-loss-only form, and its form with a running min alone (the leanest
    in-loop summary, "lean"; written with jnp.sum as it is, XLA:CPU's slow small sums included).

Prints optimizer-steps/s and the ratios (a) jaxgd / hand-written same summaries (steps/s,
target >= 1), (c) jaxgd time / final-only time (target <= 1.2) and lean / final-only.

    python benchmarks/sweep_problems.py            # 4096 rates x 2000 steps
    python benchmarks/sweep_problems.py --small    # 256 rates x 200 steps, quick
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np
from sweep_throughput import hand_written, make_momentum, timed

import jaxgd
from jaxgd.sweeps.prepare import prepare


def problems() -> dict[str, jaxgd.Problem]:
    p = jaxgd.problems
    return {
        "ravine x1^2+50x2^2": p.ravine(),
        "quadratic 16-D": p.quadratic(np.linspace(1.0, 10.0, 16)),
        "rosenbrock 10-D": p.rosenbrock(10),
        "rastrigin 2-D": p.rastrigin(),
        "ackley 2-D": p.ackley(),
        "logistic (569x30)": p.logistic_regression(),
    }


def jaxgd_sweep(problem: jaxgd.Problem, lrs: np.ndarray, steps: int, unroll: bool):
    """jaxgd.sweep's compiled chunk, called directly (every rate in one chunk, as sweep runs them) so that the
    small-sum rewrite can be switched."""
    chunk = prepare(make_momentum, problem, {"learning_rate": lrs}, steps, keep_params=False)
    return lambda: chunk.run(unroll_sums=unroll).final_loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", action="store_true", help="256 rates x 200 steps")
    parser.add_argument("--lrs", type=int, default=None, help="number of learning rates (default 4096)")
    parser.add_argument("--steps", type=int, default=None, help="steps per run (default 2000)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    n_lrs = args.lrs or (256 if args.small else 4096)
    steps = args.steps or (200 if args.small else 2000)
    work = n_lrs * steps
    print(f"jax {jax.__version__}, {jax.devices()[0].platform}: heavy ball (0.9), {n_lrs} rates x {steps} steps")
    print(
        f"{'problem':20s} {'jaxgd':>10s} {'no rewrite':>10s} {'hand same':>10s} {'hand final':>10s}"
        f" {'(a)':>6s} {'(c)':>6s} {'lean':>6s} {'rewrite':>8s}"
        "   [steps/s; (a) jaxgd/hand same, (c) time jaxgd/final-only, lean: time hand running-min/final-only]"
    )
    for name, problem in problems().items():
        loss = jax.tree_util.Partial(problem.fn, **problem.data)
        lrs = np.geomspace(1e-6, 1e-2, n_lrs) * min(1.0, 1.0 / float(jnp.max(jnp.abs(loss(problem.x0)))) ** 0.5)
        lrs_dev = jnp.asarray(lrs, jnp.float32)
        same, final, lean = (hand_written(steps, s, loss, problem.x0) for s in (True, False, "min"))
        t = {
            "ours": timed(jaxgd_sweep(problem, lrs, steps, True), args.repeats),
            "plain": timed(jaxgd_sweep(problem, lrs, steps, False), args.repeats),
            "same": timed(lambda: same(lrs_dev), args.repeats),
            "final": timed(lambda: final(lrs_dev), args.repeats),
            "min": timed(lambda: lean(lrs_dev), args.repeats),
        }
        print(
            f"{name:20s} "
            + " ".join(f"{work / t[k]:10.3e}" for k in ("ours", "plain", "same", "final"))
            + f" {t['same'] / t['ours']:6.2f} {t['ours'] / t['final']:6.2f} {t['min'] / t['final']:6.2f}"
            + f" {t['plain'] / t['ours']:7.1f}x",
            flush=True,
        )


if __name__ == "__main__":
    main()
