"""Demo: GD, heavy ball, Nesterov and Adam on the course's ravines and on Rosenbrock.

Writes paths on contour plots, loss curves and a JSON summary into the output folder.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import jaxgd
from jaxgd import plot


def _write_json(path: Path, obj) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2))
    os.replace(tmp, path)


def main(out: str = "results", small: bool = False) -> dict:
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = {}
    steps = 100 if small else 400
    for problem in (jaxgd.problems.isotropic(), jaxgd.problems.ravine(10.0), jaxgd.problems.ravine(50.0)):
        runs = {
            f"GD eta={lr}": jaxgd.run(jaxgd.sgd(lr), problem, problem.x0, steps)
            for lr in (0.001, 0.005, 0.01, 0.015, 0.019)
        }
        runs["heavy ball 0.005, 0.9"] = jaxgd.run(jaxgd.momentum(0.005, 0.9), problem, problem.x0, steps)
        runs["Nesterov 0.005, 0.9"] = jaxgd.run(jaxgd.nesterov(0.005, 0.9), problem, problem.x0, steps)
        runs["Adam 0.05"] = jaxgd.run(jaxgd.adam(0.05), problem, problem.x0, steps)
        summary[problem.name] = {k: float(t.loss[-1]) for k, t in runs.items()}
        plot.save(plot.contour(problem, runs), str(out_dir / f"paths_{problem.name}.png"))
        plot.save(plot.loss_curves(runs, title=problem.name), str(out_dir / f"loss_{problem.name}.png"))
    rb = jaxgd.problems.rosenbrock()
    rsteps = 1000 if small else 10000
    runs = {
        "GD 1e-3": jaxgd.run(jaxgd.sgd(1e-3), rb, rb.x0, rsteps, record_every=10),
        "heavy ball 1e-4, 0.9": jaxgd.run(jaxgd.momentum(1e-4, 0.9), rb, rb.x0, rsteps, record_every=10),
        "Adam 1e-2": jaxgd.run(jaxgd.adam(1e-2), rb, rb.x0, rsteps, record_every=10),
    }
    summary["rosenbrock"] = {k: float(t.loss[-1]) for k, t in runs.items()}
    plot.save(plot.contour(rb, runs, log=True), str(out_dir / "paths_rosenbrock.png"))
    plot.save(plot.loss_curves(runs, title="rosenbrock"), str(out_dir / "loss_rosenbrock.png"))
    _write_json(out_dir / "demo_summary.json", summary)
    return summary


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="results")
    parser.add_argument("--small", action="store_true")
    args = parser.parse_args()
    print(json.dumps(main(args.out, args.small), indent=2))
