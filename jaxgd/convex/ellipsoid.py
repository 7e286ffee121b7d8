"""The ellipsoid method for non-smooth convex f, optionally over a box.

E_t = {x : (x - c_t)^T H_t^{-1} (x - c_t) <= 1} contains a minimiser. At the centre
c_t take a subgradient g of f (or, if c_t is outside the box, the normal of a
violated face) and keep the half {g^T (x - c_t) <= 0} inside the smallest ellipsoid
containing it (n >= 2):

    b = H g / sqrt(g^T H g),   c_{t+1} = c_t - b / (n + 1),
    H_{t+1} = n^2 / (n^2 - 1) (H_t - 2 / (n + 1) b b^T)

Each step multiplies the volume by (n / (n + 1)) (n^2 / (n^2 - 1))^((n - 1) / 2)
<= exp(-1 / (2n)). If X lies in the initial ball of radius R and contains a ball
of radius r, the best feasible centre after t steps has f - f* <= (max_X f - f*)
(R / r) exp(-t / (2 n^2)) (Bubeck 2015, Theorem 2.4, with 2B there).

References: Shor (1977); Yudin & Nemirovski (1976); Khachiyan (1979); Bubeck (2015), section 2.2.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxgd import _validate
from jaxgd._core import filter_jit
from jaxgd.convex import projections as P

__all__ = ["EllipsoidResult", "ellipsoid", "ellipsoid_volume_factor"]


class EllipsoidResult(NamedTuple):
    """x: the best feasible centre found; value: f(x) (inf if none was feasible);
    centers: (T, n) the centres c_0..c_{T-1} queried; values: (T,) f(c_t), inf where c_t was outside the box;
    best: (T,) the best value so far; log_volume: (T + 1,) log vol(E_t), measured from det H_t;
    feasible: (T,) whether c_t was in the box."""

    x: jax.Array
    value: jax.Array
    centers: jax.Array
    values: jax.Array
    best: jax.Array
    log_volume: jax.Array
    feasible: jax.Array


def ellipsoid_volume_factor(n: int) -> float:
    """vol(E_{t+1}) / vol(E_t) = (n / (n + 1)) (n^2 / (n^2 - 1))^((n - 1) / 2), <= exp(-1 / (2n)).

    Args:
        n: The dimension, >= 2.

    Returns:
        The factor, a float.
    """
    _validate.positive_int("n", n)
    if n < 2:
        raise ValueError(f"the ellipsoid method needs dimension n >= 2, got n={n}")
    return n / (n + 1) * (n * n / (n * n - 1)) ** ((n - 1) / 2)


def _log_volume(h: jax.Array) -> jax.Array:
    n = h.shape[0]
    log_unit_ball = 0.5 * n * math.log(math.pi) - math.lgamma(0.5 * n + 1)
    return 0.5 * jnp.linalg.slogdet(h)[1] + log_unit_ball


def _cut(f, lower, upper, c):
    """(g, feasible, f(c)): a subgradient of f at c, or a violated face's normal when c is outside the box."""
    value, grad = jax.value_and_grad(f)(c)
    if lower is None:
        return grad, jnp.ones([], bool), value
    violation = jnp.maximum(c - upper, lower - c)
    i = jnp.argmax(violation)
    feasible = violation[i] <= 0
    face = jnp.where(c[i] > upper[i], 1.0, -1.0).astype(c.dtype) * jax.nn.one_hot(i, c.shape[0], dtype=c.dtype)
    return jnp.where(feasible, grad, face), feasible, jnp.where(feasible, value, jnp.inf)


def _scan(f, c0, h0, lower, upper, steps):
    n = c0.shape[0]

    def step(carry, _):
        c, h, best_x, best_f = carry
        g, feasible, value = _cut(f, lower, upper, c)
        hg = h @ g
        ghg = g @ hg
        ok = ghg > 0  # g = 0: c is optimal; keep the ellipsoid
        b = hg / jnp.sqrt(jnp.where(ok, ghg, 1))
        c_new = jnp.where(ok, c - b / (n + 1), c)
        h_new = n * n / (n * n - 1.0) * (h - 2.0 / (n + 1) * jnp.outer(b, b))
        h_new = jnp.where(ok, 0.5 * (h_new + h_new.T), h)
        better = value < best_f
        best_x, best_f = jnp.where(better, c, best_x), jnp.where(better, value, best_f)
        return (c_new, h_new, best_x, best_f), (c, value, best_f, feasible, _log_volume(h_new))

    init = (c0, h0, c0, jnp.asarray(jnp.inf, c0.dtype))
    (_, _, x, fx), (centers, values, best, feasible, logv) = jax.lax.scan(step, init, length=steps)
    log_volume = jnp.concatenate([_log_volume(h0)[None], logv])
    return EllipsoidResult(x, fx, centers, values, best, log_volume, feasible)


@filter_jit(static_argnames=("steps",))
def _ellipsoid(fns, c0, h0, lower, upper, *, steps):
    return _scan(fns[0], c0, h0, lower, upper, steps)


def ellipsoid(
    f: Callable[[jax.Array], jax.Array],
    center: jax.typing.ArrayLike,
    radius: jax.typing.ArrayLike,
    steps: int,
    *,
    lower: jax.typing.ArrayLike | None = None,
    upper: jax.typing.ArrayLike | None = None,
) -> EllipsoidResult:
    """Run the central-cut ellipsoid method on ``f`` (subgradients by ``jax.grad``) from the ball of ``radius``
    about ``center``, over the box [lower, upper] when given (it must lie inside the ball). One ``jit``-compiled
    ``lax.scan``; ``f`` may be a ``jax.tree_util.Partial`` holding its data.

    Args:
        f: The convex function of a vector (a ``jax.tree_util.Partial`` may hold its data).
        center: The centre of the first ball.
        radius: Its radius.
        steps: The number of cuts T.
        lower: The box's lower bounds (None: no box).
        upper: The box's upper bounds.

    Returns:
        The result (:class:`EllipsoidResult`): the best feasible centre, its value and the history.
    """
    _validate.positive_int("steps", steps)
    _validate.positive("radius", radius)
    c0 = jnp.asarray(center)
    if c0.ndim != 1 or c0.shape[0] < 2:
        raise ValueError(f"center must be a vector of dimension n >= 2, got shape {c0.shape}")
    _validate.float_tree("center", c0)
    if (lower is None) != (upper is None):
        raise ValueError("give both lower and upper for a box constraint, or neither")
    if lower is not None:
        P.check_box(lower, upper)
        lower = jnp.broadcast_to(jnp.asarray(lower, c0.dtype), c0.shape)
        upper = jnp.broadcast_to(jnp.asarray(upper, c0.dtype), c0.shape)
    h0 = jnp.asarray(radius, c0.dtype) ** 2 * jnp.eye(c0.shape[0], dtype=c0.dtype)
    return _ellipsoid((f,), c0, h0, lower, upper, steps=steps)
