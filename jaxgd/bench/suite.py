"""The benchmark suite: which problems and optimizers, and the loop that tunes every pair.

Problems (:func:`default_tasks`): the built-in problems with a known minimum, the classic set of
:mod:`jaxgd.bench.problems`, DeepOBS-style noisy problems (a 100-D quadratic with 90 eigenvalues in
[0, 1] and 10 in [30, 60], noisy 2-D Rosenbrock and Beale, via :func:`jaxgd.stochastic.noisy_gradient`)
and the finite sums of :mod:`jaxgd.stochastic.problems` with mini-batches. The digits network is left out
until mini-batch training of :mod:`jaxgd.nn` runs inside one compiled loop.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np

import jaxgd
from jaxgd.bench import problems as classic
from jaxgd.bench.hypergradient_descent import adam_hd, sgd_hd
from jaxgd.bench.tuning import TAUS, OptimizerSpec, Rule, Tuning, learning_rates, tune

__all__ = ["OPTIMIZERS", "Task", "default_tasks", "optimizer_specs", "registry", "run_suite", "small_tasks", "tasks"]


class Task(NamedTuple):
    """A problem of the suite: its loss (a Problem, a stochastic loss or a finite sum), start, group, batch size."""

    name: str
    loss: Any
    x0: Any
    group: str
    batch_size: int | None = None


OPTIMIZERS: dict[str, OptimizerSpec] = {
    "sgd": OptimizerSpec("sgd", jaxgd.sgd),
    "momentum": OptimizerSpec("momentum", lambda learning_rate: jaxgd.momentum(learning_rate, 0.9)),
    "nesterov": OptimizerSpec("nesterov", lambda learning_rate: jaxgd.nesterov(learning_rate, 0.9)),
    "adam": OptimizerSpec("adam", jaxgd.adam),
    "rmsprop": OptimizerSpec("rmsprop", jaxgd.rmsprop),
    "adagrad": OptimizerSpec("adagrad", jaxgd.adagrad),
    "sgd_hd": OptimizerSpec("sgd_hd", lambda learning_rate: sgd_hd(learning_rate, 1e-3)),
    "adam_hd": OptimizerSpec("adam_hd", lambda learning_rate: adam_hd(learning_rate, 1e-7)),
    "momentum_tuned": OptimizerSpec("momentum_tuned", jaxgd.momentum, {"momentum": (0.5, 0.9, 0.99)}),
}
DEFAULT_OPTIMIZERS = ("sgd", "momentum", "adam", "sgd_hd")
DEFAULT_BUILTIN = ("ravine50", "quadratic10", "rotated_quadratic10", "rosenbrock", "beale", "logistic_breast_cancer")


def optimizer_specs(names: Sequence[str] | None = None) -> list[OptimizerSpec]:
    """The specs named (default: sgd, momentum 0.9, adam, SGD-HD with beta = 1e-3)."""
    names = DEFAULT_OPTIMIZERS if names is None else names
    unknown = [n for n in names if n not in OPTIMIZERS]
    if unknown:
        raise ValueError(f"unknown optimizers {unknown}; choose from {sorted(OPTIMIZERS)}")
    return [OPTIMIZERS[n] for n in names]


def _problem_task(p: jaxgd.Problem, group: str) -> Task:
    return Task(p.name, p, p.x0, group)


def _noisy(name: str, p: jaxgd.Problem, sigma: float) -> Task:
    return Task(name, jaxgd.stochastic.noisy_gradient(p, sigma), p.x0, "noisy")


def deepobs_quadratic() -> jaxgd.Problem:
    """DeepOBS's quadratic_deep without its noise: 1/2 x^T A x, A = Q diag(90 in [0, 1], 10 in [30, 60]) Q^T."""
    rng = np.random.default_rng(42)
    eig = np.concatenate([rng.uniform(0.0, 1.0, 90), rng.uniform(30.0, 60.0, 10)])
    return jaxgd.problems.general_quadratic(eig, key=jax.random.key(42), name="quadratic100")


def _finite_sum(make: Callable, batch_size: int) -> Task:
    fs = make()
    return Task(f"{fs.name}_b{batch_size}", fs, fs.x0, "finite_sum", batch_size)


def _builtin(name: str) -> Task:
    p = jaxgd.problems.get(name)
    if p.minimum is None:
        raise ValueError(f"problem {name!r} has no known minimum, so no target f - f* can be set")
    return _problem_task(p, "builtin")


def registry() -> dict[str, Callable[[], Task]]:
    """Every task by name, built when called: built-in problems, the classic set (by key), noisy, finite sums."""
    s = jaxgd.stochastic
    reg: dict[str, Callable[[], Task]] = {n: functools.partial(_builtin, n) for n in jaxgd.problems.REGISTRY}
    reg.update({n: (lambda f=f: _problem_task(f(), "classic")) for n, f in classic.CLASSIC.items()})
    reg.update(
        {
            "noisy_quadratic100": lambda: _noisy("noisy_quadratic100", deepobs_quadratic(), 1.0),
            "noisy_rosenbrock": lambda: _noisy("noisy_rosenbrock", jaxgd.problems.rosenbrock(), 0.1),
            "noisy_beale": lambda: _noisy("noisy_beale", jaxgd.problems.beale(), 0.1),
            "least_squares_b32": lambda: _finite_sum(s.least_squares, 32),
            "logistic_breast_cancer_b32": lambda: _finite_sum(s.logistic_regression, 32),
            "ridge_b32": lambda: _finite_sum(s.ridge, 32),
            "softmax_digits_b64": lambda: _finite_sum(s.softmax_regression, 64),
        }
    )
    return reg


DEFAULT_TASKS = (
    *DEFAULT_BUILTIN,
    *classic.CLASSIC,
    "noisy_quadratic100",
    "noisy_rosenbrock",
    "noisy_beale",
    "least_squares_b32",
    "logistic_breast_cancer_b32",
)
SMALL_TASKS = ("ravine10", "mgh_beale", "noisy_quadratic100")


def tasks(names: Sequence[str]) -> list[Task]:
    """The tasks named (keys of :func:`registry`)."""
    reg = registry()
    unknown = [n for n in names if n not in reg]
    if unknown:
        raise ValueError(f"unknown problems {unknown}; choose from {sorted(reg)}")
    return [reg[n]() for n in names]


def default_tasks() -> list[Task]:
    """The classic set, six built-in problems, the three noisy problems, least squares and logistic regression."""
    return tasks(DEFAULT_TASKS)


def small_tasks() -> list[Task]:
    """Three quick tasks (ravine10, MGH Beale, the noisy 100-D quadratic): the tests' and --small suite."""
    return tasks(SMALL_TASKS)


def run_suite(
    specs: Sequence[OptimizerSpec],
    tasks: Sequence[Task],
    *,
    steps: int = 1000,
    lrs: Sequence[float] | None = None,
    taus: Sequence[float] = TAUS,
    rule: Rule | None = None,
    seeds: int = 3,
    out: str | os.PathLike | None = None,
    timing: bool = True,
    progress: Callable[[int, int, str], None] | None = None,
) -> list[Tuning]:
    """Tune every optimizer on every task: one compiled call per pair, each saved to ``out/tunings`` and resumed."""
    lrs = learning_rates() if lrs is None else lrs
    results = []
    total = len(specs) * len(tasks)
    for i, (task, spec) in enumerate((t, s) for t in tasks for s in specs):
        if progress is not None:
            progress(i, total, f"{spec.name} on {task.name}")
        path = None if out is None else Path(out) / "tunings" / f"{spec.name}__{task.name}.npz"
        results.append(
            tune(
                spec,
                task.loss,
                steps,
                lrs=lrs,
                taus=taus,
                rule=rule,
                seeds=seeds,
                batch_size=task.batch_size,
                x0=task.x0,
                name=task.name,
                out=path,
                timing=timing,
            )
        )
    if progress is not None:
        progress(total, total, "done")
    return results
