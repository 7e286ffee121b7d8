"""Heavy-ball momentum (gamma = 0.9 and 0.5) on the ravine x1^2 + 50 x2^2 from (4, 0.5).

Theory (Polyak 1964): on a quadratic, v <- b v + eta g, x <- x - v converges iff
0 < eta lambda_i < 2 + 2b for every Hessian eigenvalue, so the bound is
eta < (2 + 2b)/100: 0.038 for b = 0.9 and 0.03 for b = 0.5 (GD's is 0.02). The
rate is the largest root modulus of z^2 - (1 + b - eta lambda) z + b. At
eta = 0.035, b = 0.5 diverges and b = 0.9 does not. The rates are DD2424's list
(with 0.019, just inside GD's edge 0.02) and 0.035; the lecture's single path,
gamma = 0.9 and eta = 0.001 for 95 update steps, has its own figure.
"""

from __future__ import annotations

import numpy as np
from _common import Report, divergence, lr_study, rate_agreement

import jaxgd
from jaxgd import plot

ORDER = 20  # place in the index page
NAME = "momentum_ravine"
TITLE = "Heavy-ball momentum on the ravine"
LRS = (0.001, 0.005, 0.01, 0.015, 0.019, 0.02, 0.035)
LECTURE_PATH = (0.9, 0.001, 95)  # DD2424: "gamma = .9, eta = .001, 95 update steps"
MOMENTA = (0.9, 0.5)


def main(out: str = "results", small: bool = False) -> dict:
    report = Report(out, NAME, TITLE, small)
    problem = jaxgd.problems.ravine(50.0)
    steps = 120 if small else 400
    rows = []
    for b in MOMENTA:
        rows += lr_study(
            report,
            problem,
            f"heavy ball gamma={b}",
            lambda lr, b=b: jaxgd.momentum(lr, b),
            LRS,
            steps,
            tag=f"momentum{b:g}",
            method="heavy_ball",
            momentum=b,
        )
        for r in rows[-len(LRS) :]:
            r["momentum"] = b
            r["stability_bound"] = (2 + 2 * b) / 100.0
    for b in MOMENTA:
        mine = [r for r in rows if r["momentum"] == b]
        edge = (2 + 2 * b) / 100.0
        report.finding(f"Heavy ball b = {b} {divergence(mine)}; edge (2 + 2b)/lambda_max = {edge:g}.")
    report.finding(rate_agreement(rows).capitalize() + ".")
    report.results["lecture_path"] = lecture_path(report, problem)
    for b in MOMENTA:
        mine = [r for r in rows if r["momentum"] == b]
        edge = (2 + 2 * b) / 100.0
        report.claim(
            "theory (Polyak 1964)",
            f"heavy ball gamma = {b} on x1^2 + 50 x2^2 converges iff eta < (2 + 2 gamma)/100 = {edge:g}",
            divergence(mine),
            all(r["diverged"] == (r["lr"] > edge) for r in mine),
        )
    report.csv(rows, f"{NAME}.csv", "Per run: final loss, divergence, predicted (companion matrix) and measured rate.")
    report.results["runs"] = rows
    return report.finish()


def lecture_path(report: Report, problem: jaxgd.Problem) -> dict:
    """DD2424's single path: heavy ball gamma = 0.9, eta = 0.001, 95 update steps from (4, 0.5)."""
    b, lr, steps = LECTURE_PATH
    traj = jaxgd.run(jaxgd.momentum(lr, b), problem, problem.x0, steps)
    final = np.asarray(traj.final_params, dtype=float)
    fig = plot.path_panels(
        problem,
        {rf"$\gamma$ = {b}, $\eta$ = {lr}, {steps} update steps": {"heavy ball": traj}},
        ncols=1,
        size=(6.0, 3.4),
    )
    report.figure(fig, "momentum_lecture_path.png", f"The lecture's path: gamma = {b}, eta = {lr}, {steps} steps.")
    report.finding(
        f"The lecture's path (gamma = {b}, eta = {lr}, {steps} steps) ends at ({final[0]:.3g}, {final[1]:.3g}), "
        f"f = {float(traj.loss[-1]):.3g} from f(x0) = {float(traj.loss[0]):.3g}."
    )
    return {"momentum": b, "lr": lr, "steps": steps, "final_x": final, "final_loss": float(traj.loss[-1])}


if __name__ == "__main__":
    from _common import script

    script(main)
