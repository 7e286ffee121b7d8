"""``jaxgd.bench.bench``: the whole protocol in one call, tune, rank, profile, plot, write."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np

import jaxgd
from jaxgd.bench import report
from jaxgd.bench.second_order import second_order_row
from jaxgd.bench.suite import Task, default_tasks, optimizer_specs, run_suite, small_tasks, tasks
from jaxgd.bench.tuning import Rule, learning_rates

__all__ = ["SMALL", "bench", "select_tasks"]

SMALL = {"steps": 100, "lrs": 12, "seeds": 2, "optimizers": ("sgd", "adam")}


def select_tasks(names: Sequence[str] | None, small: bool) -> list[Task]:
    """The tasks named (from the full suite), or the small or default suite."""
    if names is None:
        return small_tasks() if small else default_tasks()
    return tasks(names)


def board_taus(board: dict[str, Any]) -> list[float]:
    """The targets tau of a leaderboard."""
    return [float(t) for t in board["rows"][0]["steps_to_target"]] if board["rows"] else []


def _x_star(loss: Any) -> Any:
    m = getattr(loss, "minimizers", None)
    if m is not None:
        return m[0]
    return getattr(loss, "minimizer", None)


def _bounds(task: Task) -> dict[str, float | None]:
    loss = task.loss
    f = getattr(loss, "objective", loss)  # a NoisyGradient's objective; a FiniteSum is f itself
    return report.stability_bounds(lambda x: f(x), jnp.asarray(task.x0), _x_star(loss))


def bench(
    out: str | os.PathLike,
    *,
    optimizers: Sequence[str] | None = None,
    problems: Sequence[str] | None = None,
    small: bool = False,
    steps: int | None = None,
    rule: Rule | None = None,
    second_order: Sequence[str] = ("lbfgs", "newton_cg"),
    figures: bool = True,
    timing: bool = True,
    progress: Callable[[int, int, str], None] | None = None,
) -> dict[str, Any]:
    """Tune ``optimizers`` on ``problems`` (names; defaults: :mod:`jaxgd.bench.suite`), write everything to ``out``.

    Writes ``out/tunings/*.npz`` (each pair's runs, resumed when re-run), ``leaderboard.json`` / ``.md``,
    ``profiles.json`` and, with ``figures``, ``profile.png`` and ``sensitivity/<problem>.png``.
    ``second_order``: methods of :func:`jaxgd.minimize` run on the deterministic problems and counted in
    gradient and Hessian-vector evaluations (:mod:`jaxgd.bench.second_order`), in ``board["second_order"]``.
    ``small``: 100 steps, 12 rates, 2 seeds, sgd and adam on three problems. Returns the leaderboard.
    """
    out = Path(out)
    if optimizers is None and small:
        optimizers = SMALL["optimizers"]
    specs = optimizer_specs(optimizers)
    tasks = select_tasks(problems, small)
    steps = (SMALL["steps"] if small else 1000) if steps is None else steps
    lrs = learning_rates(SMALL["lrs"]) if small else learning_rates()
    seeds = SMALL["seeds"] if small else 3
    tunings = run_suite(
        specs, tasks, steps=steps, lrs=lrs, rule=rule, seeds=seeds, out=out, timing=timing, progress=progress
    )
    board = report.leaderboard(tunings)
    board.update({"steps": steps, "seeds": seeds, "learning_rates": [float(v) for v in lrs]})
    board["second_order"] = [
        second_order_row(m, t.loss, steps, board_taus(board))
        for t in tasks
        if isinstance(t.loss, jaxgd.Problem)
        for m in second_order
    ]
    profile = report.profiles(board)
    board["stability_bounds"] = {t.name: _bounds(t) for t in tasks} if figures else {}
    report.write(out, board, profile)
    if figures:
        _figures(out, tunings, board, profile)
    return board


def _figures(out: Path, tunings, board, profile) -> None:
    from jaxgd import plot

    main = f"{board['main_tau']:g}"
    fig, axes = plot.subplots(size=(5.0, 3.5))
    ax = axes[0, 0]
    taus = np.asarray(profile[main]["taus"])
    for o in board["order"]:
        ax.step(taus, profile[main][o], where="post", label=o)
    ax.set_xlabel("performance ratio tau (steps to target / best)")
    ax.set_ylabel(f"fraction of problems, target {main}")
    ax.legend(fontsize=7)
    plot.save(fig, out / "profile.png")
    for name in dict.fromkeys(t.problem for t in tunings):
        mine = [t for t in tunings if t.problem == name]
        plot.save(
            report.sensitivity_figure(mine, board["stability_bounds"].get(name)), out / "sensitivity" / f"{name}.png"
        )
