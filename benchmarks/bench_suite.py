"""The benchmark protocol's cost: one compiled call per (optimizer, problem) against DeepOBS's sequential runs.

For each pair, the learning-rate grid (36 rates over 1e-5..1e2; 3 seeds on stochastic problems) runs

1. as ``jaxgd.bench.tune`` does: one ``jaxgd.sweep`` (deterministic) or one ``jit(vmap(vmap(stochastic.run)))``;
2. one run at a time, as DeepOBS does: ``jaxgd.run`` (or ``jaxgd.stochastic.run``) per rate and seed, each
   compiled program reused (the same shapes), so only the first call compiles.

Times are wall-clock, first call included (what a user waits for), then the same again after compilation.
Timings on a shared machine are noisy.

    python benchmarks/bench_suite.py [--small]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the jaxgd of this checkout

import jax
import numpy as np

import jaxgd
from jaxgd.bench import OPTIMIZERS, learning_rates, tasks, tune
from jaxgd.bench.tuning import is_stochastic


def sequential(spec, task, steps, lrs, seeds):
    x0 = task.x0
    for lr in lrs:
        opt = spec.make(learning_rate=float(lr))
        if is_stochastic(task.loss):
            for s in range(seeds):
                key = jax.random.key(s)
                jax.block_until_ready(
                    jaxgd.stochastic.run(opt, task.loss, x0, steps, key=key, batch_size=task.batch_size).loss
                )
        else:
            jax.block_until_ready(jaxgd.run(opt, task.loss, x0, steps).loss)


def timed(fn):
    start = time.perf_counter()
    fn()
    first = time.perf_counter() - start
    start = time.perf_counter()
    fn()
    return first, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true")
    args = parser.parse_args()
    steps, seeds, lrs = (200, 2, learning_rates(12)) if args.small else (1000, 3, learning_rates())
    names = ["ravine50", "extended_rosenbrock", "noisy_quadratic100"]
    print(f"{'pair':40s} {'one call (first / again)':>26s} {'sequential (first / again)':>28s}")
    for task in tasks(names if not args.small else names[:1] + names[2:]):
        for name in ("sgd", "adam"):
            spec = OPTIMIZERS[name]
            batched = timed(
                lambda: tune(spec, task.loss, steps, lrs=lrs, seeds=seeds, x0=task.x0, batch_size=task.batch_size)
            )
            seq = timed(lambda: sequential(spec, task, steps, lrs, seeds))
            print(
                f"{name + ' on ' + task.name:40s} {batched[0]:11.2f}s / {batched[1]:6.2f}s "
                f"{seq[0]:13.2f}s / {seq[1]:6.2f}s"
            )
    print(f"({len(lrs)} rates, {steps} steps, {seeds} seeds on stochastic problems; numpy {np.__version__})")


if __name__ == "__main__":
    main()
