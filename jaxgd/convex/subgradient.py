"""The subgradient method for non-smooth Lipschitz f: its step sizes and the iterate averages its rates are for.

The method is :func:`jaxgd.convex.projected_gradient` fed subgradients,
x_{s+1} = P_X(x_s - eta_s g_s) with g_s in the subdifferential of f at x_s
(``jax.grad`` of a max of affine functions or of a norm returns one). Its rates
hold for averages of x_1, ..., x_t (the points where subgradients were taken), not
for the last iterate:

* L-Lipschitz f, ||x_1 - x*|| <= R, eta = R / (L sqrt(t)) for a horizon t: the
  uniform average has f - f* <= R L / sqrt(t) (Bubeck 2015, Theorem 3.2);
* alpha-strongly convex f, eta_s = 2 / (alpha (s + 1)): the average weighted by
  s has f - f* <= 2 L^2 / (alpha (t + 1)) (Bubeck 2015, Theorem 3.9; Lacoste-Julien,
  Schmidt & Bach 2012).

Step sizes here are :class:`StepSize` schedules (pytrees, so ``jit`` traces their
constants), read at the update count s - 1 = 0, 1, ...
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxgd import _validate
from jaxgd._core import real_dtype
from jaxgd._recipe import optimizer

__all__ = [
    "AveragedState",
    "StepSize",
    "averaged",
    "iterate_average",
    "lipschitz_step",
    "strongly_convex_step",
]

Weighting = Literal["uniform", "linear"]


@functools.partial(jax.tree_util.register_dataclass, data_fields=["scale", "power", "offset"], meta_fields=[])
@dataclasses.dataclass(frozen=True, eq=False)
class StepSize:
    """The schedule eta(count) = scale / (count + offset)^power, a pytree of its three numbers.

    Args:
        scale: The numerator.
        power: The exponent.
        offset: Added to the count.
    """

    scale: Any
    power: Any
    offset: Any

    def __call__(self, count: jax.typing.ArrayLike) -> jax.Array:
        c = jnp.asarray(count, jnp.result_type(float))
        return self.scale / (c + self.offset) ** self.power


def lipschitz_step(radius: Any, lipschitz: Any, horizon: int | None = None) -> StepSize:
    """eta = R / (L sqrt(horizon)), constant (Bubeck, Theorem 3.2), or eta_s = R / (L sqrt(s)) when ``horizon`` is
    None (any-time; then sum eta_s^2 diverges like log t).

    Args:
        radius: R = ||x_1 - x*||.
        lipschitz: L.
        horizon: The number of steps t (None: the any-time steps).

    Returns:
        The step-size schedule (:class:`StepSize`).
    """
    _validate.positive("radius", radius)
    _validate.positive("lipschitz", lipschitz)
    if horizon is None:
        return StepSize(radius / lipschitz, 0.5, 1.0)
    _validate.positive_int("horizon", horizon)
    return StepSize(radius / (lipschitz * horizon**0.5), 0.0, 1.0)


def strongly_convex_step(alpha: Any) -> StepSize:
    """eta_s = 2 / (alpha (s + 1)) for s = 1, 2, ... (Bubeck, Theorem 3.9): sum eta = inf, sum eta^2 < inf.

    Args:
        alpha: The strong convexity constant.

    Returns:
        The step-size schedule (:class:`StepSize`).
    """
    _validate.positive("alpha", alpha)
    return StepSize(2.0 / alpha, 1.0, 2.0)


def _weight(count: jax.Array, weighting: str, dtype: Any) -> jax.Array:
    """The weight of x_s in the running average after s = count + 1 points: 1/s, or 2/(s + 1) for weights s."""
    s = (count + 1).astype(dtype)
    return 1 / s if weighting == "uniform" else 2 / (s + 1)


class AveragedState(NamedTuple):
    """count; average: the (weighted) average of the points x_1..x_s at which updates were computed; inner."""

    count: jax.Array
    average: Any
    inner: Any


@optimizer(static_argnames=("weighting",))
def averaged(
    inner: optax.GradientTransformation, weighting: Weighting = "uniform"
) -> optax.GradientTransformationExtraArgs:
    """``inner`` unchanged, keeping in its state the average of the points the updates were computed at:
    x_bar_s = x_bar_{s-1} + w_s (x_s - x_bar_{s-1}), w_s = 1/s (``"uniform"``) or 2/(s + 1) (``"linear"``: weights
    proportional to s). Needs ``params``.

    Args:
        inner: Any gradient transformation.
        weighting: ``"uniform"`` or ``"linear"``.

    Returns:
        The optimizer (:class:`jaxgd.Optimizer`); its update needs the parameters.
    """
    _validate.one_of("weighting", weighting, ("uniform", "linear"))
    inner = optax.with_extra_args_support(inner)

    def init_fn(params):
        return AveragedState(jnp.zeros([], jnp.int32), params, inner.init(params))

    def update_fn(updates, state, params=None, **extra_args):
        if params is None:
            raise ValueError("averaged needs params: call update(updates, state, params)")
        w = _weight(state.count, weighting, real_dtype(params))
        avg = jax.tree.map(lambda a, x: (a + w * (x - a)).astype(a.dtype), state.average, params)
        updates, inner_state = inner.update(updates, state.inner, params, **extra_args)
        return updates, AveragedState(optax.safe_increment(state.count), avg, inner_state)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def iterate_average(xs: Any, weighting: Weighting = "uniform") -> Any:
    """Running averages of a history x_1..x_T (leading axis T): row s-1 is the average of x_1..x_s, uniform or with
    weights proportional to s (``"linear"``). ``xs`` may be a pytree; ``jit``/``vmap``-able.

    Args:
        xs: The history, a pytree whose leaves have a leading axis T.
        weighting: ``"uniform"`` or ``"linear"``.

    Returns:
        The running averages, like xs.
    """
    _validate.one_of("weighting", weighting, ("uniform", "linear"))

    def avg(x):
        s = jnp.arange(1, x.shape[0] + 1, dtype=x.dtype).reshape(-1, *([1] * (x.ndim - 1)))
        if weighting == "uniform":
            return jnp.cumsum(x, axis=0) / s
        return jnp.cumsum(s * x, axis=0) / (s * (s + 1) / 2)

    return jax.tree.map(avg, xs)
