"""The step sizes of the stochastic-gradient theorems, as :class:`jaxgd.Schedule` s (their parameters are leaves).

The theorems number steps from 1: here s = t + 1 for the optimizer's count t = 0, 1, ...
(the first update uses s = 1).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxgd import _validate
from jaxgd._recipe import schedule

__all__ = ["exponential_range", "inverse_sqrt_step", "smooth_convex_step", "strongly_convex_step"]

ArrayLike = jax.typing.ArrayLike


def _s(count: ArrayLike) -> jax.Array:
    return jnp.asarray(count).astype(jnp.result_type(float)) + 1.0


def _check_smooth(beta, sigma, radius):
    _validate.positive("beta", beta)
    _validate.nonnegative("sigma", sigma)
    _validate.positive("radius", radius)


@schedule(validate=_check_smooth)
def smooth_convex_step(count: ArrayLike, beta: ArrayLike, sigma: ArrayLike, radius: ArrayLike) -> jax.Array:
    """The SGD theorem's step for a convex beta-smooth f, noise E||g - grad f||^2 <= sigma^2, radius R::

        eta_s = 1 / (beta + (sigma / R) sqrt(s / 2))

    With it the average iterate satisfies E f(x~_s) - f* <= sqrt(2) sigma R / sqrt(s) + beta R^2 / s
    (:func:`jaxgd.stochastic.bounds.smooth_convex_bound`). References: ST449 lecture 3;
    Bubeck (2015), "Convex optimization: algorithms and complexity", Thm 6.3 (fixed horizon).

    Args:
        beta: The smoothness constant.
        sigma: The gradient noise.
        radius: R >= ||x_0 - x*||.

    Returns:
        A schedule (:class:`jaxgd.Schedule`): called with the step count t, it returns eta_t.
    """
    return 1.0 / (beta + (sigma / radius) * jnp.sqrt(_s(count) / 2.0))


def _check_strong(c, mu, t0):
    _validate.positive("c", c)
    _validate.positive("mu", mu)
    _validate.positive("t0", t0)


@schedule(validate=_check_strong)
def strongly_convex_step(count: ArrayLike, c: ArrayLike, mu: ArrayLike, t0: ArrayLike = 1.0) -> jax.Array:
    """eta_t = c / (mu (t + t0)): c / (mu s) for t0 = 1, the O(1/t) step for a mu-strongly convex f.

    With c > 1 and eta_0 = c / (mu t0) <= 1/beta, E f(x_t) - f* <= nu / (t + t0)
    (:func:`jaxgd.stochastic.bounds.strongly_convex_bound`). References: Robbins & Monro (1951);
    Bottou, Curtis & Nocedal (2018), "Optimization methods for large-scale machine learning", Thm 4.7.

    Args:
        c: The constant, > 1 for the bound.
        mu: The strong convexity constant.
        t0: The offset.

    Returns:
        A schedule (:class:`jaxgd.Schedule`): called with the step count t, it returns eta_t.
    """
    return c / (mu * (jnp.asarray(count).astype(jnp.result_type(float)) + t0))


def _check_sqrt(init_value):
    _validate.positive("init_value", init_value)


@schedule(validate=_check_sqrt)
def inverse_sqrt_step(count: ArrayLike, init_value: ArrayLike) -> jax.Array:
    """eta_s = eta_0 / sqrt(s): the O(1/sqrt(t)) step for convex (non-smooth) stochastic problems.

    References: Zinkevich (2003), online gradient descent; Nemirovski, Juditsky, Lan & Shapiro
    (2009), "Robust stochastic approximation approach to stochastic programming".

    Args:
        init_value: eta_0 > 0.

    Returns:
        A schedule (:class:`jaxgd.Schedule`): called with the step count t, it returns eta_t.
    """
    return init_value / jnp.sqrt(_s(count))


def _check_range(low, high, steps):
    _validate.positive("low", low)
    _validate.positive("high", high)
    _validate.positive("steps", steps)


@schedule(validate=_check_range)
def exponential_range(count: ArrayLike, low: ArrayLike, high: ArrayLike, steps: ArrayLike) -> jax.Array:
    """eta_t = low (high / low)^(t / (steps - 1)): from ``low`` at t = 0 to ``high`` at t = steps - 1.

    The rising rate of the learning-rate finder (Smith 2017, "Cyclical learning rates for
    training neural networks", sec. 3.3).

    Args:
        low: The first rate, > 0.
        high: The last rate, > 0.
        steps: The number of steps, > 0.

    Returns:
        A schedule (:class:`jaxgd.Schedule`): called with the step count t, it returns eta_t.
    """
    frac = jnp.asarray(count).astype(jnp.result_type(float)) / jnp.maximum(steps - 1.0, 1.0)
    return low * (high / low) ** frac
