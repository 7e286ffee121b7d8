"""Rosenbrock's valley from (-1.5, 2): GD, heavy ball (0.9, 0.5), NAG, AdaGrad and Adam at eta0, 10 eta0, 100 eta0.

eta0 = 1e-5 for GD, momentum and NAG, 0.01 for AdaGrad, 0.001 for Adam, 10000
steps (1000 with --small). The valley's curvature sets the step: the Hessian
at the start has lambda_max ~ 2.1e3 and at the minimum ~ 1.0e3, so GD is stable
only for eta below ~ 2/lambda_max ~ 1e-3 and momentum b below (2 + 2b)/lambda_max; the
slow direction along the valley (lambda_min ~ 0.4 at the minimum) then takes
thousands of steps. Adaptive methods take steps of about eta whatever the curvature.
"""

from __future__ import annotations

import jax
import numpy as np
from _common import Report, diverged, index, run_lrs

import jaxgd
from jaxgd import plot

ORDER = 50  # place in the index page
NAME = "rosenbrock_panels"
TITLE = "Optimizers on Rosenbrock's valley at eta0, 10 eta0, 100 eta0"
MULTIPLIERS = (1, 10, 100)
OPTIMIZERS = {
    "GD": (jaxgd.sgd, 1e-5),
    "heavy ball 0.9": (lambda lr: jaxgd.momentum(lr, 0.9), 1e-5),
    "heavy ball 0.5": (lambda lr: jaxgd.momentum(lr, 0.5), 1e-5),
    "NAG 0.9": (lambda lr: jaxgd.nesterov(lr, 0.9), 1e-5),
    "AdaGrad": (jaxgd.adagrad, 1e-2),
    "Adam": (jaxgd.adam, 1e-3),
}


def main(out: str = "results", small: bool = False) -> dict:
    report = Report(out, NAME, TITLE, small)
    problem = jaxgd.problems.rosenbrock()
    steps = 1000 if small else 10000
    every = 5 if small else 20
    hess = np.asarray(jax.hessian(problem)(problem.x0), dtype=float)
    hess_min = np.asarray(jax.hessian(problem)(problem.minimizers[0]), dtype=float)
    rows, panels, curves = [], {}, {}
    for label, (make, eta0) in OPTIMIZERS.items():
        lrs = [eta0 * m for m in MULTIPLIERS]
        report.progress(f"{label}: {len(lrs)} learning rates x {steps} steps")
        traj = run_lrs(make, problem, problem.x0, lrs, steps, record_every=every)
        div = diverged(traj.loss)
        for i, lr in enumerate(lrs):
            final = np.asarray(traj.final_params[i], dtype=float)
            rows.append(
                {
                    "optimizer": label,
                    "lr": lr,
                    "steps": steps,
                    "final_loss": float(traj.loss[i, -1]),
                    "final_distance": float(np.linalg.norm(final - 1.0)),
                    "diverged": bool(div[i]),
                    "final_x": final.tolist(),
                }
            )
            panels[f"{label}, $\\eta$ = {lr:g}"] = {label: index(traj.params, i)}
            curves[f"{label} {lr:g}"] = traj.loss[i]
    fig = plot.path_panels(problem, panels, ncols=3, log=True, size=(3.8, 3.0), suptitle=f"Rosenbrock, {steps} steps")
    report.figure(
        fig,
        "rosenbrock_paths.png",
        "Paths on log-contours of Rosenbrock: rows = optimizers, columns = eta0, 10 eta0, 100 eta0.",
    )
    fig, axes = plot.subplots(2, 3, size=(4.5, 3.4))
    for ax, label in zip(axes.ravel(), OPTIMIZERS):
        plot.loss_curves({k: v for k, v in curves.items() if k.startswith(label + " ")}, ax=ax, title=label)
    report.figure(
        fig, "rosenbrock_loss.png", "Loss curves on Rosenbrock, one panel per optimizer, three learning rates each."
    )
    for label in OPTIMIZERS:
        mine = [r for r in rows if r["optimizer"] == label and not r["diverged"]]
        if mine:
            best = min(mine, key=lambda r: r["final_distance"])
            report.finding(f"{label}: closest to (1, 1) at eta = {best['lr']:g} ({best['final_distance']:.2g} away).")
    report.csv(rows, f"{NAME}.csv", "Per run: final loss, distance to (1, 1), divergence.")
    report.results["runs"] = rows
    report.results["lambda_max_at_start"] = float(np.linalg.eigvalsh(hess).max())
    report.results["eigenvalues_at_minimum"] = np.linalg.eigvalsh(hess_min).tolist()
    return report.finish()


if __name__ == "__main__":
    from _common import script

    script(main)
