"""Classic unconstrained test functions as :class:`jaxgd.Problem` s, with their standard starts and minima.

Every function is a sum of squares f(x) = sum_i r_i(x)^2 of the residuals of Moré, Garbow &
Hillstrom, "Testing unconstrained optimization software", ACM TOMS 7 (1981) 17-41 (MGH), numbered
as there. Minimisers that are not known in closed form were computed by Newton's method on grad f in
float64 from the paper's reported values and are stored to 17 digits (the tests check f and grad f there).

Badly scaled: ``powell_badly_scaled``, ``brown_badly_scaled``, ``box_3d``; singular Hessian at x*:
``powell_singular``, ``extended_powell``; 10- to 100-dimensional: ``extended_rosenbrock``,
``extended_powell``, ``variably_dimensioned``, ``brown_almost_linear``, ``discrete_boundary_value``,
``broyden_tridiagonal``, ``linear_full_rank``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax.numpy as jnp
import numpy as np

from jaxgd.problems import Problem

__all__ = [
    "CLASSIC",
    "bard",
    "beale",
    "biggs_exp6",
    "box_3d",
    "brown_almost_linear",
    "brown_badly_scaled",
    "broyden_tridiagonal",
    "classic",
    "discrete_boundary_value",
    "extended_powell",
    "extended_rosenbrock",
    "freudenstein_roth",
    "gaussian",
    "get",
    "helical_valley",
    "jennrich_sampson",
    "kowalik_osborne",
    "linear_full_rank",
    "powell_badly_scaled",
    "powell_singular",
    "rosenbrock",
    "variably_dimensioned",
    "wood",
]


def _dtype() -> Any:
    return jnp.result_type(float)


def _sum_squares(residuals: Callable) -> Callable:
    def fn(x, **data):
        r = residuals(x, **data)
        return jnp.sum(r * r)

    fn.__name__ = residuals.__name__.lstrip("_")
    fn.residuals = residuals
    return fn


def _make(name, residuals, x0, xstar, fstar, data=None) -> Problem:
    dt = _dtype()
    x0 = jnp.asarray(x0, dt)
    data = {k: jnp.asarray(v, dt) for k, v in (data or {}).items()}
    return Problem(
        name,
        _sum_squares(residuals),
        int(x0.shape[0]),
        x0,
        data=data,
        minimizers=jnp.asarray(np.atleast_2d(xstar), dt),
        minimum=jnp.asarray(fstar, dt),
    )


# --------------------------------------------------------------------------- two and three variables


def _rosenbrock(x):
    return jnp.stack([10 * (x[1] - x[0] ** 2), 1 - x[0]])


def _freudenstein_roth(x):
    return jnp.stack([-13 + x[0] + ((5 - x[1]) * x[1] - 2) * x[1], -29 + x[0] + ((x[1] + 1) * x[1] - 14) * x[1]])


def _powell_badly_scaled(x):
    return jnp.stack([1e4 * x[0] * x[1] - 1, jnp.exp(-x[0]) + jnp.exp(-x[1]) - 1.0001])


def _brown_badly_scaled(x):
    return jnp.stack([x[0] - 1e6, x[1] - 2e-6, x[0] * x[1] - 2])


def _beale(x, y):
    i = jnp.arange(1, 4, dtype=x.dtype)
    return y - x[0] * (1 - x[1] ** i)


def _jennrich_sampson(x):
    i = jnp.arange(1, 11, dtype=x.dtype)
    return 2 + 2 * i - (jnp.exp(i * x[0]) + jnp.exp(i * x[1]))


def _helical_valley(x):
    theta = jnp.arctan(x[1] / x[0]) / (2 * jnp.pi) + jnp.where(x[0] < 0, 0.5, 0.0)
    return jnp.stack([10 * (x[2] - 10 * theta), 10 * (jnp.sqrt(x[0] ** 2 + x[1] ** 2) - 1), x[2]])


def _bard(x, y):
    u = jnp.arange(1, 16, dtype=x.dtype)
    v = 16 - u
    w = jnp.minimum(u, v)
    return y - (x[0] + u / (v * x[1] + w * x[2]))


def _gaussian(x, y):
    t = (8 - jnp.arange(1, 16, dtype=x.dtype)) / 2
    return x[0] * jnp.exp(-x[1] * (t - x[2]) ** 2 / 2) - y


def _box_3d(x):
    t = 0.1 * jnp.arange(1, 11, dtype=x.dtype)
    return jnp.exp(-t * x[0]) - jnp.exp(-t * x[1]) - x[2] * (jnp.exp(-t) - jnp.exp(-10 * t))


# --------------------------------------------------------------------------- four to six variables


def _powell_singular(x):
    x1, x2, x3, x4 = x[0::4], x[1::4], x[2::4], x[3::4]
    r = jnp.stack([x1 + 10 * x2, jnp.sqrt(5.0) * (x3 - x4), (x2 - 2 * x3) ** 2, jnp.sqrt(10.0) * (x1 - x4) ** 2])
    return r.ravel()


def _wood(x):
    return jnp.stack(
        [
            10 * (x[1] - x[0] ** 2),
            1 - x[0],
            jnp.sqrt(90.0) * (x[3] - x[2] ** 2),
            1 - x[2],
            jnp.sqrt(10.0) * (x[1] + x[3] - 2),
            (x[1] - x[3]) / jnp.sqrt(10.0),
        ]
    )


def _kowalik_osborne(x, y, u):
    return y - x[0] * (u**2 + u * x[1]) / (u**2 + u * x[2] + x[3])


def _biggs_exp6(x):
    t = 0.1 * jnp.arange(1, 14, dtype=x.dtype)
    y = jnp.exp(-t) - 5 * jnp.exp(-10 * t) + 3 * jnp.exp(-4 * t)
    return x[2] * jnp.exp(-t * x[0]) - x[3] * jnp.exp(-t * x[1]) + x[5] * jnp.exp(-t * x[4]) - y


# --------------------------------------------------------------------------- n variables


def _extended_rosenbrock(x):
    return jnp.stack([10 * (x[1::2] - x[0::2] ** 2), 1 - x[0::2]]).ravel()


def _variably_dimensioned(x):
    j = jnp.arange(1, x.shape[0] + 1, dtype=x.dtype)
    s = jnp.sum(j * (x - 1))
    return jnp.concatenate([x - 1, jnp.stack([s, s * s])])


def _brown_almost_linear(x):
    n = x.shape[0]
    return jnp.concatenate([x[:-1] + jnp.sum(x) - (n + 1), jnp.prod(x)[None] - 1])


def _discrete_boundary_value(x):
    n = x.shape[0]
    h = 1.0 / (n + 1)
    t = h * jnp.arange(1, n + 1, dtype=x.dtype)
    padded = jnp.pad(x, 1)
    return 2 * x - padded[:-2] - padded[2:] + h * h * (x + t + 1) ** 3 / 2


def _broyden_tridiagonal(x):
    padded = jnp.pad(x, 1)
    return (3 - 2 * x) * x - padded[:-2] - 2 * padded[2:] + 1


def _linear_full_rank(x, rows):
    m = rows.shape[0]
    s = 2 * jnp.sum(x) / m
    return jnp.concatenate([x - s - 1, jnp.zeros(m - x.shape[0], x.dtype) - s - 1])


# --------------------------------------------------------------------------- the problems

_BEALE_Y = (1.5, 2.25, 2.625)
_BARD_Y = (0.14, 0.18, 0.22, 0.25, 0.29, 0.32, 0.35, 0.39, 0.37, 0.58, 0.73, 0.96, 1.34, 2.10, 4.39)
_GAUSS_Y = (
    0.0009,
    0.0044,
    0.0175,
    0.0540,
    0.1295,
    0.2420,
    0.3521,
    0.3989,
    0.3521,
    0.2420,
    0.1295,
    0.0540,
    0.0175,
    0.0044,
    0.0009,
)
_KO_Y = (0.1957, 0.1947, 0.1735, 0.1600, 0.0844, 0.0627, 0.0456, 0.0342, 0.0323, 0.0235, 0.0246)
_KO_U = (4.0, 2.0, 1.0, 0.5, 0.25, 0.167, 0.125, 0.1, 0.0833, 0.0714, 0.0625)

# (x*, f*) found by Newton's method in float64 from MGH's reported values
_POLISHED: dict[str, tuple[tuple[float, ...], float]] = {
    "powell_badly_scaled": ((1.0981593296998656e-05, 9.106146739866125), 0.0),
    "jennrich_sampson": ((0.2578252136703641, 0.2578252136703641), 124.3621823556148),
    "bard": ((0.08241055974978889, 1.1330360920297209, 2.3436951786425375), 0.008214877306578978),
    "gaussian": ((0.39895613783875666, 1.0000190844878056, 0.0), 1.1279327696191796e-08),
    "kowalik_osborne": (
        (0.1928069345790379, 0.1912823287343671, 0.1230565069263209, 0.1360623306837949),
        0.0003075056038492373,
    ),
    "dbv10": (
        (
            -0.04316498251876488,
            -0.0815771565353869,
            -0.11448571438052932,
            -0.1409735768625967,
            -0.15990869618198317,
            -0.16987720231277495,
            -0.16908998378120838,
            -0.15524953522183185,
            -0.12535589167893502,
            -0.0754165336858921,
        ),
        0.0,
    ),
    "broyden10": (
        (
            -0.5707221320112248,
            -0.6818069499842752,
            -0.7022100760176601,
            -0.7055106298950804,
            -0.7049061557287437,
            -0.7014966070298512,
            -0.6918893223547983,
            -0.6657965144058537,
            -0.5960351090263658,
            -0.4164122575286934,
        ),
        0.0,
    ),
}


def _polished(name: str) -> tuple[np.ndarray, float]:
    x, f = _POLISHED[name]
    return np.asarray(x), f


def rosenbrock() -> Problem:
    """MGH 1: r = (10 (x2 - x1^2), 1 - x1); x0 = (-1.2, 1), x* = (1, 1), f* = 0.

    Returns:
        The problem (:class:`jaxgd.Problem`), with its start x0, minimiser and minimum.
    """
    return _make("mgh_rosenbrock", _rosenbrock, (-1.2, 1.0), (1.0, 1.0), 0.0)


def freudenstein_roth() -> Problem:
    """MGH 2: x0 = (0.5, -2), x* = (5, 4), f* = 0 (a local minimum f = 48.98 at (11.41, -0.8968)).

    Returns:
        The problem (:class:`jaxgd.Problem`), with its start x0, minimiser and minimum.
    """
    return _make("freudenstein_roth", _freudenstein_roth, (0.5, -2.0), (5.0, 4.0), 0.0)


def powell_badly_scaled() -> Problem:
    """MGH 3: r = (1e4 x1 x2 - 1, e^-x1 + e^-x2 - 1.0001); x0 = (0, 1), x* = (1.098e-5, 9.106), f* = 0.

    Returns:
        The problem (:class:`jaxgd.Problem`), with its start x0, minimiser and minimum.
    """
    return _make("powell_badly_scaled", _powell_badly_scaled, (0.0, 1.0), *_polished("powell_badly_scaled"))


def brown_badly_scaled() -> Problem:
    """MGH 4: r = (x1 - 1e6, x2 - 2e-6, x1 x2 - 2); x0 = (1, 1), x* = (1e6, 2e-6), f* = 0.

    Returns:
        The problem (:class:`jaxgd.Problem`), with its start x0, minimiser and minimum.
    """
    return _make("brown_badly_scaled", _brown_badly_scaled, (1.0, 1.0), (1e6, 2e-6), 0.0)


def beale() -> Problem:
    """MGH 5: r_i = y_i - x1 (1 - x2^i), y = (1.5, 2.25, 2.625); x0 = (1, 1), x* = (3, 0.5), f* = 0.

    Returns:
        The problem (:class:`jaxgd.Problem`), with its start x0, minimiser and minimum.
    """
    return _make("mgh_beale", _beale, (1.0, 1.0), (3.0, 0.5), 0.0, {"y": _BEALE_Y})


def jennrich_sampson() -> Problem:
    """MGH 6 (m = 10): r_i = 2 + 2i - e^{i x1} - e^{i x2}; x0 = (0.3, 0.4), f* = 124.362 at x1 = x2 = 0.2578.

    Returns:
        The problem (:class:`jaxgd.Problem`), with its start x0, minimiser and minimum.
    """
    return _make("jennrich_sampson", _jennrich_sampson, (0.3, 0.4), *_polished("jennrich_sampson"))


def helical_valley() -> Problem:
    """MGH 7: a helix in 3-D; x0 = (-1, 0, 0), x* = (1, 0, 0), f* = 0.

    Returns:
        The problem (:class:`jaxgd.Problem`), with its start x0, minimiser and minimum.
    """
    return _make("helical_valley", _helical_valley, (-1.0, 0.0, 0.0), (1.0, 0.0, 0.0), 0.0)


def bard() -> Problem:
    """MGH 8: a rational fit to 15 points; x0 = (1, 1, 1), f* = 8.21487e-3.

    Returns:
        The problem (:class:`jaxgd.Problem`), with its start x0, minimiser and minimum.
    """
    return _make("bard", _bard, (1.0, 1.0, 1.0), *_polished("bard"), {"y": _BARD_Y})


def gaussian() -> Problem:
    """MGH 9: a Gaussian fit to 15 points; x0 = (0.4, 1, 0), f* = 1.12793e-8.

    Returns:
        The problem (:class:`jaxgd.Problem`), with its start x0, minimiser and minimum.
    """
    return _make("gaussian", _gaussian, (0.4, 1.0, 0.0), *_polished("gaussian"), {"y": _GAUSS_Y})


def box_3d() -> Problem:
    """MGH 12 (m = 10): badly scaled exponentials; x0 = (0, 10, 20), x* = (1, 10, 1), f* = 0.

    Returns:
        The problem (:class:`jaxgd.Problem`), with its start x0, minimiser and minimum.
    """
    return _make("box_3d", _box_3d, (0.0, 10.0, 20.0), (1.0, 10.0, 1.0), 0.0)


def powell_singular() -> Problem:
    """MGH 13: Hessian singular (rank 2) at x* = 0, f* = 0; x0 = (3, -1, 0, 1).

    Returns:
        The problem (:class:`jaxgd.Problem`), with its start x0, minimiser and minimum.
    """
    return _make("powell_singular", _powell_singular, (3.0, -1.0, 0.0, 1.0), np.zeros(4), 0.0)


def wood() -> Problem:
    """MGH 14: x0 = (-3, -1, -3, -1), x* = (1, 1, 1, 1), f* = 0.

    Returns:
        The problem (:class:`jaxgd.Problem`), with its start x0, minimiser and minimum.
    """
    return _make("wood", _wood, (-3.0, -1.0, -3.0, -1.0), np.ones(4), 0.0)


def kowalik_osborne() -> Problem:
    """MGH 15: an enzyme-reaction fit to 11 points; x0 = (0.25, 0.39, 0.415, 0.39), f* = 3.07505e-4.

    Returns:
        The problem (:class:`jaxgd.Problem`), with its start x0, minimiser and minimum.
    """
    data = {"y": _KO_Y, "u": _KO_U}
    return _make("kowalik_osborne", _kowalik_osborne, (0.25, 0.39, 0.415, 0.39), *_polished("kowalik_osborne"), data)


def biggs_exp6() -> Problem:
    """MGH 18 (m = 13): x0 = (1, 2, 1, 1, 1, 1), x* = (1, 10, 1, 5, 4, 3), f* = 0.

    Returns:
        The problem (:class:`jaxgd.Problem`), with its start x0, minimiser and minimum.
    """
    return _make("biggs_exp6", _biggs_exp6, (1.0, 2.0, 1.0, 1.0, 1.0, 1.0), (1.0, 10.0, 1.0, 5.0, 4.0, 3.0), 0.0)


def extended_rosenbrock(n: int = 20) -> Problem:
    """MGH 21 (n even): n/2 Rosenbrocks; x0 = (-1.2, 1, ...), x* = 1, f* = 0.

    Args:
        n: The dimension, a positive even number.

    Returns:
        The problem (:class:`jaxgd.Problem`), with its start x0, minimiser and minimum.

    Raises:
        ValueError: If n is not a positive multiple of 2.
    """
    _even(n, 2)
    return _make(f"extended_rosenbrock{n}", _extended_rosenbrock, np.tile([-1.2, 1.0], n // 2), np.ones(n), 0.0)


def extended_powell(n: int = 20) -> Problem:
    """MGH 22 (n a multiple of 4): n/4 Powell singular functions; singular at x* = 0, f* = 0.

    Args:
        n: The dimension, a positive multiple of 4.

    Returns:
        The problem (:class:`jaxgd.Problem`), with its start x0, minimiser and minimum.

    Raises:
        ValueError: If n is not a positive multiple of 4.
    """
    _even(n, 4)
    return _make(f"extended_powell{n}", _powell_singular, np.tile([3.0, -1.0, 0.0, 1.0], n // 4), np.zeros(n), 0.0)


def variably_dimensioned(n: int = 10) -> Problem:
    """MGH 25: r = (x - 1, s, s^2), s = sum_j j (x_j - 1); x0_j = 1 - j/n, x* = 1, f* = 0.

    Args:
        n: The dimension.

    Returns:
        The problem (:class:`jaxgd.Problem`), with its start x0, minimiser and minimum.
    """
    return _make(f"variably_dimensioned{n}", _variably_dimensioned, 1 - np.arange(1, n + 1) / n, np.ones(n), 0.0)


def brown_almost_linear(n: int = 10) -> Problem:
    """MGH 27: r_i = x_i + sum_j x_j - (n + 1), r_n = prod_j x_j - 1; x0 = 1/2, x* = 1, f* = 0.

    Args:
        n: The dimension.

    Returns:
        The problem (:class:`jaxgd.Problem`), with its start x0, minimiser and minimum.
    """
    return _make(f"brown_almost_linear{n}", _brown_almost_linear, np.full(n, 0.5), np.ones(n), 0.0)


def discrete_boundary_value(n: int = 10) -> Problem:
    """MGH 28 (n = 10): a discretised two-point boundary value problem (h = 1/11); x0_j = t_j (t_j - 1), f* = 0.

    Args:
        n: The number of interior grid points (h = 1/(n + 1)); the minimiser is stored for n = 10 only.

    Returns:
        The problem (:class:`jaxgd.Problem`), with its start x0, minimiser and minimum.

    Raises:
        ValueError: If n is not 10 (no stored minimiser).
    """
    _stored(n)
    t = np.arange(1, n + 1) / (n + 1)
    return _make(f"discrete_boundary_value{n}", _discrete_boundary_value, t * (t - 1), *_polished(f"dbv{n}"))


def broyden_tridiagonal(n: int = 10) -> Problem:
    """MGH 30 (n = 10): r_i = (3 - 2 x_i) x_i - x_{i-1} - 2 x_{i+1} + 1; x0 = -1, f* = 0.

    Args:
        n: The dimension; the minimiser is stored for n = 10 only.

    Returns:
        The problem (:class:`jaxgd.Problem`), with its start x0, minimiser and minimum.

    Raises:
        ValueError: If n is not 10.
    """
    _stored(n)
    return _make(f"broyden_tridiagonal{n}", _broyden_tridiagonal, -np.ones(n), *_polished(f"broyden{n}"))


def linear_full_rank(n: int = 100, m: int = 150) -> Problem:
    """MGH 32: r = (I - 2/m 1 1^T) x - 1 (m rows); x0 = 1, x* = -1, f* = m - n.

    Args:
        n: The dimension.
        m: The number of residuals, at least n.

    Returns:
        The problem (:class:`jaxgd.Problem`), with its start x0, minimiser and minimum.

    Raises:
        ValueError: If m < n.
    """
    if m < n:
        raise ValueError(f"linear_full_rank needs m >= n, got m={m}, n={n}")
    return _make(
        f"linear_full_rank{n}", _linear_full_rank, np.ones(n), -np.ones(n), float(m - n), {"rows": np.zeros(m)}
    )


def _stored(n: int) -> None:
    if n != 10:
        raise ValueError(f"the minimiser is stored for n = 10 only, got n={n!r}")


def _even(n: int, k: int) -> None:
    if not isinstance(n, (int, np.integer)) or n <= 0 or n % k:
        raise ValueError(f"n must be a positive multiple of {k}, got {n!r}")


CLASSIC: dict[str, Callable[[], Problem]] = {
    "mgh_rosenbrock": rosenbrock,
    "freudenstein_roth": freudenstein_roth,
    "powell_badly_scaled": powell_badly_scaled,
    "brown_badly_scaled": brown_badly_scaled,
    "mgh_beale": beale,
    "jennrich_sampson": jennrich_sampson,
    "helical_valley": helical_valley,
    "bard": bard,
    "gaussian": gaussian,
    "box_3d": box_3d,
    "powell_singular": powell_singular,
    "wood": wood,
    "kowalik_osborne": kowalik_osborne,
    "biggs_exp6": biggs_exp6,
    "extended_rosenbrock": extended_rosenbrock,
    "extended_powell": extended_powell,
    "variably_dimensioned": variably_dimensioned,
    "brown_almost_linear": brown_almost_linear,
    "discrete_boundary_value": discrete_boundary_value,
    "broyden_tridiagonal": broyden_tridiagonal,
    "linear_full_rank": linear_full_rank,
}


def get(name: str) -> Problem:
    """The classic problem ``name`` (a key of :data:`CLASSIC`) at its default size.

    Args:
        name: A key of :data:`CLASSIC`, e.g. ``"mgh_rosenbrock"``.

    Returns:
        The problem (:class:`jaxgd.Problem`), with its start, minimisers and minimum.

    Raises:
        ValueError: If name is not a classic problem.
    """
    if name not in CLASSIC:
        raise ValueError(f"unknown classic problem {name!r}; choose from {sorted(CLASSIC)}")
    return CLASSIC[name]()


def classic(names: Sequence[str] | None = None) -> list[Problem]:
    """The classic problems named (all of :data:`CLASSIC` by default), at their default sizes.

    Args:
        names: Keys of :data:`CLASSIC`; None: all 21.

    Returns:
        The problems (:class:`jaxgd.Problem`), in order.

    Raises:
        ValueError: If a name is not a classic problem.
    """
    return [get(n) for n in (CLASSIC if names is None else names)]
