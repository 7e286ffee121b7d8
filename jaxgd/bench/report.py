"""What a benchmark reports: the leaderboard (JSON and markdown), performance profiles, sensitivity curves.

* per (problem, optimizer): the chosen hyperparameters, the median final gap f(x_T) - f* and its spread
  over seeds, the median steps and gradient evaluations to f - f* <= tau (f(x_0) - f*) for each tau,
  the wall time of one run, and the width of the good range: log10(eta_hi / eta_lo) of the longest run of
  grid rates whose median final gap meets the main target (DeepOBS's "tuneability");
* per optimizer: problems solved at each tau, the mean rank of the final gap, the profile rho_s(tau);
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

from jaxgd import files
from jaxgd.bench.metrics import performance_profile
from jaxgd.bench.tuning import Tuning

__all__ = ["good_range", "leaderboard", "markdown", "profiles", "sensitivity_figure", "stability_bounds", "write"]


def _median_steps(a: np.ndarray) -> float:
    v = np.where(a < 0, np.inf, a).astype(float)
    return float(np.median(v))


def good_range(t: Tuning, tau: float) -> float | None:
    """Decades log10(eta_hi / eta_lo) of the longest run of grid rates (at the chosen other axes) whose
    median final gap is <= tau (f(x_0) - f*); None if no rate meets it, 0 if one does."""
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
    return {
        "problem": t.problem,
        "optimizer": t.optimizer,
        "hyperparams": t.best,
        "final_gap": float(np.median(gap)),
        "final_gap_min": float(np.min(gap)),
        "final_gap_max": float(np.max(gap)),
        "steps_to_target": {f"{tau:g}": _median_steps(t.steps_to_target[c, :, k]) for k, tau in enumerate(t.taus)},
        "grad_evals_to_target": {
            f"{tau:g}": _median_steps(t.grad_evals_to_target[c, :, k]) for k, tau in enumerate(t.taus)
        },
        "seconds": t.seconds,
        "good_range_decades": good_range(t, main_tau),
        "seeds": int(gap.shape[0]),
        "stochastic": t.stochastic,
        "f0": t.f0,
        "f_star": t.f_star,
    }


def leaderboard(tunings: Sequence[Tuning], main_tau: float = 1e-3) -> dict[str, Any]:
    """Rows per (problem, optimizer) and a summary per optimizer (solved per tau, mean rank of the final gap)."""
    rows = [_row(t, main_tau) for t in tunings]
    optimizers = list(dict.fromkeys(r["optimizer"] for r in rows))
    problems = list(dict.fromkeys(r["problem"] for r in rows))
    gap = np.full((len(problems), len(optimizers)), np.inf)
    for r in rows:
        gap[problems.index(r["problem"]), optimizers.index(r["optimizer"])] = r["final_gap"]
    ranks = np.argsort(np.argsort(np.nan_to_num(gap, nan=np.inf), axis=1, kind="stable"), axis=1) + 1
    taus = list(rows[0]["steps_to_target"]) if rows else []
    summary = {}
    for j, o in enumerate(optimizers):
        mine = [r for r in rows if r["optimizer"] == o]
        summary[o] = {
            "solved": {tau: sum(np.isfinite(r["steps_to_target"][tau]) for r in mine) for tau in taus},
            "mean_rank_final_gap": float(ranks[:, j].mean()),
            "median_good_range_decades": float(np.median([r["good_range_decades"] or 0.0 for r in mine])),
        }
    order = sorted(
        optimizers, key=lambda o: (-summary[o]["solved"].get(f"{main_tau:g}", 0), summary[o]["mean_rank_final_gap"])
    )
    return {"main_tau": main_tau, "problems": len(problems), "order": order, "summary": summary, "rows": rows}


def profiles(board: dict[str, Any], r_max: float = 4.0) -> dict[str, Any]:
    """Dolan-Moré profiles of the steps to each tau: {tau: {"taus": [...], optimizer: rho}}."""
    rows, order = board["rows"], board["order"]
    problems = list(dict.fromkeys(r["problem"] for r in rows))
    out = {}
    for tau in rows[0]["steps_to_target"] if rows else []:
        costs = np.full((len(problems), len(order)), np.inf)
        for r in rows:
            costs[problems.index(r["problem"]), order.index(r["optimizer"])] = r["steps_to_target"][tau]
        grid, rho = performance_profile(costs, r_max=r_max)
        out[tau] = {"taus": grid.tolist(), **{o: rho[:, j].tolist() for j, o in enumerate(order)}}
    return out


def stability_bounds(loss: Any, x0: Any, x_star: Any = None) -> dict[str, float | None]:
    """2 / lambda_max of the Hessian of ``loss`` (a deterministic f(x)) at x0 and at x*, None where lambda_max <= 0."""
    top = jax.jit(lambda x: jax.numpy.linalg.eigvalsh(jax.hessian(loss)(x))[-1])
    out = {}
    for where, x in (("x0", x0), ("x_star", x_star)):
        lam = float(top(jax.numpy.asarray(x, jax.numpy.asarray(x0).dtype))) if x is not None else np.nan
        out[where] = 2.0 / lam if np.isfinite(lam) and lam > 0 else None
    return out


def sensitivity_figure(tunings: Sequence[Tuning], bounds: dict[str, float | None] | None = None) -> Any:
    """Median final gap f(x_T) - f* (relative to f(x_0) - f*) against the learning rate, one line per optimizer,
    at the chosen values of any other axis; dashed verticals at 2 / lambda_max (x0) and dotted (x*)."""
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


def markdown(board: dict[str, Any]) -> str:
    """The leaderboard as markdown: the per-optimizer summary, then one table row per (problem, optimizer)."""
    rows, summary = board["rows"], board["summary"]
    taus = list(rows[0]["steps_to_target"]) if rows else []
    lines = [f"# Leaderboard ({board['problems']} problems, main target tau = {board['main_tau']:g})", ""]
    lines += [
        "| optimizer | "
        + " | ".join(f"solved tau={t}" for t in taus)
        + " | mean rank (final gap) | good range (decades) |"
    ]
    lines += ["|---" * (len(taus) + 3) + "|"]
    for o in board["order"]:
        s = summary[o]
        cells = [str(s["solved"][t]) for t in taus] + [
            _cell(s["mean_rank_final_gap"]),
            _cell(s["median_good_range_decades"]),
        ]
        lines.append(f"| {o} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| problem | optimizer | learning rate | final gap (min-max) | "
        + " | ".join(f"steps to {t}" for t in taus)
        + " | s/run | good range |",
    ]
    lines += ["|---" * (len(taus) + 6) + "|"]
    for r in rows:
        hp = ", ".join(f"{k}={v:.3g}" for k, v in r["hyperparams"].items())
        gap = (
            f"{_cell(r['final_gap'])} ({_cell(r['final_gap_min'])}-{_cell(r['final_gap_max'])})"
            if r["stochastic"]
            else _cell(r["final_gap"])
        )
        steps = [_cell(r["steps_to_target"][t]) for t in taus]
        lines.append(
            f"| {r['problem']} | {r['optimizer']} | {hp} | {gap} | "
            + " | ".join(steps)
            + f" | {_cell(r['seconds'])} | {_cell(r['good_range_decades'])} |"
        )
    return "\n".join(lines + _second_order_lines(board.get("second_order", []), taus)) + "\n"


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
    """Write leaderboard.json (non-finite numbers as null), leaderboard.md and profiles.json, each whole."""
    out = Path(out)
    paths = [out / "leaderboard.json", out / "leaderboard.md", out / "profiles.json"]
    files.write_text(paths[0], json.dumps(_json(board), indent=1, allow_nan=False))
    files.write_text(paths[1], markdown(board))
    files.write_text(paths[2], json.dumps(_json(profile), indent=1, allow_nan=False))
    return paths
