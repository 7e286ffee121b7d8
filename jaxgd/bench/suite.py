"""The benchmark suite: which problems and optimizers, and the loop that tunes every pair.

Problems (:func:`default_tasks`): the built-in problems with a known minimum, the classic set of
:mod:`jaxgd.bench.problems`, DeepOBS-style noisy problems (a 100-D quadratic with 90 eigenvalues in
[0, 1] and 10 in [30, 60], noisy 2-D Rosenbrock and Beale, via :func:`jaxgd.stochastic.noisy_gradient`),
the finite sums of :mod:`jaxgd.stochastic.problems` with mini-batches, and the digits network
(``digits_mlp``: an MLP 64-32-10 trained on mini-batches of 32).

The learning problems (logistic regression on breast cancer, softmax regression on digits, the digits
network) are trained on a stratified 80% training split (:func:`jaxgd.nn.data.split`, seed 0, features
standardised on the training rows for breast cancer and the network) and carry ``Task.accuracy``, the
accuracy on the held-out 20%, evaluated at every run's final parameters inside the tuning's compiled call.
f* of the linear models is that of the training split (Newton's method in float64); the network's is the
best value seen.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import Partial

import jaxgd
from jaxgd.bench import problems as classic
from jaxgd.bench.hypergradient_descent import adam_hd, sgd_hd
from jaxgd.bench.tuning import TAUS, OptimizerSpec, Rule, Tuning, learning_rates, tune_many

__all__ = [
    "OPTIMIZERS",
    "Task",
    "default_tasks",
    "digits_mlp",
    "optimizer_specs",
    "registry",
    "run_suite",
    "small_tasks",
    "tasks",
    "tuning_path",
]


class Task(NamedTuple):
    """A problem of the suite: its loss (a Problem, a stochastic loss or a finite sum), start, group, batch size,
    and for learning problems ``accuracy``: params -> accuracy on the held-out test split (a jittable pytree)."""

    name: str
    loss: Any
    x0: Any
    group: str
    batch_size: int | None = None
    accuracy: Callable[[Any], jax.Array] | None = None


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
    """The specs named (default: sgd, momentum 0.9, adam, SGD-HD with beta = 1e-3).

    Args:
        names: Keys of :data:`OPTIMIZERS`; None: the default four.

    Returns:
        The specs (:class:`jaxgd.bench.tuning.OptimizerSpec`), in order.

    Raises:
        ValueError: If a name is not in :data:`OPTIMIZERS`.
    """
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


TEST_FRACTION = 0.2


def _with_bias(x: Any) -> np.ndarray:
    x = np.asarray(x)
    return np.hstack([x, np.ones((x.shape[0], 1), x.dtype)])


def _logistic_accuracy(features: jax.Array, labels: jax.Array, w: jax.Array) -> jax.Array:
    """Fraction of rows with class 1 predicted (z^T w > 0) exactly where the label is 1."""
    return jnp.mean(((features @ w) > 0) == (labels > 0))


def _softmax_accuracy(features: jax.Array, labels: jax.Array, w: jax.Array) -> jax.Array:
    return jaxgd.nn.accuracy(features @ w, labels)


def _mlp_accuracy(model: Any, features: jax.Array, labels: jax.Array, params: Any) -> jax.Array:
    return jaxgd.nn.accuracy(model.apply(params, features), labels)


def _logistic_task(batch_size: int) -> Task:
    """Logistic regression (l2 = 1e-2) on the breast-cancer training split, accuracy on its test split."""
    d = jaxgd.nn.load("breast_cancer", seed=0, val_fraction=0.0, test_fraction=TEST_FRACTION)
    fs = jaxgd.stochastic.logistic_regression(1e-2, _with_bias(d.train.x), np.asarray(d.train.y))
    acc = Partial(_logistic_accuracy, jnp.asarray(_with_bias(d.test.x)), d.test.y)
    return Task(f"{fs.name}_b{batch_size}", fs, fs.x0, "finite_sum", batch_size, acc)


def _softmax_task(batch_size: int) -> Task:
    """Softmax regression (l2 = 1e-3) on the digits training split (pixels / 16 and a bias), test accuracy."""
    from sklearn.datasets import load_digits  # a dependency; it ships the data

    x, y = load_digits(return_X_y=True)
    d = jaxgd.nn.data.split(_with_bias(x / 16.0), y, seed=0, val_fraction=0.0, test_fraction=TEST_FRACTION,
                            standardize=False)  # fmt: skip
    fs = jaxgd.stochastic.softmax_regression(1e-3, np.asarray(d.train.x), np.asarray(d.train.y))
    acc = Partial(_softmax_accuracy, d.test.x, d.test.y)
    return Task(f"{fs.name}_b{batch_size}", fs, fs.x0, "finite_sum", batch_size, acc)


def _mlp_loss(params: Any, batch: dict, model: Any) -> jax.Array:
    return jaxgd.nn.softmax_cross_entropy(model.apply(params, batch["x"]), batch["y"])


def digits_mlp(hidden: int = 32, batch_size: int = 32) -> Task:
    """The digits network: an MLP (64, hidden, 10), ReLU, cross-entropy on the training split, mini-batches.

    Args:
        hidden: The width of the hidden layer.
        batch_size: The mini-batch size.

    Returns:
        The task (:class:`Task`), with the test split's ``accuracy``.
    """
    d = jaxgd.nn.load("digits", seed=0, val_fraction=0.0, test_fraction=TEST_FRACTION)
    model = jaxgd.nn.MLP((d.num_features, hidden, d.num_classes))
    params = model.init(jax.random.PRNGKey(0))
    fs = jaxgd.stochastic.FiniteSum(
        _mlp_loss, {"x": d.train.x, "y": d.train.y}, consts={"model": model}, x0=params, name="digits_mlp"
    )
    return Task("digits_mlp", fs, params, "network", batch_size, Partial(_mlp_accuracy, model, d.test.x, d.test.y))


def _builtin(name: str) -> Task:
    p = jaxgd.problems.get(name)
    if p.minimum is None:
        raise ValueError(f"problem {name!r} has no known minimum, so no target f - f* can be set")
    return _problem_task(p, "builtin")


def registry() -> dict[str, Callable[[], Task]]:
    """Every task by name, built when called: built-in problems, the classic set (by key), noisy, finite sums.

    Returns:
        A dict from each task's name to a function of no arguments that builds the :class:`Task`.
    """
    s = jaxgd.stochastic
    reg: dict[str, Callable[[], Task]] = {n: functools.partial(_builtin, n) for n in jaxgd.problems.REGISTRY}
    reg.update({n: (lambda f=f: _problem_task(f(), "classic")) for n, f in classic.CLASSIC.items()})
    reg.update(
        {
            "noisy_quadratic100": lambda: _noisy("noisy_quadratic100", deepobs_quadratic(), 1.0),
            "noisy_rosenbrock": lambda: _noisy("noisy_rosenbrock", jaxgd.problems.rosenbrock(), 0.1),
            "noisy_beale": lambda: _noisy("noisy_beale", jaxgd.problems.beale(), 0.1),
            "least_squares_b32": lambda: _finite_sum(s.least_squares, 32),
            "logistic_breast_cancer_b32": lambda: _logistic_task(32),
            "ridge_b32": lambda: _finite_sum(s.ridge, 32),
            "softmax_digits_b64": lambda: _softmax_task(64),
            "digits_mlp": digits_mlp,
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
    "softmax_digits_b64",
    "digits_mlp",
)
SMALL_TASKS = ("ravine10", "mgh_beale", "noisy_quadratic100")


def tasks(names: Sequence[str]) -> list[Task]:
    """The tasks named (keys of :func:`registry`).

    Args:
        names: Task names.

    Returns:
        The tasks (:class:`Task`), in order.

    Raises:
        ValueError: If a name is not a task.
    """
    reg = registry()
    unknown = [n for n in names if n not in reg]
    if unknown:
        raise ValueError(f"unknown problems {unknown}; choose from {sorted(reg)}")
    return [reg[n]() for n in names]


def default_tasks() -> list[Task]:
    """The classic set, six built-in problems, the three noisy problems, least squares, logistic and softmax
    regression, and the digits network: 34 problems.

    Returns:
        The tasks (:class:`Task`).
    """
    return tasks(DEFAULT_TASKS)


def small_tasks() -> list[Task]:
    """Three quick tasks (ravine10, MGH Beale, the noisy 100-D quadratic): the tests' and --small suite.

    Returns:
        The tasks (:class:`Task`).
    """
    return tasks(SMALL_TASKS)


def tuning_path(out: str | os.PathLike, specs: Sequence[OptimizerSpec], task: Task) -> Path:
    """The file of one task's tuning under ``out``: ``out/tunings/PROBLEM__OPT1+OPT2+....npz``.

    Args:
        out: The benchmark's folder.
        specs: The optimizers tuned together.
        task: The task.

    Returns:
        The file's path.
    """
    return Path(out) / "tunings" / f"{task.name}__{'+'.join(s.name for s in specs)}.npz"


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
    """Tune every optimizer on every task: one compiled call per task for all the optimizers
    (:func:`~jaxgd.bench.tuning.tune_many`), each saved to ``out/tunings`` and resumed.
    ``progress(i, n, text)`` is called before task i of n and once with i = n at the end.

    Args:
        specs: The optimizers (:func:`optimizer_specs`).
        tasks: The tasks (:func:`tasks`).
        steps: Steps per run.
        lrs: The learning rates; None: :func:`~jaxgd.bench.tuning.learning_rates`.
        taus: The targets tau of steps to f - f* <= tau (f(x_0) - f*).
        rule: How each learning rate is chosen; None: the default :class:`~jaxgd.bench.tuning.Rule`.
        seeds: Seeds per configuration on stochastic tasks.
        out: The benchmark's folder; None: nothing saved.
        timing: Record each tuning's wall time per run.
        progress: ``progress(i, n, text)``, as above; None: silent.

    Returns:
        The tunings (:class:`~jaxgd.bench.tuning.Tuning`), one per (task, optimizer), task by task.

    Raises:
        ValueError: As :func:`~jaxgd.bench.tuning.tune_many`.
    """
    lrs = learning_rates() if lrs is None else lrs
    results = []
    for i, task in enumerate(tasks):
        if progress is not None:
            progress(i, len(tasks), task.name)
        results += tune_many(
            specs,
            task.loss,
            steps,
            lrs=lrs,
            taus=taus,
            rule=rule,
            seeds=seeds,
            batch_size=task.batch_size,
            x0=task.x0,
            name=task.name,
            out=None if out is None else tuning_path(out, specs, task),
            timing=timing,
            accuracy=task.accuracy,
        )
    if progress is not None:
        progress(len(tasks), len(tasks), "done")
    return results
