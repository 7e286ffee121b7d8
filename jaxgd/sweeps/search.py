"""Searches built on sweeps: :func:`refine` and :func:`coarse_to_fine` narrow a space around its best
configurations; :func:`lr_range_test` runs many constant learning rates side by side."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np
import optax

from jaxgd import _validate
from jaxgd.sweeps.driver import sweep
from jaxgd.sweeps.result import SweepResult
from jaxgd.sweeps.space import Sampler, Space, grid, log_uniform, random_search, uniform

__all__ = ["LRRangeTest", "coarse_to_fine", "lr_range_test", "refine"]


def refine(
    result: SweepResult,
    num: int | None = None,
    *,
    key: jax.Array | None = None,
    keep: int | None = None,
    by: str = "final_loss",
    reduce: str = "max",
) -> Space:
    """A narrower space around the ``keep`` best configurations of ``result``.

    For each hyperparameter the new range spans the kept configurations' values,
    widened to the neighbouring values the sweep tried (a grid: the best value's
    two grid neighbours; a random search, default ``keep`` = 10% of the runs:
    the next value tried outside their range). Then ``num`` points per axis on the
    axis's scale (log or linear): a grid, or with ``key`` a random search of ``num``
    configurations. Default ``num``: as many values per axis as before (grid) or
    as many configurations (random).

    Args:
        result: A finished (or partial) sweep's result.
        num: Points per axis (a grid) or configurations (random); None: as before.
        key: A PRNG key for a random search; None: a grid.
        keep: How many of the best configurations the new ranges span; default 1 for a grid, else 10% of the
            configurations (at least 2).
        by: The summary ranked (see :meth:`SweepResult.config_scores`).
        reduce: Over problems and starts: ``"max"`` or ``"mean"``.

    Returns:
        The narrower space (:class:`Space`), each axis on its old scale.

    Raises:
        ValueError: If no configuration scores finitely, or keep is not a positive integer.
    """
    scores = result.config_scores(by, reduce)
    if not np.any(np.isfinite(scores)):
        raise ValueError("refine: no configuration has a finite score to refine around")
    kind = result.info.get("kind", "table")
    if keep is None:
        keep = 1 if kind == "grid" else max(2, math.ceil(0.1 * result.num_configs))
    _validate.positive_int("keep", keep)
    order = np.argsort(scores, kind="stable")[:keep]
    order = order[np.isfinite(scores[order])]
    step = result.runs_per_config
    ranges: dict[str, tuple[float, float]] = {}
    counts: dict[str, int] = {}
    for name, col in result.hyperparams.items():
        values = col[::step]
        tried = np.unique(values)
        counts[name] = len(tried)
        lo, hi = values[order].min(), values[order].max()
        below, above = tried[tried < lo], tried[tried > hi]
        ranges[name] = (float(below.max() if below.size else lo), float(above.min() if above.size else hi))
    scales = result.info.get("scales", {})
    if key is not None:
        n = num if num is not None else result.num_configs
        samplers: dict[str, Sampler | float] = {}
        for name, (lo, hi) in ranges.items():
            if lo == hi:
                samplers[name] = lo
            elif scales.get(name) == "log" and lo > 0:
                samplers[name] = log_uniform(lo, hi)
            else:
                samplers[name] = uniform(lo, hi)
        return random_search(key, n, **samplers)
    axes = {}
    for name, (lo, hi) in ranges.items():
        n = num if num is not None else counts[name]
        if lo == hi:
            axes[name] = [lo]
        elif scales.get(name) == "log" and lo > 0:
            axes[name] = np.geomspace(lo, hi, n)
        else:
            axes[name] = np.linspace(lo, hi, n)
    space = grid(**axes)
    space.scales = {k: scales.get(k, space.scales[k]) for k in space.names}
    return space


def coarse_to_fine(
    make_optimizer: Callable[..., optax.GradientTransformation],
    problem: Any,
    space: Space | Mapping[str, Any],
    steps: int,
    *,
    rounds: int = 3,
    num: int | None = None,
    key: jax.Array | None = None,
    by: str = "final_loss",
    **sweep_kwargs: Any,
) -> list[SweepResult]:
    """``rounds`` sweeps, each over :func:`refine` of the one before; returns every round's result.

    With ``out="c.npz"`` round r is saved in its own folder ``c.round<r>.npz`` (each round is
    another sweep), so a rerun resumes every round.

    Args:
        make_optimizer: As in :func:`jaxgd.sweep`.
        problem: As in :func:`jaxgd.sweep`.
        space: The first round's space.
        steps: As in :func:`jaxgd.sweep`.
        rounds: The number of sweeps, a positive integer.
        num: As in :func:`refine`.
        key: A PRNG key: later rounds are random searches (round r's key folded in); None: grids.
        by: The summary each round is refined by.
        **sweep_kwargs: The other arguments of :func:`jaxgd.sweep` (``out`` as above).

    Returns:
        Every round's result (:class:`SweepResult`), in order.

    Raises:
        ValueError: If rounds is not a positive integer, or as :func:`jaxgd.sweep` and :func:`refine`.
    """
    _validate.positive_int("rounds", rounds)
    out = sweep_kwargs.pop("out", None)

    def run(space: Space | Mapping[str, Any], r: int) -> SweepResult:
        return sweep(make_optimizer, problem, space, steps, out=round_path(out, r), **sweep_kwargs)

    results = [run(space, 0)]
    for r in range(1, rounds):
        sub = None if key is None else jax.random.fold_in(key, r)
        results.append(run(refine(results[-1], num, key=sub, by=by), r))
    return results


def round_path(out: str | os.PathLike | None, r: int) -> Path | None:
    """Round ``r``'s ``out`` in :func:`coarse_to_fine`: ``c.npz`` -> ``c.round<r>.npz``."""
    if out is None:
        return None
    path = Path(out)
    if not path.name:
        raise ValueError("out is an empty path: give the folder the sweeps should be saved in, or out=None")
    return path.with_name(f"{path.stem}.round{r}{path.suffix}")


# --------------------------------------------------------------------------- learning-rate range test


class LRRangeTest(NamedTuple):
    """A learning-rate range test.

    Attributes:
      learning_rates: (n,) the constant rates tried, increasing.
      final_loss: (n,) f(x_T) after the budget, averaged over problems and starts; +inf where any run diverged.
      diverge_step: (n,) the earliest divergence step over problems and starts, -1 if none.
      suggested: the rate with the lowest final loss.
      largest_stable: the largest rate none of whose runs diverged (an estimate of the stability edge,
        2 / lambda_max for GD on a quadratic); NaN if every rate diverged.
      result: the underlying :class:`SweepResult`.
    """

    learning_rates: np.ndarray
    final_loss: np.ndarray
    diverge_step: np.ndarray
    suggested: float
    largest_stable: float
    result: SweepResult


def lr_range_test(
    make_optimizer: Callable[..., optax.GradientTransformation],
    problem: Any,
    steps: int = 100,
    *,
    learning_rates: Sequence[float] | None = None,
    low: float = 1e-6,
    high: float = 10.0,
    num: int = 64,
    **sweep_kwargs: Any,
) -> LRRangeTest:
    """Run ``num`` constant learning rates, log-spaced in [low, high], in parallel for ``steps`` steps.

    Unlike fastai's single run with an exponentially growing rate (Smith 2017),
    each rate gets its own run from the same start, so the loss after the
    budget is a function of the rate alone: no mixing of early and late steps.
    ``make_optimizer`` takes ``learning_rate`` (e.g. ``jaxgd.sgd``, or
    ``lambda learning_rate: jaxgd.momentum(learning_rate, 0.9)``). The
    suggestion is the rate with the lowest final loss; on a quadratic with GD it
    approaches eta* = 2 / (lambda_max + lambda_min) as ``steps`` grows, below the
    stability edge 2 / lambda_max (see :mod:`jaxgd.analysis`).

    Args:
        make_optimizer: ``make_optimizer(learning_rate=...)`` -> an optax transformation.
        problem: As in :func:`jaxgd.sweep`.
        steps: The updates of every run.
        learning_rates: The rates to try; None: ``num`` log-spaced in [low, high].
        low: The least rate, > 0.
        high: The greatest rate, > low.
        num: The number of rates, a positive integer.
        **sweep_kwargs: The other arguments of :func:`jaxgd.sweep`.

    Returns:
        The test (:class:`LRRangeTest`): the rates, their final losses and divergence, and the suggestion.

    Raises:
        ValueError: If low, high or num is out of range, or as :func:`jaxgd.sweep`.
    """
    if learning_rates is None:
        lrs = log_uniform(low, high)  # validates the bounds
        _validate.positive_int("num", num)
        learning_rates = np.geomspace(lrs.low, lrs.high, num)
    lrs_arr = np.sort(np.asarray(learning_rates, float))
    res = sweep(make_optimizer, problem, {"learning_rate": lrs_arr}, steps, **sweep_kwargs)
    per = res.runs_per_config
    diverged = res.diverged.reshape(-1, per)
    final = res.final_loss.reshape(-1, per).astype(float).mean(1)
    final[diverged.any(1)] = np.inf
    dstep = np.where(diverged, res.diverge_step.reshape(-1, per), np.iinfo(np.int32).max).min(1)
    dstep = np.where(diverged.any(1), dstep, -1).astype(np.int32)
    lrs_used = res.hyperparams["learning_rate"][::per].astype(float)
    suggested = float(lrs_used[np.argmin(final)]) if np.any(np.isfinite(final)) else float("nan")
    stable = ~diverged.any(1)
    largest = float(lrs_used[stable].max()) if stable.any() else float("nan")
    return LRRangeTest(lrs_used, final, dstep, suggested, largest, res)
