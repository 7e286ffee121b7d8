"""Euclidean projections onto convex sets: P_X(v) = argmin_{x in X} ||x - v||_2.

Each ``project_*`` function takes a pytree ``x`` (the set is taken in the
coordinates of all its leaves together, as :func:`jax.flatten_util.ravel_pytree`
orders them; the box acts leaf by leaf) and is ``jit``- and ``vmap``-able in
``x`` and in the set's parameters. :func:`projection` builds one by name as a
:class:`Projection`, a pytree whose parameters are leaves, for
:func:`jaxgd.convex.projected` and :func:`jaxgd.convex.projected_gradient`.

Concrete parameters are checked: a negative radius or a box with a lower bound
above its upper bound raises ValueError; asking for a non-convex set by name
(the sphere, an l0 ball) raises ValueError, since its projection is not unique
and projected (sub)gradient methods need a convex set.

References: Held, Wolfe & Crowder (1974); Duchi, Shalev-Shwartz, Singer &
Chandra (2008), "Efficient projections onto the l1-ball for learning in high
dimensions", Figure 1 (the sort-based O(n log n) algorithm used here).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from jaxgd import _validate
from jaxgd._core import tree_norm

__all__ = [
    "CONVEX_SETS",
    "NON_CONVEX_SETS",
    "Projection",
    "project_ball",
    "project_box",
    "project_l1_ball",
    "project_simplex",
    "projection",
]

NON_CONVEX_SETS = frozenset(
    {"sphere", "l0_ball", "sparse", "cardinality", "integers", "binary", "stiefel", "low_rank", "rank", "annulus"}
)


# --------------------------------------------------------------------------- checks


def _concrete_values(x: Any) -> np.ndarray | None:
    leaves = jax.tree.leaves(x)
    if any(isinstance(leaf, jax.core.Tracer) for leaf in leaves) or not leaves:
        return None
    return np.concatenate([np.ravel(np.asarray(leaf, dtype=float)) for leaf in leaves])


def check_radius(radius: Any, name: str = "radius") -> None:
    """Require a finite radius >= 0 (concrete values only)."""
    _validate.nonnegative(name, radius)


def check_box(lower: Any, upper: Any) -> None:
    """Require finite-or-infinite bounds with lower <= upper everywhere (concrete values only)."""
    lo, hi = _concrete_values(lower), _concrete_values(upper)
    for name, v in (("lower", lo), ("upper", hi)):
        if v is not None and np.any(np.isnan(v)):
            raise ValueError(f"{name} contains NaN")
    if lo is None or hi is None:
        return
    try:
        lo_b, hi_b = np.broadcast_arrays(lo, hi)
    except ValueError:
        return  # pytrees of bounds: compared leaf by leaf below
    bad = np.flatnonzero(lo_b > hi_b)
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"infeasible box: lower > upper at index {i} ({lo_b[i]!r} > {hi_b[i]!r}); the box is empty")


# --------------------------------------------------------------------------- the projections


def _flat(fn: Callable[[jax.Array], jax.Array], x: Any) -> Any:
    flat, unravel = ravel_pytree(x)
    return unravel(fn(flat).astype(flat.dtype))


def _leafwise(x: Any, bound: Any) -> Any:
    """``bound`` as a pytree like ``x``: a scalar (or array) broadcast to every leaf, else ``bound`` itself."""
    if jax.tree.structure(bound) == jax.tree.structure(x) and jax.tree.leaves(x):
        return bound
    return jax.tree.map(lambda _: bound, x)


def project_box(x: Any, lower: Any = -1.0, upper: Any = 1.0) -> Any:
    """P(v) = clip(v, lower, upper), coordinate by coordinate.

    ``lower``/``upper``: scalars, arrays broadcasting against each leaf, or pytrees like ``x``.

    Args:
        x: The point, a pytree.
        lower: The lower bounds.
        upper: The upper bounds.

    Returns:
        P(x), like x.
    """
    check_box(lower, upper)
    lo, hi = _leafwise(x, lower), _leafwise(x, upper)
    return jax.tree.map(lambda v, a, b: jnp.clip(v, a, b).astype(v.dtype), x, lo, hi)


def project_ball(x: Any, radius: Any = 1.0, center: Any = None) -> Any:
    """P(v) = c + (v - c) min(1, r / ||v - c||): the Euclidean ball of radius r about c (default 0).

    Args:
        x: The point, a pytree.
        radius: r.
        center: c (None: the origin).

    Returns:
        P(x), like x.
    """
    check_radius(radius)
    d = x if center is None else jax.tree.map(jnp.subtract, x, center)
    norm = tree_norm(d)
    scale = jnp.where(norm > radius, radius / jnp.where(norm > 0, norm, 1), 1)
    d = jax.tree.map(lambda v: (scale * v).astype(v.dtype), d)
    return d if center is None else jax.tree.map(lambda v, c: (v + c).astype(v.dtype), d, center)


def _simplex(v: jax.Array, radius: jax.Array) -> jax.Array:
    """Duchi et al. (2008), Figure 1: sort u descending, rho = max{j : u_j - (sum_{i<=j} u_i - r) / j > 0},
    theta = (sum_{i<=rho} u_i - r) / rho, P(v) = max(v - theta, 0)."""
    u = jnp.sort(v)[::-1]
    css = jnp.cumsum(u) - radius
    j = jnp.arange(1, v.shape[0] + 1, dtype=v.dtype)
    positive = u - css / j > 0  # true on a prefix
    rho = jnp.max(jnp.where(positive, jnp.arange(v.shape[0]), 0))
    theta = css[rho] / (rho + 1).astype(v.dtype)
    return jnp.maximum(v - theta, 0)


def project_simplex(x: Any, radius: Any = 1.0) -> Any:
    """Projection onto the simplex {x >= 0, sum x = r}: P(v) = max(v - theta, 0) with theta such that the sum is r.

    theta is found by sorting (Duchi et al. 2008, Figure 1), O(n log n).

    Args:
        x: The point, a pytree.
        radius: r.

    Returns:
        P(x), like x.
    """
    check_radius(radius)
    return _flat(lambda v: _simplex(v, jnp.asarray(radius, v.dtype)), x)


def _l1_ball(v: jax.Array, radius: jax.Array) -> jax.Array:
    inside = jnp.sum(jnp.abs(v)) <= radius
    return jnp.where(inside, v, jnp.sign(v) * _simplex(jnp.abs(v), radius))


def project_l1_ball(x: Any, radius: Any = 1.0) -> Any:
    """Projection onto {||x||_1 <= r}: v itself when inside, else sign(v) P_simplex(|v|) (Duchi et al. 2008, sec. 4).

    Args:
        x: The point, a pytree.
        radius: r.

    Returns:
        P(x), like x.
    """
    check_radius(radius)
    return _flat(lambda v: _l1_ball(v, jnp.asarray(radius, v.dtype)), x)


# --------------------------------------------------------------------------- by name


@functools.partial(jax.tree_util.register_dataclass, data_fields=["params"], meta_fields=["name", "fn"])
@dataclasses.dataclass(frozen=True, eq=False)
class Projection:
    """A projection ``x -> fn(x, **params)`` as a pytree: ``params`` are leaves (traced by ``jit``, mapped by
    ``vmap``), ``name`` and ``fn`` are static. Build one with :func:`projection`.

    Args:
        name: The set's name.
        fn: ``fn(x, **params)``, the projection.
        params: The set's parameters (the pytree's leaves).
    """

    name: str
    fn: Callable[..., Any]
    params: dict[str, Any]

    def __call__(self, x: Any) -> Any:
        return self.fn(x, **self.params)


_PROJECTIONS: dict[str, tuple[Callable[..., Any], dict[str, Any]]] = {
    "box": (project_box, {"lower": -1.0, "upper": 1.0}),
    "ball": (project_ball, {"radius": 1.0, "center": None}),
    "simplex": (project_simplex, {"radius": 1.0}),
    "l1_ball": (project_l1_ball, {"radius": 1.0}),
}
CONVEX_SETS = tuple(_PROJECTIONS)


def check_convex_name(name: Any, what: str, valid: tuple[str, ...]) -> None:
    """A clear error for a set given by name: not a string, non-convex, or unknown."""
    if not isinstance(name, str):
        raise TypeError(f"the set must be given by name (a string), got {type(name).__name__}")
    if name in NON_CONVEX_SETS:
        raise ValueError(
            f"{name!r} is not a convex set: the {what} onto it is not unique, and the guarantees of projected "
            f"(sub)gradient methods and Frank-Wolfe need a convex set; convex sets: {', '.join(valid)}"
        )
    if name not in valid:
        raise ValueError(f"unknown set {name!r}; valid sets: {', '.join(valid)}")


def projection(name: str, **params: Any) -> Projection:
    """The projection onto a convex set by name: ``"box"`` (lower, upper), ``"ball"`` (radius, center),
    ``"simplex"`` (radius), ``"l1_ball"`` (radius); unset parameters take the defaults of the ``project_*`` function.

    Args:
        name: ``"box"``, ``"ball"``, ``"simplex"`` or ``"l1_ball"``.
        **params: The set's parameters.

    Returns:
        The projection (:class:`Projection`).

    Raises:
        ValueError: If the name is unknown or a parameter out of range.
        TypeError: If a parameter is not one of the set's.
    """
    check_convex_name(name, "projection", CONVEX_SETS)
    fn, defaults = _PROJECTIONS[name]
    unknown = set(params) - set(defaults)
    if unknown:
        raise TypeError(f"projection {name!r} takes {sorted(defaults)}, got unexpected {sorted(unknown)}")
    full = {**defaults, **params}
    if name == "box":
        check_box(full["lower"], full["upper"])
    else:
        check_radius(full["radius"])
    full = {k: v for k, v in full.items() if v is not None}
    return Projection(name, fn, full)
