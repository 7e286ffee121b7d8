"""Learning-rate sweeps against theory: final loss vs eta on the three quadratics, and heavy ball over (eta, momentum).

GD on f = 1/2 sum lambda_i x_i^2 is linear, so after T steps the loss is exactly
f_T = 1/2 sum_i lambda_i x0_i^2 (1 - eta lambda_i)^(2T): the sweep is drawn
with that curve, with 2/lambda_max (divergence above) and eta* = 2/(L + mu)
(fastest) from :mod:`jaxgd.analysis`. The heatmap of heavy ball's final loss on
x1^2 + 50 x2^2 carries the edge of its stability region, 0 < eta lambda_max < 2 + 2b.
Every panel is one :func:`jaxgd.sweep`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
from _common import Report

import jaxgd
from jaxgd import analysis, plot

ORDER = 80  # place in the index page
NAME = "sweep_theory"
TITLE = "Learning-rate sweeps with the stability bound and eta*"
FLOOR = 1e-16  # losses below are drawn at this floor (float32 rounding, exact zeros)


def predicted_final_loss(lrs, eigenvalues, x0, steps: int) -> np.ndarray:
    """Closed-form f(x_T) of GD on a diagonal quadratic: 1/2 sum_i lambda_i x0_i^2 (1 - eta lambda_i)^(2T)."""
    lam, x0 = np.asarray(eigenvalues, float), np.asarray(x0, float)
    eta = np.asarray(lrs, float)[:, None]
    with np.errstate(over="ignore"):
        return 0.5 * np.sum(lam * x0**2 * (1 - eta * lam) ** (2 * steps), axis=1)


def final_losses(make_optimizer: Callable, problem: jaxgd.Problem, space: Any, steps: int) -> np.ndarray:
    """f(x_T) of every configuration: one :func:`jaxgd.sweep`, without its blow-up cut (inf only where f overflowed)."""
    result = jaxgd.sweep(make_optimizer, problem, space, steps, blowup=None, keep_params=False)
    return np.asarray(result.final_loss, dtype=float)


def main(out: str = "results", small: bool = False) -> dict:
    report = Report(out, NAME, TITLE, small)
    results = gd_sweeps(report, small)
    results["heavy_ball_grid"] = heavy_ball_grid(report, small)
    for name in ("isotropic", "ravine10", "ravine50"):
        r = results[name]
        report.finding(
            f"{name}: the loss stops growing up to eta = {r['largest_lr_not_growing']:.4g} and grows from "
            f"{r['smallest_lr_growing']:.4g}; 2/lambda_max = {r['stability_bound']:.4g}."
        )
    report.finding(
        f"Heavy ball (eta, momentum) grid: {results['heavy_ball_grid']['cells_disagreeing_off_edge']} of "
        f"{results['heavy_ball_grid']['cells_off_edge']} cells off the edge disagree with the stability region."
    )
    r = results["ravine50"]
    report.claim(
        "DD2424 L5",
        "GD's loss grows for eta above 2/lambda_max and not below (ravine50)",
        f"stops growing up to {r['largest_lr_not_growing']:.4g}, grows from {r['smallest_lr_growing']:.4g}; "
        f"2/lambda_max = {r['stability_bound']:.4g}",
        r["largest_lr_not_growing"] <= r["stability_bound"] * (1 + 1e-6) < r["smallest_lr_growing"],
    )
    report.results.update(results)
    return report.finish()


def gd_sweeps(report: Report, small: bool) -> dict:
    """GD's final loss against eta on the three quadratics, with the closed form: one figure, a dict per problem."""
    n_lr = 60 if small else 300
    steps = 100
    lrs = np.geomspace(1e-3, 1.2, n_lr)
    fig, axes = plot.subplots(1, 3, size=(4.6, 3.8))
    results = {}
    for ax, problem in zip(
        axes[0], (jaxgd.problems.isotropic(), jaxgd.problems.ravine(10.0), jaxgd.problems.ravine(50.0))
    ):
        report.progress(f"GD on {problem.name}: learning rates against the closed form")
        bounds = analysis.learning_rate_bounds(problem)
        eig, bound, eta_star = bounds.spectrum, bounds.stability_bound, bounds.optimal_lr
        sel = lrs[lrs < 2.5 * bound]
        final = final_losses(jaxgd.sgd, problem, {"learning_rate": sel}, steps)
        theory = predicted_final_loss(sel, eig, problem.x0, steps)
        ok = np.isfinite(theory) & (theory < 1e6)
        shown = np.maximum(theory[ok], FLOOR)  # drawn first, wide and pale: the measured line shows on top of it
        ax.loglog(sel[ok], shown, "-", color="C1", lw=5, alpha=0.35, label="closed form", zorder=1)
        plot.sweep_plot(
            sel,
            {"GD (measured)": np.where(np.isfinite(final), np.maximum(final, FLOOR), final)},
            stability_bound=bound,
            optimal_lr=eta_star,
            ceiling=1e6,
            ax=ax,
            ylabel=f"final f(x) - f* (floored at {FLOOR:g})",
            title=f"{problem.name}, {steps} steps",
        )
        ax.set_ylim(bottom=FLOOR / 3)
        ax.legend(fontsize=6)
        start = float(problem(problem.x0))
        grew = ~(final <= start)  # NaN / inf count as grown
        results[problem.name] = {
            "lrs": sel,
            "final_loss": final,
            "predicted_final_loss": theory,
            "stability_bound": bound,
            "eta_star": eta_star,
            "largest_lr_not_growing": float(sel[~grew].max()),
            "smallest_lr_growing": float(sel[grew].min()) if grew.any() else None,
            "argmin_lr": float(sel[np.argmin(np.where(np.isfinite(final), final, np.inf))]),
        }
    report.figure(
        fig, "sweep_gd_quadratics.png", "GD final loss vs eta (log-log) with 2/lambda_max, eta* and the closed form."
    )
    return results


def heavy_ball_grid(report: Report, small: bool) -> dict:
    """Heavy ball's final loss over (eta, momentum) on the ravine, one sweep, against its stability region."""
    problem = jaxgd.problems.ravine(50.0)
    eig = analysis.learning_rate_bounds(problem).spectrum
    hb_lrs = np.geomspace(1e-3, 0.1, 14 if small else 50)
    momenta = np.linspace(0.0, 0.98, 12 if small else 40)
    hb_steps = 150 if small else 300
    space = jaxgd.grid(momentum=momenta, learning_rate=hb_lrs)  # rows: momenta, as the heatmap's z
    report.progress(f"heavy ball on ravine50: {len(space)} (eta, momentum) cells x {hb_steps} steps")
    final = final_losses(jaxgd.momentum, problem, space, hb_steps).reshape(len(momenta), len(hb_lrs))
    region = analysis.momentum_stability_region(eig, hb_lrs, momenta)
    rate = np.asarray(region.rate, dtype=float)
    ax = plot.heatmap(
        hb_lrs,
        momenta,
        np.where(final < 1e6, final, np.inf),
        region=functools.partial(analysis.momentum_stable, eig),
        title=f"heavy ball on {problem.name}, final loss after {hb_steps} steps (grey: diverged)",
    )
    report.figure(
        ax, "sweep_momentum_heatmap.png", "Heavy-ball final loss over (eta, momentum) with the stability edge."
    )
    start = float(problem(problem.x0))
    clear = np.abs(rate - 1) > 0.02  # cells not on the edge
    agree = (~(final <= start) == (rate > 1)) | ~clear
    return {
        "lrs": hb_lrs,
        "momenta": momenta,
        "final_loss": final,
        "predicted_rate": rate,
        "predicted_stable": np.asarray(region.stable),
        "cells_off_edge": int(clear.sum()),
        "cells_disagreeing_off_edge": int((~agree).sum()),
    }


if __name__ == "__main__":
    from _common import script

    script(main)
