"""Iterate averaging as wrappers around any gradient transformation.

Each wrapper passes the updates of ``inner`` through unchanged (the iterates x_t are
those of ``inner``) and keeps an average of the iterates in its state,
:class:`AveragingState`; read it with :func:`averaged_params` (``jaxgd.stochastic.run``
reports f at the average beside f at the last iterate). x_0 is the start and x_s the
iterate after s updates. Needs ``params`` in ``update``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxgd import _validate
from jaxgd._core import Hyperparameter, real_dtype, value_at
from jaxgd._recipe import optimizer

__all__ = ["AveragingState", "averaged_params", "ema_averaging", "polyak_averaging", "tail_averaging"]


class AveragingState(NamedTuple):
    """The inner transform's state, the number of updates t, and the average of the iterates."""

    inner: optax.OptState
    count: jax.Array
    average: optax.Params


def _averaging(inner: optax.GradientTransformation, weight) -> optax.GradientTransformationExtraArgs:
    """``average <- average + w_t (x_t - average)`` after each update, w_t = ``weight(t)`` (t >= 1)."""
    inner = optax.with_extra_args_support(inner)

    def init_fn(params):
        return AveragingState(inner.init(params), jnp.zeros([], jnp.int32), params)

    def update_fn(updates, state, params=None, **extra_args):
        if params is None:
            raise ValueError("iterate averaging needs params in update()")
        updates, inner_state = inner.update(updates, state.inner, params, **extra_args)
        count = optax.safe_increment(state.count)
        w = weight(count, real_dtype(params))
        new = optax.apply_updates(params, updates)
        average = jax.tree.map(lambda a, x: (a + w * (x - a)).astype(a.dtype), state.average, new)
        return updates, AveragingState(inner_state, count, average)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@optimizer()
def tail_averaging(inner: optax.GradientTransformation, start: Hyperparameter) -> optax.GradientTransformationExtraArgs:
    """Tail (suffix) averaging: the mean of the iterates x_s with s >= ``start``; before that, the last iterate.

    x~_t = (1 / (t - k + 1)) sum_{s=k}^{t} x_s for t >= k = ``start``, x~_t = x_t for t < k.
    Averaging only the last part of the run removes the log factor of uniform averaging on
    strongly convex problems. References: Rakhlin, Shamir & Sridharan (2012), "Making gradient
    descent optimal for strongly convex stochastic optimization"; Jain et al. (2018).

    Args:
        inner: Any gradient transformation.
        start: k, the first step averaged.

    Returns:
        The optimizer (:class:`jaxgd.Optimizer`): ``inner``'s updates, the average in its state.
    """
    _validate.nonnegative("start", start)

    def weight(count, dtype):
        k = jnp.asarray(value_at(start, count), dtype)
        c = count.astype(dtype)
        return jnp.where(c >= k, 1.0 / jnp.maximum(c - k + 1.0, 1.0), 1.0).astype(dtype)

    return _averaging(inner, weight)


@optimizer()
def polyak_averaging(inner: optax.GradientTransformation) -> optax.GradientTransformationExtraArgs:
    """Polyak-Ruppert averaging: x~_t = (1/t) sum_{s=1}^{t} x_s, the uniform mean of the iterates after each update.

    The average of the SGD theorem (Bubeck 2015, Thm 6.3: the mean of x_2 .. x_{t+1} in its
    1-based count). References: Ruppert (1988); Polyak & Juditsky (1992), "Acceleration of
    stochastic approximation by averaging".

    Args:
        inner: Any gradient transformation.

    Returns:
        The optimizer (:class:`jaxgd.Optimizer`): ``inner``'s updates, the average in its state.
    """

    def weight(count, dtype):
        return (1.0 / count.astype(dtype)).astype(dtype)

    return _averaging(inner, weight)


@optimizer()
def ema_averaging(
    inner: optax.GradientTransformation, decay: Hyperparameter = 0.999
) -> optax.GradientTransformationExtraArgs:
    """Exponential moving average of the iterates: x~_0 = x_0, x~_t = d x~_{t-1} + (1 - d) x_t, d = ``decay``.

    Weighs about the last 1 / (1 - d) iterates. As ``optax.ema`` does for updates, applied to
    the parameters (Polyak & Juditsky 1992; the weight EMA of Szegedy et al. 2016).

    Args:
        inner: Any gradient transformation.
        decay: d in [0, 1).

    Returns:
        The optimizer (:class:`jaxgd.Optimizer`): ``inner``'s updates, the average in its state.
    """
    _validate.decay("decay", decay)

    def weight(count, dtype):
        return (1.0 - jnp.asarray(value_at(decay, count), dtype)).astype(dtype)

    return _averaging(inner, weight)


def _find(state: Any) -> AveragingState | None:
    nodes = jax.tree.leaves(state, is_leaf=lambda s: isinstance(s, AveragingState))
    found = [s for s in nodes if isinstance(s, AveragingState)]
    return found[0] if found else None


def averaged_params(state: Any) -> Any:
    """The averaged iterate kept by an averaging wrapper in an optimizer state (the outermost one), or None.

    Args:
        state: An optimizer state.

    Returns:
        The averaged iterate (a pytree like the params), or None.
    """
    found = _find(state)
    return None if found is None else found.average
