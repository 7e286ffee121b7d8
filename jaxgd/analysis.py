"""Hessian analysis: spectra, condition numbers, stability bounds and predicted linear rates.

On a quadratic f(x) = 1/2 x^T A x with eigenvalues mu = lambda_min <= ... <=
lambda_max = L and kappa = L / mu, gradient descent x <- x - eta grad f(x) maps
each eigen-component by (1 - eta lambda_i), so ||x_k - x*|| contracts by
max_i |1 - eta lambda_i| per step (and f - f* by its square). The functions
here give those predictions, and :func:`fitted_rate` measures the same quantity
on a :class:`jaxgd.Trajectory`, so theory and measurement meet on one run.

Functions taking a ``spectrum`` accept either a vector of eigenvalues or a
square symmetric matrix (whose eigenvalues are then computed). Concrete inputs
are checked (non-finite values, non-square matrices raise ValueError); traced
inputs are not, so everything numeric here is ``jit``- and ``vmap``-able.

References: Polyak (1964, 1987, "Introduction to Optimization", sec. 3.2.1);
Nesterov (2004, "Introductory Lectures on Convex Optimization", thm. 2.2.3);
Goh (2017, "Why Momentum Really Works").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from jaxgd._core import filter_jit, flat_hessian, objective_of, tree_norm
from jaxgd.convex.bounds import TABLE as CONVEX_TABLE  # the rates of convex optimisation (ST449's table)
from jaxgd.convex.bounds import (
    RobbinsMonro,
    accelerated_bound,
    accelerated_strongly_convex_bound,
    ellipsoid_bound,
    frank_wolfe_bound,
    interior_point_bound,
    iterations_to_epsilon,
    mirror_descent_bound,
    mirror_prox_bound,
    robbins_monro,
    smooth_bound,
    strongly_convex_smooth_bound,
    strongly_convex_subgradient_bound,
    subgradient_bound,
)
from jaxgd.problems import Problem
from jaxgd.runner import Trajectory
from jaxgd.stochastic.bounds import (  # SGD's bounds under gradient noise
    constant_step_bound,
    constant_step_floor,
    quadratic_noise_floor,
    smooth_convex_bound,
    strongly_convex_bound,
)

__all__ = [
    "CONVEX_TABLE",
    "CRITICAL_POINT_KINDS",
    "CurvatureRange",
    "HeavyBallParameters",
    "LearningRateBounds",
    "PointAnalysis",
    "ProblemAnalysis",
    "RobbinsMonro",
    "StabilityRegion",
    "accelerated_bound",
    "accelerated_strongly_convex_bound",
    "analyze",
    "classify_critical_point",
    "classify_eigenvalues",
    "condition_number",
    "constant_step_bound",
    "constant_step_floor",
    "curvature_range",
    "eigenvalues",
    "ellipsoid_bound",
    "estimate_curvature",
    "fit_rate",
    "fitted_rate",
    "frank_wolfe_bound",
    "gd_optimal_rate",
    "gd_rate",
    "heavy_ball_optimal",
    "heavy_ball_rate",
    "hessian",
    "hessian_eigenvalues",
    "interior_point_bound",
    "iterations_to_epsilon",
    "iterations_to_tolerance",
    "lambda_max",
    "lambda_min",
    "learning_rate_bounds",
    "mirror_descent_bound",
    "mirror_prox_bound",
    "momentum_stability_region",
    "momentum_stable",
    "nesterov_optimal",
    "nesterov_rate",
    "optimal_lr",
    "quadratic_noise_floor",
    "robbins_monro",
    "smooth_bound",
    "smooth_convex_bound",
    "stability_bound",
    "strongly_convex_bound",
    "strongly_convex_smooth_bound",
    "strongly_convex_subgradient_bound",
    "subgradient_bound",
]


# --------------------------------------------------------------------------- input checks


def _concrete(x: Any) -> bool:
    return not isinstance(x, jax.core.Tracer)


def _check_finite_tree(name: str, tree: Any) -> None:
    for leaf in jax.tree.leaves(tree):
        if _concrete(leaf):
            arr = np.asarray(leaf)
            if arr.dtype.kind in "fc" and not np.all(np.isfinite(arr)):
                raise ValueError(f"{name} contains non-finite values (NaN or inf)")


def _check_square(name: str, m: jax.Array) -> None:
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"{name} must be a square matrix, got shape {m.shape}")


def _check_symmetric(name: str, m: jax.Array) -> None:
    if not _concrete(m) or m.size == 0:
        return
    a = np.asarray(m, dtype=np.float64)
    scale = float(np.max(np.abs(a)))
    tol = 100.0 * math.sqrt(float(jnp.finfo(m.dtype).eps)) * max(scale, np.finfo(np.float64).tiny)
    asym = float(np.max(np.abs(a - a.T)))
    if asym > tol:
        raise ValueError(f"{name} must be symmetric, got max |M - M^T| = {asym:.3g} (scale {scale:.3g})")


def _as_float(x: Any) -> jax.Array:
    x = jnp.asarray(x)
    return x if jnp.issubdtype(x.dtype, jnp.inexact) else x.astype(jnp.result_type(float))


# --------------------------------------------------------------------------- Hessians and spectra


def hessian(f: Callable[..., jax.Array], params: Any, *args: Any) -> jax.Array:
    """The exact Hessian of ``f(params, *args)`` with respect to ``params``, as an (n, n) matrix.

    ``params`` may be any pytree; it is flattened with ``jax.flatten_util.ravel_pytree``
    (leaves in tree order), and the matrix is ``jax.hessian`` of f on that vector.

    Args:
        f: The function, ``f(params, *args)`` -> scalar.
        params: The point, any pytree.
        *args: Further arguments of f.

    Returns:
        The (n, n) Hessian, n the number of scalars in params.
    """
    _check_finite_tree("params", params)
    if not jax.tree.leaves(params) or ravel_pytree(params)[0].size == 0:
        raise ValueError("params is an empty pytree")
    f = objective_of(f)
    _check_scalar(f, params, *args)
    return _dense_hessian((f, args), params)


def _check_scalar(f: Callable[..., jax.Array], params: Any, *args: Any) -> None:
    out = jax.eval_shape(f, params, *args)
    if getattr(out, "shape", None) != ():
        raise TypeError(f"f must return a scalar, got {getattr(out, 'shape', type(out).__name__)}")


@filter_jit
def _dense_hessian(fn_args: tuple, params: Any) -> jax.Array:
    # f's and args' array leaves (a Problem's data, a batch) are traced, so problems of one kind share a compile.
    f, args = fn_args
    return flat_hessian(f, params, args)


def eigenvalues(matrix: jax.typing.ArrayLike) -> jax.Array:
    """Eigenvalues, in ascending order, of a square symmetric matrix (symmetrised as (M + M^T)/2).

    Args:
        matrix: A square matrix.

    Returns:
        The eigenvalues, ascending.
    """
    m = _as_float(matrix)
    _check_square("matrix", m)
    _check_finite_tree("matrix", m)
    _check_symmetric("matrix", m)
    return _symmetric_eigvalsh(m)


@jax.jit
def _symmetric_eigvalsh(m: jax.Array) -> jax.Array:
    return jnp.linalg.eigvalsh(0.5 * (m + m.T))


def hessian_eigenvalues(f: Callable[..., jax.Array], params: Any, *args: Any) -> jax.Array:
    """Ascending eigenvalues of the Hessian of f at params (see :func:`hessian`).

    Args:
        f: The function, ``f(params, *args)`` -> scalar.
        params: The point, any pytree.
        *args: Further arguments of f.

    Returns:
        The eigenvalues, ascending.
    """
    h = hessian(f, params, *args)
    if _concrete(h) and not np.all(np.isfinite(np.asarray(h))):
        raise ValueError("the Hessian contains non-finite values: f is not twice differentiable at params")
    return eigenvalues(h)


def _spectrum(spectrum: jax.typing.ArrayLike) -> jax.Array:
    s = _as_float(spectrum)
    if s.ndim == 1:
        if s.shape[0] == 0:
            raise ValueError("spectrum is empty")
        _check_finite_tree("spectrum", s)
        return s
    if s.ndim == 2:
        return eigenvalues(s)
    raise ValueError(f"spectrum must be a vector of eigenvalues or a square matrix, got shape {s.shape}")


def lambda_max(spectrum: jax.typing.ArrayLike) -> jax.Array:
    """The largest eigenvalue (by sign) of a spectrum or symmetric matrix: the smoothness beta of a quadratic.

    Args:
        spectrum: The eigenvalues, or a symmetric matrix (its eigenvalues are taken).

    Returns:
        lambda_max, a scalar.
    """
    return jnp.max(_spectrum(spectrum))


def lambda_min(spectrum: jax.typing.ArrayLike) -> jax.Array:
    """The smallest eigenvalue (by sign): the strong convexity alpha of a quadratic when positive.

    Args:
        spectrum: The eigenvalues, or a symmetric matrix (its eigenvalues are taken).

    Returns:
        lambda_min, a scalar.
    """
    return jnp.min(_spectrum(spectrum))


def condition_number(spectrum: jax.typing.ArrayLike) -> jax.Array:
    """kappa = lambda_max / lambda_min; inf unless the matrix is positive definite.

    Args:
        spectrum: The eigenvalues, or a symmetric matrix (its eigenvalues are taken).

    Returns:
        kappa, a scalar.
    """
    s = _spectrum(spectrum)
    hi, lo = jnp.max(s), jnp.min(s)
    return jnp.where(lo > 0, hi / jnp.where(lo > 0, lo, 1.0), jnp.inf)


def stability_bound(spectrum: jax.typing.ArrayLike) -> jax.Array:
    """2 / lambda_max: on a quadratic with lambda_min > 0, GD converges iff 0 < eta < 2 / lambda_max.

    Args:
        spectrum: The eigenvalues, or a symmetric matrix (its eigenvalues are taken).

    Returns:
        2 / lambda_max, a scalar.
    """
    hi = lambda_max(spectrum)
    return jnp.where(hi > 0, 2.0 / jnp.where(hi > 0, hi, 1.0), jnp.inf)


def optimal_lr(spectrum: jax.typing.ArrayLike) -> jax.Array:
    """eta* = 2 / (lambda_max + lambda_min), minimising max_i |1 - eta lambda_i| (rate (kappa-1)/(kappa+1)).

    Args:
        spectrum: The eigenvalues, or a symmetric matrix (its eigenvalues are taken).

    Returns:
        eta*, a scalar.
    """
    s = _spectrum(spectrum)
    return 2.0 / (jnp.max(s) + jnp.min(s))


# --------------------------------------------------------------------------- predicted rates


def gd_rate(learning_rate: jax.typing.ArrayLike, spectrum: jax.typing.ArrayLike) -> jax.Array:
    """GD's linear rate on a quadratic: rho(eta) = max_i |1 - eta lambda_i|, per step, for ||x - x*||.

    ``learning_rate`` may be an array (e.g. a sweep); the result has its shape.
    Only the extreme eigenvalues matter, since |1 - eta lambda| is convex in lambda.

    Args:
        learning_rate: eta, a scalar or an array.
        spectrum: The eigenvalues, or a symmetric matrix (its eigenvalues are taken).

    Returns:
        rho(eta), with the shape of ``learning_rate``.
    """
    return _gd_rate(_as_float(learning_rate), _spectrum(spectrum))


@jax.jit
def _gd_rate(eta: jax.Array, s: jax.Array) -> jax.Array:
    ends = jnp.stack([jnp.min(s), jnp.max(s)])
    return jnp.max(jnp.abs(1.0 - eta[..., None] * ends), axis=-1)


def gd_optimal_rate(kappa: jax.typing.ArrayLike) -> jax.Array:
    """GD's rate at eta* = 2/(L + mu): (kappa - 1) / (kappa + 1) per step for ||x - x*||.

    Args:
        kappa: The condition number.

    Returns:
        (kappa - 1) / (kappa + 1).
    """
    kappa = _as_float(kappa)
    return (kappa - 1.0) / (kappa + 1.0)


class HeavyBallParameters(NamedTuple):
    """Polyak's optimal heavy-ball parameters and the rate they achieve on a quadratic."""

    learning_rate: jax.Array
    momentum: jax.Array
    rate: jax.Array


def heavy_ball_optimal(spectrum: jax.typing.ArrayLike) -> HeavyBallParameters:
    """Polyak's optimal heavy ball z <- b z + grad, x <- x - a z on a quadratic with mu > 0::

        a = 4 / (sqrt(L) + sqrt(mu))^2,   b = ((sqrt(kappa) - 1) / (sqrt(kappa) + 1))^2,
        rate = (sqrt(kappa) - 1) / (sqrt(kappa) + 1)   (per step, for ||x - x*||)

    ``jaxgd.momentum(a, b)`` runs exactly this iteration. At the optimum the
    iteration matrix is defective, so the error decays as k rate^k, not rate^k.
    Reference: Polyak (1964); Polyak (1987), sec. 3.2.1.

    Args:
        spectrum: The eigenvalues, or a symmetric matrix (its eigenvalues are taken).

    Returns:
        The parameters (:class:`HeavyBallParameters`): learning_rate a, momentum b, rate.
    """
    return _heavy_ball_optimal(_spectrum(spectrum))


@jax.jit
def _heavy_ball_optimal(s: jax.Array) -> HeavyBallParameters:
    big, small = jnp.sqrt(jnp.max(s)), jnp.sqrt(jnp.min(s))
    rate = (big - small) / (big + small)
    return HeavyBallParameters(4.0 / (big + small) ** 2, rate**2, rate)


def heavy_ball_rate(
    learning_rate: jax.typing.ArrayLike, momentum: jax.typing.ArrayLike, spectrum: jax.typing.ArrayLike
) -> jax.Array:
    """The asymptotic rate of the heavy ball z <- b z + grad, x <- x - a z on a quadratic.

    Per eigenvalue lambda the error obeys e_{k+1} = (1 + b - a lambda) e_k - b e_{k-1},
    whose roots solve r^2 - (1 + b - a lambda) r + b = 0; the rate is the largest
    |r| over all eigenvalues (>= 1 means no convergence). ``learning_rate`` and
    ``momentum`` broadcast against each other (e.g. meshgrids for a heatmap).

    Args:
        learning_rate: a, a scalar or an array.
        momentum: b, broadcasting with ``learning_rate``.
        spectrum: The eigenvalues, or a symmetric matrix (its eigenvalues are taken).

    Returns:
        The rate, with the broadcast shape of a and b.
    """
    return _heavy_ball_rate(_as_float(learning_rate), _as_float(momentum), _spectrum(spectrum))


@jax.jit
def _heavy_ball_rate(a: jax.Array, b: jax.Array, s: jax.Array) -> jax.Array:
    a, b = jnp.broadcast_arrays(a, b)
    t = 1.0 + b[..., None] - a[..., None] * s
    disc = t * t - 4.0 * b[..., None]
    root = jnp.sqrt(jnp.abs(disc))
    real = jnp.maximum(jnp.abs(t + root), jnp.abs(t - root)) / 2.0
    complex_ = jnp.sqrt(jnp.abs(b[..., None]))
    return jnp.max(jnp.where(disc >= 0, real, complex_), axis=-1)


def nesterov_optimal(spectrum: jax.typing.ArrayLike) -> HeavyBallParameters:
    """Nesterov's constant-momentum scheme for L-smooth, mu-strongly convex f::

        eta = 1 / L,   momentum = (sqrt(kappa) - 1) / (sqrt(kappa) + 1),   rate = 1 - 1/sqrt(kappa)

    The rate bounds f(x_k) - f* <= (1 - 1/sqrt(kappa))^k (f(x_0) - f* + mu/2 ||x_0 - x*||^2)
    (Nesterov 2004, thm. 2.2.3). Run it with ``jaxgd.nesterov(eta, momentum)``.

    Args:
        spectrum: The eigenvalues, or a symmetric matrix (its eigenvalues are taken).

    Returns:
        The parameters (:class:`HeavyBallParameters`): learning_rate, momentum, rate.
    """
    return _nesterov_optimal(_spectrum(spectrum))


@jax.jit
def _nesterov_optimal(s: jax.Array) -> HeavyBallParameters:
    kappa = jnp.max(s) / jnp.min(s)
    q = jnp.sqrt(kappa)
    return HeavyBallParameters(1.0 / jnp.max(s), (q - 1.0) / (q + 1.0), 1.0 - 1.0 / q)


def nesterov_rate(kappa: jax.typing.ArrayLike) -> jax.Array:
    """Nesterov's accelerated rate on strongly convex problems: 1 - 1/sqrt(kappa), for f - f* (an upper bound).

    Args:
        kappa: The condition number.

    Returns:
        1 - 1/sqrt(kappa).
    """
    return 1.0 - 1.0 / jnp.sqrt(_as_float(kappa))


def iterations_to_tolerance(
    rate: jax.typing.ArrayLike, tolerance: jax.typing.ArrayLike, initial: jax.typing.ArrayLike = 1.0
) -> jax.Array:
    """Predicted steps k until initial * rate^k <= tolerance: ceil(log(tolerance / initial) / log(rate)).

    0 if already initial <= tolerance; inf if rate >= 1. Use the rate of the
    quantity you measure (on a quadratic, f - f* contracts at the square of the iterate rate).

    Args:
        rate: The per-step contraction.
        tolerance: The target error.
        initial: The error at step 0.

    Returns:
        The number of steps k (0, a count, or inf).
    """
    return _iterations_to_tolerance(*(_as_float(v) for v in (rate, tolerance, initial)))


@jax.jit
def _iterations_to_tolerance(rate: jax.Array, tol: jax.Array, init: jax.Array) -> jax.Array:
    ratio = jnp.log(tol / init) / jnp.log(jnp.where((rate > 0) & (rate < 1), rate, 0.5))
    k = jnp.where(rate <= 0, 1.0, jnp.ceil(ratio - 1e-9))
    k = jnp.where(rate >= 1, jnp.inf, k)
    return jnp.where(init <= tol, 0.0, k)


# --------------------------------------------------------------------------- momentum's stability region


class StabilityRegion(NamedTuple):
    """Heavy ball's stability region over a (momentum, learning rate) grid.

    Attributes:
      stable: bool (len(momenta), len(learning_rates)); rows are momenta, columns learning
        rates, as ``imshow``/``pcolormesh`` with x = learning rate, y = momentum expect.
      rate: the predicted rate (:func:`heavy_ball_rate`) at each grid point.
      edge: (len(momenta),) the largest stable learning rate a_max(b) = (2 + 2b) / lambda_max
        (NaN where b is outside [0, 1) or lambda_min <= 0).
    """

    stable: jax.Array
    rate: jax.Array
    edge: jax.Array


def momentum_stability_region(
    spectrum: jax.typing.ArrayLike, learning_rates: jax.typing.ArrayLike, momenta: jax.typing.ArrayLike
) -> StabilityRegion:
    """Where heavy ball z <- b z + grad, x <- x - a z converges on a quadratic.

    It converges iff 0 <= b < 1 and 0 < a lambda_i < 2 + 2b for every eigenvalue
    lambda_i (so lambda_min > 0 is needed). Reference: Polyak (1964); Goh (2017).

    Args:
        spectrum: The eigenvalues, or a symmetric matrix (its eigenvalues are taken).
        learning_rates: The grid's values of a.
        momenta: The grid's values of b.

    Returns:
        The region (:class:`StabilityRegion`): the stable mask (rows momenta, columns learning rates), the rates, the
            edge.
    """
    s = _spectrum(spectrum)
    a = _as_float(learning_rates)
    b = _as_float(momenta)
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"learning_rates and momenta must be 1-D grids, got shapes {a.shape} and {b.shape}")
    return _momentum_stability_region(s, a, b)


@jax.jit
def _momentum_stability_region(s: jax.Array, a: jax.Array, b: jax.Array) -> StabilityRegion:
    aa, bb = jnp.meshgrid(a, b)
    lo, hi = jnp.min(s), jnp.max(s)
    edge = jnp.where((b >= 0) & (b < 1) & (lo > 0), (2.0 + 2.0 * b) / hi, jnp.nan)
    return StabilityRegion(_momentum_stable(s, aa, bb), _heavy_ball_rate(aa, bb, s), edge)


def momentum_stable(
    spectrum: jax.typing.ArrayLike, learning_rate: jax.typing.ArrayLike, momentum: jax.typing.ArrayLike
) -> jax.Array:
    """True where heavy ball with (learning_rate, momentum) converges on the quadratic (see
    :func:`momentum_stability_region`). The two broadcast, e.g. meshgrids: a heatmap's stability edge is
    ``plot.heatmap(..., region=functools.partial(momentum_stable, spectrum))``.

    Args:
        spectrum: The eigenvalues, or a symmetric matrix (its eigenvalues are taken).
        learning_rate: a, a scalar or an array.
        momentum: b, broadcasting with ``learning_rate``.

    Returns:
        A boolean array of the broadcast shape.
    """
    return _momentum_stable(_spectrum(spectrum), _as_float(learning_rate), _as_float(momentum))


@jax.jit
def _momentum_stable(s: jax.Array, a: jax.Array, b: jax.Array) -> jax.Array:
    lo, hi = jnp.min(s), jnp.max(s)
    return (b >= 0) & (b < 1) & (a > 0) & (a * lo > 0) & (a * hi < 2.0 + 2.0 * b)


# --------------------------------------------------------------------------- critical points

CRITICAL_POINT_KINDS = ("minimum", "maximum", "strict saddle", "degenerate")


def classify_eigenvalues(eigs: jax.typing.ArrayLike, tol: float | None = None) -> str:
    """The second-derivative test from a Hessian's eigenvalues, with tolerance ``tol``.

    "minimum" if all > tol, "maximum" if all < -tol, "strict saddle" if some
    < -tol and some > tol, else "degenerate" (an eigenvalue within tol of 0 and
    no sign change: the Hessian cannot decide). Default tol: sqrt(eps) max(1, max |lambda|).

    Args:
        eigs: The Hessian's eigenvalues.
        tol: The tolerance; None: sqrt(eps) max(1, max |lambda|).

    Returns:
        ``"minimum"``, ``"maximum"``, ``"strict saddle"`` or ``"degenerate"``.
    """
    e = np.asarray(_spectrum(eigs), dtype=np.float64)
    if tol is None:
        eps = float(jnp.finfo(_as_float(eigs).dtype).eps)
        tol = math.sqrt(eps) * max(1.0, float(np.max(np.abs(e))))
    if not (math.isfinite(tol) and tol >= 0):
        raise ValueError(f"tol must be non-negative and finite, got tol={tol!r}")
    if np.all(e > tol):
        return "minimum"
    if np.all(e < -tol):
        return "maximum"
    if e.min() < -tol and e.max() > tol:
        return "strict saddle"
    return "degenerate"


def classify_critical_point(
    f: Callable[..., jax.Array],
    params: Any,
    *args: Any,
    tol: float | None = None,
    grad_tol: float | None = None,
) -> str:
    """Classify a critical point of f as "minimum", "maximum", "strict saddle" or "degenerate".

    Raises ValueError if ||grad f(params)|| > grad_tol, i.e. params is not a
    critical point (default grad_tol: sqrt(eps) max(1, max |lambda|) max(1, ||params||)).
    See :func:`classify_eigenvalues` for ``tol``.

    Args:
        f: The function, ``f(params, *args)`` -> scalar.
        params: The point, a pytree.
        *args: Further arguments of f.
        tol: The eigenvalue tolerance (see :func:`classify_eigenvalues`).
        grad_tol: The largest ||grad f|| of a critical point.

    Returns:
        ``"minimum"``, ``"maximum"``, ``"strict saddle"`` or ``"degenerate"``.

    Raises:
        ValueError: If params is not a critical point.
    """
    eigs = hessian_eigenvalues(f, params, *args)
    g = jax.grad(f)(params, *args)
    gnorm = float(tree_norm(g))
    if grad_tol is None:
        eps = float(jnp.finfo(eigs.dtype).eps)
        scale = max(1.0, float(jnp.max(jnp.abs(eigs)))) * max(1.0, float(tree_norm(params)))
        grad_tol = math.sqrt(eps) * scale
    if not math.isfinite(gnorm) or gnorm > grad_tol:
        raise ValueError(f"params is not a critical point: ||grad f|| = {gnorm:.3g} > grad_tol = {grad_tol:.3g}")
    return classify_eigenvalues(eigs, tol)


# --------------------------------------------------------------------------- smoothness and convexity over a region


class CurvatureRange(NamedTuple):
    """Extreme Hessian eigenvalues over sampled points.

    Attributes:
      alpha: min over points of lambda_min (an estimate of strong convexity; negative: not convex there).
      beta: max over points of lambda_max (an estimate of the smoothness constant).
      lambda_min: (k,) the smallest Hessian eigenvalue at each point.
      lambda_max: (k,) the largest at each point.
    """

    alpha: jax.Array
    beta: jax.Array
    lambda_min: jax.Array
    lambda_max: jax.Array


def curvature_range(f: Callable[..., jax.Array], points: Any, *args: Any) -> CurvatureRange:
    """Hessian extremes of f at each of ``points`` (a pytree whose leaves have a leading axis k), vmapped.

    Sampling gives inner estimates: the true alpha over the region is <= the
    returned alpha, the true beta >= the returned beta.

    Args:
        f: The function, ``f(params, *args)`` -> scalar.
        points: The points, a pytree whose leaves have a leading axis k.
        *args: Further arguments of f.

    Returns:
        The range (:class:`CurvatureRange`): alpha, beta and the per-point extremes.
    """
    _check_finite_tree("points", points)
    sizes = {jnp.shape(x)[0] if jnp.ndim(x) else None for x in jax.tree.leaves(points)}
    if len(sizes) != 1 or None in sizes:
        raise ValueError(f"every leaf of points needs the same leading axis, got {sizes}")

    f = objective_of(f)
    _check_scalar(f, jax.tree.map(lambda x: x[0], points), *args)
    return _curvature_range((f, args), points)


@filter_jit
def _curvature_range(fn_args: tuple, points: Any) -> CurvatureRange:
    f, args = fn_args

    def extremes(p):
        h = flat_hessian(f, p, args)
        e = jnp.linalg.eigvalsh(0.5 * (h + h.T))
        return e[0], e[-1]

    lo, hi = jax.vmap(extremes)(points)
    return CurvatureRange(jnp.min(lo), jnp.max(hi), lo, hi)


def estimate_curvature(
    f: Callable[..., jax.Array], key: jax.Array, box: Any, num_samples: int = 256, *args: Any
) -> CurvatureRange:
    """Smoothness (beta) and convexity (alpha) estimates of f over a box, from uniform samples.

    ``box`` is a sequence of (low, high) per coordinate, shape (dim, 2), as
    :attr:`jaxgd.Problem.box`; f takes a vector of length dim.

    Args:
        f: The function of a vector, ``f(x, *args)``.
        key: The PRNG key of the samples.
        box: (low, high) per coordinate, shape (dim, 2).
        num_samples: The number of uniform samples.
        *args: Further arguments of f.

    Returns:
        The range (:class:`CurvatureRange`).
    """
    if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)) or num_samples < 1:
        raise ValueError(f"num_samples must be a positive integer, got num_samples={num_samples!r}")
    bounds = _as_float(box)
    if bounds.ndim != 2 or bounds.shape[1] != 2:
        raise ValueError(f"box must have shape (dim, 2): one (low, high) pair per coordinate, got {bounds.shape}")
    _check_finite_tree("box", bounds)
    if _concrete(bounds) and not np.all(np.asarray(bounds[:, 0]) < np.asarray(bounds[:, 1])):
        raise ValueError(f"box needs low < high in every coordinate, got {np.asarray(bounds).tolist()}")
    u = jax.random.uniform(key, (num_samples, bounds.shape[0]), bounds.dtype)
    points = bounds[:, 0] + u * (bounds[:, 1] - bounds[:, 0])
    return curvature_range(f, points, *args)


# --------------------------------------------------------------------------- measured rates


def fit_rate(errors: jax.typing.ArrayLike, steps: jax.typing.ArrayLike | None = None, floor: Any = 0.0) -> jax.Array:
    """The per-step rate exp(slope) of a least-squares line through (step, log error).

    Points whose error is non-finite or <= ``floor`` (zeros, rounding noise) are
    skipped; NaN if fewer than two remain. ``steps`` defaults to 0, 1, 2, ...
    Jittable and vmappable (masks, no host round-trip).

    Args:
        errors: The errors e_k (f - f* or ||x - x*||), one per step.
        steps: The steps of the errors; None: 0, 1, 2, ...
        floor: Errors at or below it are skipped.

    Returns:
        The fitted per-step rate, a scalar (NaN if fewer than two points remain).
    """
    e = _as_float(errors)
    if e.ndim != 1:
        raise ValueError(f"errors must be a vector, got shape {e.shape}")
    t = jnp.arange(e.shape[0], dtype=e.dtype) if steps is None else _as_float(steps).astype(e.dtype)
    if t.shape != e.shape:
        raise ValueError(f"steps must have the shape of errors {e.shape}, got {t.shape}")
    return _fit_rate(e, t, _as_float(floor))


@jax.jit
def _fit_rate(e: jax.Array, t: jax.Array, floor: jax.Array) -> jax.Array:
    ok = jnp.isfinite(e) & (e > floor)
    y = jnp.log(jnp.where(ok, e, 1.0))
    w = ok.astype(e.dtype)
    n = jnp.sum(w)
    tbar = jnp.sum(w * t) / jnp.maximum(n, 1.0)
    ybar = jnp.sum(w * y) / jnp.maximum(n, 1.0)
    stt = jnp.sum(w * (t - tbar) ** 2)
    sty = jnp.sum(w * (t - tbar) * (y - ybar))
    slope = sty / jnp.where(stt > 0, stt, 1.0)
    return jnp.where((n >= 2) & (stt > 0), jnp.exp(slope), jnp.nan)


def fitted_rate(
    trajectory: Trajectory,
    *,
    f_star: jax.typing.ArrayLike | None = None,
    x_star: Any = None,
    start: int = 0,
    stop: int | None = None,
    floor: Any = None,
) -> jax.Array:
    """The empirical linear rate of a run: exp of the slope of log(f - f*) or log ||x - x*|| against the step.

    Give exactly one of ``f_star`` (uses ``trajectory.loss``, every step) or
    ``x_star`` (uses ``trajectory.params`` at ``trajectory.steps``; a pytree like
    the params). The fit uses steps in [start, stop). On a quadratic the rate of
    f - f* is the square of the rate of ||x - x*||: compare like with like
    (:func:`gd_rate` and friends predict the ||x - x*|| rate).

    Points below ``floor`` are dropped; by default floor = 10 eps |f*| (or
    10 eps ||x*||), where rounding, not the optimizer, sets the error.
    Vmappable over a batch of trajectories.

    Args:
        trajectory: The :class:`jaxgd.Trajectory` of a run.
        f_star: The minimum f*, to fit log(f - f*).
        x_star: The minimiser x*, to fit log ||x - x*||.
        start: The first step of the fit.
        stop: The step after the last of the fit (None: the end).
        floor: The smallest error kept (None: 10 eps |f*| or 10 eps ||x*||).

    Returns:
        The fitted per-step rate, a scalar.

    Raises:
        ValueError: Unless exactly one of f_star and x_star is given.
    """
    if (f_star is None) == (x_star is None):
        raise ValueError("give exactly one of f_star and x_star")
    if start < 0 or (stop is not None and stop <= start):
        raise ValueError(f"need 0 <= start < stop, got start={start}, stop={stop}")
    if x_star is not None:
        _check_finite_tree("x_star", x_star)
        return _fitted_rate_x(trajectory.params, trajectory.steps, x_star, start, stop, floor)
    return _fitted_rate_f(trajectory.loss, _as_float(f_star), start, stop, floor)


def _window_fit(errors, steps, scale, start, stop, floor) -> jax.Array:
    if floor is None:
        floor = 10.0 * jnp.finfo(errors.dtype).eps * scale
    window = steps >= start
    if stop is not None:
        window = window & (steps < stop)
    return _fit_rate(jnp.where(window, errors, jnp.nan), steps, _as_float(floor))


@jax.jit
def _fitted_rate_f(loss, f_star, start, stop, floor) -> jax.Array:
    values = _as_float(loss)
    steps = jnp.arange(values.shape[-1], dtype=values.dtype)
    return _window_fit(values - f_star, steps, jnp.abs(f_star), start, stop, floor)


@jax.jit
def _fitted_rate_x(params, steps, x_star, start, stop, floor) -> jax.Array:
    errors = jax.vmap(tree_norm)(jax.tree.map(lambda p, s: p - s, params, x_star))
    steps = _as_float(steps).astype(errors.dtype)
    return _window_fit(errors, steps, tree_norm(x_star), start, stop, floor)


# --------------------------------------------------------------------------- a problem's curvature, in one call


class LearningRateBounds(NamedTuple):
    """GD's step sizes from the Hessian at a positive-definite minimiser (:func:`learning_rate_bounds`).

    Attributes:
      stability_bound: 2 / lambda_max.
      optimal_lr: eta* = 2 / (lambda_max + lambda_min).
      spectrum: the Hessian's eigenvalues there, ascending (e.g. for :func:`momentum_stable`).
    """

    stability_bound: float
    optimal_lr: float
    spectrum: jax.Array

    def to_dict(self) -> dict[str, float]:
        """``{"stability_bound": ..., "optimal_lr": ...}``."""
        return {"stability_bound": self.stability_bound, "optimal_lr": self.optimal_lr}


def learning_rate_bounds(problem: Problem) -> LearningRateBounds | None:
    """2/lambda_max and eta* from the Hessian at the problem's (first) minimiser.

    None when the problem lists no minimiser, or its Hessian there is not finite or not positive definite.

    Args:
        problem: The :class:`jaxgd.Problem`.

    Returns:
        The bounds (:class:`LearningRateBounds`): 2/lambda_max and eta*; or None.
    """
    if problem.minimizers is None:
        return None
    try:
        eig = hessian_eigenvalues(problem, problem.minimizers[0])
    except ValueError:
        return None
    if float(lambda_min(eig)) <= 0:
        return None
    return LearningRateBounds(float(stability_bound(eig)), float(optimal_lr(eig)), eig)


_DEFINITENESS = {
    "minimum": "positive definite",
    "maximum": "negative definite",
    "strict saddle": "indefinite",
    "degenerate": "singular (semi-definite)",
}


class PointAnalysis(NamedTuple):
    """The Hessian at one point of a problem and what it predicts (see :func:`analyze`).

    Attributes:
      x, f, grad_norm: the point, f(x) and ||grad f(x)||.
      eigenvalues: the Hessian's eigenvalues, ascending.
      kind: :func:`classify_eigenvalues`' verdict ("unknown" if it cannot decide); at the start, which is
        not a critical point, the Hessian's definiteness ("Hessian positive definite", ...).
      listed_as: how the problem lists the point ("minimizer", or a key of ``critical_points``); None at the start.
      kappa, optimal_lr, gd_rate_at_optimal_lr, heavy_ball_optimal, nesterov_rate: None unless the
        Hessian is positive definite; ``gd_iterations``: GD's predicted steps at eta* to 1e-6.
      stability_bound: 2 / lambda_max; None unless lambda_max > 0.
    """

    x: np.ndarray
    f: float
    grad_norm: float
    eigenvalues: np.ndarray
    kind: str
    listed_as: str | None = None
    kappa: float | None = None
    stability_bound: float | None = None
    optimal_lr: float | None = None
    gd_rate_at_optimal_lr: float | None = None
    heavy_ball_optimal: HeavyBallParameters | None = None
    nesterov_rate: float | None = None
    gd_iterations: float | None = None

    @property
    def lambda_min(self) -> float:
        return float(np.min(self.eigenvalues))

    @property
    def lambda_max(self) -> float:
        return float(np.max(self.eigenvalues))

    def to_dict(self) -> dict[str, Any]:
        """Plain Python values (JSON-able); the keys left out where a value is None."""
        row: dict[str, Any] = {} if self.listed_as is None else {"listed_as": self.listed_as}
        row.update(
            x=np.asarray(self.x, float).tolist(),
            f=self.f,
            grad_norm=self.grad_norm,
            eigenvalues=np.asarray(self.eigenvalues, float).tolist(),
            lambda_min=self.lambda_min,
            lambda_max=self.lambda_max,
            kind=self.kind,
        )
        hb = self.heavy_ball_optimal
        optional = {
            "kappa": self.kappa,
            "stability_bound": self.stability_bound,
            "optimal_lr": self.optimal_lr,
            "gd_rate_at_optimal_lr": self.gd_rate_at_optimal_lr,
            "heavy_ball_optimal": None if hb is None else {k: float(v) for k, v in hb._asdict().items()},
            "nesterov_rate": self.nesterov_rate,
            "gd_iterations_to_1e-6": self.gd_iterations,
        }
        row.update({k: v for k, v in optional.items() if v is not None})
        return row


class ProblemAnalysis(NamedTuple):
    """Curvature facts about a :class:`jaxgd.Problem` (:func:`analyze`).

    Attributes:
      problem, dim: the problem's name and dimension.
      start: the Hessian at ``problem.x0``.
      critical_points: the Hessian at every known minimiser and other critical point.
      minimum: f at the minimisers, or None.
      box_curvature: :func:`estimate_curvature` over the plotting box (2-D problems), or None.
      box, samples: that box and the number of points sampled in it.
    """

    problem: str
    dim: int
    start: PointAnalysis
    critical_points: tuple[PointAnalysis, ...]
    minimum: float | None
    box_curvature: CurvatureRange | None
    box: tuple | None
    samples: int

    def to_dict(self) -> dict[str, Any]:
        """Plain Python values (JSON-able), as ``jaxgd analyze --json`` writes them."""
        out: dict[str, Any] = {"problem": self.problem, "dim": self.dim, "start": self.start.to_dict()}
        out["critical_points"] = [p.to_dict() for p in self.critical_points]
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.box_curvature is not None:
            out["curvature_over_box"] = {
                "box": [list(b) for b in self.box],
                "samples": self.samples,
                "alpha_estimate": float(self.box_curvature.alpha),
                "beta_estimate": float(self.box_curvature.beta),
            }
        return out


def analyze(problem: Problem, *, samples: int = 256, seed: int = 0) -> ProblemAnalysis:
    """The Hessian at a problem's start and at each known critical point, with kappa, bounds and rates.

    For a 2-D problem with a plotting box, also alpha and beta estimated from ``samples`` uniform points
    of the box (:func:`estimate_curvature`, key ``seed``).

    Args:
        problem: The :class:`jaxgd.Problem`.
        samples: The number of uniform points of the box for the alpha, beta estimates.
        seed: The PRNG seed of those points.

    Returns:
        The analysis (:class:`ProblemAnalysis`): one :class:`PointAnalysis` per point, and the estimates.
    """
    start = _analyze_point(problem, problem.x0)
    start = start._replace(kind="Hessian " + _DEFINITENESS.get(start.kind, start.kind))
    points: list[tuple[str, Any]] = []
    if problem.minimizers is not None:
        points += [("minimizer", m) for m in np.asarray(problem.minimizers)]
    for kind, pts in getattr(problem, "critical_points", {}).items():
        points += [(kind, p) for p in np.asarray(pts)]
    critical = tuple(_analyze_point(problem, p, listed_as=k) for k, p in points)
    minimum = float(problem.minimum) if problem.minimum is not None else None
    box = curvature = None
    if problem.box is not None and problem.dim == 2:
        box = tuple(tuple(b) for b in problem.box)
        curvature = estimate_curvature(problem, jax.random.key(seed), problem.box, samples)
    return ProblemAnalysis(problem.name, problem.dim, start, critical, minimum, curvature, box, samples)


def _analyze_point(problem: Problem, x: Any, listed_as: str | None = None) -> PointAnalysis:
    x = jnp.asarray(x, problem.x0.dtype)
    eig = hessian_eigenvalues(problem, x)
    try:
        kind = classify_eigenvalues(eig)
    except ValueError:
        kind = "unknown"
    grad_norm = float(np.linalg.norm(np.asarray(jax.grad(problem)(x), float)))
    point = PointAnalysis(np.asarray(x, float), float(problem(x)), grad_norm, np.asarray(eig, float), kind, listed_as)
    if point.lambda_min > 0:
        kappa = float(condition_number(eig))
        hb = heavy_ball_optimal(eig)
        return point._replace(
            kappa=kappa,
            stability_bound=float(stability_bound(eig)),
            optimal_lr=float(optimal_lr(eig)),
            gd_rate_at_optimal_lr=float(gd_optimal_rate(kappa)),
            heavy_ball_optimal=HeavyBallParameters(*(float(v) for v in hb)),
            nesterov_rate=float(nesterov_rate(kappa)),
            gd_iterations=float(iterations_to_tolerance(gd_optimal_rate(kappa), 1e-6)),
        )
    if point.lambda_max > 0:
        return point._replace(stability_bound=float(stability_bound(eig)))
    return point
