"""Proximal gradient methods for F = f + g, f beta-smooth and g simple (its prox is cheap).

As transforms, they receive grad f (``jaxgd.run(opt, f, x0, steps)`` runs them
on the smooth part f; the prox of g is applied inside):

* :func:`proximal_gradient` (ISTA): x_{t+1} = prox_{eta g}(x_t - eta grad f(x_t));
* :func:`fista`: the same step taken from an extrapolated point (Nesterov's momentum);
* :func:`backtracking_fista`: FISTA (or ISTA) with Beck & Teboulle's backtracking on
  the Lipschitz constant, for an unknown beta (an ``optax.GradientTransformationExtraArgs``
  that reads ``value`` and ``value_fn``).

FISTA's parameters (the point its gradient is taken at) are the extrapolated
points y_t; its iterates x_t = prox_{eta g}(y_t - eta grad f(y_t)), at which the
rate is stated, are :func:`prox_gradient_step` of them (and ``state.x``).

Reference: Beck & Teboulle (2009), "A fast iterative shrinkage-thresholding
algorithm for linear inverse problems", SIAM J. Imaging Sci. 2(1).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxgd import _validate
from jaxgd._core import Hyperparameter, real_dtype, value_at
from jaxgd._recipe import optimizer
from jaxgd.convex import projections as P
from jaxgd.convex.prox import Prox

__all__ = [
    "BacktrackingFistaState",
    "FistaState",
    "ProximalGradientState",
    "as_prox",
    "backtracking_fista",
    "fista",
    "prox_gradient_step",
    "proximal_gradient",
]

ProxLike = Prox | P.Projection | Callable[[Any, Any], Any]


def as_prox(prox: ProxLike) -> Callable[[Any, Any], Any]:
    """``(v, eta) -> prox_{eta g}(v)``: a :class:`Prox`, a :class:`Projection` (the prox of the set's indicator),
    or a callable ``prox(v, eta)``.

    Args:
        prox: g's proximal operator: a :class:`Prox`, a :class:`Projection` or a callable ``prox(v, eta)``.

    Returns:
        The callable ``(v, eta) -> prox_{eta g}(v)``.

    Raises:
        TypeError: If prox is none of these.
    """
    if isinstance(prox, Prox):
        return prox.prox
    if isinstance(prox, P.Projection):
        return lambda v, eta: prox(v)
    if not callable(prox):
        raise TypeError(f"prox must be a jaxgd.convex Prox, a Projection or a callable prox(v, eta), got {prox!r}")
    return prox


def _gradient_step(params: Any, grad: Any, lr: jax.Array) -> Any:
    return jax.tree.map(lambda x, g: (x - lr * g).astype(x.dtype), params, grad)


def _difference(new: Any, old: Any) -> Any:
    return jax.tree.map(lambda a, b: (a - b).astype(b.dtype), new, old)


def prox_gradient_step(loss: Callable[[Any], jax.Array], prox: ProxLike, learning_rate: Any, y: Any) -> Any:
    """x+ = prox_{eta g}(y - eta grad f(y)): FISTA's iterate from its extrapolated point y (or ISTA's next point).

    Args:
        loss: f, the smooth part.
        prox: g's proximal operator: a :class:`Prox`, a :class:`Projection` or a callable ``prox(v, eta)``.
        learning_rate: eta.
        y: The point.

    Returns:
        x+, like y.
    """
    lr = jnp.asarray(learning_rate, real_dtype(y))
    return as_prox(prox)(_gradient_step(y, jax.grad(loss)(y), lr), lr)


class ProximalGradientState(NamedTuple):
    count: jax.Array


@optimizer()
def proximal_gradient(learning_rate: Hyperparameter, prox: ProxLike) -> optax.GradientTransformation:
    """Proximal gradient descent (ISTA): x_{t+1} = prox_{eta g}(x_t - eta grad f(x_t)).

    With eta = 1/beta: F(x_t) - F* <= beta ||x_0 - x*||^2 / (2 t) (Beck & Teboulle 2009, Theorem 3.1). With the
    indicator of a set (a :class:`Projection` as ``prox``) it is projected gradient descent.

    Args:
        learning_rate: eta > 0 (a float, an array or a schedule).
        prox: g's proximal operator: a :class:`Prox`, a :class:`Projection` or a callable ``prox(v, eta)``.

    Returns:
        The optimizer (:class:`jaxgd.Optimizer`); its update needs the parameters.
    """
    _validate.positive("learning_rate", learning_rate)
    prox_fn = as_prox(prox)

    def init_fn(params):
        del params
        return ProximalGradientState(jnp.zeros([], jnp.int32))

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError("proximal_gradient needs params: call update(grad, state, params)")
        lr = value_at(learning_rate, state.count)
        x_new = prox_fn(_gradient_step(params, updates, lr), lr)
        return _difference(x_new, params), ProximalGradientState(optax.safe_increment(state.count))

    return optax.GradientTransformation(init_fn, update_fn)


class FistaState(NamedTuple):
    """count; t: the momentum sequence t_k; x: the last iterate x_{k-1} = prox_{eta g}(y_{k-1} - eta grad f)."""

    count: jax.Array
    t: jax.Array
    x: Any


def _momentum(t: jax.Array, momentum: Any) -> tuple[jax.Array, jax.Array]:
    """(t_{k+1}, the extrapolation weight): (t_k - 1) / t_{k+1}, or a constant ``momentum``."""
    t_next = (1 + jnp.sqrt(1 + 4 * t * t)) / 2
    if momentum is None:
        return t_next, (t - 1) / t_next
    return t_next, jnp.asarray(momentum, t.dtype)


def _fista_init(params: Any) -> FistaState:
    return FistaState(jnp.zeros([], jnp.int32), jnp.ones([], real_dtype(params)), params)


def _extrapolate(x: Any, x_prev: Any, weight: jax.Array) -> Any:
    return jax.tree.map(lambda a, b: (a + weight * (a - b)).astype(a.dtype), x, x_prev)


@optimizer()
def fista(
    learning_rate: Hyperparameter, prox: ProxLike, momentum: Hyperparameter | None = None
) -> optax.GradientTransformation:
    """FISTA (Beck & Teboulle 2009, section 4), with t_1 = 1 and y_1 = x_0::

        x_k = prox_{eta g}(y_k - eta grad f(y_k))
        t_{k+1} = (1 + sqrt(1 + 4 t_k^2)) / 2
        y_{k+1} = x_k + ((t_k - 1) / t_{k+1}) (x_k - x_{k-1})

    The parameters are the points y_k; ``state.x`` is x_k. With eta = 1/beta,
    F(x_k) - F* <= 2 beta ||x_0 - x*||^2 / (k + 1)^2 (Theorem 4.4). A constant
    ``momentum`` replaces (t_k - 1)/t_{k+1}: (sqrt(kappa) - 1)/(sqrt(kappa) + 1) is
    V-FISTA for an alpha-strongly convex f, with F(x_k) - F* <= (1 - 1/sqrt(kappa))^k
    (F(x_0) - F* + alpha ||x_0 - x*||^2 / 2) (Beck 2017, "First-Order Methods in
    Optimization", Theorem 10.42). With a :class:`Projection` as ``prox`` it is
    accelerated projected gradient descent.

    Args:
        learning_rate: eta > 0 (a float, an array or a schedule).
        prox: g's proximal operator: a :class:`Prox`, a :class:`Projection` or a callable ``prox(v, eta)``.
        momentum: A constant extrapolation weight (None: FISTA's t_k sequence).

    Returns:
        The optimizer (:class:`jaxgd.Optimizer`); its update needs the parameters.
    """
    _validate.positive("learning_rate", learning_rate)
    if momentum is not None:
        _validate.decay("momentum", momentum)
    prox_fn = as_prox(prox)

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError("fista needs params: call update(grad, state, params)")
        lr = value_at(learning_rate, state.count)
        x = prox_fn(_gradient_step(params, updates, lr), lr)
        t_next, weight = _momentum(state.t, None if momentum is None else value_at(momentum, state.count))
        y_next = _extrapolate(x, state.x, weight)
        return _difference(y_next, params), FistaState(optax.safe_increment(state.count), t_next, x)

    return optax.GradientTransformation(_fista_init, update_fn)


class BacktrackingFistaState(NamedTuple):
    """FISTA's state plus the current estimate L of beta, the evaluations of f in the last step, and
    ``failed`` (no L within ``max_steps`` trials met the condition)."""

    count: jax.Array
    t: jax.Array
    x: Any
    lipschitz: jax.Array
    n_fev: jax.Array
    failed: jax.Array


def _sufficient(f_p: jax.Array, value: jax.Array, grad: Any, p: Any, y: Any, lipschitz: jax.Array) -> jax.Array:
    """f(p) <= Q_L(p, y) = f(y) + <grad f(y), p - y> + (L / 2) ||p - y||^2, with a few ulps of slack."""
    d = _difference(p, y)
    q = value + optax.tree.vdot(grad, d) + 0.5 * lipschitz * optax.tree.vdot(d, d)
    slack = 8 * jnp.finfo(value.dtype).eps * (jnp.abs(value) + 1)
    return f_p <= q + slack


def _search(f, prox_fn, y, grad, value, lipschitz, factor, max_steps):
    """Beck & Teboulle's backtracking: the smallest L = factor^i L_prev with f(p_L(y)) <= Q_L(p_L(y), y)."""

    def trial(L):
        p = prox_fn(_gradient_step(y, grad, 1 / L), 1 / L)
        return p, _sufficient(f(p), value, grad, p, y, L)

    p0, ok0 = trial(lipschitz)

    def cond(c):
        i, _, _, ok = c
        return ~ok & (i < max_steps)

    def body(c):
        i, L, _, _ = c
        L = (factor * L).astype(L.dtype)
        p, ok = trial(L)
        return i + 1, L, p, ok

    i, L, p, ok = jax.lax.while_loop(cond, body, (jnp.ones([], jnp.int32), lipschitz, p0, ok0))
    return L, p, i, ~ok


@optimizer(static_argnames=("max_steps", "accelerated"))
def backtracking_fista(
    prox: ProxLike,
    lipschitz: jax.typing.ArrayLike = 1.0,
    increase_factor: jax.typing.ArrayLike = 2.0,
    max_steps: int = 50,
    accelerated: bool = True,
) -> optax.GradientTransformationExtraArgs:
    """FISTA with backtracking (Beck & Teboulle 2009, section 4, "FISTA with backtracking"; ISTA's with
    ``accelerated=False``): at y_k, L_k is the smallest L_{k-1} eta^i (eta = ``increase_factor``) such that
    p = prox_{g/L}(y_k - grad f(y_k) / L) satisfies f(p) <= f(y_k) + <grad f(y_k), p - y_k> + (L/2)||p - y_k||^2;
    then x_k = p and y_{k+1} is extrapolated as in :func:`fista`. F(x_k) - F* <= 2 eta beta ||x_0 - x*||^2 /
    (k + 1)^2 (Theorem 4.4). ``update`` needs ``value=f(y)`` and ``value_fn=f`` (``jaxgd.run`` passes them).

    Args:
        prox: g's proximal operator: a :class:`Prox`, a :class:`Projection` or a callable ``prox(v, eta)``.
        lipschitz: The first estimate L_0 > 0.
        increase_factor: eta > 1, the factor of L per backtracking step.
        max_steps: The most backtracking steps per update.
        accelerated: Whether to extrapolate (FISTA) or not (ISTA).

    Returns:
        The optimizer (:class:`jaxgd.Optimizer`); its update needs the parameters, ``value`` and ``value_fn``.
    """
    _validate.positive("lipschitz", lipschitz)
    _validate.positive_int("max_steps", max_steps)
    for v in _validate._values(increase_factor):
        if not v > 1.0:
            raise ValueError(f"increase_factor must be > 1, got increase_factor={v!r}")
    prox_fn = as_prox(prox)

    def init_fn(params):
        base = _fista_init(params)
        dtype = base.t.dtype
        zero = jnp.zeros([], jnp.int32)
        return BacktrackingFistaState(*base, jnp.asarray(lipschitz, dtype), zero, jnp.zeros([], bool))

    def update_fn(updates, state, params=None, *, value=None, value_fn=None, **extra_args):
        del extra_args
        if params is None or value_fn is None:
            raise TypeError(
                "backtracking_fista needs params and the smooth part: update(g, state, y, value=f(y), value_fn=f)"
            )
        f = value_fn
        value = f(params) if value is None else jnp.asarray(value)
        L, x, n_fev, failed = _search(f, prox_fn, params, updates, value, state.lipschitz, increase_factor, max_steps)
        if accelerated:
            t_next, weight = _momentum(state.t, None)
            y_next = _extrapolate(x, state.x, weight)
        else:
            t_next, y_next = state.t, x
        new_state = BacktrackingFistaState(optax.safe_increment(state.count), t_next, x, L, n_fev, failed)
        return _difference(y_next, params), new_state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
