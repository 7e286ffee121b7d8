"""Gradient descent on x1^2 + x2^2, x1^2 + 10 x2^2 and x1^2 + 50 x2^2 from (4, 0.5), five learning rates each.

Theory (Hessian diag(2, 2c)): GD converges iff eta < 2/lambda_max = 1/c, at the
per-step rate max_i |1 - eta lambda_i| of ||x - x*||; at eta = 2/lambda_max the
x2 coordinate flips sign forever, so f tends to c * 0.5^2. Each run is compared
with that.
"""

from __future__ import annotations

import numpy as np
from _common import (
    Report,
    distances,
    diverged,
    divergence,
    index,
    linear_rate,
    measured_rate,
    rate_agreement,
    run_lrs,
)

import jaxgd
from jaxgd import plot

ORDER = 10  # place in the index page
NAME = "gd_quadratics"
TITLE = "Gradient descent on the three quadratics"
LRS = (0.001, 0.005, 0.01, 0.015, 0.02)


def problems():
    return (jaxgd.problems.isotropic(), jaxgd.problems.ravine(10.0), jaxgd.problems.ravine(50.0))


def main(out: str = "results", small: bool = False) -> dict:
    report = Report(out, NAME, TITLE, small)
    steps = 400 if small else 600
    rows = []
    for problem in problems():
        scale = float(problem.data["diag"][1]) / 2
        eig = np.asarray(problem.data["diag"], dtype=float)
        lrs = tuple(sorted(LRS + ((0.019, 0.021) if scale == 50 else ())))  # 0.019, 0.021: either side of the bound
        report.progress(f"GD on {problem.name}: {len(lrs)} learning rates x {steps} steps")
        traj = run_lrs(jaxgd.sgd, problem, problem.x0, lrs, steps)
        dist = distances(traj, np.zeros(2))
        div = diverged(traj.loss)
        for i, lr in enumerate(lrs):
            rows.append(
                {
                    "problem": problem.name,
                    "lr": lr,
                    "stability_bound": 2 / eig.max(),
                    "final_loss": float(traj.loss[i, -1]),
                    "diverged": bool(div[i]),
                    "predicted_rate": linear_rate("gd", lr, 0.0, eig),
                    "measured_rate": measured_rate(dist[i]),
                }
            )
        panels = {rf"$\eta$ = {lr:g}": {"GD": index(traj.params, i)} for i, lr in enumerate(lrs)}
        fig = plot.path_panels(problem, panels, ncols=4 if len(lrs) > 6 else 3, suptitle=f"GD on {problem.name}")
        report.figure(fig, f"gd_paths_{problem.name}.png", f"GD paths on {problem.name} for eta in {list(lrs)}.")
        curves = {rf"$\eta$ = {lr:g}": traj.loss[i] for i, lr in enumerate(lrs)}
        ax = plot.loss_curves(curves, title=f"GD on {problem.name} (a cross marks divergence)")
        report.figure(ax, f"gd_loss_{problem.name}.png", f"Loss curves of GD on {problem.name}, log scale.")
    for name, bound in (("ravine50", 0.02), ("ravine10", 0.1)):
        mine = [r for r in rows if r["problem"] == name]
        report.finding(f"On {name}, GD {divergence(mine)}; 2/lambda_max = {bound:g}.")
    report.finding(rate_agreement(rows).capitalize() + ".")
    mine = [r for r in rows if r["problem"] == "ravine50"]
    report.claim(
        "DD2424 L5",
        "GD on x1^2 + 50 x2^2 converges iff eta < 2/lambda_max = 0.02",
        divergence(mine),
        all(r["diverged"] == (r["lr"] > r["stability_bound"]) for r in mine),
    )
    report.csv(rows, "gd_quadratics.csv", "Per run: final loss, divergence, predicted and measured rate.")
    report.results["runs"] = rows
    report.results["steps"] = steps
    return report.finish()


if __name__ == "__main__":
    from _common import script

    script(main)
