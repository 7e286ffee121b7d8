"""Rosenbrock from (-1.5, 2) in the lecture's panels (eta0, n), (10 eta0, n), (100 eta0, n), (eta0, 2n), (10 eta0, 2n).

DD2424 L5: f = (x1 - 1)^2 + 100 (x2 - x1^2)^2 drawn as log(f + eps) contours,
n = 5000 steps (500 with --small); eta0 = 1e-5 for GD, heavy ball (gamma = 0.9
and 0.5) and NAG (gamma = 0.9), 0.01 for AdaGrad (which also gets (100 eta0, 2n))
and 0.001 for Adam. Each optimizer runs 2n steps at its three rates in one vmap;
the n panels are the first half of the same runs. The valley's curvature sets
the step: the Hessian at the start has lambda_max ~ 2.1e3 and at the minimum
~ 1.0e3, so GD is stable only for eta below ~ 2/lambda_max ~ 1e-3 and heavy
ball below (2 + 2b)/lambda_max; the slow direction along the valley
(lambda_min ~ 0.4 at the minimum) then takes thousands of steps. Adaptive
methods take steps of about eta whatever the curvature. NAG's panels draw the
lecture's iterate x_t (kept by ``run(record=...)`` with :func:`jaxgd.nesterov_iterate`)
next to the look-ahead y_t that jaxgd's ``nesterov`` carries; NAG's distances are x_t's.
"""

from __future__ import annotations

import jax
import numpy as np
from _common import Report, diverged, run_lrs

import jaxgd
from jaxgd import plot

ORDER = 50  # place in the index page
NAME = "rosenbrock_panels"
TITLE = "Optimizers on Rosenbrock's valley at the lecture's (eta, steps) panels"
MULTIPLIERS = (1, 10, 100)
OPTIMIZERS = {
    "GD": (jaxgd.sgd, 1e-5),
    "heavy ball 0.9": (lambda lr: jaxgd.momentum(lr, 0.9), 1e-5),
    "heavy ball 0.5": (lambda lr: jaxgd.momentum(lr, 0.5), 1e-5),
    "NAG 0.9": (lambda lr: jaxgd.nesterov(lr, 0.9), 1e-5),
    "AdaGrad": (jaxgd.adagrad, 1e-2),
    "Adam": (jaxgd.adam, 1e-3),
}


def panels_of(label: str) -> list[tuple[int, int]]:
    """The lecture's (multiplier of eta0, multiplier of n) panels for one optimizer."""
    extra = [(100, 2)] if label == "AdaGrad" else []
    return [(1, 1), (10, 1), (100, 1), (1, 2), (10, 2), *extra]


def _row(label, lr, steps, loss, final, div):
    return {
        "optimizer": label,
        "lr": lr,
        "steps": steps,
        "final_loss": float(loss),
        "final_distance": float(np.linalg.norm(final - 1.0)),
        "diverged": bool(div),
        "final_x": final.tolist(),
    }


def study(report: Report, problem: jaxgd.Problem, label: str, n: int, every: int) -> tuple[list[dict], list[dict]]:
    """One optimizer at eta0, 10 eta0, 100 eta0 for 2n steps: its panel figure, a row per panel and per eta."""
    make, eta0 = OPTIMIZERS[label]
    lrs = [eta0 * m for m in MULTIPLIERS]
    report.progress(f"{label}: {len(lrs)} learning rates x {2 * n} steps")
    nag = label.startswith("NAG")  # draw the lecture's x_t too, and report it
    traj = run_lrs(make, problem, problem.x0, lrs, 2 * n, record_every=every, lecture_iterate=nag)
    params, loss = np.asarray(traj.params, float), np.asarray(traj.loss, float)
    lecture = np.asarray(traj.recorded, float) if nag else params
    div = diverged(loss)
    runs = [_row(label, lr, 2 * n, loss[i, -1], params[i, -1], div[i]) for i, lr in enumerate(lrs)]
    rows, panels = [], {}
    for m, k in panels_of(label):
        i, steps = MULTIPLIERS.index(m), k * n
        stop = steps // every + 1
        rows.append(_row(label, lrs[i], steps, loss[i, steps], lecture[i, stop - 1], div[i]))
        rows[-1]["panel"] = f"({m} eta0, {k}n)"
        paths = {f"{label}: y_t (jaxgd)": params[i, :stop], f"{label}: x_t (lecture)": lecture[i, :stop]}
        panels[rf"$\eta$ = {lrs[i]:g}, {steps} steps"] = paths if nag else {label: params[i, :stop]}
    fig = plot.path_panels(
        problem, panels, ncols=3, log=True, size=(3.8, 3.1), suptitle=f"{label} on Rosenbrock, log(f + 1e-3)"
    )
    tag = label.lower().replace(" ", "").replace(".", "")
    report.figure(
        fig, f"rosenbrock_{tag}.png", f"{label} on log-contours of Rosenbrock: the lecture's (eta, steps) panels."
    )
    return rows, runs


def main(out: str = "results", small: bool = False) -> dict:
    report = Report(out, NAME, TITLE, small)
    problem = jaxgd.problems.rosenbrock()
    n = 500 if small else 5000
    every = 5 if small else 20
    hess = np.asarray(jax.hessian(problem)(problem.x0), dtype=float)
    hess_min = np.asarray(jax.hessian(problem)(problem.minimizers[0]), dtype=float)
    panel_rows, rows = [], []
    for label in OPTIMIZERS:
        panels, runs = study(report, problem, label, n, every)
        panel_rows += panels
        rows += runs
    for label in OPTIMIZERS:
        mine = [r for r in panel_rows if r["optimizer"] == label and not r["diverged"]]
        best = min(mine, key=lambda r: r["final_distance"])
        report.finding(
            f"{label}: closest to (1, 1) at eta = {best['lr']:g} after {best['steps']} steps "
            f"({best['final_distance']:.2g} away)."
        )
    at = {(r["optimizer"], r["panel"]): r for r in panel_rows}
    gd, hb = at[("GD", "(1 eta0, 1n)")], at[("heavy ball 0.9", "(1 eta0, 1n)")]
    report.claim(
        "DD2424 L5",
        "momentum (gamma = .9) gets further along Rosenbrock's valley than GD at eta0 = 1e-5 in n steps",
        f"distance to (1, 1): {hb['final_distance']:.3g} against GD's {gd['final_distance']:.3g}",
        hb["final_distance"] < gd["final_distance"],
    )
    report.csv(panel_rows, f"{NAME}.csv", "Per panel: eta, steps, loss, distance to (1, 1), divergence.")
    report.results["panels"] = panel_rows
    report.results["runs"] = rows  # each eta after 2n steps
    report.results["n"] = n
    report.results["lambda_max_at_start"] = float(np.linalg.eigvalsh(hess).max())
    report.results["eigenvalues_at_minimum"] = np.linalg.eigvalsh(hess_min).tolist()
    return report.finish()


if __name__ == "__main__":
    from _common import script

    script(main)
