"""Every optimizer of the course on the same problems, each at its best rate from a sweep, from several starts.

SGD, heavy-ball momentum and NAG (gamma = 0.9), AdaGrad (eps = 1e-8), AdaDelta,
RMSProp (plain, centred, and with Nesterov momentum 0.9), Adam, Nadam and AdaMax
on the ravine x1^2 + 50 x2^2, on Rosenbrock and on logistic regression on the
breast-cancer data (Hildesheim's comparison figure: training loss against
epochs; full batch, so an epoch is a step). Each optimizer's learning rate is
the one with the lowest mean final loss over a log grid; the problems are
deterministic, so the "seeds" are several starting points (the course's start
and perturbations of it). All runs of one problem are one ``jit``. The lecture's
remark "Adam slightly outperforms RMSProp near the end" is checked against the
measured losses. NAG and RMSProp with Nesterov momentum are drawn at the lecture's
x_t (:func:`jaxgd.nesterov_iterate`). Rosenbrock's race of SGD, momentum, RMSProp
and Adam (SYS 6016's animation) is written as a GIF and a still.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import numpy as np
from _common import Report

import jaxgd
from jaxgd import plot

ORDER = 45  # place in the index page
NAME = "optimizer_comparison"
TITLE = "Every optimizer of the course on the ravine, Rosenbrock and logistic regression"
OPTIMIZERS: dict[str, Callable] = {
    "SGD": jaxgd.sgd,
    "momentum 0.9": lambda lr: jaxgd.momentum(lr, 0.9),
    "NAG 0.9": lambda lr: jaxgd.nesterov(lr, 0.9),
    "AdaGrad": lambda lr: jaxgd.adagrad(lr, eps=1e-8),
    "AdaDelta": lambda lr: jaxgd.adadelta(lr, rho=0.95),  # Zeiler's rho (jaxgd's default is optax's 0.9)
    "RMSProp": jaxgd.rmsprop,
    "RMSProp centred": lambda lr: jaxgd.rmsprop(lr, centered=True),
    "RMSProp Nesterov": lambda lr: jaxgd.rmsprop(lr, momentum=0.9, nesterov=True),
    "Adam": jaxgd.adam,
    "Nadam": jaxgd.nadam,
    "AdaMax": jaxgd.adamax,
}
LOOK_AHEAD = ("NAG 0.9", "RMSProp Nesterov")  # jaxgd carries y_t; the lecture draws x_t
RACE = ("SGD", "momentum 0.9", "RMSProp", "Adam")  # SYS 6016's animation


def starts(problem: jaxgd.Problem, count: int, scale: float) -> np.ndarray:
    """The problem's start and ``count - 1`` Gaussian perturbations of it (seeded): the runs' "seeds"."""
    x0 = np.asarray(problem.x0, dtype=np.float32)
    noise = np.random.default_rng(0).normal(size=(count - 1, x0.size)).astype(np.float32)
    return np.concatenate([x0[None], x0[None] + scale * noise])


def run_all(problem: jaxgd.Problem, lrs, x0s, steps: int, every: int, keep_paths: bool) -> dict:
    """Every optimizer at every rate from every start, in one jit: name -> (loss (L, S, T+1), path (L, S, K, d))."""

    def one(name):
        def single(lr, x0):
            opt = OPTIMIZERS[name](lr)
            look = keep_paths and name in LOOK_AHEAD
            record = (lambda p, s: jaxgd.nesterov_iterate(opt, p, s)) if look else None
            traj = jaxgd.run(opt, problem, x0, steps, record_every=every, record=record)
            return traj.loss, (traj.recorded if look else traj.params) if keep_paths else None

        return jax.vmap(jax.vmap(single, (None, 0)), (0, None))

    fn = jax.jit(lambda lrs, x0s: {name: one(name)(lrs, x0s) for name in OPTIMIZERS})
    found = jax.tree.map(lambda a: np.asarray(a, dtype=float), fn(np.asarray(lrs, np.float32), x0s))
    return {name: found[name] for name in OPTIMIZERS}  # the course's order, not the sorted keys


def resolution(fmin: float) -> float:
    """The smallest f - f* that float32 resolves at f*: below it, gaps are rounding noise."""
    return max(float(np.finfo(np.float32).eps) * abs(fmin), 1e-30)


def best_rates(runs: dict, lrs, fmin: float) -> dict:
    """Per optimizer: the rate with the lowest mean final f - f* over the starts, among rates with no blow-up.

    Gaps are floored at float32's resolution; ``tail_gap`` is the geometric mean of the gap over the
    last fifth of the steps (mean over starts): "near the end" without the last step's rounding noise.
    """
    out = {}
    floor = resolution(fmin)
    for name, (loss, _) in runs.items():
        gap = np.maximum(loss - fmin, floor)
        ok = np.all(np.isfinite(gap) & (gap < 1e4 * np.abs(gap[..., :1]) + 1e-12), axis=(1, 2))
        score = np.where(ok, gap[:, :, -1].mean(axis=1), np.inf)
        i = int(np.argmin(score))
        tail = gap[i, :, -max(2, gap.shape[-1] // 5) :]
        out[name] = {
            "index": i,
            "lr": float(lrs[i]),
            "final_gap_mean": float(score[i]),
            "tail_gap": float(np.exp(np.mean(np.log(tail)))),
            "diverged": not ok[i],
        }
    return out


def curves_figure(report: Report, problem: jaxgd.Problem, runs: dict, best: dict, fmin: float, unit: str) -> None:
    """f - f* against steps (epochs), each optimizer at its best rate: the mean over starts and its range."""
    fig, axes = plot.subplots(1, 1, size=(7.0, 4.6))
    ax = axes[0, 0]
    for k, (name, (loss, _)) in enumerate(runs.items()):
        gap = np.maximum(loss[best[name]["index"]] - fmin, resolution(fmin))
        t = np.arange(gap.shape[1])
        style = "-" if k < 10 else "--"
        (line,) = ax.semilogy(
            t, gap.mean(0), style, lw=1.2, color=f"C{k % 10}", label=f"{name} ({best[name]['lr']:.2g})"
        )
        ax.fill_between(t, gap.min(0), gap.max(0), color=line.get_color(), alpha=0.12, lw=0)
    ax.axhline(resolution(fmin), color="0.5", lw=0.8, ls=":", label="float32 resolution of f*")
    ax.set(xlabel=unit, ylabel="f - f* (training loss gap)")
    ax.set_title(f"{problem.name}: each optimizer at its best eta (legend), mean and range over starts", fontsize=9)
    ax.legend(fontsize=7, ncol=2)
    report.figure(
        fig, f"compare_{problem.name}.png", f"Training loss gap against {unit} on {problem.name}, every optimizer."
    )


def paths_figure(report: Report, problem: jaxgd.Problem, runs: dict, best: dict, log: bool) -> None:
    """One panel per optimizer: its path from the course's start at its best rate (x_t for the Nesterov forms)."""
    panels = {}
    for name, (_, path) in runs.items():
        drawn = " (the lecture's x_t)" if name in LOOK_AHEAD else ""
        panels[f"{name}, eta = {best[name]['lr']:.2g}{drawn}"] = {name: path[best[name]["index"], 0]}
    fig = plot.path_panels(problem, panels, ncols=4, log=log, size=(3.4, 2.8), suptitle=f"Paths on {problem.name}")
    report.figure(fig, f"compare_{problem.name}_paths.png", f"Each optimizer's path on {problem.name} at its best eta.")


def race(report: Report, problem: jaxgd.Problem, runs: dict, best: dict, frames: int) -> None:
    """SYS 6016's animation: SGD, momentum, RMSProp and Adam racing on Rosenbrock (a GIF and a still)."""
    paths = {f"{n} ({best[n]['lr']:.2g})": runs[n][1][best[n]["index"], 0] for n in RACE}
    title = "Rosenbrock: " + ", ".join(RACE) + " at their best eta"
    plot.animate_paths(problem, paths, report.out / "race_rosenbrock.gif", frames=frames, log=True, title=title)
    report.outputs["race_rosenbrock.gif"] = f"Animation ({frames} frames): {', '.join(RACE)} racing on Rosenbrock."
    ax = plot.contour(problem, paths, log=True, title=title)
    report.figure(ax, "race_rosenbrock.png", "The animation's last frame, as a still.")


def main(out: str = "results", small: bool = False) -> dict:
    report = Report(out, NAME, TITLE, small)
    lrs = np.geomspace(1e-5, 10.0, 7 if small else 25)
    settings = [  # problem, steps, starts' spread, record every, 2-D, unit
        (jaxgd.problems.ravine(50.0), 150 if small else 500, 0.5, 1, True, "step"),
        (jaxgd.problems.rosenbrock(), 500 if small else 5000, 0.2, 5 if small else 20, True, "step"),
        (jaxgd.problems.logistic_regression(), 200 if small else 1000, 0.1, 10, False, "epoch (full batch)"),
    ]
    nstarts = 3 if small else 5
    for problem, steps, spread, every, plane, unit in settings:
        report.progress(f"{problem.name}: {len(OPTIMIZERS)} optimizers x {len(lrs)} rates x {nstarts} starts")
        runs = run_all(problem, lrs, starts(problem, nstarts, spread), steps, every, plane)
        fmin = float(problem.minimum)
        best = best_rates(runs, lrs, fmin)
        curves_figure(report, problem, runs, best, fmin, unit)
        if plane:
            paths_figure(report, problem, runs, best, log=problem.name == "rosenbrock")
        if problem.name == "rosenbrock":
            race(report, problem, runs, best, 12 if small else 40)
        report.results[problem.name] = {"steps": steps, "starts": nstarts, "lrs": lrs, "best": best}
    _state(report)
    return report.finish()


def _state(report: Report) -> None:
    """Findings and the claims row, from the best rates' final gaps."""
    for problem, res in report.results.items():
        ranked = sorted(res["best"].items(), key=lambda kv: kv[1]["tail_gap"])
        top = ", ".join(f"{n} {b['tail_gap']:.2g}" for n, b in ranked[:3])
        report.finding(f"{problem}, {res['steps']} steps at the best eta: lowest f - f* over the last fifth: {top}.")
    logistic = next(r for p, r in report.results.items() if p.startswith("logistic"))
    adam, rms = logistic["best"]["Adam"], logistic["best"]["RMSProp"]
    report.claim(
        "Hildesheim",
        "Adam slightly outperforms RMSProp near the end (logistic regression)",
        f"f - f* over the last fifth of {logistic['steps']} epochs at the best eta: Adam {adam['tail_gap']:.3g} "
        f"(eta {adam['lr']:.2g}), RMSProp {rms['tail_gap']:.3g} (eta {rms['lr']:.2g})",
        adam["tail_gap"] < rms["tail_gap"],
    )
