"""Truncated Newton (Newton-CG): the Newton direction by conjugate gradients on Hessian-vector products."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from jaxgd import _validate
from jaxgd.second_order._base import objective, zero


class NewtonCGState(NamedTuple):
    """cg_steps: CG iterations of the last solve; negative_curvature: whether it stopped on p^T H p <= 0."""

    count: jax.Array
    cg_steps: jax.Array
    negative_curvature: jax.Array
    n_hev: jax.Array


def scale_by_newton_cg(
    max_cg_steps: int | None = None, *, has_aux: bool = False
) -> optax.GradientTransformationExtraArgs:
    """Truncated Newton: ``u = p`` with ``H p = g`` solved by conjugate gradients on Hessian-vector products.

    H is never formed: each CG step costs one HVP (forward-over-reverse
    ``jax.linearize`` of the gradient). CG stops when ||H d + g|| <=
    min(1/2, sqrt(||g||)) ||g|| (superlinear convergence), after
    ``max_cg_steps`` (default: the dimension), or on a direction of non-positive
    curvature, returning the current iterate (at the first CG step: -g scaled by
    ||g||^2 / |g^T H g|, as scipy). Needs ``value_fn``; ``n_hev`` counts the HVPs.
    optax's sign convention: the update is to be subtracted (the alias chains the minus sign).
    Reference: Nocedal & Wright (2006), Algorithm 7.1.

    Args:
        max_cg_steps: The most CG iterations per update, a positive integer; None: the dimension.
        has_aux: Whether ``value_fn`` returns ``(value, aux)``.

    Returns:
        An ``optax.GradientTransformationExtraArgs``; its update needs the parameters and ``value_fn``.

    Raises:
        ValueError: If max_cg_steps is not a positive integer.
    """
    if max_cg_steps is not None:
        _validate.positive_int("max_cg_steps", max_cg_steps)

    def init_fn(params):
        del params
        return NewtonCGState(zero(), zero(), jnp.zeros([], bool), zero())

    def update_fn(updates, state, params, *, value_fn=None, **extra_args):
        extra_args.pop("value", None), extra_args.pop("grad", None)
        f = objective(value_fn, has_aux, extra_args, "newton_cg")
        g, unravel = ravel_pytree(updates)
        x, unravel_x = ravel_pytree(params)
        dtype = g.dtype
        _, hvp = jax.linearize(jax.grad(lambda v: f(unravel_x(v))), x)
        gnorm = jnp.linalg.norm(g)
        tol = jnp.minimum(0.5, jnp.sqrt(gnorm)) * gnorm
        limit = g.shape[0] if max_cg_steps is None else max_cg_steps

        def cond(c):
            j, _, _, _, done, _ = c
            return ~done & (j < limit)

        def body(c):
            j, z, r, p, _, _ = c
            hp = hvp(p).astype(dtype)
            curv = p @ hp
            neg = curv <= 0
            rr = r @ r
            a = rr / curv
            z_new = z + a * p
            r_new = r + a * hp
            beta = (r_new @ r_new) / rr
            small = jnp.linalg.norm(r_new) <= tol
            sd = jnp.where(curv < 0, rr / -curv, 1.0) * -g  # scipy's scaled steepest descent
            z_out = jnp.where(neg, jnp.where(j == 0, sd, z), z_new)
            return j + 1, z_out, r_new, -r_new + beta * p, neg | small, neg

        zeros = jnp.zeros_like(g)
        start = (zero(), zeros, g, -g, gnorm == 0, jnp.zeros([], bool))
        j, d, _, _, _, neg = jax.lax.while_loop(cond, body, start)
        return unravel(-d), NewtonCGState(optax.safe_increment(state.count), j, neg, j)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
