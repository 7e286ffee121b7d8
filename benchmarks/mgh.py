"""Classic unconstrained test functions of Moré, Garbow & Hillstrom (1981), as sums of squared residuals.

f(x) = sum_i r_i(x)^2, with the residuals, standard start x0 and least value f* of the paper
("Testing unconstrained optimization software", ACM TOMS 7(1), 17-41); the numbers in brackets
are the paper's. Badly scaled: Brown (#4), Powell (#3), Brown and Dennis (#16); singular Hessian at
the minimiser: Powell singular (#13); curved valleys: Helical valley (#7), Wood (#14), extended
Rosenbrock (#21). Used by ``benchmarks/second_order.py`` (a comparison with scipy.optimize) and
``tests/test_minimize_scipy.py``; pure ``jax.numpy``, any float dtype.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np


class TestFunction(NamedTuple):
    """A test function: its name, f, the standard start and the least value f* (0 unless stated)."""

    name: str
    fun: Callable
    x0: tuple[float, ...]
    fmin: float = 0.0


def _sum_sq(residuals: Callable) -> Callable:
    def fun(x):
        return jnp.sum(residuals(x) ** 2)

    fun.__name__ = residuals.__name__
    return fun


@_sum_sq
def powell_badly_scaled(x):  # [3]: f* = 0 at (1.098e-5, 9.106)
    return jnp.stack([1e4 * x[0] * x[1] - 1.0, jnp.exp(-x[0]) + jnp.exp(-x[1]) - 1.0001])


@_sum_sq
def brown_badly_scaled(x):  # [4]: f* = 0 at (1e6, 2e-6)
    return jnp.stack([x[0] - 1e6, x[1] - 2e-6, x[0] * x[1] - 2.0])


@_sum_sq
def beale(x):  # [5]: f* = 0 at (3, 0.5)
    y = jnp.array([1.5, 2.25, 2.625], x.dtype)
    i = jnp.arange(1, 4, dtype=x.dtype)
    return y - x[0] * (1.0 - x[1] ** i)


@_sum_sq
def helical_valley(x):  # [7]: f* = 0 at (1, 0, 0); theta jumps at x1 = 0 only (not arctan2's cut at x1 < 0)
    theta = jnp.arctan(x[1] / x[0]) / (2 * jnp.pi) + jnp.where(x[0] < 0, 0.5, 0.0)
    return jnp.stack([10.0 * (x[2] - 10.0 * theta), 10.0 * (jnp.sqrt(x[0] ** 2 + x[1] ** 2) - 1.0), x[2]])


@_sum_sq
def powell_singular(x):  # [13]: f* = 0 at 0, where the Hessian is singular
    r1, r2 = x[0] + 10.0 * x[1], jnp.sqrt(5.0) * (x[2] - x[3])
    return jnp.stack([r1, r2, (x[1] - 2.0 * x[2]) ** 2, jnp.sqrt(10.0) * (x[0] - x[3]) ** 2])


@_sum_sq
def wood(x):  # [14]: f* = 0 at (1, 1, 1, 1)
    return jnp.stack(
        [
            10.0 * (x[1] - x[0] ** 2),
            1.0 - x[0],
            jnp.sqrt(90.0) * (x[3] - x[2] ** 2),
            1.0 - x[2],
            jnp.sqrt(10.0) * (x[1] + x[3] - 2.0),
            (x[1] - x[3]) / jnp.sqrt(10.0),
        ]
    )


@_sum_sq
def brown_dennis(x):  # [16], m = 20: f* = 85822.2
    t = jnp.arange(1, 21, dtype=x.dtype) / 5.0
    return (x[0] + t * x[1] - jnp.exp(t)) ** 2 + (x[2] + x[3] * jnp.sin(t) - jnp.cos(t)) ** 2


@_sum_sq
def extended_rosenbrock(x):  # [21]: f* = 0 at (1, ..., 1); pairs (x_{2i-1}, x_{2i}), not the chained form
    odd, even = x[0::2], x[1::2]
    return jnp.concatenate([10.0 * (even - odd**2), 1.0 - odd])


@_sum_sq
def box_3d(x):  # [12], m = 10: f* = 0 at (1, 10, 1)
    t = 0.1 * jnp.arange(1, 11, dtype=x.dtype)
    return jnp.exp(-t * x[0]) - jnp.exp(-t * x[1]) - x[2] * (jnp.exp(-t) - jnp.exp(-10.0 * t))


FUNCTIONS: tuple[TestFunction, ...] = (
    TestFunction("brown_badly_scaled", brown_badly_scaled, (1.0, 1.0)),
    TestFunction("powell_badly_scaled", powell_badly_scaled, (0.0, 1.0)),
    TestFunction("brown_dennis", brown_dennis, (25.0, 5.0, -5.0, -1.0), 85822.20162635628),
    TestFunction("powell_singular", powell_singular, (3.0, -1.0, 0.0, 1.0)),
    TestFunction("beale", beale, (1.0, 1.0)),
    TestFunction("helical_valley", helical_valley, (-1.0, 0.0, 0.0)),
    TestFunction("box_3d", box_3d, (0.0, 10.0, 20.0)),
    TestFunction("wood", wood, (-3.0, -1.0, -3.0, -1.0)),
    TestFunction("extended_rosenbrock_10", extended_rosenbrock, tuple([-1.2, 1.0] * 5)),
)


def x0_of(t: TestFunction, dtype=np.float64) -> np.ndarray:
    """The start as a NumPy array of ``dtype``."""
    return np.asarray(t.x0, dtype)
