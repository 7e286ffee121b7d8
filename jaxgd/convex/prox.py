"""Proximal operators: prox_{eta g}(v) = argmin_x g(x) + ||x - v||^2 / (2 eta).

Each factory returns a :class:`Prox`, a pytree holding g's parameters as leaves
(so ``jit`` traces them and ``vmap`` maps over them, e.g. a whole Lasso path)
with ``prox(v, eta)`` and ``g(x)`` (the value, for composite objectives
F = f + g and for FISTA's backtracking). All act on pytrees; the group lasso
acts on the flattened vector. They satisfy the Moreau decomposition
v = prox_{eta g}(v) + eta prox_{g*/eta}(v / eta).

References: Moreau (1965); Parikh & Boyd (2014), "Proximal algorithms", sec. 6;
Beck (2017), "First-Order Methods in Optimization", ch. 6; Yuan & Lin (2006) for
the group lasso.
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
from jaxgd.convex import projections as P

__all__ = [
    "Prox",
    "box",
    "elastic_net",
    "group_lasso",
    "indicator",
    "l1",
    "l2_squared",
    "soft_threshold",
    "zero",
]


@functools.partial(
    jax.tree_util.register_dataclass, data_fields=["params"], meta_fields=["name", "value_fn", "prox_fn"]
)
@dataclasses.dataclass(frozen=True, eq=False)
class Prox:
    """A simple convex function g with its proximal operator, as a pytree of g's parameters.

    ``g(x) = value_fn(x, **params)``; ``g.prox(v, eta) = prox_fn(v, eta, **params)``.

    Args:
        name: g's name.
        value_fn: ``value_fn(x, **params)`` = g(x).
        prox_fn: ``prox_fn(v, eta, **params)`` = prox_{eta g}(v).
        params: g's parameters (the pytree's leaves).
    """

    name: str
    value_fn: Callable[..., jax.Array]
    prox_fn: Callable[..., Any]
    params: dict[str, Any]

    def __call__(self, x: Any) -> jax.Array:
        return self.value_fn(x, **self.params)

    def prox(self, v: Any, eta: jax.typing.ArrayLike) -> Any:
        """prox_{eta g}(v) = argmin_x g(x) + ||x - v||^2 / (2 eta)."""
        return self.prox_fn(v, eta, **self.params)


def _sum(tree: Any, fn: Callable[[jax.Array], jax.Array]) -> jax.Array:
    return sum(jnp.sum(fn(leaf)) for leaf in jax.tree.leaves(tree))


def soft_threshold(v: Any, threshold: jax.typing.ArrayLike) -> Any:
    """sign(v) max(|v| - threshold, 0), leaf by leaf: the prox of threshold ||.||_1.

    Args:
        v: The point, a pytree.
        threshold: The threshold, >= 0.

    Returns:
        The thresholded point, like v.
    """
    return jax.tree.map(lambda a: (jnp.sign(a) * jnp.maximum(jnp.abs(a) - threshold, 0)).astype(a.dtype), v)


# --------------------------------------------------------------------------- g = 0


def _zero_value(x):
    return jnp.zeros([], jax.tree.leaves(x)[0].dtype)


def _zero_prox(v, eta):
    return v


def zero() -> Prox:
    """g = 0: prox_{eta g}(v) = v (proximal gradient is then gradient descent).

    Returns:
        The proximal operator (:class:`Prox`).
    """
    return Prox("zero", _zero_value, _zero_prox, {})


# --------------------------------------------------------------------------- l1, squared l2, elastic net


def _l1_value(x, strength):
    return strength * _sum(x, jnp.abs)


def _l1_prox(v, eta, strength):
    return soft_threshold(v, eta * strength)


def l1(strength: jax.typing.ArrayLike) -> Prox:
    """g(x) = lam ||x||_1 (the Lasso): prox_{eta g}(v) = sign(v) max(|v| - eta lam, 0), soft-thresholding.

    Args:
        strength: lambda >= 0.

    Returns:
        The proximal operator (:class:`Prox`).
    """
    _validate.nonnegative("strength", strength)
    return Prox("l1", _l1_value, _l1_prox, {"strength": strength})


def _l2_value(x, strength):
    return 0.5 * strength * _sum(x, jnp.square)


def _l2_prox(v, eta, strength):
    return jax.tree.map(lambda a: (a / (1 + eta * strength)).astype(a.dtype), v)


def l2_squared(strength: jax.typing.ArrayLike) -> Prox:
    """g(x) = (lam / 2) ||x||_2^2 (ridge): prox_{eta g}(v) = v / (1 + eta lam).

    Args:
        strength: lambda >= 0.

    Returns:
        The proximal operator (:class:`Prox`).
    """
    _validate.nonnegative("strength", strength)
    return Prox("l2_squared", _l2_value, _l2_prox, {"strength": strength})


def _enet_value(x, l1_strength, l2_strength):
    return _l1_value(x, l1_strength) + _l2_value(x, l2_strength)


def _enet_prox(v, eta, l1_strength, l2_strength):
    return _l2_prox(_l1_prox(v, eta, l1_strength), eta, l2_strength)


def elastic_net(l1_strength: jax.typing.ArrayLike, l2_strength: jax.typing.ArrayLike) -> Prox:
    """g(x) = a ||x||_1 + (b / 2) ||x||_2^2: prox_{eta g}(v) = soft(v, eta a) / (1 + eta b) (Zou & Hastie 2005).

    scikit-learn's ``ElasticNet(alpha, l1_ratio)`` is a = alpha l1_ratio, b = alpha (1 - l1_ratio).

    Args:
        l1_strength: a >= 0.
        l2_strength: b >= 0.

    Returns:
        The proximal operator (:class:`Prox`).
    """
    _validate.nonnegative("l1_strength", l1_strength)
    _validate.nonnegative("l2_strength", l2_strength)
    return Prox("elastic_net", _enet_value, _enet_prox, {"l1_strength": l1_strength, "l2_strength": l2_strength})


# --------------------------------------------------------------------------- indicators


def _box_value(x, lower, upper):
    lo, hi = P._leafwise(x, lower), P._leafwise(x, upper)
    inside = jnp.all(jnp.asarray([jnp.all((a >= l) & (a <= h)) for a, l, h in zip(*map(jax.tree.leaves, (x, lo, hi)))]))
    return jnp.where(inside, 0.0, jnp.inf).astype(jax.tree.leaves(x)[0].dtype)


def _box_prox(v, eta, lower, upper):
    return P.project_box(v, lower, upper)


def box(lower: Any = -1.0, upper: Any = 1.0) -> Prox:
    """g = indicator of the box [lower, upper] (0 inside, +inf outside): prox_{eta g}(v) = clip(v, lower, upper).

    Args:
        lower: The lower bounds.
        upper: The upper bounds.

    Returns:
        The proximal operator (:class:`Prox`).
    """
    P.check_box(lower, upper)
    return Prox("box", _box_value, _box_prox, {"lower": lower, "upper": upper})


def _indicator_value(x, projection, tol):
    dist = tree_norm(jax.tree.map(jnp.subtract, projection(x), x))
    scale = 1 + tree_norm(x)
    return jnp.where(dist <= tol * scale, 0.0, jnp.inf).astype(jax.tree.leaves(x)[0].dtype)


def _indicator_prox(v, eta, projection, tol):
    return projection(v)


def indicator(projection: P.Projection, tol: float = 1e-6) -> Prox:
    """g = indicator of a convex set given by its projection: prox_{eta g} = P_X for every eta.

    g(x) is 0 when ||P_X(x) - x|| <= tol (1 + ||x||), else +inf.

    Args:
        projection: The set's :class:`Projection`.
        tol: The relative distance below which a point counts as inside.

    Returns:
        The proximal operator (:class:`Prox`).
    """
    if not isinstance(projection, P.Projection):
        raise TypeError(f"projection must be a jaxgd.convex.Projection (see projection(name)), got {projection!r}")
    _validate.nonnegative("tol", tol)
    return Prox(
        f"indicator_{projection.name}", _indicator_value, _indicator_prox, {"projection": projection, "tol": tol}
    )


# --------------------------------------------------------------------------- group lasso


def _group_norms(v, membership):
    return jnp.sqrt(membership.T @ (v * v))


def _group_value(x, strength, membership, weights):
    flat, _ = ravel_pytree(x)
    return strength * jnp.sum(weights * _group_norms(flat, membership.astype(flat.dtype)))


def _group_prox(v, eta, strength, membership, weights):
    flat, unravel = ravel_pytree(v)
    m = membership.astype(flat.dtype)
    norms = _group_norms(flat, m)
    shrink = jnp.maximum(1 - eta * strength * weights / jnp.where(norms > 0, norms, 1), 0)
    return unravel((flat * (m @ shrink)).astype(flat.dtype))


def group_lasso(strength: jax.typing.ArrayLike, groups: Any, weights: Any = None) -> Prox:
    """g(x) = lam sum_G w_G ||x_G||_2 (Yuan & Lin 2006): prox shrinks each group, x_G = max(0, 1 - eta lam w_G /
    ||v_G||) v_G (block soft-thresholding).

    ``groups``: an integer label 0..k-1 for each coordinate of the flattened x (concrete).
    ``weights``: w_G, default sqrt(|G|) as in Yuan & Lin.

    Args:
        strength: lambda >= 0.
        groups: The group label (0..k-1) of each coordinate of the flattened x.
        weights: w_G per group (None: sqrt(|G|)).

    Returns:
        The proximal operator (:class:`Prox`).
    """
    _validate.nonnegative("strength", strength)
    labels = np.asarray(groups)
    if labels.ndim != 1 or labels.size == 0 or labels.dtype.kind not in "iu" or labels.min() < 0:
        raise ValueError(f"groups must be a non-empty vector of non-negative integer labels, got {groups!r}")
    k = int(labels.max()) + 1
    membership = labels[:, None] == np.arange(k)[None, :]
    sizes = membership.sum(0)
    if np.any(sizes == 0):
        raise ValueError(f"groups must use every label 0..{k - 1}; missing {np.flatnonzero(sizes == 0).tolist()}")
    if weights is None:
        weights = np.sqrt(sizes.astype(float))
    _validate.nonnegative("weights", weights)
    params = {"strength": strength, "membership": membership, "weights": np.asarray(weights, dtype=float)}
    return Prox("group_lasso", _group_value, _group_prox, params)
