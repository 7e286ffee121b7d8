"""Quasi-Newton directions: BFGS (dense inverse Hessian) and L-BFGS (two-loop recursion).

Plain ``GradientTransformation``s: ``update(g, state, x)`` needs the parameters
(for s = x_k - x_{k-1}) but not the objective. They return ``H_k g`` (optax's sign
convention); chain a negation and a line search after them.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from jaxgd import _validate
from jaxgd.second_order._base import zero


class BFGSState(NamedTuple):
    """inv_hessian: H_k, the approximation of the inverse Hessian on the flattened parameters."""

    count: jax.Array
    prev_params: jax.Array
    prev_grad: jax.Array
    inv_hessian: jax.Array


def _first_scale(g: jax.Array) -> jax.Array:
    """min(1, 1/||g||): the first step is at most 1 long (optax's L-BFGS convention, as scipy's first guess)."""
    return jnp.minimum(1.0, 1.0 / jnp.linalg.norm(g))


def scale_by_bfgs(scale_init_precond: bool = True) -> optax.GradientTransformation:
    """BFGS: ``u = H_k g`` with the dense inverse-Hessian update (s = x_k - x_{k-1}, y = g_k - g_{k-1})::

        H_k = (I - rho s y^T) H_{k-1} (I - rho y s^T) + rho s s^T,    rho = 1 / y^T s

    The update is skipped unless y^T s > eps ||s|| ||y|| (a Wolfe line search
    ensures y^T s > 0). H_0 = I, with the first update scaled by
    min(1, 1/||g||); with ``scale_init_precond`` H_0 is replaced by (y^T s / y^T y) I
    before the first update (Nocedal & Wright (6.20)). optax's sign convention:
    the update is to be subtracted (:func:`jaxgd.second_order.bfgs` chains the minus sign).
    Reference: Nocedal & Wright (2006), Algorithm 6.1.

    Args:
        scale_init_precond: Whether H_0 is (y^T s / y^T y) I before the first update.

    Returns:
        An ``optax.GradientTransformation``; its update needs the parameters.
    """

    def init_fn(params):
        flat, _ = ravel_pytree(params)
        n = flat.shape[0]
        return BFGSState(zero(), jnp.zeros_like(flat), jnp.zeros_like(flat), jnp.eye(n, dtype=flat.dtype))

    def update_fn(updates, state, params):
        g, unravel = ravel_pytree(updates)
        x, _ = ravel_pytree(params)
        s, y = x - state.prev_params, g - state.prev_grad
        ys, yy = y @ s, y @ y
        eps = jnp.finfo(g.dtype).eps
        ok = (state.count > 0) & (ys > eps * jnp.linalg.norm(s) * jnp.sqrt(yy))
        h = state.inv_hessian
        if scale_init_precond:
            h = jnp.where(state.count == 1, (ys / yy) * jnp.eye(g.shape[0], dtype=g.dtype), h)
        rho = 1.0 / ys
        hy = h @ y
        updated = h - rho * (jnp.outer(s, hy) + jnp.outer(hy, s)) + (rho * rho * (y @ hy) + rho) * jnp.outer(s, s)
        h = jnp.where(ok, updated, state.inv_hessian)
        u = jnp.where(state.count == 0, _first_scale(g) * g, h @ g)
        return unravel(u), BFGSState(optax.safe_increment(state.count), x, g, h)

    return optax.GradientTransformation(init_fn, update_fn)


class LBFGSState(NamedTuple):
    """The last ``memory_size`` pairs s_i = x_{i+1} - x_i, y_i = g_{i+1} - g_i, weights 1 / y_i^T s_i."""

    count: jax.Array
    prev_params: jax.Array
    prev_grad: jax.Array
    s_memory: jax.Array
    y_memory: jax.Array
    rho_memory: jax.Array
    gamma: jax.Array


def scale_by_lbfgs(memory_size: int = 10, scale_init_precond: bool = True) -> optax.GradientTransformation:
    """L-BFGS: ``u = H_k g`` by the two-loop recursion over the last m = ``memory_size`` pairs.

    H_k^0 = gamma I with gamma = s^T y / y^T y of the newest pair (1 without
    ``scale_init_precond``), and min(1, 1/||g||) at the first step. Same arguments,
    sign and numbers as ``optax.scale_by_lbfgs`` (the update is to be subtracted:
    ``optax.chain(scale_by_lbfgs(), optax.scale(-1.0), search)``), except that a
    pair with y^T s <= 0 gets weight 0 and leaves gamma unchanged, where optax
    uses it (a Wolfe line search ensures y^T s > 0, and then both agree).
    Reference: Nocedal & Wright (2006), Algorithms 7.4 and 7.5; Liu & Nocedal (1989).

    Args:
        memory_size: m, the number of (s, y) pairs kept, a positive integer.
        scale_init_precond: Whether H_k^0 = gamma I (else I).

    Returns:
        An ``optax.GradientTransformation``; its update needs the parameters.

    Raises:
        ValueError: If memory_size is not a positive integer.
    """
    _validate.positive_int("memory_size", memory_size)

    def init_fn(params):
        flat, _ = ravel_pytree(params)
        mem = jnp.zeros((memory_size, flat.shape[0]), flat.dtype)
        dtype = flat.dtype
        zeros = jnp.zeros_like(flat)
        return LBFGSState(zero(), zeros, zeros, mem, mem, jnp.zeros(memory_size, dtype), jnp.ones([], dtype))

    def update_fn(updates, state, params):
        g, unravel = ravel_pytree(updates)
        x, _ = ravel_pytree(params)
        first = state.count == 0
        s = jnp.where(first, 0.0, x - state.prev_params)
        y = jnp.where(first, 0.0, g - state.prev_grad)
        ys, yy = y @ s, y @ y
        good = ys > 0
        rho = jnp.where(good, 1.0 / jnp.where(good, ys, 1.0), 0.0)
        prev_idx = (state.count - 1) % memory_size
        # in-place row updates (prev_idx is in range, so no bounds-checking select over the whole memory)
        s_mem = jax.lax.dynamic_update_index_in_dim(state.s_memory, s, prev_idx, 0)
        y_mem = jax.lax.dynamic_update_index_in_dim(state.y_memory, y, prev_idx, 0)
        rho_mem = jax.lax.dynamic_update_index_in_dim(state.rho_memory, rho, prev_idx, 0)
        if scale_init_precond:
            gamma = jnp.where(good & (yy > 0), ys / jnp.where(yy > 0, yy, 1.0), state.gamma)
            gamma = jnp.where(first, _first_scale(g), gamma)
        else:
            gamma = jnp.ones([], g.dtype)
        order = (state.count + jnp.arange(memory_size)) % memory_size  # oldest to newest

        def right(q, i):
            a = rho_mem[i] * (s_mem[i] @ q)
            return q - a * y_mem[i], a

        q, alphas = jax.lax.scan(right, g, order, reverse=True)
        r = gamma * q

        def left(r, i_a):
            i, a = i_a
            b = rho_mem[i] * (y_mem[i] @ r)
            return r + (a - b) * s_mem[i], None

        r, _ = jax.lax.scan(left, r, (order, alphas))
        new_state = LBFGSState(optax.safe_increment(state.count), x, g, s_mem, y_mem, rho_mem, gamma.astype(g.dtype))
        return unravel(r), new_state

    return optax.GradientTransformation(init_fn, update_fn)
