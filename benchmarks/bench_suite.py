"""The benchmark protocol's cost: one compiled call per (optimizer, problem) against DeepOBS's sequential runs.

For each pair, the learning-rate grid (36 rates over 1e-5..1e2; 3 seeds on stochastic problems) runs

1. as ``jaxgd.bench.tune`` does: one ``jaxgd.sweep`` (deterministic) or one ``jit(vmap(vmap(stochastic.run)))``;
2. one run at a time, as DeepOBS does: ``jaxgd.run`` (or ``jaxgd.stochastic.run``) per rate and seed, each
   compiled program reused (the same shapes), so only the first call compiles.

Times are wall-clock, first call included (what a user waits for), then the same again after compilation.
Then the protocol's own cost: the compilations of its one call (one per optimizer and problem shape: the
compiled programs of jaxgd.sweep's chunk and of the stochastic runs, counted by their jit caches), the time
per run after compilation, and the totals. Timings on a shared machine are noisy.

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
from jaxgd.bench import OPTIMIZERS, learning_rates, tasks, tune, tuning
from jaxgd.bench.tuning import is_stochastic
from jaxgd.sweeps import engine, seeded


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


COMPILED = (engine.sweep_chunk, seeded.sweep_chunk_seeded, tuning._stochastic_runs)  # the protocol's programs


def compiled_programs() -> int:
    """Programs compiled so far by the protocol's jitted functions."""
    return sum(fn._cache_size() for fn in COMPILED)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true")
    args = parser.parse_args()
    steps, seeds, lrs = (200, 2, learning_rates(12)) if args.small else (1000, 3, learning_rates())
    names = ["ravine50", "extended_rosenbrock", "noisy_quadratic100"]
    print(f"{'pair':40s} {'one call (first / again)':>26s} {'sequential (first / again)':>28s}")
    rows = []
    for task in tasks(names if not args.small else names[:1] + names[2:]):
        for name in ("sgd", "adam"):
            spec = OPTIMIZERS[name]
            before = compiled_programs()
            batched = timed(
                lambda: tune(spec, task.loss, steps, lrs=lrs, seeds=seeds, x0=task.x0, batch_size=task.batch_size)
            )
            compiles = compiled_programs() - before
            seq = timed(lambda: sequential(spec, task, steps, lrs, seeds))
            runs = len(lrs) * (seeds if is_stochastic(task.loss) else 1)
            rows.append((f"{name} on {task.name}", compiles, runs, batched, seq))
            print(
                f"{name + ' on ' + task.name:40s} {batched[0]:11.2f}s / {batched[1]:6.2f}s "
                f"{seq[0]:13.2f}s / {seq[1]:6.2f}s"
            )
    print(f"({len(lrs)} rates, {steps} steps, {seeds} seeds on stochastic problems; numpy {np.__version__})")
    print(f"\nthe protocol's own cost, one call per pair:\n{'pair':40s} {'compiles':>8s} {'runs':>5s} "
          f"{'first call':>10s} {'per run (again)':>16s} {'sequential per run':>19s}")  # fmt: skip
    for label, compiles, runs, batched, seq in rows:
        print(
            f"{label:40s} {compiles:8d} {runs:5d} {batched[0]:9.2f}s {1e3 * batched[1] / runs:13.2f} ms "
            f"{1e3 * seq[1] / runs:16.2f} ms"
        )
    n_runs = sum(r[2] for r in rows)
    first, again = sum(r[3][0] for r in rows), sum(r[3][1] for r in rows)
    seq_first, seq_again = sum(r[4][0] for r in rows), sum(r[4][1] for r in rows)
    print(
        f"{'total':40s} {sum(r[1] for r in rows):8d} {n_runs:5d} {first:9.2f}s {1e3 * again / n_runs:13.2f} ms "
        f"{1e3 * seq_again / n_runs:16.2f} ms"
    )
    print(f"total wall time: one call per pair {first:.2f} s (again {again:.2f} s), sequential {seq_first:.2f} s "
          f"(again {seq_again:.2f} s)")  # fmt: skip


if __name__ == "__main__":
    main()
