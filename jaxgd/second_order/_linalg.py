"""The linear solves of the Newton family, on the flattened parameters: Cholesky, shifted Cholesky, |H|^{-1} g."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxgd.second_order._base import zero


def cholesky_solve(mat: jax.Array, g: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(mat^{-1} g, whether mat is numerically positive definite), by Cholesky."""
    chol = jnp.linalg.cholesky(mat)
    sol = jax.scipy.linalg.cho_solve((chol, True), g)
    ok = jnp.all(jnp.isfinite(chol)) & jnp.all(jnp.isfinite(sol))
    return sol, ok


def abs_eig_solve(hess: jax.Array, g: jax.Array, floor: Any) -> tuple[jax.Array, jax.Array]:
    """(|H|^{-1} g, the eigenvalues of H), through H = V diag(lam) V^T with |lam| floored at ``floor``.

    Saddle-free Newton's solve (Dauphin et al., 2014): Newton's step along each
    eigenvector, with negative curvature's sign flipped.
    """
    lam, vecs = jnp.linalg.eigh(hess)
    return vecs @ ((vecs.T @ g) / jnp.maximum(jnp.abs(lam), floor)), lam


def shifted_solve(hess: jax.Array, g: jax.Array) -> jax.Array:
    """(H + tau I)^{-1} g by Cholesky with an added multiple of the identity (Nocedal & Wright, Algorithm 3.3).

    tau starts at 0 if min(diag H) > 0, else at beta - min(diag H), and doubles (at least to beta)
    until the factorisation succeeds; beta = sqrt(eps) max(1, max |H_ij|).
    """
    eye = jnp.eye(g.shape[0], dtype=g.dtype)
    beta = jnp.sqrt(jnp.finfo(g.dtype).eps) * jnp.maximum(1.0, jnp.max(jnp.abs(hess)))
    dmin = jnp.min(jnp.diagonal(hess))
    tau0 = jnp.where(dmin > 0, 0.0, beta - dmin)

    def attempt(tau):
        return cholesky_solve(hess + tau * eye, g)

    def cond(c):
        i, _, _, ok = c
        return ~ok & (i < 200)

    def body(c):
        i, tau, _, _ = c
        tau = jnp.maximum(2.0 * tau, beta)
        sol, ok = attempt(tau)
        return i + 1, tau, sol, ok

    sol, ok = attempt(tau0)
    _, _, sol, _ = jax.lax.while_loop(cond, body, (zero(), tau0, sol, ok))
    return sol
