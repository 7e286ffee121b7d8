"""AdaGrad and Adam on the ravine x1^2 + 50 x2^2 from (4, 0.5).

Both rescale each coordinate by its gradient history, so the first step is
eta sign(g) in every coordinate (checked) whatever the curvature: the ravine's
stiff direction no longer sets the learning rate. AdaGrad's steps then shrink
like 1/sqrt(t); Adam's stay near eta and hover around the minimum at a
distance that grows with eta. The settings are DD2424's: AdaGrad with
eps = 1e-8 (its eta = 0.01 among the rates), Adam at eta from 0.001 to 0.02.
"""

from __future__ import annotations

import numpy as np
from _common import Report, lr_study

import jaxgd

ORDER = 40  # place in the index page
NAME = "adaptive_ravine"
TITLE = "AdaGrad and Adam on the ravine"
ADAGRAD_LRS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5)  # the lecture's eta = .01 among them
ADAGRAD_EPS = 1e-8  # DD2424's eps
ADAM_LRS = (0.001, 0.002, 0.005, 0.01, 0.015, 0.02)  # DD2424's range, .001 to .02


def main(out: str = "results", small: bool = False) -> dict:
    report = Report(out, NAME, TITLE, small)
    problem = jaxgd.problems.ravine(50.0)
    steps = 150 if small else 1000
    adagrad = lambda lr: jaxgd.adagrad(lr, eps=ADAGRAD_EPS)  # noqa: E731
    rows = lr_study(report, problem, "AdaGrad", adagrad, ADAGRAD_LRS, steps, tag="adagrad")
    rows += lr_study(report, problem, "Adam", jaxgd.adam, ADAM_LRS, steps, tag="adam")
    g0 = np.sign(np.asarray(problem.data["diag"]) * np.asarray(problem.x0))
    for r in rows:
        r["first_step_expected"] = (-r["lr"] * g0).tolist()
    for label in ("AdaGrad", "Adam"):
        mine = [r for r in rows if r["optimizer"] == label and not r["diverged"]]
        best = min(mine, key=lambda r: r["final_loss"])
        report.finding(
            f"{label}: best final loss {best['final_loss']:.3g} at eta = {best['lr']:g} after {steps} steps."
        )
    first = max(float(np.max(np.abs(np.subtract(r["first_step"], r["first_step_expected"])))) for r in rows)
    report.finding(f"Each first step is -eta sign(grad), to within {first:.1g}.")
    adam = [r for r in rows if r["optimizer"] == "Adam"]
    ratio = max(float(np.max(np.abs(np.subtract(r["final_x"], problem.x0)))) / (r["lr"] * steps) for r in adam)
    report.claim(
        "Kingma & Ba 2015 (DD2424, ST449)",
        "Adam's step is about eta in each coordinate, whatever the curvature",
        f"largest |x_T - x_0| / (eta T) over Adam's runs: {ratio:.3g}",
        ratio <= 1 + 1e-4,
    )
    report.csv(rows, f"{NAME}.csv", "Per run: final loss, best loss, distance to the minimum, first step.")
    report.results["runs"] = rows
    return report.finish()


if __name__ == "__main__":
    from _common import script

    script(main)
