"""``jaxgd.bench.bench``: the whole protocol in one call, tune, rank, profile, plot, write.

Every optimizer is tuned on a problem in one compiled call (:func:`jaxgd.bench.tuning.tune_many`). The
cost is measured as it runs (:class:`Meter`): wall time and XLA compilations (counted by ``jax.monitoring``'s
backend-compile events) of each phase, the tuning (per problem), the second-order methods and the report,
in ``board["timing"]`` (printed by ``jaxgd bench``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np

import jaxgd
from jaxgd.bench import report
from jaxgd.bench.second_order import second_order_row
from jaxgd.bench.suite import Task, default_tasks, optimizer_specs, run_suite, small_tasks, tasks, tuning_path
from jaxgd.bench.tuning import Rule, learning_rates

__all__ = ["SMALL", "Meter", "bench", "select_tasks"]

SMALL = {"steps": 100, "lrs": 12, "seeds": 2, "optimizers": ("sgd", "adam")}
_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"


class Meter:
    """XLA compilations (number, seconds; ``jax.monitoring``'s backend-compile events) while entered.

    ``snap = meter.snapshot()``, then ``meter.since(snap)``: the wall time and compilations since.
    """

    def __init__(self) -> None:
        self.compiles, self.compile_seconds = 0, 0.0

    def _listen(self, event: str, duration: float, **kwargs: Any) -> None:
        if event == _COMPILE_EVENT:
            self.compiles += 1
            self.compile_seconds += duration

    def __enter__(self) -> Meter:
        jax.monitoring.register_event_duration_secs_listener(self._listen)
        return self

    def __exit__(self, *exc: Any) -> None:
        jax.monitoring.unregister_event_duration_listener(self._listen)

    def snapshot(self) -> tuple[float, int, float]:
        """The wall clock and the compilations so far, for :meth:`since`.

        Returns:
            ``(time.perf_counter(), compiles, compile_seconds)``.
        """
        return time.perf_counter(), self.compiles, self.compile_seconds

    def since(self, snap: tuple[float, int, float]) -> dict[str, float]:
        """The wall time and compilations since ``snap``.

        Args:
            snap: What :meth:`snapshot` returned.

        Returns:
            A dict of ``seconds``, ``compiles`` and ``compile_seconds``.
        """
        t, n, secs = snap
        return {
            "seconds": time.perf_counter() - t,
            "compiles": self.compiles - n,
            "compile_seconds": self.compile_seconds - secs,
        }


def select_tasks(names: Sequence[str] | None, small: bool) -> list[Task]:
    """The tasks named (from the full suite), or the small or default suite.

    Args:
        names: Task names of :func:`jaxgd.bench.suite.registry`; None: a suite.
        small: Without names, the small suite (:func:`jaxgd.bench.suite.small_tasks`) instead of the default.

    Returns:
        The tasks (:class:`jaxgd.bench.suite.Task`), in order.

    Raises:
        ValueError: If a name is not a task.
    """
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
    return report.stability_bounds(lambda x: f(x), task.x0, _x_star(f))


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
    gradient-equivalents (:mod:`jaxgd.bench.second_order`), ranked and profiled beside the tuned optimizers.
    ``small``: 100 steps, 12 rates, 2 seeds, sgd and adam on three problems. Returns the leaderboard, with
    ``board["timing"]``: wall time and XLA compilations in total, per phase and per problem.

    Args:
        out: The output folder (created if missing); tunings saved there are reused.
        optimizers: Names of :data:`jaxgd.bench.suite.OPTIMIZERS`; None: the default ones (``small``: sgd, adam).
        problems: Task names; None: the default suite (``small``: the small one).
        small: The small protocol (above).
        steps: Steps per run; None: 1000 (``small``: 100).
        rule: How each learning rate is chosen (:class:`jaxgd.bench.tuning.Rule`); None: the default rule.
        second_order: Methods of :func:`jaxgd.minimize` to run and rank; empty: none.
        figures: Draw the PNG figures.
        timing: Record each tuning's wall time per run (``Tuning.seconds``; compilation excluded).
        progress: ``progress(i, total, text)``, called before each problem's tuning and once at the end.

    Returns:
        The leaderboard (a dict, as ``leaderboard.json``), with ``board["timing"]``.

    Raises:
        ValueError: If an optimizer, problem or second-order method is unknown, or an option out of range.
    """
    out = Path(out)
    if optimizers is None and small:
        optimizers = SMALL["optimizers"]
    specs = optimizer_specs(optimizers)
    with Meter() as meter:
        start = meter.snapshot()
        tasks = select_tasks(problems, small)
        phases = {"build tasks": meter.since(start)}
        steps = (SMALL["steps"] if small else 1000) if steps is None else steps
        lrs = learning_rates(SMALL["lrs"]) if small else learning_rates()
        seeds = SMALL["seeds"] if small else 3
        done: list[dict[str, Any]] = []
        resumed = [tuning_path(out, specs, t).exists() for t in tasks]
        snap = meter.snapshot()

        def on_task(i: int, total: int, text: str) -> None:  # each task's tuning: wall time, compilations
            nonlocal snap
            if done:
                done[-1].update(meter.since(snap))
            snap = meter.snapshot()
            if i < total:
                done.append({"problem": text})
            if progress is not None:
                progress(i, total, text)

        tunings = run_suite(
            specs, tasks, steps=steps, lrs=lrs, rule=rule, seeds=seeds, out=out, timing=timing, progress=on_task
        )
        snap = meter.snapshot()
        taus = [float(t) for t in tunings[0].taus] if tunings else []
        rows = [
            second_order_row(m, t.loss, steps, taus, timing=timing)
            for t in tasks
            if isinstance(t.loss, jaxgd.Problem)
            for m in second_order
        ]
        phases["second order"] = meter.since(snap)
        snap = meter.snapshot()
        board = report.leaderboard(tunings, second_order=rows)
        board.update({"steps": steps, "seeds": seeds, "learning_rates": [float(v) for v in lrs]})
        profile = report.profiles(board)
        board["stability_bounds"] = {t.name: _bounds(t) for t in tasks} if figures else {}
        if figures:
            _figures(out, tunings, board, profile)
        phases["report and figures"] = meter.since(snap)
        runs = [
            sum(t.final_gap.size for t in tunings[i * len(specs) : (i + 1) * len(specs)]) for i in range(len(tasks))
        ]
        for d, n, old in zip(done, runs, resumed):
            d["resumed"], d["runs"] = old, 0 if old else int(n)  # runs computed here
        phases["tuning"] = {k: sum(d[k] for d in done) for k in ("seconds", "compiles", "compile_seconds", "runs")}
        board["timing"] = {"total": meter.since(start), "phases": phases, "problems": done}
    report.write(out, board, profile)
    return board


def _figures(out: Path, tunings, board, profile) -> None:
    from jaxgd import plot

    main = f"{board['main_tau']:g}"
    parts = [p for p in ("deterministic", "stochastic") if main in profile[p]]
    if parts:
        fig, (axes,) = plot.subplots(1, len(parts), size=(5.0, 3.5))
        for ax, part in zip(axes, parts):
            prof = profile[part][main]
            taus = np.asarray(prof["taus"])
            for j, o in enumerate(board["order"]):
                if o in prof:  # a solver keeps its colour in both panels
                    ax.step(taus, prof[o], where="post", label=o, color=f"C{j % 10}")
            ax.set_xlabel("performance ratio (gradient-equivalents to target / best)")
            ax.set_ylabel(f"fraction of problems, target {main}")
            ax.set_title(f"{part} problems ({len(prof['problems'])})")
            ax.legend(fontsize=7)
        plot.save(fig, out / "profile.png")
    for name in dict.fromkeys(t.problem for t in tunings):
        mine = [t for t in tunings if t.problem == name]
        plot.save(
            report.sensitivity_figure(mine, board["stability_bounds"].get(name)), out / "sensitivity" / f"{name}.png"
        )
