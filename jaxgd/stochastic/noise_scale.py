"""The gradient noise scale B_simple = tr(Sigma) / |G|^2 (McCandlish, Kaplan, Amodei et al. 2018).

G = grad f(x) is the full gradient and Sigma the covariance of one example's gradient
grad f_i(x) (i uniform). A mini-batch of B examples drawn with replacement has
E ||g_B - G||^2 = tr(Sigma) / B, so B_simple is the batch size at which the noise of the
estimate is as large as the signal: below it, doubling B about halves the steps needed;
well above it, more examples per step hardly help (the "critical batch size").
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from jaxgd import _validate
from jaxgd._core import filter_jit
from jaxgd.stochastic.finite_sum import FiniteSum, sample_indices

__all__ = ["NoiseScale", "gradient_noise_scale", "hessian_noise_scale", "two_batch_noise_scale"]


class NoiseScale(NamedTuple):
    """B_simple = tr(Sigma) / |G|^2, with its two parts."""

    b_simple: jax.Array
    trace_cov: jax.Array
    grad_sq_norm: jax.Array


def gradient_noise_scale(
    problem: FiniteSum, params: Any, *, sample_size: int | None = None, key: jax.Array | None = None
) -> NoiseScale:
    """B_simple of a finite sum at ``params``, from per-example gradients g_i.

    With every example (``sample_size=None``): G = (1/n) sum_i g_i and
    tr(Sigma) = (1/n) sum_i ||g_i - G||^2, exact. From m examples drawn with replacement
    (``sample_size=m``, ``key``): the unbiased estimates tr(Sigma) ~ (1/(m-1)) sum ||g_i - g_bar||^2
    and |G|^2 ~ ||g_bar||^2 - tr(Sigma)/m (McCandlish et al. 2018, appendix A).

    Args:
        problem: The :class:`FiniteSum`.
        params: The point.
        sample_size: m examples drawn with replacement (None: all n, exact).
        key: The PRNG key of the draw (with ``sample_size``).

    Returns:
        The estimate (:class:`NoiseScale`): B_simple, tr(Sigma) and |G|^2.
    """
    if not isinstance(problem, FiniteSum):
        raise TypeError(f"problem must be a jaxgd.stochastic.FiniteSum, got {type(problem).__name__}")
    if sample_size is None:
        return _exact(problem, params)
    _validate.positive_int("sample_size", sample_size)
    if sample_size < 2:
        raise ValueError(f"sample_size must be at least 2 to estimate a variance, got sample_size={sample_size}")
    if key is None:
        raise ValueError("a sampled noise scale needs key=jax.random.key(seed)")
    return _sampled(problem, params, key, m=sample_size)


def _flat_grads(problem: FiniteSum, params: Any, idx: Any) -> jax.Array:
    grads = problem.example_grads(params, idx)
    return jax.vmap(lambda g: ravel_pytree(g)[0])(grads)


@filter_jit
def _exact(problem: FiniteSum, params: Any) -> NoiseScale:
    g = _flat_grads(problem, params, None)
    mean = jnp.mean(g, axis=0)
    trace = jnp.mean(jnp.sum((g - mean) ** 2, axis=1))
    sq = jnp.sum(mean**2)
    return NoiseScale(trace / sq, trace, sq)


@filter_jit(static_argnames=("m",))
def _sampled(problem: FiniteSum, params: Any, key: jax.Array, *, m: int) -> NoiseScale:
    g = _flat_grads(problem, params, sample_indices(key, problem.n, m, replace=True))
    mean = jnp.mean(g, axis=0)
    trace = jnp.sum((g - mean) ** 2) / (m - 1)
    sq = jnp.sum(mean**2) - trace / m
    return NoiseScale(trace / sq, trace, sq)


def hessian_noise_scale(problem: FiniteSum, params: Any) -> jax.Array:
    """B_noise = tr(H Sigma) / (G^T H G), the curvature-weighted noise scale (McCandlish et al. 2018, eq. 2.6).

    With the step size that is best for each batch size, one step of batch B gains
    1 / (1 + B_noise / B) of a noiseless step on the local quadratic model; B_simple is
    B_noise for H proportional to I. Exact over all n examples, with n Hessian-vector products.

    Args:
        problem: The :class:`FiniteSum`.
        params: The point.

    Returns:
        B_noise, a scalar.
    """
    if not isinstance(problem, FiniteSum):
        raise TypeError(f"problem must be a jaxgd.stochastic.FiniteSum, got {type(problem).__name__}")
    return _hessian_noise(problem, params)


@filter_jit
def _hessian_noise(problem: FiniteSum, params: Any) -> jax.Array:
    grads = problem.example_grads(params)
    mean = jax.tree.map(lambda a: jnp.mean(a, axis=0), grads)
    dev = jax.tree.map(lambda a, m: a - m, grads, mean)

    def hvp(v):
        return jax.jvp(jax.grad(problem), (params,), (v,))[1]

    def dot(a, b):
        return sum(jnp.sum(x * y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))

    trace = jnp.mean(jax.vmap(lambda d: dot(d, hvp(d)))(dev))
    return trace / dot(mean, hvp(mean))


def two_batch_noise_scale(
    small_sq_norm: jax.typing.ArrayLike, big_sq_norm: jax.typing.ArrayLike, small: float, big: float
) -> NoiseScale:
    """B_simple from the squared norms of two mini-batch gradients of sizes ``small`` < ``big``::

        |G|^2 ~ (B_big |g_big|^2 - B_small |g_small|^2) / (B_big - B_small)
        tr(Sigma) ~ (|g_small|^2 - |g_big|^2) / (1/B_small - 1/B_big)

    unbiased (McCandlish et al. 2018, appendix A.1); for models without per-example gradients
    (e.g. the per-device and the all-reduced gradient of data-parallel training).

    Args:
        small_sq_norm: |g_small|^2.
        big_sq_norm: |g_big|^2.
        small: B_small.
        big: B_big > B_small.

    Returns:
        The estimate (:class:`NoiseScale`).
    """
    _validate.positive("small", small)
    _validate.positive("big", big)
    if not float(small) < float(big):
        raise ValueError(f"need small < big, got small={small}, big={big}")
    s, b = jnp.asarray(small_sq_norm), jnp.asarray(big_sq_norm)
    sq = (big * b - small * s) / (big - small)
    trace = (s - b) / (1.0 / small - 1.0 / big)
    return NoiseScale(trace / sq, trace, sq)
