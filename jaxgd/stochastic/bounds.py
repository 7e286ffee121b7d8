"""The bounds of the stochastic-gradient theorems, as functions of the step t (for drawing beside measured curves).

Noise model: unbiased gradients g with E ||g - grad f(x)||^2 <= sigma^2 (the noise oracle of
:func:`jaxgd.stochastic.noisy_gradient` has exactly sigma^2). t counts updates: x_t is the
iterate after t steps from x_0. Jittable; concrete bad constants raise ValueError.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxgd import _validate

__all__ = [
    "constant_step_bound",
    "constant_step_floor",
    "quadratic_noise_floor",
    "smooth_convex_bound",
    "strongly_convex_bound",
]

ArrayLike = jax.typing.ArrayLike


def _f(x: ArrayLike) -> jax.Array:
    return jnp.asarray(x, jnp.result_type(x, float))


def smooth_convex_bound(t: ArrayLike, beta: ArrayLike, sigma: ArrayLike, radius: ArrayLike) -> jax.Array:
    """E f(x~_t) - f* <= sqrt(2) sigma R / sqrt(t) + beta R^2 / t, for the average x~_t of t SGD iterates.

    SGD on a convex beta-smooth f with the step of :func:`jaxgd.stochastic.smooth_convex_step`,
    R >= ||x_0 - x*|| (ST449 lecture 3; Bubeck 2015, Thm 6.3). Noise-dominated (slope -1/2 in
    log-log) once t > 2 (beta R / sigma)^2.

    Args:
        t: The number of steps (an array broadcasts).
        beta: The smoothness constant.
        sigma: The gradient noise.
        radius: R >= ||x_0 - x*||.

    Returns:
        The bound, with the broadcast shape of the arguments.
    """
    _validate.positive("beta", beta)
    _validate.nonnegative("sigma", sigma)
    _validate.positive("radius", radius)
    t = _f(t)
    return jnp.sqrt(2.0) * sigma * radius / jnp.sqrt(t) + beta * radius**2 / t


def _concrete(*xs: ArrayLike) -> bool:
    return not any(isinstance(x, jax.core.Tracer) for x in xs)


def _check_strongly_convex(c, mu, beta, t0) -> None:
    _validate.positive("mu", mu)
    _validate.positive("beta", beta)
    _validate.positive("t0", t0)
    if not _concrete(c, mu, beta, t0):
        return
    c_, mu_, beta_, t0_ = (np.asarray(x, float) for x in (c, mu, beta, t0))
    if np.any(c_ <= 1.0):
        raise ValueError(f"the O(1/t) bound needs c > 1, got c={c}")
    if np.any(c_ * beta_ > mu_ * t0_ * (1 + 1e-12)):
        raise ValueError(
            f"the O(1/t) bound needs a first step c / (mu t0) <= 1/beta: take t0 >= c beta / mu, "
            f"got c={c}, mu={mu}, beta={beta}, t0={t0}"
        )


def strongly_convex_bound(
    t: ArrayLike,
    c: ArrayLike,
    mu: ArrayLike,
    beta: ArrayLike,
    sigma: ArrayLike,
    initial_gap: ArrayLike,
    t0: ArrayLike = 1.0,
) -> jax.Array:
    """E f(x_t) - f* <= nu / (t + t0) for SGD with eta_t = c / (mu (t + t0)) on a mu-strongly convex, beta-smooth f::

        nu = max(c^2 beta sigma^2 / (2 mu^2 (c - 1)), t0 (f(x_0) - f*))

    valid for c > 1 and eta_0 = c / (mu t0) <= 1/beta. ``initial_gap`` = f(x_0) - f*.
    Bottou, Curtis & Nocedal (2018), Thm 4.7 (beta_BCN = c/mu, gamma = t0 - 1, M = sigma^2, M_G = 1).

    Args:
        t: The number of steps (an array broadcasts).
        c: The step's constant, > 1.
        mu: The strong convexity constant.
        beta: The smoothness constant.
        sigma: The gradient noise.
        initial_gap: f(x_0) - f*.
        t0: The step's offset.

    Returns:
        The bound, with the broadcast shape of the arguments.
    """
    _check_strongly_convex(c, mu, beta, t0)
    _validate.nonnegative("sigma", sigma)
    _validate.nonnegative("initial_gap", initial_gap)
    nu = jnp.maximum(c**2 * beta * sigma**2 / (2.0 * mu**2 * (c - 1.0)), t0 * _f(initial_gap))
    return nu / (_f(t) + t0)


def constant_step_floor(learning_rate: ArrayLike, mu: ArrayLike, beta: ArrayLike, sigma: ArrayLike) -> jax.Array:
    """eta beta sigma^2 / (2 mu): the limit of the bound of :func:`constant_step_bound` (it grows with eta).

    Args:
        learning_rate: eta.
        mu: The strong convexity constant.
        beta: The smoothness constant.
        sigma: The gradient noise.

    Returns:
        The bound, with the broadcast shape of the arguments.
    """
    _validate.positive("learning_rate", learning_rate)
    _validate.positive("mu", mu)
    _validate.positive("beta", beta)
    _validate.nonnegative("sigma", sigma)
    return _f(learning_rate) * beta * sigma**2 / (2.0 * mu)


def constant_step_bound(
    t: ArrayLike, learning_rate: ArrayLike, mu: ArrayLike, beta: ArrayLike, sigma: ArrayLike, initial_gap: ArrayLike
) -> jax.Array:
    """E f(x_t) - f* <= F + (1 - eta mu)^t (f(x_0) - f* - F), F = eta beta sigma^2 / (2 mu), for eta <= 1/beta.

    Constant-step SGD on a mu-strongly convex, beta-smooth f converges linearly, but only to the
    noise floor F (Bottou, Curtis & Nocedal 2018, Thm 4.6).

    Args:
        t: The number of steps (an array broadcasts).
        learning_rate: eta <= 1/beta.
        mu: The strong convexity constant.
        beta: The smoothness constant.
        sigma: The gradient noise, E ||g - grad f||^2 <= sigma^2.
        initial_gap: f(x_0) - f*.

    Returns:
        The bound, with the broadcast shape of the arguments.
    """
    floor = constant_step_floor(learning_rate, mu, beta, sigma)
    if _concrete(learning_rate, beta) and np.any(np.asarray(learning_rate) * np.asarray(beta) > 1 + 1e-12):
        raise ValueError(f"the constant-step bound needs learning_rate <= 1/beta, got {learning_rate}, beta={beta}")
    return floor + (1.0 - learning_rate * mu) ** _f(t) * (_f(initial_gap) - floor)


def quadratic_noise_floor(learning_rate: ArrayLike, eigenvalues: ArrayLike, sigma: ArrayLike) -> jax.Array:
    """The exact stationary E f(x) - f* of constant-step SGD on a quadratic with isotropic gradient noise::

        sum_i eta sigma^2 / (2 d (2 - eta lambda_i))

    for noise N(0, sigma^2 / d I) (E ||xi||^2 = sigma^2) and Hessian eigenvalues lambda_i, d of them:
    each coordinate is an AR(1) process with stationary variance eta^2 (sigma^2/d) / (1 - (1 - eta lambda_i)^2).
    Finite for 0 < eta < 2 / lambda_max.

    Args:
        learning_rate: eta.
        eigenvalues: The Hessian's eigenvalues lambda_i.
        sigma: The gradient noise, E ||xi||^2 = sigma^2.

    Returns:
        The stationary E f - f*, with the shape of ``learning_rate``.
    """
    _validate.positive("learning_rate", learning_rate)
    _validate.nonnegative("sigma", sigma)
    lam = _f(eigenvalues)
    if lam.ndim != 1:
        raise ValueError(f"eigenvalues must be a vector, got shape {np.shape(eigenvalues)}")
    eta = jnp.asarray(learning_rate, lam.dtype)[..., None]
    d = lam.shape[0]
    return jnp.sum(eta * sigma**2 / (2.0 * d * (2.0 - eta * lam)), axis=-1)
