"""Heavy-ball momentum (gamma = 0.9 and 0.5) on the ravine x1^2 + 50 x2^2 from (4, 0.5).

Theory (Polyak 1964): on a quadratic, v <- b v + eta g, x <- x - v converges iff
0 < eta lambda_i < 2 + 2b for every Hessian eigenvalue, so the bound is
eta < (2 + 2b)/100: 0.038 for b = 0.9 and 0.03 for b = 0.5 (GD's is 0.02). The
rate is the largest root modulus of z^2 - (1 + b - eta lambda) z + b. At
eta = 0.035, b = 0.5 diverges and b = 0.9 does not.
"""

from __future__ import annotations

from _common import Report, divergence, lr_study, rate_agreement

import jaxgd

ORDER = 20  # place in the index page
NAME = "momentum_ravine"
TITLE = "Heavy-ball momentum on the ravine"
LRS = (0.001, 0.005, 0.01, 0.015, 0.02, 0.035)
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
    report.csv(rows, f"{NAME}.csv", "Per run: final loss, divergence, predicted (companion matrix) and measured rate.")
    report.results["runs"] = rows
    return report.finish()


if __name__ == "__main__":
    from _common import script

    script(main)
