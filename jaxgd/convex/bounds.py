"""The convergence bounds of the table of rates for convex optimisation, as functions of the iteration count.

Each ``*_bound(t, ...)`` returns the guaranteed bound after t iterations, as an
array (``jit``- and ``vmap``-able in t and the constants). The constants:
beta (smoothness), L (Lipschitz constant), alpha (strong convexity),
kappa = beta / alpha, R (||x_1 - x*||, or the set's radius), r (radius of a ball
inside the set), D (diameter), nu (self-concordance parameter of a barrier).
:data:`TABLE` is the table itself (ST449 lecture 3; Bubeck 2015, section 1.7),
naming each row's bound here or why the row has no implementation.

:func:`iterations_to_epsilon` inverts any bound; :func:`robbins_monro` checks the
step-size conditions sum eta_t = inf, sum eta_t^2 < inf over a horizon.

Reference: Bubeck (2015), "Convex Optimization: Algorithms and Complexity",
Foundations and Trends in Machine Learning 8(3-4).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxgd import _validate

__all__ = [
    "TABLE",
    "RobbinsMonro",
    "TableRow",
    "accelerated_bound",
    "accelerated_strongly_convex_bound",
    "ellipsoid_bound",
    "frank_wolfe_bound",
    "interior_point_bound",
    "iterations_to_epsilon",
    "mirror_descent_bound",
    "mirror_prox_bound",
    "robbins_monro",
    "smooth_bound",
    "strongly_convex_smooth_bound",
    "strongly_convex_subgradient_bound",
    "subgradient_bound",
]

Array = jax.typing.ArrayLike


def _xp(*args: Any) -> Any:
    """NumPy for NumPy and Python inputs (no dispatch cost, float64), jax.numpy for JAX arrays and tracers."""
    return jnp if any(isinstance(a, jax.Array | jax.core.Tracer) for a in args) else np


def _t(t: Array, *args: Any) -> Any:
    xp = _xp(t, *args)
    return xp.asarray(t, dtype=jnp.result_type(float) if xp is jnp else float)


def subgradient_bound(t: Array, radius: Array, lipschitz: Array) -> jax.Array:
    """R L / sqrt(t): projected subgradient descent on an L-Lipschitz f, eta = R / (L sqrt(t)), uniform average of
    x_1..x_t. Row "non-smooth, Lipschitz". Bubeck (2015), Theorem 3.2.

    Args:
        t: The number of iterations (an array broadcasts).
        radius: R = ||x_1 - x*||.
        lipschitz: L.

    Returns:
        The bound, with the broadcast shape of the arguments.
    """
    return radius * lipschitz / _xp(t, radius, lipschitz).sqrt(_t(t, radius, lipschitz))


def strongly_convex_subgradient_bound(t: Array, lipschitz: Array, alpha: Array) -> jax.Array:
    """2 L^2 / (alpha (t + 1)): projected subgradient descent on an alpha-strongly convex L-Lipschitz f, eta_s =
    2 / (alpha (s + 1)), average weighted by s. Row "strongly convex, Lipschitz" (L^2 / (alpha t)). Bubeck (2015),
    Theorem 3.9.

    Args:
        t: The number of iterations (an array broadcasts).
        lipschitz: L.
        alpha: The strong convexity constant.

    Returns:
        The bound, with the broadcast shape of the arguments.
    """
    return 2 * lipschitz**2 / (alpha * (_t(t, lipschitz, alpha) + 1))


def smooth_bound(t: Array, beta: Array, radius: Array) -> jax.Array:
    """beta R^2 / (2 t): projected gradient descent (or ISTA) on a beta-smooth f with eta = 1 / beta, last iterate.
    Row "smooth" (beta R^2 / t). Beck & Teboulle (2009), Theorem 3.1; Bubeck (2015), Theorem 3.7 (weaker constant).

    Args:
        t: The number of iterations (an array broadcasts).
        beta: The smoothness constant.
        radius: R = ||x_0 - x*||.

    Returns:
        The bound, with the broadcast shape of the arguments.
    """
    return beta * radius**2 / (2 * _t(t, beta, radius))


def accelerated_bound(t: Array, beta: Array, radius: Array) -> jax.Array:
    """2 beta R^2 / (t + 1)^2: FISTA (accelerated projected/proximal gradient) with eta = 1 / beta. Rows "smooth,
    AGD" and "f + g, FISTA" (beta R^2 / t^2). Beck & Teboulle (2009), Theorem 4.4; Bubeck (2015), Theorem 3.19.

    Args:
        t: The number of iterations (an array broadcasts).
        beta: The smoothness constant.
        radius: R = ||x_0 - x*||.

    Returns:
        The bound, with the broadcast shape of the arguments.
    """
    return 2 * beta * radius**2 / (_t(t, beta, radius) + 1) ** 2


def frank_wolfe_bound(t: Array, beta: Array, diameter: Array) -> jax.Array:
    """2 beta D^2 / (t + 2): Frank-Wolfe with gamma_t = 2 / (t + 2) on a beta-smooth f over a set of diameter D.
    Row "smooth, FW" (beta R^2 / t). Jaggi (2013), Theorem 1; Bubeck (2015), Theorem 3.8.

    Args:
        t: The number of iterations (an array broadcasts).
        beta: The smoothness constant.
        diameter: D, the diameter of X.

    Returns:
        The bound, with the broadcast shape of the arguments.
    """
    return 2 * beta * diameter**2 / (_t(t, beta, diameter) + 2)


def strongly_convex_smooth_bound(t: Array, kappa: Array, radius: Array) -> jax.Array:
    """R^2 exp(-t / kappa), a bound on ||x_t - x*||^2: projected gradient descent with eta = 1 / beta on an
    alpha-strongly convex beta-smooth f. Row "strongly convex, smooth, PGD". Bubeck (2015), Theorem 3.10.

    Args:
        t: The number of iterations (an array broadcasts).
        kappa: beta / alpha.
        radius: R = ||x_0 - x*||.

    Returns:
        The bound, with the broadcast shape of the arguments.
    """
    return radius**2 * _xp(t, kappa, radius).exp(-_t(t, kappa, radius) / kappa)


def accelerated_strongly_convex_bound(
    t: Array, kappa: Array, initial_gap: Array, alpha: Array, radius: Array
) -> jax.Array:
    """(F(x_0) - F* + alpha R^2 / 2) (1 - 1 / sqrt(kappa))^t <= (...) exp(-t / sqrt(kappa)): V-FISTA, momentum
    (sqrt(kappa) - 1) / (sqrt(kappa) + 1), eta = 1 / beta. Row "strongly convex, smooth, AGD" (R^2 exp(-t /
    sqrt(kappa))). Beck (2017), "First-Order Methods in Optimization", Theorem 10.42; Bubeck (2015), Theorem 3.18.

    Args:
        t: The number of iterations (an array broadcasts).
        kappa: beta / alpha.
        initial_gap: F(x_0) - F*.
        alpha: The strong convexity constant.
        radius: R = ||x_0 - x*||.

    Returns:
        The bound, with the broadcast shape of the arguments.
    """
    xp = _xp(t, kappa, initial_gap, alpha, radius)
    return (initial_gap + 0.5 * alpha * radius**2) * (1 - 1 / xp.sqrt(kappa)) ** _t(
        t, kappa, initial_gap, alpha, radius
    )


def mirror_descent_bound(t: Array, radius: Array, lipschitz: Array, rho: Array = 1.0) -> jax.Array:
    """R L sqrt(2 / (rho t)): mirror descent with a rho-strongly convex mirror map, R^2 = sup Phi - Phi(x_1),
    eta = (R / L) sqrt(2 rho / t), uniform average (entropy on the simplex: R^2 = log n, rho = 1, L = sup ||g||_inf).
    Bubeck (2015), Theorem 4.2.

    Args:
        t: The number of iterations (an array broadcasts).
        radius: R, with R^2 = sup Phi - Phi(x_1).
        lipschitz: L, in the dual norm.
        rho: The strong convexity of the mirror map.

    Returns:
        The bound, with the broadcast shape of the arguments.
    """
    return radius * lipschitz * _xp(t, radius, lipschitz, rho).sqrt(2 / (rho * _t(t, radius, lipschitz, rho)))


def mirror_prox_bound(
    t: Array, beta_xy: Array, radius_x: Array, radius_y: Array, beta_xx: Array = 0.0, beta_yy: Array = 0.0
) -> jax.Array:
    """4 max(beta_11 R_X^2, beta_22 R_Y^2, beta_12 R_X R_Y) / t on the duality gap of the averaged mirror prox
    iterates (beta_12 = beta_21 = ``beta_xy``). Row "saddle point, SP-MP" (beta R^2 / t). Bubeck (2015),
    Theorem 5.2; Nemirovski (2004).

    Args:
        t: The number of iterations (an array broadcasts).
        beta_xy: The smoothness constant of the cross terms.
        radius_x: R_X.
        radius_y: R_Y.
        beta_xx: The smoothness constant in x.
        beta_yy: The smoothness constant in y.

    Returns:
        The bound, with the broadcast shape of the arguments.
    """
    args = (beta_xy, radius_x, radius_y, beta_xx, beta_yy)
    xp = _xp(t, *args)
    scale = xp.maximum(xp.maximum(beta_xx * radius_x**2, beta_yy * radius_y**2), beta_xy * radius_x * radius_y)
    return 4 * scale / _t(t, *args)


def ellipsoid_bound(t: Array, n: Array, outer_radius: Array, inner_radius: Array, variation: Array) -> jax.Array:
    """V (R / r) exp(-t / (2 n^2)) for the best feasible centre, V = max_X f - f*, X inside a ball of radius R and
    containing one of radius r. Row "non-smooth, ellipsoid method" ((R / r) exp(-t / n^2)). Bubeck (2015),
    Theorem 2.4 (2B there for V).

    Args:
        t: The number of iterations (an array broadcasts).
        n: The dimension.
        outer_radius: R, of a ball containing X.
        inner_radius: r, of a ball inside X.
        variation: V = max_X f - f*.

    Returns:
        The bound, with the broadcast shape of the arguments.
    """
    args = (n, outer_radius, inner_radius, variation)
    t = _t(t, *args)
    return variation * outer_radius / inner_radius * _xp(t, *args).exp(-t / (2 * _t(n, *args) ** 2))


def interior_point_bound(k: Array, nu: Array, t0: Array) -> jax.Array:
    """(2 nu / t_0) exp(-k / (1 + 13 sqrt(nu))): the short-step path-following method, t_{k+1} = (1 + 1 / (13
    sqrt(nu))) t_k, one Newton step each, on a linear objective with a nu-self-concordant barrier. Row "linear,
    IPM" (nu exp(-t / sqrt(nu))). Bubeck (2015), section 5.3; Nesterov (2004), section 4.2.5.

    Args:
        k: The number of updates of t (an array broadcasts).
        nu: The barrier parameter.
        t0: The first barrier weight.

    Returns:
        The bound, with the broadcast shape of the arguments.
    """
    xp = _xp(k, nu, t0)
    return 2 * nu / t0 * xp.exp(-_t(k, nu, t0) / (1 + 13 * xp.sqrt(nu)))


def iterations_to_epsilon(bound: Callable[[Any], Any], epsilon: float, max_iterations: int = 10**15) -> int:
    """The smallest integer t >= 1 with bound(t) <= epsilon, for a non-increasing bound (host-side bisection).

    The bound is evaluated in float64. Raises ValueError when even ``max_iterations`` does not reach epsilon.

    Args:
        bound: A non-increasing function of t.
        epsilon: The target.
        max_iterations: The largest t searched.

    Returns:
        The smallest t, an int.

    Raises:
        ValueError: If bound(max_iterations) > epsilon.
    """
    _validate.positive("epsilon", epsilon)

    def ok(t: int) -> bool:
        with jax.enable_x64(True):  # t beyond 2^24 is not a float32
            return float(bound(t)) <= epsilon

    if ok(1):
        return 1
    hi = 2
    while not ok(hi):
        if hi >= max_iterations:
            raise ValueError(f"the bound stays above epsilon={epsilon!r} up to t={max_iterations}")
        hi = min(2 * hi, max_iterations)
    lo = hi // 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return hi


class RobbinsMonro(NamedTuple):
    """sum_eta, sum_eta_squared: the partial sums over the horizon; exponent: p in eta_t ~ t^-p, fitted over the last
    half of the horizon; sum_diverges: p <= 1; squares_converge: p > 1/2; satisfied: both."""

    sum_eta: float
    sum_eta_squared: float
    exponent: float
    sum_diverges: bool
    squares_converge: bool
    satisfied: bool


def robbins_monro(schedule: Callable[[Any], Any], horizon: int = 10**5, tol: float = 1e-3) -> RobbinsMonro:
    """Check sum_t eta_t = inf and sum_t eta_t^2 < inf (Robbins & Monro 1951) for ``schedule(count)``, count =
    0..horizon-1.

    A finite horizon cannot prove either, so the check fits the tail: eta_t ~ t^-p by least squares of log eta_t on
    log t over the last half; the sum diverges iff p <= 1 and the squares converge iff p > 1/2 (p-series), with
    ``tol`` of slack on the fitted exponent. Constant steps (p = 0) fail the second condition; R / (L sqrt(t))
    (p = 1/2) fails it too; 2 / (alpha (t + 1)) (p = 1) satisfies both.

    Args:
        schedule: eta as a function of the count (a jaxgd schedule or any callable).
        horizon: The number of steps evaluated.
        tol: The slack on the fitted exponent.

    Returns:
        The check (:class:`RobbinsMonro`): the partial sums, the fitted exponent and the verdicts.
    """
    _validate.positive_int("horizon", horizon)
    if horizon < 8:
        raise ValueError(f"horizon must be at least 8 to fit the tail, got horizon={horizon}")
    counts = np.arange(horizon)
    eta = np.asarray(jax.jit(jax.vmap(schedule))(jnp.asarray(counts)), dtype=float)
    if eta.shape != (horizon,) or not np.all(np.isfinite(eta)) or np.any(eta <= 0):
        raise ValueError("the schedule must give one positive finite step per count")
    tail = slice(horizon // 2, horizon)
    p = -float(np.polyfit(np.log(counts[tail] + 1.0), np.log(eta[tail]), 1)[0])
    diverges, squares = p <= 1 + tol, p > 0.5 + tol
    return RobbinsMonro(float(eta.sum()), float((eta**2).sum()), p, diverges, squares, diverges and squares)


class TableRow(NamedTuple):
    """One row of the table: function class, algorithm, rate, iterations to epsilon, cost per iteration, the bound
    function here (its name, or None with the reason in ``note``), and the reference."""

    function_class: str
    algorithm: str
    rate: str
    iterations: str
    cost: str
    bound: str | None
    reference: str
    note: str = ""


TABLE: tuple[TableRow, ...] = (
    TableRow(
        "non-smooth",
        "centre of gravity",
        "exp(-t/n)",
        "n log(1/eps)",
        "1 grad, 1 n-dim integral",
        None,
        "Bubeck Thm 2.1",
        "left out: needs the centroid of a convex body, an n-dimensional integral",
    ),
    TableRow(
        "non-smooth",
        "ellipsoid method",
        "(R/r) exp(-t/n^2)",
        "n^2 log(R/(r eps))",
        "1 grad, mat-vec",
        "ellipsoid_bound",
        "Bubeck Thm 2.4",
    ),
    TableRow(
        "non-smooth",
        "Vaidya",
        "(Rn/r) exp(-t/n)",
        "n log(Rn/(r eps))",
        "1 grad, mat-mat",
        None,
        "Bubeck Thm 2.5",
        "left out: volumetric centres and constraint dropping, heavy machinery",
    ),
    TableRow(
        "non-smooth, Lipschitz",
        "projected subgradient",
        "RL/sqrt(t)",
        "R^2 L^2/eps^2",
        "1 grad, 1 proj",
        "subgradient_bound",
        "Bubeck Thm 3.2",
    ),
    TableRow(
        "non-smooth, Lipschitz (simplex)",
        "entropic mirror descent",
        "RL sqrt(2/t)",
        "2 R^2 L^2/eps^2",
        "1 grad, 1 softmax",
        "mirror_descent_bound",
        "Bubeck Thm 4.2",
    ),
    TableRow(
        "smooth",
        "projected GD",
        "beta R^2/t",
        "beta R^2/eps",
        "1 grad, 1 proj",
        "smooth_bound",
        "Beck-Teboulle Thm 3.1; Bubeck Thm 3.7",
    ),
    TableRow(
        "smooth",
        "AGD (accelerated projected GD)",
        "beta R^2/t^2",
        "R sqrt(beta/eps)",
        "1 grad, 1 proj",
        "accelerated_bound",
        "Beck-Teboulle Thm 4.4; Bubeck Thm 3.19",
    ),
    TableRow(
        "smooth (any norm)",
        "Frank-Wolfe",
        "beta R^2/t",
        "beta R^2/eps",
        "1 grad, 1 LP",
        "frank_wolfe_bound",
        "Jaggi Thm 1; Bubeck Thm 3.8",
    ),
    TableRow(
        "strongly convex, Lipschitz",
        "projected subgradient",
        "L^2/(alpha t)",
        "L^2/(alpha eps)",
        "1 grad, 1 proj",
        "strongly_convex_subgradient_bound",
        "Bubeck Thm 3.9",
    ),
    TableRow(
        "strongly convex, smooth",
        "projected GD",
        "R^2 exp(-t/kappa)",
        "kappa log(R^2/eps)",
        "1 grad, 1 proj",
        "strongly_convex_smooth_bound",
        "Bubeck Thm 3.10",
    ),
    TableRow(
        "strongly convex, smooth",
        "AGD (V-FISTA)",
        "R^2 exp(-t/sqrt(kappa))",
        "sqrt(kappa) log(R^2/eps)",
        "1 grad, 1 proj",
        "accelerated_strongly_convex_bound",
        "Beck (2017) Thm 10.42; Bubeck Thm 3.18",
    ),
    TableRow(
        "f + g, f smooth, g simple",
        "FISTA",
        "beta R^2/t^2",
        "R sqrt(beta/eps)",
        "1 grad of f, 1 prox of g",
        "accelerated_bound",
        "Beck-Teboulle Thm 4.4",
    ),
    TableRow(
        "saddle point max_y phi(x, y), phi smooth",
        "mirror prox",
        "beta R^2/t",
        "beta R^2/eps",
        "MD step on X and Y, twice",
        "mirror_prox_bound",
        "Bubeck Thm 5.2",
    ),
    TableRow(
        "linear, X with nu-self-concordant barrier",
        "interior point (path following)",
        "nu exp(-t/sqrt(nu))",
        "sqrt(nu) log(nu/eps)",
        "1 Newton step",
        "interior_point_bound",
        "Bubeck section 5.3",
    ),
    TableRow(
        "finite sums, smooth, strongly convex",
        "SVRG",
        "-",
        "(m + kappa) log(1/eps)",
        "1 stochastic grad",
        None,
        "Bubeck Thm 6.5",
        "not in this package: stochastic methods live with jaxgd's SGD",
    ),
)
