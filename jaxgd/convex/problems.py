"""Convex test problems whose constants are known exactly, so that every bound of the table is a number.

Each builder returns a :class:`ConvexProblem`: the objective (or its smooth part
f, for composite problems F = f + g), the set or the simple term g, a start, the
minimum f* and a minimiser x*, and the constants (beta, L, R, r, alpha, kappa,
nu, ...) the bounds of :mod:`jaxgd.convex.bounds` take. Optima are known by
construction (KKT conditions built in) rather than computed, except the Lasso,
whose minimiser is scikit-learn's support and signs solved exactly.
Data are generated in float64 with NumPy and stored in the default float dtype.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import Partial

from jaxgd import _validate
from jaxgd.convex import frank_wolfe as FW
from jaxgd.convex import projections as P
from jaxgd.convex import prox as G

__all__ = [
    "ConvexProblem",
    "lasso_diabetes",
    "least_squares_ball",
    "least_squares_simplex",
    "linear_program",
    "matrix_game",
    "max_affine",
]


@functools.partial(
    jax.tree_util.register_dataclass,
    data_fields=["f", "x0", "f_star", "x_star", "constants", "data", "projection", "prox", "lmo"],
    meta_fields=["name"],
)
@dataclasses.dataclass(frozen=True, eq=False)
class ConvexProblem:
    """A convex problem with known optimum and constants.

    Attributes:
      name: short identifier.
      f: the objective, or the smooth part of a composite one (a ``Partial`` holding its data).
      x0: the start (feasible).
      f_star: the minimum of ``value`` (f, or f + g).
      x_star: a minimiser.
      constants: the table's constants for this problem (floats), e.g. beta, L, R, alpha, kappa.
      data: the arrays defining it (A, b, ...).
      projection: the feasible set's projection (None: unconstrained).
      prox: the simple term g (None where absent).
      lmo: the feasible set's linear minimisation oracle (None where absent).
    """

    name: str
    f: Callable[[jax.Array], jax.Array]
    x0: jax.Array
    f_star: Any
    x_star: Any
    constants: dict[str, Any]
    data: dict[str, Any]
    projection: P.Projection | None = None
    prox: G.Prox | None = None
    lmo: FW.LMO | None = None

    def value(self, x: jax.Array) -> jax.Array:
        """F(x) = f(x) + g(x) (f alone when there is no g)."""
        return self.f(x) if self.prox is None else self.f(x) + self.prox(x)


def _dtype() -> Any:
    return jnp.result_type(float)


def _arrays(d: dict[str, Any]) -> dict[str, jax.Array]:
    return {k: jnp.asarray(v, _dtype()) for k, v in d.items()}


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


# --------------------------------------------------------------------------- max of affine functions


def max_affine_fn(x: jax.Array, a: jax.Array, b: jax.Array, alpha: jax.Array, center: jax.Array) -> jax.Array:
    """max_i (a_i^T x + b_i) + (alpha / 2) ||x - center||^2."""
    d = x - center
    return jnp.max(a @ x + b) + 0.5 * alpha * jnp.sum(d * d)


def _vertex_max(a: np.ndarray, b: np.ndarray, alpha: float, xs: np.ndarray, radius: float) -> float:
    n = a.shape[1]
    if n > 16:
        raise ValueError(f"the box variant enumerates 2^n vertices; n={n} is too large (n <= 16)")
    vertices = radius * np.array(list(itertools.product((-1.0, 1.0), repeat=n)))
    vals = np.max(vertices @ a.T + b, axis=1) + 0.5 * alpha * np.sum((vertices - xs) ** 2, axis=1)
    return float(vals.max())


def max_affine(
    n: int = 10, m: int = 30, *, domain: str = "ball", radius: float = 1.0, alpha: float = 0.0, seed: int = 0
) -> ConvexProblem:
    """f(x) = max_i (a_i^T (x - x*)) + f* + (alpha / 2) ||x - x*||^2 over a ball (or box) of ``radius``.

    The rows a_i are centred (sum a_i = 0), so 0 lies in the convex hull of the subgradients at x* and x* is the
    minimiser, f* = 1 (sharp when alpha = 0). L = max_i ||a_i - alpha x*|| + alpha radius bounds ||g|| on the ball.
    ``domain="ball"``: start x0 = -radius x*/||x*|| on the sphere, R = ||x0 - x*||. ``domain="box"`` ([-radius,
    radius]^n, for the ellipsoid method): x0 = 0, outer radius radius sqrt(n), inner radius ``radius``, and
    ``variation`` = max over the box of f - f* (over its 2^n vertices).

    Args:
        n: The dimension.
        m: The number of affine pieces.
        domain: ``"ball"`` or ``"box"``.
        radius: The ball's radius or the box's half-width.
        alpha: The strong convexity added (0: a sharp minimum).
        seed: The seed of the random data.

    Returns:
        The problem (:class:`ConvexProblem`).
    """
    _validate.positive_int("n", n)
    _validate.positive_int("m", m)
    _validate.positive("radius", radius)
    _validate.nonnegative("alpha", alpha)
    _validate.one_of("domain", domain, ("ball", "box"))
    if m < n + 1:
        raise ValueError(f"need m >= n + 1 affine pieces for a sharp minimum, got m={m}, n={n}")
    rng = _rng(seed)
    a = rng.standard_normal((m, n))
    a -= a.mean(axis=0)
    u = rng.standard_normal(n)
    xs = 0.4 * radius * u / np.linalg.norm(u)
    f_star = 1.0
    b = f_star - a @ xs
    data = {"a": a, "b": b, "alpha": alpha, "center": xs}
    lip = float(
        np.max(np.linalg.norm(a - alpha * xs, axis=1)) + alpha * radius * (math.sqrt(n) if domain == "box" else 1)
    )
    constants = {"L": lip, "alpha": float(alpha), "n": float(n)}
    if domain == "ball":
        x0 = -radius * xs / np.linalg.norm(xs)
        constants["R"] = float(np.linalg.norm(x0 - xs))
        proj = P.projection("ball", radius=radius)
    else:
        x0 = np.zeros(n)
        constants.update(
            R=radius * math.sqrt(n), r=float(radius), variation=_vertex_max(a, b, alpha, xs, radius) - f_star
        )
        proj = P.projection("box", lower=-radius, upper=radius)
    name = f"max_affine_{domain}{n}" + ("_strong" if alpha > 0 else "")
    return ConvexProblem(
        name,
        Partial(max_affine_fn, **_arrays(data)),
        jnp.asarray(x0, _dtype()),
        f_star,
        jnp.asarray(xs, _dtype()),
        constants,
        _arrays(data),
        projection=proj,
    )


# --------------------------------------------------------------------------- least squares over a ball / simplex


def least_squares_fn(x: jax.Array, a: jax.Array, b: jax.Array) -> jax.Array:
    """(1/2) ||A x - b||^2."""
    r = a @ x - b
    return 0.5 * jnp.sum(r * r)


def _spectrum_matrix(rng: np.random.Generator, m: int, n: int, sigma: np.ndarray) -> np.ndarray:
    u, _ = np.linalg.qr(rng.standard_normal((m, m)))
    v, _ = np.linalg.qr(rng.standard_normal((n, n)))
    k = len(sigma)
    return (u[:, :k] * sigma) @ v[:, :k].T


def diagonal_least_squares_fn(x: jax.Array, scales: jax.Array, b: jax.Array) -> jax.Array:
    """(1/2) ||diag(scales) x - b||^2."""
    r = scales * x - b
    return 0.5 * jnp.sum(r * r)


def _flat_spectrum(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Singular values i/n (eigenvalues (i/n)^2) and x* with |x*_i| proportional to 1/sqrt(i): equal weight per octave
    of the spectrum, so that f - f* decays like 1/t for gradient descent up to t ~ n^2."""
    i = np.arange(1, n + 1)
    xs = rng.choice([-1.0, 1.0], n) / np.sqrt(i)
    return i / n, xs


def least_squares_ball(
    n: int = 40, *, kappa: float | None = None, radius: float = 1.0, multiplier: float | None = None, seed: int = 0
) -> ConvexProblem:
    """f(x) = (1/2) ||A x - b||^2 over the ball of ``radius``, the constraint active at x* (on the sphere).

    With ``kappa``: A is a dense n x n matrix with squared singular values from beta = 1 down to alpha = 1/kappa
    (geometrically spaced). With kappa None: A = diag(i / n), eigenvalues (i/n)^2, and x* weighted 1/sqrt(i) in
    them, the hard case for the smooth rows (f - f* ~ beta R^2 / t for gradient descent until t ~ n^2; alpha =
    1/n^2 is too small to matter before). In both, x* = A^T z and b = A x* + lambda* z, so grad f(x*) = -lambda* x*:
    the KKT condition with multiplier lambda* = ``multiplier`` (default 1e-2 with kappa, 1e-6 without), and f* =
    (lambda*^2 / 2) ||z||^2. Start x0 = 0, R = ||x0 - x*|| = radius.

    Args:
        n: The dimension.
        kappa: The condition number of A^T A (None: the hard diagonal case).
        radius: The ball's radius.
        multiplier: The KKT multiplier lambda* (None: 1e-2 with kappa, 1e-6 without).
        seed: The seed of the random data.

    Returns:
        The problem (:class:`ConvexProblem`).
    """
    _validate.positive_int("n", n)
    _validate.positive("radius", radius)
    multiplier = (1e-6 if kappa is None else 1e-2) if multiplier is None else multiplier
    _validate.positive("multiplier", multiplier)
    rng = _rng(seed)
    if kappa is None:
        scales, xs = _flat_spectrum(rng, n)
        xs *= radius / np.linalg.norm(xs)
        z = xs / scales
        data = {"scales": scales, "b": scales * xs + multiplier * z}
        fn, sigma, name = diagonal_least_squares_fn, scales, f"least_squares_ball{n}"
    else:
        _validate.positive("kappa", kappa)
        if kappa < 1:
            raise ValueError(f"kappa must be >= 1, got kappa={kappa!r}")
        sigma = np.sqrt(np.geomspace(1.0, 1.0 / kappa, n))
        a = _spectrum_matrix(rng, n, n, sigma)
        z = rng.standard_normal(n)
        z *= radius / np.linalg.norm(a.T @ z)
        xs = a.T @ z
        data = {"a": a, "b": a @ xs + multiplier * z}
        fn, name = least_squares_fn, f"least_squares_ball{n}_kappa{kappa:g}"
    beta, alpha = float(sigma.max() ** 2), float(sigma.min() ** 2)
    constants = {"beta": beta, "alpha": alpha, "kappa": beta / alpha, "R": float(radius), "multiplier": multiplier}
    return ConvexProblem(
        name,
        Partial(fn, **_arrays(data)),
        jnp.zeros(n, _dtype()),
        0.5 * multiplier**2 * float(z @ z),
        jnp.asarray(xs, _dtype()),
        constants,
        _arrays(data),
        projection=P.projection("ball", radius=radius),
    )


def shifted_quadratic_fn(x: jax.Array, a: jax.Array, center: jax.Array) -> jax.Array:
    """(1/2) ||A (x - center)||^2."""
    r = a @ (x - center)
    return 0.5 * jnp.sum(r * r)


def least_squares_simplex(n: int = 30, support: int = 10, *, seed: int = 0) -> ConvexProblem:
    """f(x) = (1/2) ||A (x - x*)||^2 over the probability simplex, x* on a face (``support`` positive coordinates),
    f* = 0. A is n x n with singular values from 1 down to 0.1, beta = 1; the simplex has diameter D = sqrt(2).
    Start x0 = e_n, a vertex outside the face of x*.

    Args:
        n: The dimension.
        support: The number of positive coordinates of x*.
        seed: The seed of the random data.

    Returns:
        The problem (:class:`ConvexProblem`).
    """
    _validate.positive_int("n", n)
    _validate.positive_int("support", support)
    if support >= n:
        raise ValueError(f"support must be < n so that x* lies on a face, got support={support}, n={n}")
    rng = _rng(seed)
    a = _spectrum_matrix(rng, n, n, np.geomspace(1.0, 0.1, n))
    xs = np.zeros(n)
    xs[:support] = rng.dirichlet(np.ones(support))
    x0 = np.zeros(n)
    x0[-1] = 1.0
    data = {"a": a, "center": xs}
    constants = {"beta": 1.0, "D": math.sqrt(2.0), "R": float(np.linalg.norm(x0 - xs))}
    return ConvexProblem(
        "least_squares_simplex",
        Partial(shifted_quadratic_fn, **_arrays(data)),
        jnp.asarray(x0, _dtype()),
        0.0,
        jnp.asarray(xs, _dtype()),
        constants,
        _arrays(data),
        projection=P.projection("simplex"),
        lmo=FW.lmo("simplex"),
    )


# --------------------------------------------------------------------------- the Lasso on the diabetes data


def mean_squares_fn(w: jax.Array, x: jax.Array, y: jax.Array) -> jax.Array:
    """(1 / (2 m)) ||X w - y||^2, scikit-learn's Lasso loss."""
    r = x @ w - y
    return 0.5 * jnp.mean(r * r)


def _polish_lasso(x: np.ndarray, y: np.ndarray, strength: float, w: np.ndarray) -> np.ndarray:
    """The exact Lasso solution on scikit-learn's support S and signs s: X_S^T (X_S w_S - y) / m + lam s = 0,
    kept if it satisfies the optimality conditions, else scikit-learn's own solution."""
    m = x.shape[0]
    support = np.flatnonzero(w != 0)
    if support.size == 0:
        return w
    xs, s = x[:, support], np.sign(w[support])
    ws = np.linalg.solve(xs.T @ xs, xs.T @ y - m * strength * s)
    exact = np.zeros_like(w)
    exact[support] = ws
    corr = x.T @ (y - x @ exact) / m
    off = np.setdiff1d(np.arange(w.size), support)
    ok = np.all(np.sign(ws) == s) and np.all(np.abs(corr[off]) <= strength * (1 + 1e-9))
    return exact if ok else w


def _diabetes(interactions: bool) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_diabetes

    x, y = load_diabetes(return_X_y=True)
    if interactions:
        i, j = np.triu_indices(x.shape[1], k=1)
        x = np.hstack([x, x[:, i] * x[:, j]])
        x = x - x.mean(axis=0)
        x /= np.linalg.norm(x, axis=0)  # unit columns, as load_diabetes scales its own
    return x, y - y.mean()


def lasso_diabetes(strength: float = 0.05, *, interactions: bool = False) -> ConvexProblem:
    """The Lasso F(w) = (1 / (2 m)) ||X w - y||^2 + lam ||w||_1 on scikit-learn's diabetes data (m = 442, 10
    features, y centred, no intercept), as ``sklearn.linear_model.Lasso(alpha=lam, fit_intercept=False)``.

    ``interactions=True`` adds the 45 pairwise products of the features (centred, unit columns): 55 features and
    lambda_min(X^T X / m) ~ 6e-8, an ill-conditioned Lasso on which FISTA's lead over ISTA shows.
    beta = lambda_max(X^T X) / m; x* is scikit-learn's coordinate-descent solution (tol 1e-12) with its support
    solved exactly; F* = F(x*). Start 0, R = ||x*||.

    Args:
        strength: lambda, the l1 weight.
        interactions: Whether to add the 45 pairwise products of the features.

    Returns:
        The problem (:class:`ConvexProblem`).
    """
    from sklearn.linear_model import Lasso

    _validate.positive("strength", strength)
    x, y = _diabetes(interactions)
    model = Lasso(alpha=strength, fit_intercept=False, tol=1e-12, max_iter=1_000_000).fit(x, y)
    w = _polish_lasso(x, y, strength, np.asarray(model.coef_, dtype=float))
    f_star = 0.5 * np.mean((x @ w - y) ** 2) + strength * np.abs(w).sum()
    eig = np.linalg.eigvalsh(x.T @ x / x.shape[0])
    constants = {
        "beta": float(eig.max()),
        "alpha": float(eig.min()),
        "kappa": float(eig.max() / eig.min()),
        "R": float(np.linalg.norm(w)),
        "strength": float(strength),
    }
    data = {"x": x, "y": y}
    return ConvexProblem(
        "lasso_diabetes" + ("_interactions" if interactions else ""),
        Partial(mean_squares_fn, **_arrays(data)),
        jnp.zeros(x.shape[1], _dtype()),
        float(f_star),
        jnp.asarray(w, _dtype()),
        constants,
        _arrays(data),
        prox=G.l1(strength),
    )


# --------------------------------------------------------------------------- a matrix game


def game_max_fn(x: jax.Array, a: jax.Array) -> jax.Array:
    """max_j (A^T x)_j = max over the simplex in y of x^T A y."""
    return jnp.max(x @ a)


def bilinear_fn(x: jax.Array, y: jax.Array, a: jax.Array) -> jax.Array:
    """phi(x, y) = x^T A y."""
    return x @ a @ y


def matrix_game(n: int = 3, m: int | None = None, *, value: float = 0.25, seed: int = 0) -> ConvexProblem:
    """The matrix game min over x in the simplex, max over y in the simplex, of x^T A y, with value ``value``.

    A = value 11^T + (I - 1 x*^T) M (I - y* 1^T) for random M and interior x*, y*: then A y* = value 1 and
    A^T x* = value 1, so (x*, y*) is an equilibrium. As a minimisation, f(x) = max_j (A^T x)_j, f* = value, its
    subgradients (columns of A) have ||g||_inf <= L = max |A_ij|; the entropic map has R^2 = log n from the uniform
    start x0. ``data["y_star"]`` holds y*; ``bilinear_fn`` is phi.

    Args:
        n: The number of rows (x's strategies).
        m: The number of columns (y's strategies; None: n).
        value: The game's value.
        seed: The seed of the random data.

    Returns:
        The problem (:class:`ConvexProblem`).
    """
    _validate.positive_int("n", n)
    m = n if m is None else m
    _validate.positive_int("m", m)
    if n < 2 or m < 2:
        raise ValueError(f"a matrix game needs at least 2 strategies per player, got n={n}, m={m}")
    _validate.finite("value", value)
    rng = _rng(seed)
    xs, ys = rng.dirichlet(2 * np.ones(n)), rng.dirichlet(2 * np.ones(m))
    mat = rng.uniform(-1, 1, (n, m))
    a = value + (np.eye(n) - np.outer(np.ones(n), xs)) @ mat @ (np.eye(m) - np.outer(ys, np.ones(m)))
    constants = {
        "L": float(np.abs(a).max()),
        "R": math.sqrt(math.log(n)),
        "R_y": math.sqrt(math.log(m)),
        "value": float(value),
    }
    data = {"a": a, "y_star": ys}
    return ConvexProblem(
        f"matrix_game{n}x{m}",
        Partial(game_max_fn, a=jnp.asarray(a, _dtype())),
        jnp.full(n, 1.0 / n, _dtype()),
        float(value),
        jnp.asarray(xs, _dtype()),
        constants,
        _arrays(data),
        projection=P.projection("simplex"),
        lmo=FW.lmo("simplex"),
    )


# --------------------------------------------------------------------------- a linear program


def linear_fn(x: jax.Array, c: jax.Array) -> jax.Array:
    """c^T x."""
    return c @ x


def linear_program(n: int = 5, m: int = 15, *, bound: float = 10.0, seed: int = 0) -> ConvexProblem:
    """min c^T x s.t. A x <= b: ``m`` random rows and the box |x_i| <= ``bound`` (2n rows), nu = m + 2n.

    Built from its KKT conditions: n of the random rows are active at a random x* (signs chosen so b > 0, so x0 = 0 is
    strictly feasible), the others have slack, and c = -A_I^T y_I with y_I > 0, so x* is the unique optimum and
    c* = c^T x*. ``data`` holds c, A, b.

    Args:
        n: The number of variables.
        m: The number of random constraints.
        bound: The box's half-width.
        seed: The seed of the random data.

    Returns:
        The problem (:class:`ConvexProblem`).
    """
    _validate.positive_int("n", n)
    _validate.positive_int("m", m)
    _validate.positive("bound", bound)
    if m < n:
        raise ValueError(f"need m >= n random rows to make a vertex optimal, got m={m}, n={n}")
    rng = _rng(seed)
    xs = rng.uniform(-0.5, 0.5, n) * bound
    rows = rng.standard_normal((m, n))
    rows *= np.where(rows @ xs < 0, -1.0, 1.0)[:, None]
    b = rows @ xs
    b[n:] = np.maximum(b[n:], 0) + rng.uniform(0.5, 1.5, m - n)
    c = -rows[:n].T @ rng.uniform(0.5, 2.0, n)
    a = np.vstack([rows, np.eye(n), -np.eye(n)])
    b = np.concatenate([b, np.full(2 * n, bound)])
    constants = {"nu": float(a.shape[0])}
    data = {"c": c, "a": a, "b": b}
    return ConvexProblem(
        f"linear_program{n}x{a.shape[0]}",
        Partial(linear_fn, c=jnp.asarray(c, _dtype())),
        jnp.zeros(n, _dtype()),
        float(c @ xs),
        jnp.asarray(xs, _dtype()),
        constants,
        _arrays(data),
    )
