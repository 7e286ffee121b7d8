"""What saving costs a sweep: ``jaxgd.sweep(..., out=folder)`` against no ``out``, and against rewriting the whole
result after every chunk (what ``out=`` did before it wrote one file per chunk).

SGD on 2-D Rosenbrock, 1e6 learning rates x 10 steps in chunks of 1e4 runs (100 chunks): the compute is small,
so the difference is the saving. One file per chunk writes each run once, and once more as the finished
sweep's single .npz (bytes linear in the runs); a whole rewrite per chunk writes runs^2 / chunk. Prints the
median time of --repeats and the bytes written.

    python benchmarks/sweep_save.py                 # 1e6 runs x 10 steps, chunks of 1e4
    python benchmarks/sweep_save.py --runs 1e5      # quicker
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

import jaxgd
from jaxgd import files
from jaxgd.sweeps import store


def timed(run, repeats: int) -> tuple[float, int]:
    """Median seconds of ``run(folder)`` over ``repeats`` (each in a fresh folder) and the bytes it wrote."""
    written = []
    real = files.write_bytes

    def counting(path, data):
        written.append(len(data))
        return real(path, data)

    times = []
    files.write_bytes = counting
    try:
        for _ in range(repeats):
            written.clear()
            with tempfile.TemporaryDirectory() as d:
                t0 = time.perf_counter()
                run(Path(d) / "m.npz")
                times.append(time.perf_counter() - t0)
    finally:
        files.write_bytes = real
    return statistics.median(times), sum(written)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=float, default=1e6)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--chunk", type=float, default=1e4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    runs, chunk = int(args.runs), int(args.chunk)
    space = {"learning_rate": np.geomspace(1e-5, 1e-2, runs)}
    problem = jaxgd.problems.rosenbrock()

    def sweep(out):
        return jaxgd.sweep(jaxgd.sgd, problem, space, args.steps, chunk_size=chunk, out=out)

    sweep(None)  # compile
    print(f"{runs} runs x {args.steps} steps in chunks of {chunk} ({-(-runs // chunk)} chunks)")
    base, _ = timed(lambda path: sweep(None), args.repeats)
    print(f"  no out:                           {base:7.2f} s")
    folder, folder_bytes = timed(sweep, args.repeats)
    print(f"  out= (a file per chunk):          {folder:7.2f} s  {folder_bytes / 1e6:8.1f} MB written")

    def whole_rewrite(self, result, lo, hi):  # the former out=: the whole result written after every chunk
        result.save(self.path.with_name(self.path.name + ".whole"))

    real_write = store.Writer.write
    store.Writer.write = whole_rewrite
    try:
        whole, whole_bytes = timed(sweep, 1)
    finally:
        store.Writer.write = real_write
    print(f"  whole result rewritten per chunk: {whole:7.2f} s  {whole_bytes / 1e6:8.1f} MB written")


if __name__ == "__main__":
    main()
