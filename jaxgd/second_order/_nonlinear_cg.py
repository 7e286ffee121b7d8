"""Nonlinear conjugate gradient directions (Polak-Ribiere, Fletcher-Reeves, Hestenes-Stiefel, PR+)."""

from __future__ import annotations

from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from jaxgd import _validate
from jaxgd.second_order._base import zero

CGVariant = Literal["polak_ribiere", "fletcher_reeves", "hestenes_stiefel", "pr_plus"]


class NonlinearCGState(NamedTuple):
    """prev_grad and prev_direction: g_{k-1} and d_{k-1}; restarted: whether the last d was -g."""

    count: jax.Array
    prev_grad: jax.Array
    prev_direction: jax.Array
    restarted: jax.Array


def scale_by_nonlinear_cg(
    variant: CGVariant = "polak_ribiere", restart_every: int | None = None
) -> optax.GradientTransformation:
    """Nonlinear conjugate gradients: the direction ``d_k = -g_k + beta_k d_{k-1}``, with y = g_k - g_{k-1}::

        polak_ribiere     beta = g_k . y / ||g_{k-1}||^2
        fletcher_reeves   beta = ||g_k||^2 / ||g_{k-1}||^2
        hestenes_stiefel  beta = g_k . y / d_{k-1} . y
        pr_plus           beta = max(0, polak_ribiere)

    Restarts (d = -g) at the first step, every ``restart_every`` steps if given,
    and whenever d is not a descent direction. With exact line searches on a
    quadratic all four are linear CG. Needs a line search; for Fletcher-Reeves
    strong Wolfe with c2 < 1/2 guarantees descent. Returns ``u = -d_k`` (optax's sign
    convention: the update is to be subtracted; :func:`jaxgd.second_order.nonlinear_cg`
    chains the minus sign). Reference: Nocedal & Wright (2006), section 5.2.

    Args:
        variant: ``"polak_ribiere"``, ``"fletcher_reeves"``, ``"hestenes_stiefel"`` or ``"pr_plus"``.
        restart_every: Restart every this many steps, a positive integer; None: only when needed.

    Returns:
        An ``optax.GradientTransformation``.

    Raises:
        ValueError: If variant is unknown or restart_every is not a positive integer.
    """
    _validate.one_of("variant", variant, ("polak_ribiere", "fletcher_reeves", "hestenes_stiefel", "pr_plus"))
    if restart_every is not None:
        _validate.positive_int("restart_every", restart_every)

    def init_fn(params):
        flat, _ = ravel_pytree(params)
        return NonlinearCGState(zero(), jnp.zeros_like(flat), jnp.zeros_like(flat), jnp.ones([], bool))

    def update_fn(updates, state, params=None):
        del params
        g, unravel = ravel_pytree(updates)
        pg, pd = state.prev_grad, state.prev_direction
        y = g - pg
        if variant == "fletcher_reeves":
            beta = (g @ g) / (pg @ pg)
        elif variant == "hestenes_stiefel":
            beta = (g @ y) / (pd @ y)
        else:
            beta = (g @ y) / (pg @ pg)
            if variant == "pr_plus":
                beta = jnp.maximum(beta, 0.0)
        restart = (state.count == 0) | ~jnp.isfinite(beta)
        if restart_every is not None:
            restart = restart | (state.count % restart_every == 0)
        d = -g + jnp.where(restart, 0.0, beta) * pd
        not_descent = ~(g @ d < 0)
        d = jnp.where(not_descent, -g, d)
        new_state = NonlinearCGState(optax.safe_increment(state.count), g, d, restart | not_descent)
        return unravel(-d), new_state

    return optax.GradientTransformation(init_fn, update_fn)
