"""Matrix-free curvature: Hessian-vector products, Lanczos, power iteration, Hutchinson's trace.

None of these forms the Hessian: each needs only products H v, computed
forward-over-reverse (``jax.jvp`` of ``jax.grad``) at about the cost of two
gradients, so they run on million-parameter pytrees. Loops are ``lax`` loops
with a fixed iteration count: every function is ``jit``- and ``vmap``-able
(e.g. over PRNG keys, or inside a training step to track sharpness).

Eigenvalues are returned by sign, the largest (lambda_max) and the smallest
(lambda_min, negative at a saddle), not by absolute value as PyHessian's
power iteration does; each comes with its residual ||H v - lambda v|| for the
unit vector v returned. For symmetric H some eigenvalue lies within the
residual of the estimate: it is the error bar.

References: Pearlmutter (1994), "Fast exact multiplication by the Hessian";
Lanczos (1950); Golub & Van Loan, "Matrix Computations", sec. 10.1;
Hutchinson (1990); Yao et al. (2020), "PyHessian".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from jaxgd._core import filter_jit, objective_of

__all__ = ["Eigenpairs", "hutchinson_samples", "hutchinson_trace", "hvp", "lanczos", "power_iteration"]


class Eigenpairs(NamedTuple):
    """Extreme eigenvalues of a Hessian by sign, with residual error bars and unit eigenvectors.

    Attributes:
      lambda_max: the largest eigenvalue estimate.
      lambda_min: the smallest eigenvalue estimate.
      residual_max: ||H v_max - lambda_max v_max||.
      residual_min: ||H v_min - lambda_min v_min||.
      vector_max: v_max, a pytree like params with unit norm.
      vector_min: v_min.
    """

    lambda_max: jax.Array
    lambda_min: jax.Array
    residual_max: jax.Array
    residual_min: jax.Array
    vector_max: Any
    vector_min: Any


def hvp(f: Callable[[Any], jax.Array], params: Any, v: Any) -> Any:
    """The Hessian-vector product H(params) v of a scalar function f of a pytree, forward-over-reverse.

    ``v`` is a pytree like ``params``; so is the result. H is never formed.

    Args:
        f: A scalar function of the params pytree (e.g. a loss closing over a batch).
        params: The point, any pytree.
        v: The vector, a pytree like params.

    Returns:
        H v, a pytree like params.
    """
    return jax.jvp(jax.grad(f), (params,), (v,))[1]


def _check_function(f: Callable[[Any], jax.Array], params: Any) -> None:
    leaves = jax.tree.leaves(params)
    if not leaves or sum(jnp.size(x) for x in leaves) == 0:
        raise ValueError("params is an empty pytree")
    for x in leaves:
        if not jnp.issubdtype(jnp.result_type(x), jnp.floating):
            raise TypeError(f"params must be floating point, got a leaf of dtype {jnp.result_type(x)}")
    out = jax.eval_shape(f, params)
    if getattr(out, "shape", None) != ():
        raise TypeError(f"f must return a scalar, got {getattr(out, 'shape', type(out).__name__)}")


def _flat_hvp(f: Callable[[Any], jax.Array], params: Any) -> tuple[Callable[[jax.Array], jax.Array], jax.Array, Any]:
    flat, unravel = ravel_pytree(params)
    grad = jax.grad(f)

    def matvec(v: jax.Array) -> jax.Array:
        return ravel_pytree(jax.jvp(grad, (params,), (unravel(v),))[1])[0].astype(flat.dtype)

    return matvec, flat, unravel


def _dispatch(impl: Callable, f: Callable[[Any], jax.Array], params: Any, key: jax.Array, count: int) -> Any:
    """Run ``impl`` under one :func:`jaxgd._core.filter_jit`, f's array leaves (a Problem's data) traced."""
    return _jitted(f, params, key, impl=impl, count=count)


@filter_jit(static_argnames=("impl", "count"))
def _jitted(f: Callable[[Any], jax.Array], params: Any, key: jax.Array, *, impl: Callable, count: int) -> Any:
    return impl(f, params, key, count)


def _check_iters(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {name}={value!r}")


def _unit(v: jax.Array) -> jax.Array:
    n = jnp.linalg.norm(v)
    return v / jnp.where(n > 0, n, 1.0)


def _pair(matvec, unravel, v_max, v_min, lam_max, lam_min) -> Eigenpairs:
    r_max = jnp.linalg.norm(matvec(v_max) - lam_max * v_max)
    r_min = jnp.linalg.norm(matvec(v_min) - lam_min * v_min)
    return Eigenpairs(lam_max, lam_min, r_max, r_min, unravel(v_max), unravel(v_min))


def lanczos(f: Callable[[Any], jax.Array], params: Any, key: jax.Array, num_iters: int = 30) -> Eigenpairs:
    """Extreme Hessian eigenvalues of f at params by the Lanczos method with full reorthogonalisation.

    Builds an orthonormal Krylov basis V (m x n, m = min(num_iters, n)) from a
    random start, with each new vector orthogonalised twice against all previous
    ones (classical Gram-Schmidt, "twice is enough"), and returns the extreme
    eigenpairs of the tridiagonal T = V H V^T (Ritz pairs). If the Krylov space
    becomes invariant early, Lanczos restarts from a fresh random vector
    orthogonal to V. Ritz values lie inside [lambda_min, lambda_max] of H and
    converge to the extremes first. Memory O(m n); m + 2 Hessian-vector products.
    ``f`` maps the params pytree to a scalar (e.g. a loss closing over a batch).

    Args:
        f: A scalar function of the params pytree (e.g. a loss closing over a batch).
        params: The point, any pytree.
        key: The PRNG key of the random start.
        num_iters: The size m of the Krylov basis (capped at n).

    Returns:
        The eigenpairs (:class:`Eigenpairs`): the extreme Ritz values and vectors with their residuals.
    """
    _check_iters("num_iters", num_iters)
    f = objective_of(f)
    _check_function(f, params)
    return _dispatch(_lanczos, f, params, key, num_iters)


def _lanczos(f: Callable[[Any], jax.Array], params: Any, key: jax.Array, num_iters: int) -> Any:
    matvec, flat, unravel = _flat_hvp(f, params)
    n = flat.shape[0]
    m = min(num_iters, n)
    dtype = flat.dtype
    eps = jnp.finfo(dtype).eps
    key_start, key_restart = jax.random.split(key)
    v0 = _unit(jax.random.normal(key_start, (n,), dtype))
    basis = jnp.zeros((m, n), dtype).at[0].set(v0)

    def orthogonalise(w, basis):
        for _ in range(2):
            w = w - basis.T @ (basis @ w)
        return w

    def body(j, carry):
        basis, alphas, betas = carry
        v = basis[j]
        w = matvec(v)
        alpha = jnp.dot(w, v)
        scale = jnp.linalg.norm(w)
        w = orthogonalise(w, basis)
        beta = jnp.linalg.norm(w)
        broke = beta <= 1e3 * eps * scale

        def restart():
            fresh = jax.random.normal(jax.random.fold_in(key_restart, j), (n,), dtype)
            return _unit(orthogonalise(fresh, basis))

        nxt = jax.lax.cond(broke, restart, lambda: w / jnp.where(broke, 1.0, beta))
        beta = jnp.where(broke, 0.0, beta)
        has_next = j + 1 < m
        slot = jnp.minimum(j + 1, m - 1)
        basis = basis.at[slot].set(jnp.where(has_next, nxt, basis[slot]))
        return basis, alphas.at[j].set(alpha), betas.at[j].set(jnp.where(has_next, beta, 0.0))

    carry = (basis, jnp.zeros(m, dtype), jnp.zeros(m, dtype))
    basis, alphas, betas = jax.lax.fori_loop(0, m, body, carry)
    tri = jnp.diag(alphas) + jnp.diag(betas[:-1], 1) + jnp.diag(betas[:-1], -1)
    theta, s = jnp.linalg.eigh(tri)
    v_min = _unit(basis.T @ s[:, 0])
    v_max = _unit(basis.T @ s[:, -1])
    return _pair(matvec, unravel, v_max, v_min, theta[-1], theta[0])


def power_iteration(f: Callable[[Any], jax.Array], params: Any, key: jax.Array, num_iters: int = 100) -> Eigenpairs:
    """Extreme Hessian eigenvalues of f at params by power iteration, by sign.

    A first run of ``num_iters`` steps v <- H v / ||H v|| finds the eigenvalue of
    largest magnitude, lambda_1 (the Rayleigh quotient). A second run on the
    shifted H - lambda_1 I, whose dominant eigenvalue is (other end) - lambda_1,
    finds the other end of the spectrum. Memory O(n), 2 num_iters + 2 products;
    converges like (|lambda_2| / |lambda_1|)^k, so slower than :func:`lanczos`, and
    poorly when the two ends have nearly equal magnitude: check the residuals.

    Args:
        f: A scalar function of the params pytree (e.g. a loss closing over a batch).
        params: The point, any pytree.
        key: The PRNG key of the random start.
        num_iters: The number of steps of each run.

    Returns:
        The eigenpairs (:class:`Eigenpairs`): both ends of the spectrum with their residuals.
    """
    _check_iters("num_iters", num_iters)
    f = objective_of(f)
    _check_function(f, params)
    return _dispatch(_power_iteration, f, params, key, num_iters)


def _power_iteration(f: Callable[[Any], jax.Array], params: Any, key: jax.Array, num_iters: int) -> Any:
    matvec, flat, unravel = _flat_hvp(f, params)
    dtype = flat.dtype
    k1, k2 = jax.random.split(key)

    def power(op, v):
        v = jax.lax.fori_loop(0, num_iters, lambda _, v: _unit(op(v)), _unit(v))
        return v, jnp.dot(v, op(v))

    v1, lam1 = power(matvec, jax.random.normal(k1, flat.shape, dtype))
    v2, shifted = power(lambda v: matvec(v) - lam1 * v, jax.random.normal(k2, flat.shape, dtype))
    lam2 = shifted + lam1
    first_is_max = lam1 >= lam2
    lam_max, lam_min = jnp.where(first_is_max, lam1, lam2), jnp.where(first_is_max, lam2, lam1)
    v_max, v_min = jnp.where(first_is_max, v1, v2), jnp.where(first_is_max, v2, v1)
    return _pair(matvec, unravel, v_max, v_min, lam_max, lam_min)


def hutchinson_samples(f: Callable[[Any], jax.Array], params: Any, key: jax.Array, num_samples: int = 100) -> jax.Array:
    """num_samples independent values z^T H z with Rademacher z (each an unbiased estimate of tr H).

    Their mean is :func:`hutchinson_trace`; their standard deviation / sqrt(num_samples)
    its standard error. Variance: 2 sum_{i != j} H_ij^2 (exact for diagonal H).
    Computed one sample at a time (``lax.map``): memory O(n).

    Args:
        f: A scalar function of the params pytree (e.g. a loss closing over a batch).
        params: The point, any pytree.
        key: The PRNG key of the Rademacher vectors.
        num_samples: The number of vectors.

    Returns:
        The (num_samples,) values z^T H z.
    """
    _check_iters("num_samples", num_samples)
    f = objective_of(f)
    _check_function(f, params)
    return _dispatch(_hutchinson_samples, f, params, key, num_samples)


def _hutchinson_samples(f: Callable[[Any], jax.Array], params: Any, key: jax.Array, num_samples: int) -> Any:
    matvec, flat, _ = _flat_hvp(f, params)

    def sample(k):
        z = jax.random.rademacher(k, flat.shape, flat.dtype)
        return jnp.dot(z, matvec(z))

    return jax.lax.map(sample, jax.random.split(key, num_samples))


def hutchinson_trace(f: Callable[[Any], jax.Array], params: Any, key: jax.Array, num_samples: int = 100) -> jax.Array:
    """Hutchinson's estimate of tr H: the mean of z^T H z over Rademacher vectors z (Hutchinson 1990).

    Args:
        f: A scalar function of the params pytree (e.g. a loss closing over a batch).
        params: The point, any pytree.
        key: The PRNG key of the Rademacher vectors.
        num_samples: The number of vectors.

    Returns:
        The estimate of tr H, a scalar.
    """
    return jnp.mean(hutchinson_samples(f, params, key, num_samples))
