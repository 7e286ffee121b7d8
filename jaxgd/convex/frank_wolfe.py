"""Frank-Wolfe (conditional gradient): a linear minimisation oracle instead of a projection.

    s_t = argmin_{s in X} <grad f(x_t), s>,   x_{t+1} = x_t + gamma_t (s_t - x_t)

with gamma_t = 2 / (t + 2) (t = 0, 1, ...) or a line search over [0, 1]. The
Frank-Wolfe gap g_t = <grad f(x_t), x_t - s_t> >= f(x_t) - f* is a certificate
of optimality computed for free. For a beta-smooth f on a set of Euclidean
diameter D, f(x_t) - f* <= 2 beta D^2 / (t + 2) (Jaggi 2013, Theorem 1; Bubeck 2015,
Theorem 3.8).

References: Frank & Wolfe (1956); Jaggi (2013), "Revisiting Frank-Wolfe:
projection-free sparse convex optimization", ICML.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from jaxgd import _validate
from jaxgd._core import real_dtype
from jaxgd._recipe import optimizer
from jaxgd.convex import projections as P

__all__ = [
    "LMO",
    "FrankWolfeState",
    "duality_gap",
    "frank_wolfe",
    "lmo",
    "lmo_box",
    "lmo_l1_ball",
    "lmo_simplex",
]

StepRule = Literal["open_loop", "line_search"]
_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


def _flat(fn: Callable[[jax.Array], jax.Array], g: Any) -> Any:
    flat, unravel = ravel_pytree(g)
    return unravel(fn(flat).astype(flat.dtype))


def lmo_simplex(g: Any, radius: Any = 1.0) -> Any:
    """argmin over {s >= 0, sum s = r} of <g, s>: r e_i with i = argmin g_i (a vertex).

    Args:
        g: The gradient.
        radius: r.

    Returns:
        The minimising vertex s, like g.
    """
    return _flat(lambda v: radius * jax.nn.one_hot(jnp.argmin(v), v.shape[0], dtype=v.dtype), g)


def lmo_l1_ball(g: Any, radius: Any = 1.0) -> Any:
    """argmin over {||s||_1 <= r} of <g, s>: -r sign(g_i) e_i with i = argmax |g_i|.

    Args:
        g: The gradient.
        radius: r.

    Returns:
        The minimising vertex s, like g.
    """

    def fn(v):
        i = jnp.argmax(jnp.abs(v))
        return -radius * jnp.sign(v[i]) * jax.nn.one_hot(i, v.shape[0], dtype=v.dtype)

    return _flat(fn, g)


def lmo_box(g: Any, lower: Any = -1.0, upper: Any = 1.0) -> Any:
    """argmin over the box of <g, s>: lower_i where g_i > 0, else upper_i (a vertex).

    Args:
        g: The gradient.
        lower: The lower bounds.
        upper: The upper bounds.

    Returns:
        The minimising vertex s, like g.
    """
    lo, hi = P._leafwise(g, lower), P._leafwise(g, upper)
    return jax.tree.map(lambda v, a, b: jnp.where(v > 0, a, b).astype(v.dtype), g, lo, hi)


@functools.partial(jax.tree_util.register_dataclass, data_fields=["params"], meta_fields=["name", "fn"])
@dataclasses.dataclass(frozen=True, eq=False)
class LMO:
    """A linear minimisation oracle ``g -> fn(g, **params) = argmin_{s in X} <g, s>`` as a pytree of its set's
    parameters. Build one with :func:`lmo`.

    Args:
        name: The set's name.
        fn: ``fn(g, **params)``, the oracle.
        params: The set's parameters (the pytree's leaves).
    """

    name: str
    fn: Callable[..., Any]
    params: dict[str, Any]

    def __call__(self, g: Any) -> Any:
        return self.fn(g, **self.params)


_LMOS: dict[str, tuple[Callable[..., Any], dict[str, Any]]] = {
    "simplex": (lmo_simplex, {"radius": 1.0}),
    "l1_ball": (lmo_l1_ball, {"radius": 1.0}),
    "box": (lmo_box, {"lower": -1.0, "upper": 1.0}),
}


def lmo(name: str, **params: Any) -> LMO:
    """The linear minimisation oracle of a convex set by name: ``"simplex"`` (radius), ``"l1_ball"`` (radius),
    ``"box"`` (lower, upper).

    Args:
        name: ``"simplex"``, ``"l1_ball"`` or ``"box"``.
        **params: The set's parameters.

    Returns:
        The oracle (:class:`LMO`).

    Raises:
        ValueError: If the name is unknown.
        TypeError: If a parameter is not one of the set's.
    """
    P.check_convex_name(name, "linear minimisation oracle's convex hull", tuple(_LMOS))
    fn, defaults = _LMOS[name]
    unknown = set(params) - set(defaults)
    if unknown:
        raise TypeError(f"lmo {name!r} takes {sorted(defaults)}, got unexpected {sorted(unknown)}")
    full = {**defaults, **params}
    if name == "box":
        P.check_box(full["lower"], full["upper"])
    else:
        P.check_radius(full["radius"])
    return LMO(name, fn, full)


def duality_gap(grad: Any, x: Any, oracle: Callable[[Any], Any]) -> jax.Array:
    """The Frank-Wolfe gap <grad f(x), x - s> with s = oracle(grad f(x)); >= f(x) - f* for convex f.

    Args:
        grad: grad f(x).
        x: The point.
        oracle: The set's linear minimisation oracle.

    Returns:
        The gap, a scalar.
    """
    s = oracle(grad)
    return optax.tree.vdot(grad, jax.tree.map(jnp.subtract, x, s))


def _golden_section(phi: Callable[[jax.Array], jax.Array], dtype: Any, iters: int) -> jax.Array:
    """argmin of a unimodal phi on [0, 1] by golden-section search (``iters`` evaluations after two)."""
    a, b = jnp.zeros([], dtype), jnp.ones([], dtype)
    c, d = b - _GOLDEN * (b - a), a + _GOLDEN * (b - a)

    def body(_, carry):
        a, b, c, d, fc, fd = carry
        left = fc <= fd
        a, b = jnp.where(left, a, c), jnp.where(left, d, b)
        c_new, d_new = b - _GOLDEN * (b - a), a + _GOLDEN * (b - a)
        c, d = jnp.where(left, c_new, d), jnp.where(left, c, d_new)  # right-hand sides use the old c, d
        x_new = jnp.where(left, c, d)
        f_new = phi(x_new)
        fc, fd = jnp.where(left, f_new, fd), jnp.where(left, fc, f_new)
        return a, b, c, d, fc, fd

    a, b, *_ = jax.lax.fori_loop(0, iters, body, (a, b, c, d, phi(c), phi(d)))
    mid = (a + b) / 2
    # the end points are candidates too (gamma = 1 is often optimal at the start)
    cands = jnp.stack([jnp.zeros_like(mid), mid, jnp.ones_like(mid)])
    return cands[jnp.argmin(jax.vmap(phi)(cands))]


class FrankWolfeState(NamedTuple):
    """count; gap: the Frank-Wolfe gap at the last x_t; step: gamma_t; n_fev: evaluations of f in the last step."""

    count: jax.Array
    gap: jax.Array
    step: jax.Array
    n_fev: jax.Array


@optimizer(static_argnames=("step", "line_search_steps"))
def frank_wolfe(
    oracle: LMO | Callable[[Any], Any], step: StepRule = "open_loop", line_search_steps: int = 40
) -> optax.GradientTransformationExtraArgs:
    """Frank-Wolfe: u_t = gamma_t (s_t - x_t), s_t = oracle(grad f(x_t)), gamma_t = 2 / (t + 2) (``"open_loop"``)
    or argmin over [0, 1] of f(x_t + gamma (s_t - x_t)) by golden-section search (``"line_search"``, needs
    ``value_fn``). The state holds the gap <grad f(x_t), x_t - s_t>. x_0 must lie in X.

    Args:
        oracle: The set's linear minimisation oracle (an :class:`LMO` or a callable).
        step: ``"open_loop"`` or ``"line_search"``.
        line_search_steps: The golden-section steps of the line search.

    Returns:
        The optimizer (:class:`jaxgd.Optimizer`); its update needs the parameters (and ``value_fn`` for the line
            search).
    """
    _validate.one_of("step", step, ("open_loop", "line_search"))
    _validate.positive_int("line_search_steps", line_search_steps)
    if not callable(oracle):
        raise TypeError(f"oracle must be an LMO (see lmo(name)) or a callable g -> argmin_s <g, s>, got {oracle!r}")

    def init_fn(params):
        dtype = real_dtype(params)
        return FrankWolfeState(
            jnp.zeros([], jnp.int32), jnp.asarray(jnp.inf, dtype), jnp.zeros([], dtype), jnp.zeros([], jnp.int32)
        )

    def update_fn(updates, state, params=None, *, value_fn=None, **extra_args):
        del extra_args
        if params is None:
            raise ValueError("frank_wolfe needs params: call update(grad, state, params)")
        dtype = real_dtype(params)
        direction = jax.tree.map(lambda s, x: (s - x).astype(x.dtype), oracle(updates), params)
        gap = -optax.tree.vdot(updates, direction).astype(dtype)
        if step == "open_loop":
            gamma, n_fev = 2 / (state.count.astype(dtype) + 2), 0
        else:
            if value_fn is None:
                raise TypeError("frank_wolfe(step='line_search') needs value_fn: update(g, state, x, value_fn=f)")
            gamma = _golden_section(
                lambda a: value_fn(optax.tree.add_scale(params, a, direction)), dtype, line_search_steps
            )
            n_fev = line_search_steps + 5
        u = jax.tree.map(lambda d: (gamma * d).astype(d.dtype), direction)
        return u, FrankWolfeState(optax.safe_increment(state.count), gap, gamma, jnp.asarray(n_fev, jnp.int32))

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
