"""The Newton family of directions, from the exact Hessian of ``value_fn`` on the flattened parameters.

Each needs the objective: ``update(g, state, x, value_fn=f)`` (``value`` too for
Levenberg-Marquardt, which evaluates f(x) otherwise) and returns the Newton-type
step ``u = M^{-1} g`` with its state, in optax's sign convention: the update is to
be subtracted, as ``optax.scale_by_adam``'s (the aliases chain the minus sign). H
is formed by :func:`jaxgd._core.flat_hessian` (one Hessian evaluation, counted in
``n_hev``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

from jaxgd import _validate
from jaxgd._core import Hyperparameter, flat_hessian, real_dtype, value_at
from jaxgd.second_order._base import objective, one, zero
from jaxgd.second_order._linalg import abs_eig_solve, cholesky_solve, shifted_solve

Fallback = Literal["shift", "gradient", "saddle_free", "none"]


class NewtonState(NamedTuple):
    """count: updates so far; positive_definite: whether the last (regularised) Hessian was PD."""

    count: jax.Array
    positive_definite: jax.Array
    n_hev: jax.Array


def _newton_init(params: Any) -> NewtonState:
    del params
    return NewtonState(zero(), jnp.ones([], bool), zero())


def _hessian(f: Callable, updates: Any, params: Any) -> tuple[jax.Array, Callable, jax.Array]:
    """(g, unravel, H): the flattened gradient (the incoming updates), its unravel and the Hessian of f at params."""
    g, unravel = ravel_pytree(updates)
    return g, unravel, flat_hessian(f, params).astype(g.dtype)


def _eps_floored_abs_solve(hess: jax.Array, g: jax.Array) -> jax.Array:
    """|H|^{-1} g with |lam| floored at machine epsilon (``scale_by_newton``'s ``"saddle_free"`` fallback)."""
    return abs_eig_solve(hess, g, jnp.finfo(g.dtype).eps)[0]


def scale_by_newton(fallback: Fallback = "shift", *, has_aux: bool = False) -> optax.GradientTransformationExtraArgs:
    """Newton: ``u = H^{-1} g``, H the exact Hessian of ``value_fn``, solved by Cholesky.

    When the Cholesky factorisation fails (H not positive definite) the
    update is, by ``fallback``: ``"shift"``, ``(H + tau I)^{-1} g`` with
    tau increased until Cholesky succeeds (Nocedal & Wright, Algorithm 3.3);
    ``"gradient"``, ``g``;
    ``"saddle_free"``, ``|H|^{-1} g``. ``fallback="none"`` is the pure Newton
    step ``H^{-1} g`` by an LU solve, attracted to any critical point (saddles
    and maxima included). Reference: Nocedal & Wright (2006), section 3.3.

    Args:
        fallback: ``"shift"``, ``"gradient"``, ``"saddle_free"`` or ``"none"``.
        has_aux: Whether ``value_fn`` returns ``(value, aux)``.

    Returns:
        An ``optax.GradientTransformationExtraArgs``; its update needs the parameters and ``value_fn``.

    Raises:
        ValueError: If fallback is not one of the four.
    """
    _validate.one_of("fallback", fallback, ("shift", "gradient", "saddle_free", "none"))

    def update_fn(updates, state, params, *, value_fn=None, **extra_args):
        extra_args.pop("value", None), extra_args.pop("grad", None)
        g, unravel, hess = _hessian(objective(value_fn, has_aux, extra_args, "newton"), updates, params)
        if fallback == "none":
            u = jnp.linalg.solve(hess, g)
            pd = jnp.all(jnp.linalg.eigvalsh(hess) > 0)
        else:
            sol, pd = cholesky_solve(hess, g)
            if fallback == "gradient":
                u = jnp.where(pd, sol, g)
            else:
                alt = shifted_solve if fallback == "shift" else _eps_floored_abs_solve
                # the fallback (an eigendecomposition or more factorisations) only runs when needed
                u = jax.lax.cond(pd, lambda: sol, lambda: alt(hess, g))
        return unravel(u), NewtonState(optax.safe_increment(state.count), pd, one())

    return optax.GradientTransformationExtraArgs(_newton_init, update_fn)


def scale_by_regularized_newton(
    alpha: Hyperparameter = 1e-3, *, has_aux: bool = False
) -> optax.GradientTransformationExtraArgs:
    """Regularised Newton: ``u = (H + alpha I)^{-1} g`` with a fixed alpha (a schedule allowed).

    Falls back to ``g`` when H + alpha I is not positive definite. Alpha
    interpolates between Newton (alpha -> 0) and gradient descent with step
    1/alpha (alpha -> inf). Reference: Nocedal & Wright (2006), section 3.4.

    Args:
        alpha: The shift alpha >= 0 (a float, an array or a schedule).
        has_aux: Whether ``value_fn`` returns ``(value, aux)``.

    Returns:
        An ``optax.GradientTransformationExtraArgs``; its update needs the parameters and ``value_fn``.

    Raises:
        ValueError: If alpha is negative or not finite.
    """
    _validate.nonnegative("alpha", alpha)

    def update_fn(updates, state, params, *, value_fn=None, **extra_args):
        extra_args.pop("value", None), extra_args.pop("grad", None)
        g, unravel, hess = _hessian(objective(value_fn, has_aux, extra_args, "regularized_newton"), updates, params)
        a = value_at(alpha, state.count)
        sol, pd = cholesky_solve(hess + a * jnp.eye(g.shape[0], dtype=g.dtype), g)
        return unravel(jnp.where(pd, sol, g)), NewtonState(optax.safe_increment(state.count), pd, one())

    return optax.GradientTransformationExtraArgs(_newton_init, update_fn)


def scale_by_saddle_free_newton(
    damping: Hyperparameter = 1e-6, *, has_aux: bool = False
) -> optax.GradientTransformationExtraArgs:
    """Saddle-free Newton: ``u = |H|^{-1} g`` with ``|H| = V |diag(lam)| V^T``.

    Eigenvalues with |lam| < damping are replaced by damping. Newton's step
    along each eigenvector, with the sign of negative-curvature directions
    flipped, so saddles repel. Reference: Dauphin et al. (2014), "Identifying and
    attacking the saddle point problem in high-dimensional non-convex optimization".

    Args:
        damping: The floor on |lam|, > 0 (a float, an array or a schedule).
        has_aux: Whether ``value_fn`` returns ``(value, aux)``.

    Returns:
        An ``optax.GradientTransformationExtraArgs``; its update needs the parameters and ``value_fn``.

    Raises:
        ValueError: If damping is not positive and finite.
    """
    _validate.positive("damping", damping)

    def update_fn(updates, state, params, *, value_fn=None, **extra_args):
        extra_args.pop("value", None), extra_args.pop("grad", None)
        g, unravel, hess = _hessian(objective(value_fn, has_aux, extra_args, "saddle_free_newton"), updates, params)
        floor = jnp.asarray(value_at(damping, state.count), g.dtype)
        sol, lam = abs_eig_solve(hess, g, floor)
        pd = jnp.all(lam > 0)
        return unravel(sol), NewtonState(optax.safe_increment(state.count), pd, one())

    return optax.GradientTransformationExtraArgs(_newton_init, update_fn)


# --------------------------------------------------------------------------- Levenberg-Marquardt


class LevenbergMarquardtState(NamedTuple):
    """alpha: the current damping; accepted: whether the last step was taken; rho: its gain ratio."""

    count: jax.Array
    alpha: jax.Array
    accepted: jax.Array
    rho: jax.Array
    n_fev: jax.Array
    n_hev: jax.Array


def _check_levenberg_marquardt(alpha: Any, increase_factor: Any, decrease_factor: Any) -> None:
    _validate.positive("alpha", alpha)
    for v in _validate._values(increase_factor):
        if not 1.0 < v < np.inf:
            raise ValueError(f"increase_factor must be > 1 and finite, got increase_factor={v!r}")
    for v in _validate._values(decrease_factor):
        if not 0.0 < v < 1.0:
            raise ValueError(f"decrease_factor must lie in (0, 1), got decrease_factor={v!r}")


def scale_by_levenberg_marquardt(
    alpha: jax.typing.ArrayLike = 1.0,
    increase_factor: jax.typing.ArrayLike = 4.0,
    decrease_factor: jax.typing.ArrayLike = 1.0 / 3.0,
    *,
    has_aux: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """Regularised Newton with an adaptive alpha, Levenberg-Marquardt style, accepting or rejecting steps.

    With H = V diag(lam) V^T, the damping is mu = max(alpha, -lam_min + delta)
    (so H + mu I is positive definite; delta = sqrt(eps) max(1, |lam|_max)),
    the step ``d = -(H + mu I)^{-1} g``, and the gain ratio of actual to predicted decrease::

        rho = (f(x) - f(x + d)) / -(g.d + d^T H d / 2)

    The step is taken if rho > 1e-4: the update is ``u = -d`` (optax's sign
    convention, to be subtracted), else 0. Then
    ``alpha <- decrease_factor mu`` if rho > 3/4, ``increase_factor mu`` if
    rho < 1/4 (or the trial is not finite), else mu. Near a strict saddle mu
    exceeds |lam_min|, so the step leaves along negative curvature.
    References: Levenberg (1944); Marquardt (1963); Nocedal & Wright (2006), ch. 4.

    Args:
        alpha: The starting damping, > 0.
        increase_factor: alpha's factor after a poor step (rho < 1/4), > 1 and finite.
        decrease_factor: alpha's factor after a good step (rho > 3/4), in (0, 1).
        has_aux: Whether ``value_fn`` returns ``(value, aux)``.

    Returns:
        An ``optax.GradientTransformationExtraArgs``; its update needs the parameters and ``value_fn``
            (and takes ``value``, f(x), to save an evaluation).

    Raises:
        ValueError: If alpha or a factor is out of range.
    """
    _check_levenberg_marquardt(alpha, increase_factor, decrease_factor)

    def init_fn(params):
        dtype = real_dtype(params)
        return LevenbergMarquardtState(
            zero(), jnp.asarray(alpha, dtype), jnp.ones([], bool), jnp.zeros([], dtype), zero(), zero()
        )

    def update_fn(updates, state, params, *, value=None, value_fn=None, **extra_args):
        extra_args.pop("grad", None)
        f = objective(value_fn, has_aux, extra_args, "levenberg_marquardt")
        g, unravel, hess = _hessian(f, updates, params)
        x, _ = ravel_pytree(params)
        dtype = g.dtype
        lam, vecs = jnp.linalg.eigh(hess)
        delta = jnp.sqrt(jnp.finfo(dtype).eps) * jnp.maximum(1.0, jnp.max(jnp.abs(lam)))
        mu = jnp.maximum(state.alpha, -lam[0] + delta)
        c = vecs.T @ g
        d = -vecs @ (c / (lam + mu))
        predicted = -(g @ d + 0.5 * jnp.sum(lam * (vecs.T @ d) ** 2))
        f0 = f(params) if value is None else value
        n_fev = 2 if value is None else 1
        f_trial = f(unravel(x + d))
        rho = (f0 - f_trial) / predicted
        finite = jnp.isfinite(rho)
        accept = finite & (rho > 1e-4)
        new_alpha = jnp.where(
            finite & (rho > 0.75), decrease_factor * mu, jnp.where(finite & (rho >= 0.25), mu, increase_factor * mu)
        )
        new_alpha = jnp.maximum(new_alpha, jnp.finfo(dtype).tiny).astype(state.alpha.dtype)
        u = jnp.where(accept, -d, jnp.zeros_like(d))
        new_state = LevenbergMarquardtState(
            optax.safe_increment(state.count),
            new_alpha,
            accept,
            jnp.where(finite, rho, -jnp.inf).astype(state.rho.dtype),
            jnp.asarray(n_fev, jnp.int32),
            one(),
        )
        return unravel(u), new_state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
