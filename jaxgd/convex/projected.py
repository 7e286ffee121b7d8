"""Projected methods: any step followed by the projection of the iterate onto a convex set X.

``projected(inner, P)`` turns any transform's step u_t into x_{t+1} = P_X(x_t + u_t),
returned as the update P_X(x_t + u_t) - x_t (so it needs ``params``).
``projected_gradient(eta, P)`` is projected (sub)gradient descent,
x_{t+1} = P_X(x_t - eta_t g_t), with g_t a gradient or a subgradient.

References: Goldstein (1964); Levitin & Polyak (1966); Bubeck (2015),
"Convex Optimization: Algorithms and Complexity", sections 3.1-3.2 (Theorems
3.2, 3.7, 3.9, 3.10 for its rates).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxgd import _validate
from jaxgd._core import Hyperparameter, value_at
from jaxgd._recipe import optimizer
from jaxgd.convex import projections as P

__all__ = ["ProjectedGradientState", "as_projection", "projected", "projected_gradient"]

ProjectionLike = P.Projection | Callable[[Any], Any] | str | None


def as_projection(projection: ProjectionLike) -> Callable[[Any], Any]:
    """A callable x -> P_X(x): a :class:`Projection`, any callable, a set's name (default parameters), or None (no
    projection: the identity).

    Args:
        projection: A :class:`Projection`, a callable, a set's name, or None.

    Returns:
        The callable x -> P_X(x).
    """
    if projection is None:
        return _identity
    if isinstance(projection, str):
        return P.projection(projection)
    if not callable(projection):
        raise TypeError(f"projection must be a callable x -> P(x), a set's name or None, got {projection!r}")
    return projection


def _identity(x: Any) -> Any:
    return x


def _difference(new: Any, old: Any) -> Any:
    return jax.tree.map(lambda a, b: (a - b).astype(b.dtype), new, old)


def _need_params(params: Any, who: str) -> None:
    if params is None:
        raise ValueError(f"{who} projects the iterate, so it needs params: call update(updates, state, params)")


@optimizer()
def projected(inner: optax.GradientTransformation, projection: ProjectionLike) -> optax.GradientTransformationExtraArgs:
    """Any transform followed by a projection of the iterate: x_{t+1} = P_X(x_t + u_t), u_t the inner step.

    The state is the inner transform's state. Extra arguments (``value``, ``value_fn``) are passed to ``inner``.

    Args:
        inner: Any gradient transformation.
        projection: The set: a :class:`Projection`, a callable, a set's name, or None.

    Returns:
        The optimizer (:class:`jaxgd.Optimizer`); its update needs the parameters.
    """
    if not (hasattr(inner, "init") and hasattr(inner, "update")):
        raise TypeError(f"inner must be a GradientTransformation, got {inner!r}")
    proj = as_projection(projection)
    inner = optax.with_extra_args_support(inner)

    def update_fn(updates, state, params=None, **extra_args):
        _need_params(params, "projected")
        step, state = inner.update(updates, state, params, **extra_args)
        return _difference(proj(optax.apply_updates(params, step)), params), state

    return optax.GradientTransformationExtraArgs(inner.init, update_fn)


class ProjectedGradientState(NamedTuple):
    count: jax.Array


@optimizer()
def projected_gradient(
    learning_rate: Hyperparameter, projection: ProjectionLike = None
) -> optax.GradientTransformation:
    """Projected (sub)gradient descent: x_{t+1} = P_X(x_t - eta_t g_t).

    With eta = 1/beta on a beta-smooth f: f(x_t) - f* <= beta R^2 / (2 t) (Beck & Teboulle 2009, Theorem 3.1;
    Bubeck 2015, Theorem 3.7), and ||x_t - x*||^2 <= exp(-t / kappa) R^2 when f is also alpha-strongly convex
    (Bubeck, Theorem 3.10). With a subgradient g_t and the steps of :mod:`jaxgd.convex.subgradient`, the rates of
    Bubeck's Theorems 3.2 and 3.9 hold for the averaged iterates. ``learning_rate`` may be a schedule.

    Args:
        learning_rate: eta > 0 (a float, an array or a schedule).
        projection: The set: a :class:`Projection`, a callable, a set's name, or None (plain GD).

    Returns:
        The optimizer (:class:`jaxgd.Optimizer`); its update needs the parameters.
    """
    _validate.positive("learning_rate", learning_rate)
    proj = as_projection(projection)

    def init_fn(params):
        del params
        return ProjectedGradientState(jnp.zeros([], jnp.int32))

    def update_fn(updates, state, params=None):
        _need_params(params, "projected_gradient")
        lr = value_at(learning_rate, state.count)
        x_new = proj(jax.tree.map(lambda x, g: (x - lr * g).astype(x.dtype), params, updates))
        return _difference(x_new, params), ProjectedGradientState(optax.safe_increment(state.count))

    return optax.GradientTransformation(init_fn, update_fn)
