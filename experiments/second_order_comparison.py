"""Newton, BFGS, L-BFGS, nonlinear CG and Newton-CG against gradient descent: iterations to ||grad f|| <= 1e-6.

Float64, each method through ``jaxgd.minimize`` (one jitted ``lax.while_loop``)
from the problem's default start. GD runs at eta* = 2/(lambda_max + lambda_min)
on the quadratics and at a hand-tuned stable rate elsewhere. Theory: Newton
solves a quadratic in one step; GD needs about log(1/tol) / log(1/rho) steps
with rho = (kappa-1)/(kappa+1). The Rosenbrock panel shows the paths.
"""

from __future__ import annotations

import jax
import numpy as np
from _common import Report

import jaxgd
from jaxgd import analysis, plot, second_order

ORDER = 100  # place in the index page
NAME = "second_order_comparison"
TITLE = "Second-order and quasi-Newton methods against gradient descent"
TOL = 1e-6
METHODS = ("newton", "bfgs", "lbfgs", "nonlinear_cg", "newton_cg")


def problems(small: bool = False) -> dict[str, tuple[jaxgd.Problem, float]]:
    """name -> (problem, GD learning rate); ``small`` leaves out the 10-D Rosenbrock."""
    ravine = jaxgd.problems.ravine(50.0)
    cases = {
        "ravine50": (ravine, 2.0 / 102.0),
        "rosenbrock": (jaxgd.problems.rosenbrock(), 1e-3),
        "rosenbrock10": (jaxgd.problems.rosenbrock(10), 1e-4),
        "logistic": (jaxgd.problems.logistic_regression(), None),
    }
    if small:
        del cases["rosenbrock10"]
    return cases


def main(out: str = "results", small: bool = False) -> dict:
    report = Report(out, NAME, TITLE, small)
    gd_steps = 5_000 if small else 100_000
    rows = []
    with jax.enable_x64(True):
        cases = problems(small)
        for name, (problem, lr) in cases.items():
            report.progress(f"{name} (dimension {problem.dim}): {', '.join(METHODS)} and GD")
            x0 = np.asarray(problem.x0, dtype=np.float64)
            if lr is None:  # logistic regression: GD at 2/(beta + alpha), the optimal fixed rate for that class
                d = problem.data
                beta = jaxgd.problems.logistic_beta(d["features"], d["l2"])
                lr = float(2.0 / (beta + jaxgd.problems.logistic_alpha(d["features"], d["l2"])))
            for method in (*METHODS, "gd"):
                spec = jaxgd.sgd(lr) if method == "gd" else method
                res = jaxgd.minimize(problem, x0, spec, tol=TOL, max_steps=gd_steps if method == "gd" else 2000)
                rows.append(
                    {
                        "problem": name,
                        "dim": problem.dim,
                        "method": method,
                        "iterations": int(res.steps),
                        "f_evals": int(res.n_fev),
                        "grad_evals": int(res.n_gev),
                        "hess_evals": int(res.n_hev),
                        "grad_norm": float(res.grad_norm),
                        "converged": bool(res.converged),
                        "final_value": float(res.value),
                        "gd_learning_rate": lr if method == "gd" else None,
                    }
                )
        ravine = cases["ravine50"][0]
        kappa = float(analysis.condition_number(analysis.hessian_eigenvalues(ravine, ravine.x0)))
        rho = float(analysis.gd_optimal_rate(kappa))
        # ||grad|| = ||H x|| shrinks like ||x|| asymptotically: iterations for ||grad|| from g0 to TOL
        g0 = float(np.linalg.norm(np.asarray(jax.grad(ravine)(np.asarray(ravine.x0, dtype=np.float64)))))
        predicted_gd = float(analysis.iterations_to_tolerance(rho, TOL, g0))
        report.results["theory"] = {"kappa": kappa, "gd_rate": rho, "gd_iterations_predicted": predicted_gd}

        report.progress("paths on Rosenbrock")
        rosen = jaxgd.problems.rosenbrock()
        x0 = np.asarray(rosen.x0, np.float64)
        paths = {"GD (eta = 1e-3)": jaxgd.run(jaxgd.sgd(1e-3), rosen, x0, 20_000, record_every=20)}  # drawn first
        for method in ("newton", "bfgs", "lbfgs", "nonlinear_cg"):
            paths[method] = jaxgd.run(second_order.METHODS[method](), rosen, x0, 60)
        ax = plot.contour(rosen, paths, log=True, title="Rosenbrock from (-1.5, 2): 60 steps (GD: 20000)")
        report.figure(ax, "second_order_paths.png", "Paths of Newton, BFGS, L-BFGS, CG and GD on Rosenbrock.")

    for name in cases:
        its = {r["method"]: r["iterations"] for r in rows if r["problem"] == name}
        gd = next(r for r in rows if r["problem"] == name and r["method"] == "gd")
        gd_text = f"{its['gd']}" if gd["converged"] else f"> {its['gd']} (not converged)"
        report.finding(f"{name}: " + ", ".join(f"{m} {its[m]}" for m in METHODS) + f" iterations; GD {gd_text}.")
    newton = next(r for r in rows if r["method"] == "newton" and r["problem"] == "ravine50")
    report.claim(
        "course (second-order methods)",
        "Newton's method solves a quadratic in one step",
        f"{newton['iterations']} iteration(s) on ravine50",
        newton["iterations"] == 1,
    )
    names = list(cases)
    fig, (axes,) = plot.subplots(1, 1, size=(8.0, 4.0))
    width = 0.8 / (len(METHODS) + 1)
    for k, method in enumerate((*METHODS, "gd")):
        mine = [next(r for r in rows if r["problem"] == p and r["method"] == method) for p in names]
        bars = axes[0].bar(np.arange(len(names)) + k * width, [r["iterations"] for r in mine], width, label=method)
        for bar, r in zip(bars, mine):
            if not r["converged"]:  # stopped at the step limit: hatched, and said so above the bar
                bar.set_hatch("//")
                bar.set_edgecolor("k")
                x = bar.get_x() + bar.get_width() / 2
                axes[0].annotate("step limit", (x, bar.get_height()), ha="center", va="bottom", fontsize=7)
    top = max(r["iterations"] for r in rows)
    axes[0].set(xticks=np.arange(len(names)) + 0.4, xticklabels=names, yscale="log", ylabel="iterations")
    axes[0].set_ylim(top=4 * top)  # room for the "step limit" labels
    axes[0].set_title(f"iterations to ||grad f|| <= {TOL:g} (float64); hatched: stopped at the step limit")
    axes[0].legend(fontsize=8, ncol=len(METHODS) + 1, loc="upper center", bbox_to_anchor=(0.5, -0.1))
    report.figure(fig, "second_order_iterations.png", "Iterations to the gradient tolerance, per method and problem.")
    report.csv(rows, "second_order_comparison.csv", "Iterations and function, gradient, Hessian evaluations per run.")
    report.results["runs"] = rows
    return report.finish()


if __name__ == "__main__":
    from _common import script

    script(main)
