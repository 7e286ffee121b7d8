"""Nesterov's accelerated gradient (momentum 0.9) on the ravine x1^2 + 50 x2^2, five learning rates.

Theory: in the look-ahead form the iteration on a quadratic has characteristic
polynomial z^2 - (1 + b)(1 - eta lambda) z + b (1 - eta lambda); it is stable iff
eta lambda_max < (2 + 2b)/(1 + 2b), eta < 0.01357 here, which 0.015 (added) exceeds.

The lecture's iterate is x_t; jaxgd's ``nesterov`` carries the look-ahead
y_t = x_t + mu v_t as its parameters (the form of Sutskever et al. 2013). The
paths show both: x_t is kept along each run by ``run(record=...)`` with
:func:`jaxgd.nesterov_iterate`. Both contract at the same rate, and x_1 = x_0 - eta g_0.
"""

from __future__ import annotations

from _common import Report, divergence, lr_study, rate_agreement

import jaxgd

ORDER = 30  # place in the index page
NAME = "nesterov_ravine"
TITLE = "Nesterov's accelerated gradient on the ravine"
LRS = (1e-4, 5e-4, 1e-3, 5e-3, 1e-2, 1.5e-2)
MOMENTUM = 0.9


def main(out: str = "results", small: bool = False) -> dict:
    report = Report(out, NAME, TITLE, small)
    problem = jaxgd.problems.ravine(50.0)
    steps = 150 if small else 500
    rows = lr_study(
        report,
        problem,
        f"NAG mu={MOMENTUM}",
        lambda lr: jaxgd.nesterov(lr, MOMENTUM),
        LRS,
        steps,
        tag="nesterov",
        method="nesterov",
        momentum=MOMENTUM,
        lecture_iterate=True,
    )
    bound = (2 + 2 * MOMENTUM) / (1 + 2 * MOMENTUM) / 100.0
    for r in rows:
        r["stability_bound"] = bound
    report.finding(f"NAG (mu = {MOMENTUM}) {divergence(rows)}; its edge on this ravine is {bound:.4g}.")
    report.finding(rate_agreement(rows).capitalize() + ".")
    both = [r for r in rows if r["predicted_rate"] < 0.99 and not r["diverged"]]
    worst = max(abs(r["lecture_measured_rate"] / r["measured_rate"] - 1) for r in both)
    report.finding(
        f"The lecture's x_t and jaxgd's look-ahead y_t contract at the same rate (within {100 * worst:.2g}%)."
    )
    report.claim(
        "theory (Sutskever et al. 2013)",
        f"NAG (gamma = {MOMENTUM}) on the ravine converges for eta up to the edge (2 + 2b)/((1 + 2b) lambda_max)",
        divergence(rows),
        all(r["diverged"] == (r["lr"] > bound) for r in rows),
    )
    report.csv(rows, f"{NAME}.csv", "Per run: final loss, divergence, predicted and measured rate.")
    report.results["runs"] = rows
    report.results["stability_bound"] = bound
    return report.finish()


if __name__ == "__main__":
    from _common import script

    script(main)
