"""What a benchmark reports: the leaderboard (JSON and markdown), performance profiles, sensitivity curves.

* per (problem, optimizer): the chosen hyperparameters, the median final gap f(x_T) - f* and its spread
  over seeds, the median steps and gradient-equivalents to f - f* <= tau (f(x_0) - f*) for each tau,
  the test accuracy (mean and standard deviation over seeds) on learning problems, the wall time of one
  run, and the width of the good range: log10(eta_hi / eta_lo) of the longest run of grid rates whose
  median final gap meets the main target (DeepOBS's "tuneability");
* second-order methods (:mod:`jaxgd.bench.second_order`) as solvers of their own on the deterministic
  problems, in the same rows (no learning rate, one run);
* per solver: problems run and solved at each tau, the mean rank of the final gap among the solvers run on
  each problem, the profile rho_s(tau) (:data:`COST`: the cost measure of the profiles);
* stability bound 2 / lambda_max of the Hessian at x_0 and at x* (gradient descent diverges above it
  on a quadratic), drawn on the sensitivity curves.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np
from jax.flatten_util import ravel_pytree

from jaxgd import curvature, files
from jaxgd.bench.metrics import performance_profile
from jaxgd.bench.tuning import Tuning

__all__ = [
    "COST",
    "good_range",
    "leaderboard",
    "markdown",
    "profiles",
    "sensitivity_figure",
    "stability_bounds",
    "timing_text",
    "write",
]

COST = (
    "gradient-equivalents to the target: a first-order step costs 1 gradient (a mini-batch step of a finite sum: "
    "its B per-example gradients), a second-order method its gradients plus 2 per Hessian-vector product "
    "(jaxgd.bench.second_order.HVP_COST). Profiles are drawn separately over the deterministic problems (every "
    "solver, first and second order) and over the stochastic problems (first-order solvers only: the "
    "second-order methods are not run on them)."
)


def _median_steps(a: np.ndarray) -> float:
    v = np.where(a < 0, np.inf, a).astype(float)
    return float(np.median(v))


def good_range(t: Tuning, tau: float) -> float | None:
    """Decades log10(eta_hi / eta_lo) of the longest run of grid rates (at the chosen other axes) whose
    median final gap is <= tau (f(x_0) - f*); None if no rate meets it, 0 if one does.

    Args:
        t: A tuning (:class:`jaxgd.bench.tuning.Tuning`) over a grid of learning rates.
        tau: The relative target.

    Returns:
        The width in decades, or None.
    """
    lr = t.hyperparams["learning_rate"]
    same = np.ones(lr.shape, bool)
    for k, v in t.hyperparams.items():
        if k != "learning_rate":
            same &= v == v[t.chosen]
    idx = np.flatnonzero(same)
    ok = np.median(t.final_gap[idx], axis=1) <= tau * (t.f0 - t.f_star)
    best, start = None, None
    for j, good in enumerate([*list(ok), False]):
        if good and start is None:
            start = j
        if not good and start is not None:
            width = float(np.log10(lr[idx[j - 1]] / lr[idx[start]]))
            best = width if best is None else max(best, width)
            start = None
    return best


def _row(t: Tuning, main_tau: float) -> dict[str, Any]:
    c = t.chosen
    gap = t.final_gap[c]
    evals = {f"{tau:g}": _median_steps(t.grad_evals_to_target[c, :, k]) for k, tau in enumerate(t.taus)}
    acc = None if t.accuracy is None else np.asarray(t.accuracy[c], float)
    acc = None if acc is None else acc[np.isfinite(acc)]  # the seeds that did not diverge
    return {
        "problem": t.problem,
        "optimizer": t.optimizer,
        "kind": "first_order",
        "hyperparams": t.best,
        "final_gap": float(np.median(gap)),
        "final_gap_min": float(np.min(gap)),
        "final_gap_max": float(np.max(gap)),
        "steps_to_target": {f"{tau:g}": _median_steps(t.steps_to_target[c, :, k]) for k, tau in enumerate(t.taus)},
        "grad_evals_to_target": evals,
        "gradient_equivalents_to_target": dict(evals),
        "test_accuracy": float(np.mean(acc)) if acc is not None and acc.size else None,
        "test_accuracy_std": float(np.std(acc)) if acc is not None and acc.size else None,
        "test_accuracy_seeds": None if acc is None else int(acc.size),
        "seconds": t.seconds,
        "good_range_decades": good_range(t, main_tau),
        "seeds": int(gap.shape[0]),
        "stochastic": t.stochastic,
        "f0": t.f0,
        "f_star": t.f_star,
    }


def _ranks(rows: list[dict[str, Any]], problems: list[str], solvers: list[str]) -> np.ndarray:
    """(P, S) rank of each solver's final gap among the solvers run on the problem (1 = best), NaN where not run."""
    gap = np.full((len(problems), len(solvers)), np.nan)
    for r in rows:
        g = r["final_gap"]
        gap[problems.index(r["problem"]), solvers.index(r["optimizer"])] = np.inf if g is None or np.isnan(g) else g
    ranks = np.full(gap.shape, np.nan)
    for i, g in enumerate(gap):
        ran = np.flatnonzero(~np.isnan(g))
        ranks[i, ran] = np.argsort(np.argsort(g[ran], kind="stable"), kind="stable") + 1
    return ranks


def leaderboard(
    tunings: Sequence[Tuning], main_tau: float = 1e-3, second_order: Sequence[dict[str, Any]] = ()
) -> dict[str, Any]:
    """Rows per (problem, solver) and a summary per solver (problems run, solved per tau, mean rank of the final gap).

    ``second_order``: rows of :func:`jaxgd.bench.second_order.second_order_row`, ranked beside the tuned
    first-order methods on the problems they ran on. The order: the fraction of its problems solved at
    ``main_tau`` (descending), then the mean rank.

    Args:
        tunings: The tunings (:func:`jaxgd.bench.suite.run_suite`), one row each.
        main_tau: The target that orders the solvers and measures the good range.
        second_order: Rows of the second-order methods, added as they are.

    Returns:
        The board, a dict of ``main_tau``, ``problems`` (their number), ``order`` (the solvers, best first),
            ``summary`` (per solver) and ``rows``.
    """
    rows = [_row(t, main_tau) for t in tunings] + [dict(r) for r in second_order]
    solvers = list(dict.fromkeys(r["optimizer"] for r in rows))
    problems = list(dict.fromkeys(r["problem"] for r in rows))
    ranks = _ranks(rows, problems, solvers)
    taus = list(rows[0]["steps_to_target"]) if rows else []
    summary = {}
    for j, o in enumerate(solvers):
        mine = [r for r in rows if r["optimizer"] == o]
        ranges = [r["good_range_decades"] or 0.0 for r in mine if r["kind"] == "first_order"]
        summary[o] = {
            "kind": mine[0]["kind"],
            "problems": len(mine),
            "solved": {tau: int(sum(np.isfinite(r["steps_to_target"][tau]) for r in mine)) for tau in taus},
            "mean_rank_final_gap": float(np.nanmean(ranks[:, j])),
            "median_good_range_decades": float(np.median(ranges)) if ranges else float("nan"),
        }
    main = f"{main_tau:g}"
    order = sorted(
        solvers,
        key=lambda o: (-summary[o]["solved"].get(main, 0) / summary[o]["problems"], summary[o]["mean_rank_final_gap"]),
    )
    return {"main_tau": main_tau, "problems": len(problems), "order": order, "summary": summary, "rows": rows}


def profiles(board: dict[str, Any], r_max: float = 4.0) -> dict[str, Any]:
    """Dolan-Moré profiles of the gradient-equivalents to each tau (:data:`COST`), over the deterministic and
    over the stochastic problems: {"cost": COST, "r_max": r_max, "deterministic": {tau: {"taus": [...],
    "problems": [...], solver: rho}}, "stochastic": {...}}; a solver enters a set where it has a row.

    Args:
        board: A leaderboard (:func:`leaderboard`).
        r_max: The largest performance ratio (:func:`jaxgd.bench.metrics.performance_profile`).

    Returns:
        The profiles, a JSON-able dict as above.
    """
    rows, order = board["rows"], board["order"]
    taus = list(rows[0]["steps_to_target"]) if rows else []
    out: dict[str, Any] = {"cost": COST, "r_max": r_max}
    for part, stochastic in (("deterministic", False), ("stochastic", True)):
        mine = [r for r in rows if r["stochastic"] == stochastic]
        problems = list(dict.fromkeys(r["problem"] for r in mine))
        solvers = [o for o in order if any(r["optimizer"] == o for r in mine)]
        out[part] = {}
        for tau in taus if mine else []:
            costs = np.full((len(problems), len(solvers)), np.inf)
            for r in mine:
                costs[problems.index(r["problem"]), solvers.index(r["optimizer"])] = r[
                    "gradient_equivalents_to_target"
                ][tau]
            grid, rho = performance_profile(costs, r_max=r_max)
            out[part][tau] = {
                "taus": grid.tolist(),
                "problems": problems,
                **{o: rho[:, j].tolist() for j, o in enumerate(solvers)},
            }
    return out


def stability_bounds(loss: Any, x0: Any, x_star: Any = None, dense_up_to: int = 512) -> dict[str, float | None]:
    """2 / lambda_max of the Hessian of ``loss`` (a deterministic f(x), x any pytree) at x0 and at x*, None where
    lambda_max <= 0: from the dense Hessian up to ``dense_up_to`` parameters, else by 30 Lanczos steps
    (:func:`jaxgd.curvature.lanczos`).

    Args:
        loss: The objective f(x).
        x0: The start (any pytree).
        x_star: A minimiser, or None.
        dense_up_to: The most parameters for which the dense Hessian is formed.

    Returns:
        A dict with keys ``"x0"`` and ``"x_star"``: 2 / lambda_max there, or None.
    """
    flat0, unravel = ravel_pytree(x0)

    def f(v: jax.Array) -> jax.Array:
        return loss(unravel(v))

    if flat0.size <= dense_up_to:
        top = jax.jit(lambda v: jax.numpy.linalg.eigvalsh(jax.hessian(f)(v))[-1])
    else:
        top = jax.jit(lambda v: curvature.lanczos(f, v, jax.random.key(0), num_iters=30).lambda_max)
    out = {}
    for where, x in (("x0", x0), ("x_star", x_star)):
        lam = float(top(jax.numpy.asarray(ravel_pytree(x)[0], flat0.dtype))) if x is not None else np.nan
        out[where] = 2.0 / lam if np.isfinite(lam) and lam > 0 else None
    return out


def sensitivity_figure(tunings: Sequence[Tuning], bounds: dict[str, float | None] | None = None) -> Any:
    """Median final gap f(x_T) - f* (relative to f(x_0) - f*) against the learning rate, one line per optimizer,
    at the chosen values of any other axis; dashed verticals at 2 / lambda_max (x0) and dotted (x*).

    Args:
        tunings: The tunings of one problem, one line each.
        bounds: :func:`stability_bounds` of the problem, or None.

    Returns:
        The figure (a matplotlib ``Figure``).
    """
    from jaxgd import plot

    fig, axes = plot.subplots(size=(5.0, 3.5))
    ax = axes[0, 0]
    for t in tunings:
        lr = t.hyperparams["learning_rate"]
        same = np.all([v == v[t.chosen] for k, v in t.hyperparams.items() if k != "learning_rate"], axis=0)
        gap = np.median(t.final_gap, axis=1) / max(t.f0 - t.f_star, np.finfo(float).tiny)
        keep = same & np.isfinite(gap)
        ax.loglog(lr[keep], np.maximum(gap[keep], 1e-16), ".-", label=t.optimizer)
    for (where, b), style in zip((bounds or {}).items(), ("--", ":")):
        if b is not None:
            ax.axvline(b, color="k", ls=style, lw=0.8, label=f"2/lambda_max at {where}")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("(f(x_T) - f*) / (f(x_0) - f*)")
    ax.set_title(tunings[0].problem if tunings else "")
    ax.legend(fontsize=6)
    return fig


def _cell(v: Any) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "-"
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


def _bound(v: float) -> str:
    return "inf (diverged)" if v == np.inf else _cell(v)


def _accuracy(r: dict[str, Any]) -> str:
    if r.get("test_accuracy") is None or not np.isfinite(r["test_accuracy"]):
        return "-"
    out = f"{r['test_accuracy']:.3f} ± {r['test_accuracy_std']:.3f}"
    k = r.get("test_accuracy_seeds")
    return out if k is None or k == r["seeds"] else f"{out} ({k} of {r['seeds']} seeds, others diverged)"


def _to_target(r: dict[str, Any], tau: str) -> str:
    """Steps to tau, with the gradient-equivalents in brackets where they differ from the steps."""
    steps, cost = r["steps_to_target"][tau], r["gradient_equivalents_to_target"][tau]
    return _cell(steps) if not np.isfinite(steps) or cost == steps else f"{_cell(steps)} ({_cell(cost)})"


def markdown(board: dict[str, Any]) -> str:
    """The leaderboard as markdown: the per-solver summary, then one table row per (problem, solver).

    Args:
        board: A leaderboard (:func:`leaderboard`).

    Returns:
        The markdown text.
    """
    rows, summary = board["rows"], board["summary"]
    taus = list(rows[0]["steps_to_target"]) if rows else []
    lines = [f"# Leaderboard ({board['problems']} problems, main target tau = {board['main_tau']:g})", ""]
    lines += [
        "| solver | problems | "
        + " | ".join(f"solved tau={t}" for t in taus)
        + " | mean rank (final gap) | good range (decades) |"
    ]
    lines += ["|---" * (len(taus) + 4) + "|"]
    for o in board["order"]:
        s = summary[o]
        cells = (
            [str(s.get("problems", "-"))]
            + [str(s["solved"][t]) for t in taus]
            + [_cell(s["mean_rank_final_gap"]), _cell(s["median_good_range_decades"])]
        )
        lines.append(f"| {o} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Cost measure of the profiles and of the brackets below: {COST}",
        "Test accuracy: on the held-out 20% of a learning problem, mean ± standard deviation over the seeds of "
        "the chosen configuration. Second-order methods have no learning rate to tune: one run each.",
        "",
        "| problem | solver | hyperparameters | final gap (min to max) | test accuracy | "
        + " | ".join(f"steps (grad-eq.) to {t}" for t in taus)
        + " | s/run | good range |",
    ]
    lines += ["|---" * (len(taus) + 7) + "|"]
    for r in rows:
        hp = ", ".join(f"{k}={v:.3g}" for k, v in r["hyperparams"].items()) or "-"
        gap = (
            f"{_cell(r['final_gap'])} ({_cell(r['final_gap_min'])} to {_bound(r['final_gap_max'])})"
            if r["stochastic"]
            else _cell(r["final_gap"])
        )
        lines.append(
            f"| {r['problem']} | {r['optimizer']} | {hp} | {gap} | {_accuracy(r)} | "
            + " | ".join(_to_target(r, t) for t in taus)
            + f" | {_cell(r['seconds'])} | {_cell(r['good_range_decades'])} |"
        )
    second = [r for r in rows if r["kind"] == "second_order"]
    return "\n".join(lines + _second_order_lines(second, taus)) + "\n"


def _second_order_lines(rows: list[dict[str, Any]], taus: list[str]) -> list[str]:
    if not rows:
        return []
    lines = ["", "Second order (jaxgd.minimize's methods): gradients + Hessian-vector products to each target", ""]
    lines += ["| problem | method | final gap | " + " | ".join(f"grads+hvps to {t}" for t in taus) + " |"]
    lines += ["|---" * (len(taus) + 3) + "|"]
    for r in rows:
        cells = [
            f"{_cell(r['grad_evals_to_target'][t])}+{_cell(r['hvps_to_target'][t])}"
            if np.isfinite(r["grad_evals_to_target"][t])
            else "-"
            for t in taus
        ]
        lines.append(f"| {r['problem']} | {r['optimizer']} | {_cell(r['final_gap'])} | " + " | ".join(cells) + " |")
    return lines


def timing_text(timing: dict[str, Any]) -> str:
    """A few lines on where a benchmark's time went: in total, per phase, and the tuning per pair and per run.

    Args:
        timing: ``board["timing"]`` of :func:`jaxgd.bench.bench`.

    Returns:
        The text, lines joined by newlines.
    """
    total, phases = timing["total"], timing["phases"]
    tune = phases.get("tuning", {})
    lines = [
        f"time: {total['seconds']:.1f}s wall, {total['compiles']} XLA compilations ({total['compile_seconds']:.1f}s)",
    ]
    for name, p in phases.items():
        extra = f", {p['runs']} runs" if "runs" in p else ""
        lines.append(
            f"  {name}: {p['seconds']:.1f}s, {p['compiles']} compilations ({p['compile_seconds']:.1f}s){extra}"
        )
    tasks = timing.get("problems", [])
    if tasks and tune.get("runs"):
        per_run = (tune["seconds"] - tune["compile_seconds"]) / tune["runs"]
        slow = max(tasks, key=lambda p: p.get("seconds", 0.0))
        lines.append(
            f"  per problem (every optimizer in one compiled call): {tune['seconds'] / len(tasks):.2f}s and "
            f"{tune['compiles'] / len(tasks):.1f} compilations on average ({len(tasks)} problems); per run, "
            f"compilation excluded: {1e3 * per_run:.2f} ms; slowest: {slow['problem']} ({slow['seconds']:.1f}s)"
        )
    return "\n".join(lines)


def _json(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _json(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json(v) for v in x]
    if isinstance(x, (float, np.floating)):
        return float(x) if np.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    return x


def write(out: str | os.PathLike, board: dict[str, Any], profile: dict[str, Any]) -> list[Path]:
    """Write leaderboard.json (non-finite numbers as null), leaderboard.md and profiles.json, each whole.

    Args:
        out: The folder (created if missing).
        board: A leaderboard (:func:`leaderboard`).
        profile: Its profiles (:func:`profiles`).

    Returns:
        The three files' paths.
    """
    out = Path(out)
    paths = [out / "leaderboard.json", out / "leaderboard.md", out / "profiles.json"]
    files.write_text(paths[0], json.dumps(_json(board), indent=1, allow_nan=False))
    files.write_text(paths[1], markdown(board))
    files.write_text(paths[2], json.dumps(_json(profile), indent=1, allow_nan=False))
    return paths
