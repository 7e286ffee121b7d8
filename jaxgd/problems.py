"""Test problems with known minima.

A :class:`Problem` is a callable pytree: its array data (a quadratic's matrix,
its start, its minimisers) are leaves, so problems of the same kind and size
can be stacked and ``vmap``-ped over, and a new matrix does not recompile a run.

Known critical points were computed by Newton's method in float64 and are
checked by the tests (zero gradient, Hessian of the stated sign).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxgd import _validate

__all__ = [
    "REGISTRY",
    "Objective",
    "Problem",
    "ackley",
    "beale",
    "booth",
    "general_quadratic",
    "get",
    "himmelblau",
    "isotropic",
    "logistic_alpha",
    "logistic_beta",
    "logistic_regression",
    "monkey_saddle",
    "quadratic",
    "rastrigin",
    "ravine",
    "rosenbrock",
    "six_hump_camel",
    "strict_saddle",
]

Box = tuple[tuple[float, float], tuple[float, float]]


class Problem:
    """A test function with its default start, known minimisers and a plotting box.

    Attributes:
      name: short identifier.
      fn: pure function ``fn(x, **data) -> scalar`` of a flat vector x of length ``dim``.
      dim: the dimension of x.
      data: dict of arrays the function reads (pytree leaves).
      x0: default start, shape (dim,).
      minimizers: known global (or, where said, local) minimisers, shape (k, dim), or None.
      minimum: f at the minimisers, or None.
      box: ((xmin, xmax), (ymin, ymax)) for contour plots of 2-D problems, or None.
      smooth_at_minimum: False where f is not differentiable at its minimiser.
      critical_points: other known critical points, a dict from kind (``"local_minima"``,
        ``"maxima"``, ``"saddles"``, ``"degenerate"``) to an array of shape (k, dim); empty if none.
    """

    def __init__(
        self,
        name: str,
        fn: Callable[..., jax.Array],
        dim: int,
        x0: jax.typing.ArrayLike,
        *,
        data: dict[str, Any] | None = None,
        minimizers: jax.typing.ArrayLike | None = None,
        minimum: jax.typing.ArrayLike | None = None,
        box: Box | None = None,
        smooth_at_minimum: bool = True,
        critical_points: dict[str, jax.typing.ArrayLike] | None = None,
    ):
        self.name = name
        self.fn = fn
        self.dim = dim
        self.x0 = x0
        self.data = {} if data is None else data
        self.minimizers = minimizers
        self.minimum = minimum
        self.box = box
        self.smooth_at_minimum = smooth_at_minimum
        self.critical_points = {} if critical_points is None else critical_points

    def __call__(self, x: jax.typing.ArrayLike) -> jax.Array:
        shape = jnp.shape(x)
        if len(shape) != 1 or shape[0] != self.dim:
            raise ValueError(f"problem {self.name!r} takes a vector of shape ({self.dim},), got shape {shape}")
        return self.fn(x, **self.data)

    def __repr__(self) -> str:
        return f"Problem({self.name!r}, dim={self.dim})"

    @property
    def objective(self) -> Objective:
        """The computation alone: ``fn`` with ``data`` as pytree leaves, without name, start or box."""
        return Objective(self.fn, self.dim, self.data)

    def __jaxgd_objective__(self) -> Objective:
        return self.objective

    _static_fields = ("name", "fn", "dim", "box", "smooth_at_minimum")
    _dynamic_fields = ("x0", "data", "minimizers", "minimum", "critical_points")


def _flatten(p: Problem):
    children = tuple(getattr(p, f) for f in Problem._dynamic_fields)
    aux = tuple(getattr(p, f) for f in Problem._static_fields)
    return children, aux


def _unflatten(aux, children) -> Problem:
    p = object.__new__(Problem)
    for f, v in zip(Problem._static_fields, aux):
        setattr(p, f, v)
    for f, v in zip(Problem._dynamic_fields, children):
        setattr(p, f, v)
    return p


jax.tree_util.register_pytree_node(Problem, _flatten, _unflatten)


class Objective:
    """``x -> fn(x, **data)`` for a vector x of length ``dim``: a :class:`Problem` without its description.

    A pytree whose leaves are the arrays of ``data`` and whose static part is ``(fn, dim)``, so problems
    of one kind that differ only in their data (``ravine(10)``, ``ravine(50)``) share a compilation.

    Args:
        fn: ``fn(x, **data)``, the function of a vector x.
        dim: The length of x.
        data: The arrays (leaves) that ``fn`` reads.
    """

    def __init__(self, fn: Callable[..., jax.Array], dim: int, data: dict[str, Any]):
        self.fn = fn
        self.dim = dim
        self.data = data

    def __call__(self, x: jax.typing.ArrayLike) -> jax.Array:
        shape = jnp.shape(x)
        if len(shape) != 1 or shape[0] != self.dim:
            raise ValueError(f"this objective takes a vector of shape ({self.dim},), got shape {shape}")
        return self.fn(x, **self.data)

    def __repr__(self) -> str:
        return f"Objective({getattr(self.fn, '__name__', self.fn)!r}, dim={self.dim})"


jax.tree_util.register_pytree_node(
    Objective, lambda o: ((o.data,), (o.fn, o.dim)), lambda aux, children: Objective(aux[0], aux[1], children[0])
)


def _dtype() -> Any:
    return jnp.result_type(float)


def _points(points: Sequence[Sequence[float]], dtype: Any) -> jax.Array:
    return jnp.asarray(points, dtype).reshape(len(points), -1)


def _is_concrete(*xs: Any) -> bool:
    return not any(isinstance(x, jax.core.Tracer) for x in xs)


# --------------------------------------------------------------------------- quadratics


def _quadratic_fn(x, diag, shift):
    d = x - shift
    return 0.5 * jnp.sum(diag * d * d)


def quadratic(
    diag: jax.typing.ArrayLike, x0: jax.typing.ArrayLike | None = None, *, name: str | None = None
) -> Problem:
    """Diagonal quadratic f(x) = 1/2 sum_i lambda_i x_i^2: Hessian diag(lambda), minimum 0 at 0.

    Args:
        diag: The eigenvalues lambda_i.
        x0: The starting point (all ones by default).
        name: The problem's name (one from ``diag`` by default).

    Returns:
        The problem (:class:`Problem`).
    """
    diag = jnp.asarray(diag, _dtype())
    if diag.ndim != 1:
        raise ValueError(f"diag must be a vector, got shape {diag.shape}")
    dim = diag.shape[0]
    x0 = jnp.ones(dim, diag.dtype) if x0 is None else jnp.asarray(x0, diag.dtype)
    lim = float(np.max(np.abs(np.asarray(x0)))) * 1.2 if _is_concrete(x0) else 1.0
    return Problem(
        name or f"quadratic{dim}",
        _quadratic_fn,
        dim,
        x0,
        data={"diag": diag, "shift": jnp.zeros(dim, diag.dtype)},
        minimizers=jnp.zeros((1, dim), diag.dtype),
        minimum=jnp.zeros([], diag.dtype),
        box=((-lim, lim), (-lim, lim)) if dim == 2 else None,
    )


def ravine(scale: float = 50.0, x0: jax.typing.ArrayLike = (4.0, 0.5)) -> Problem:
    """The course's ravine f(x) = x1^2 + scale x2^2 (Hessian diag(2, 2 scale), kappa = scale), start (4, 0.5).

    Args:
        scale: The curvature ratio kappa.
        x0: The starting point.

    Returns:
        The problem (:class:`Problem`).
    """
    p = quadratic(jnp.asarray([2.0, 2.0 * scale]), x0, name=f"ravine{scale:g}")
    p.box = ((-4.5, 4.5), (-1.0, 1.0))
    return p


def isotropic(x0: jax.typing.ArrayLike = (4.0, 0.5)) -> Problem:
    """f(x) = x1^2 + x2^2, start (4, 0.5).

    Args:
        x0: The starting point.

    Returns:
        The problem (:class:`Problem`).
    """
    p = quadratic(jnp.asarray([2.0, 2.0]), x0, name="isotropic")
    p.box = ((-4.5, 4.5), (-1.0, 1.0))
    return p


def _general_quadratic_fn(x, matrix, linear):
    return 0.5 * jnp.dot(x, matrix @ x) + jnp.dot(linear, x)


def _random_rotation(key: jax.Array, dim: int, dtype: Any) -> jax.Array:
    """A Haar-distributed orthogonal matrix: QR of a Gaussian matrix with the signs of diag(R) fixed."""
    q, r = jnp.linalg.qr(jax.random.normal(key, (dim, dim), dtype))
    return q * jnp.sign(jnp.diagonal(r))[None, :]


def general_quadratic(
    spectrum: jax.typing.ArrayLike,
    *,
    key: jax.Array | None = None,
    linear: jax.typing.ArrayLike | None = None,
    x0: jax.typing.ArrayLike | None = None,
    name: str | None = None,
) -> Problem:
    """f(x) = 1/2 x^T A x + b^T x with A = Q diag(spectrum) Q^T.

    Q is the identity (A diagonal) when ``key`` is None, else a random rotation
    drawn from ``key`` (Haar measure). b = ``linear`` (zeros by default). When
    every eigenvalue is positive the minimiser is x* = -A^{-1} b and the minimum
    f(x*) = -1/2 b^T A^{-1} b; otherwise ``minimizers`` and ``minimum`` are None
    and x* is a saddle (mixed signs) or a maximum. Default start: all ones.

    Args:
        spectrum: The eigenvalues of A (any signs).
        key: A PRNG key for a random rotation Q; None: Q = I.
        linear: b (zeros by default).
        x0: The starting point (all ones by default).
        name: The problem's name (a description of the spectrum by default).

    Returns:
        The problem (:class:`Problem`).
    """
    dtype = _dtype()
    lam = jnp.asarray(spectrum, dtype)
    if lam.ndim != 1 or lam.shape[0] < 1:
        raise ValueError(f"spectrum must be a non-empty vector of eigenvalues, got shape {lam.shape}")
    _validate.finite("spectrum", lam)
    dim = lam.shape[0]
    q = jnp.eye(dim, dtype=dtype) if key is None else _random_rotation(key, dim, dtype)
    matrix = (q * lam[None, :]) @ q.T
    matrix = 0.5 * (matrix + matrix.T)
    b = jnp.zeros(dim, dtype) if linear is None else jnp.asarray(linear, dtype)
    if b.shape != (dim,):
        raise ValueError(f"linear must have shape ({dim},) like the spectrum, got shape {b.shape}")
    x0 = jnp.ones(dim, dtype) if x0 is None else jnp.asarray(x0, dtype)
    if x0.shape != (dim,):
        raise ValueError(f"x0 must have shape ({dim},), got shape {x0.shape}")
    positive = bool(np.all(np.asarray(lam) > 0)) if _is_concrete(lam) else True
    minimizers = minimum = None
    critical: dict[str, jax.Array] = {}
    safe = jnp.where(lam != 0, lam, 1.0)
    stationary = -(q @ ((q.T @ b) / safe))
    if positive:
        minimizers = stationary[None, :]
        minimum = 0.5 * jnp.dot(b, stationary)
    elif _is_concrete(lam) and bool(np.all(np.asarray(lam) != 0)):
        kind = "maxima" if bool(np.all(np.asarray(lam) < 0)) else "saddles"
        critical[kind] = stationary[None, :]
    box = None
    if dim == 2 and _is_concrete(x0, stationary):
        box = _box_around(np.stack([np.asarray(x0), np.asarray(stationary)]))
    return Problem(
        name or (f"quadratic{dim}" if key is None else f"rotated_quadratic{dim}"),
        _general_quadratic_fn,
        dim,
        x0,
        data={"matrix": matrix, "linear": b},
        minimizers=minimizers,
        minimum=minimum,
        box=box,
        critical_points=critical,
    )


def _box_around(points: np.ndarray, margin: float = 0.2) -> Box:
    lo, hi = points.min(0), points.max(0)
    pad = np.maximum((hi - lo) * margin, 0.5)
    return ((float(lo[0] - pad[0]), float(hi[0] + pad[0])), (float(lo[1] - pad[1]), float(hi[1] + pad[1])))


def strict_saddle(eigenvalues: jax.typing.ArrayLike = (1.0, -1.0), x0: jax.typing.ArrayLike | None = None) -> Problem:
    """A strict saddle f(x) = 1/2 sum_i lambda_i x_i^2 with eigenvalues of both signs.

    The origin is its only critical point; f is unbounded below along the
    directions of negative curvature, so it has no minimiser. GD started in the
    stable subspace (the span of the positive-curvature axes) converges to the
    saddle; from anywhere else it escapes at rate |1 - eta lambda_min| > 1.
    Default start (1, 0.01, 0.01, ...).

    Args:
        eigenvalues: The lambda_i, at least one negative.
        x0: The starting point.

    Returns:
        The problem (:class:`Problem`).
    """
    dtype = _dtype()
    lam = jnp.asarray(eigenvalues, dtype)
    if lam.ndim != 1 or lam.shape[0] < 2:
        raise ValueError(f"eigenvalues must be a vector of length >= 2, got shape {lam.shape}")
    if _is_concrete(lam):
        v = np.asarray(lam)
        if not (np.all(np.isfinite(v)) and v.min() < 0 < v.max()):
            raise ValueError(f"eigenvalues must be finite and include both signs, got eigenvalues={v.tolist()}")
    dim = lam.shape[0]
    if x0 is None:
        x0 = jnp.full(dim, 0.01, dtype).at[0].set(1.0)
    x0 = jnp.asarray(x0, dtype)
    return Problem(
        "strict_saddle" if dim == 2 else f"strict_saddle{dim}",
        _quadratic_fn,
        dim,
        x0,
        data={"diag": lam, "shift": jnp.zeros(dim, dtype)},
        box=((-1.5, 1.5), (-1.5, 1.5)) if dim == 2 else None,
        critical_points={"saddles": jnp.zeros((1, dim), dtype)},
    )


# --------------------------------------------------------------------------- classical 2-D test functions


def _rosenbrock_fn(x, a, b):
    return jnp.sum(b * (x[1:] - x[:-1] ** 2) ** 2 + (a - x[:-1]) ** 2)


def rosenbrock(dim: int = 2, a: float = 1.0, b: float = 100.0, x0: jax.typing.ArrayLike | None = None) -> Problem:
    """Rosenbrock's valley, chained in n-D: f(x) = sum_i b (x_{i+1} - x_i^2)^2 + (a - x_i)^2.

    Minimum 0 at (a, a^2) in 2-D, at (1, ..., 1) in n-D for a = 1. Default start
    (-1.5, 2) in 2-D, (-1.2, 1, -1.2, 1, ...) otherwise. For 4 <= n <= 30 there is
    also a local minimum near (-1, 1, ..., 1) (Shang & Qiu 2006), not listed.
    Reference: Rosenbrock (1960).

    Args:
        dim: The dimension n >= 2.
        a: The valley's parameter a.
        b: The valley's steepness b.
        x0: The starting point.

    Returns:
        The problem (:class:`Problem`).
    """
    _validate.positive_int("dim", dim)
    if dim < 2:
        raise ValueError(f"rosenbrock needs dim >= 2, got dim={dim}")
    dtype = _dtype()
    if x0 is None:
        x0 = [-1.5, 2.0] if dim == 2 else [(-1.2 if i % 2 == 0 else 1.0) for i in range(dim)]
    x0 = jnp.asarray(x0, dtype)
    if a == 1.0:
        xstar = jnp.ones((1, dim), dtype)
    else:
        xstar = jnp.asarray([[a, a * a]], dtype) if dim == 2 else None
    return Problem(
        "rosenbrock" if dim == 2 else f"rosenbrock{dim}",
        _rosenbrock_fn,
        dim,
        x0,
        data={"a": jnp.asarray(a, dtype), "b": jnp.asarray(b, dtype)},
        minimizers=xstar,
        minimum=jnp.zeros([], dtype) if xstar is not None else None,
        box=((-2.0, 2.0), (-1.0, 3.0)) if dim == 2 else None,
    )


def _beale_fn(x):
    u, v = x[0], x[1]
    return (1.5 - u + u * v) ** 2 + (2.25 - u + u * v**2) ** 2 + (2.625 - u + u * v**3) ** 2


def beale(x0: jax.typing.ArrayLike = (1.0, 1.0)) -> Problem:
    """Beale's function f = (1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2.

    Minimum 0 at (3, 0.5); flat plateaus and steep walls. Reference: Beale (1958).

    Args:
        x0: The starting point.

    Returns:
        The problem (:class:`Problem`).
    """
    dtype = _dtype()
    return Problem(
        "beale",
        _beale_fn,
        2,
        jnp.asarray(x0, dtype),
        minimizers=_points([[3.0, 0.5]], dtype),
        minimum=jnp.zeros([], dtype),
        box=((-4.5, 4.5), (-4.5, 4.5)),
    )


def _booth_fn(x):
    u, v = x[0], x[1]
    return (u + 2 * v - 7) ** 2 + (2 * u + v - 5) ** 2


def booth(x0: jax.typing.ArrayLike = (-5.0, -5.0)) -> Problem:
    """Booth's function f = (x + 2y - 7)^2 + (2x + y - 5)^2: a quadratic with Hessian
    [[10, 8], [8, 10]] (eigenvalues 2 and 18, kappa = 9), minimum 0 at (1, 3).

    Args:
        x0: The starting point.

    Returns:
        The problem (:class:`Problem`).
    """
    dtype = _dtype()
    return Problem(
        "booth",
        _booth_fn,
        2,
        jnp.asarray(x0, dtype),
        minimizers=_points([[1.0, 3.0]], dtype),
        minimum=jnp.zeros([], dtype),
        box=((-10.0, 10.0), (-10.0, 10.0)),
    )


def _himmelblau_fn(x):
    u, v = x[0], x[1]
    return (u**2 + v - 11) ** 2 + (u + v**2 - 7) ** 2


_HIMMELBLAU_MINIMA = [
    [3.0, 2.0],
    [-2.805118086952745, 3.131312518250573],
    [-3.779310253377747, -3.2831859912861696],
    [3.5844283403304917, -1.8481265269644036],
]
_HIMMELBLAU_MAXIMUM = [[-0.2708445906673476, -0.9230385564799816]]  # f = 181.6165215225827
_HIMMELBLAU_SADDLES = [
    [3.385154183607021, 0.07385187983774928],
    [0.08667750455539634, 2.8842547011747763],
    [-3.0730257507643897, -0.08135304428796751],
    [-0.12796134673068005, -1.9537149802445766],
]


def himmelblau(x0: jax.typing.ArrayLike = (0.0, 0.0)) -> Problem:
    """Himmelblau's function f = (x^2 + y - 11)^2 + (x + y^2 - 7)^2.

    Four global minima with f = 0: (3, 2), (-2.8051, 3.1313), (-3.7793, -3.2832),
    (3.5844, -1.8481); a local maximum at (-0.27084, -0.92304) with f = 181.617;
    four saddles (``critical_points``). Reference: Himmelblau (1972).

    Args:
        x0: The starting point.

    Returns:
        The problem (:class:`Problem`).
    """
    dtype = _dtype()
    return Problem(
        "himmelblau",
        _himmelblau_fn,
        2,
        jnp.asarray(x0, dtype),
        minimizers=_points(_HIMMELBLAU_MINIMA, dtype),
        minimum=jnp.zeros([], dtype),
        box=((-5.0, 5.0), (-5.0, 5.0)),
        critical_points={
            "maxima": _points(_HIMMELBLAU_MAXIMUM, dtype),
            "saddles": _points(_HIMMELBLAU_SADDLES, dtype),
        },
    )


def _six_hump_camel_fn(x):
    u, v = x[0], x[1]
    return (4 - 2.1 * u**2 + u**4 / 3) * u**2 + u * v + (-4 + 4 * v**2) * v**2


_CAMEL_MINIMA = [[0.08984201310031806, -0.7126564030207396], [-0.08984201310031806, 0.7126564030207396]]
_CAMEL_LOCAL_MINIMA = [
    [1.7036067149699807, -0.7960835686726251],
    [-1.7036067149699807, 0.7960835686726251],
    [1.6071047529201974, 0.5686514548841314],
    [-1.6071047529201974, -0.5686514548841314],
]
_CAMEL_MAXIMA = [[1.2302298765166526, 0.16233458445899496], [-1.2302298765166526, -0.16233458445899496]]
_CAMEL_SADDLES = [
    [0.0, 0.0],
    [1.1092053368047865, -0.7682680925095399],
    [-1.1092053368047865, 0.7682680925095399],
    [1.638067984189779, 0.22867406904439413],
    [-1.638067984189779, -0.22867406904439413],
    [1.296070267167109, 0.6050843880386585],
    [-1.296070267167109, -0.6050843880386585],
]


def six_hump_camel(x0: jax.typing.ArrayLike = (-1.5, -1.0)) -> Problem:
    """Six-hump camel f = (4 - 2.1 x^2 + x^4/3) x^2 + xy + (-4 + 4 y^2) y^2.

    Two global minima f = -1.0316284534898774 at +-(0.0898420, -0.7126564), four
    further local minima, two local maxima and seven saddles (``critical_points``).
    Reference: Dixon & Szego (1978).

    Args:
        x0: The starting point.

    Returns:
        The problem (:class:`Problem`).
    """
    dtype = _dtype()
    return Problem(
        "six_hump_camel",
        _six_hump_camel_fn,
        2,
        jnp.asarray(x0, dtype),
        minimizers=_points(_CAMEL_MINIMA, dtype),
        minimum=jnp.asarray(-1.0316284534898774, dtype),
        box=((-2.2, 2.2), (-1.2, 1.2)),
        critical_points={
            "local_minima": _points(_CAMEL_LOCAL_MINIMA, dtype),
            "maxima": _points(_CAMEL_MAXIMA, dtype),
            "saddles": _points(_CAMEL_SADDLES, dtype),
        },
    )


def _monkey_saddle_fn(x):
    u, v = x[0], x[1]
    return u**3 - 3 * u * v**2


def monkey_saddle(x0: jax.typing.ArrayLike = (0.5, 0.3)) -> Problem:
    """Monkey saddle f = x^3 - 3 x y^2: a degenerate critical point at 0 (zero Hessian).

    Three valleys descend from the origin; f is unbounded below, with no minimiser.

    Args:
        x0: The starting point.

    Returns:
        The problem (:class:`Problem`).
    """
    dtype = _dtype()
    return Problem(
        "monkey_saddle",
        _monkey_saddle_fn,
        2,
        jnp.asarray(x0, dtype),
        box=((-1.5, 1.5), (-1.5, 1.5)),
        critical_points={"degenerate": jnp.zeros((1, 2), dtype)},
    )


def _rastrigin_fn(x, amplitude):
    return amplitude * x.shape[0] + jnp.sum(x**2 - amplitude * jnp.cos(2 * jnp.pi * x))


def rastrigin(dim: int = 2, amplitude: float = 10.0, x0: jax.typing.ArrayLike | None = None) -> Problem:
    """Rastrigin's function f = A n + sum_i (x_i^2 - A cos(2 pi x_i)), A = 10.

    Global minimum 0 at the origin, surrounded by a lattice of local minima near
    the integer points. Default start (2.2, ..., 2.2). Reference: Rastrigin (1974).

    Args:
        dim: The dimension n.
        amplitude: A.
        x0: The starting point.

    Returns:
        The problem (:class:`Problem`).
    """
    _validate.positive_int("dim", dim)
    dtype = _dtype()
    x0 = jnp.full(dim, 2.2, dtype) if x0 is None else jnp.asarray(x0, dtype)
    return Problem(
        "rastrigin" if dim == 2 else f"rastrigin{dim}",
        _rastrigin_fn,
        dim,
        x0,
        data={"amplitude": jnp.asarray(amplitude, dtype)},
        minimizers=jnp.zeros((1, dim), dtype),
        minimum=jnp.zeros([], dtype),
        box=((-5.12, 5.12), (-5.12, 5.12)) if dim == 2 else None,
    )


def _ackley_fn(x, a, b, c):
    n = x.shape[0]
    r = jnp.sqrt(jnp.sum(x**2) / n)
    return -a * jnp.exp(-b * r) - jnp.exp(jnp.sum(jnp.cos(c * x)) / n) + a + jnp.e


def ackley(dim: int = 2, x0: jax.typing.ArrayLike | None = None) -> Problem:
    """Ackley's function f = -a exp(-b sqrt(mean x_i^2)) - exp(mean cos(c x_i)) + a + e.

    a = 20, b = 0.2, c = 2 pi. Global minimum 0 at the origin.
    Not differentiable at the minimum: f is a cone there (sqrt(mean x^2) has no
    gradient at 0, and JAX returns NaN), so ``smooth_at_minimum=False``.
    Default start (1.5, ..., 1.5).
    Reference: Ackley (1987).

    Args:
        dim: The dimension n.
        x0: The starting point.

    Returns:
        The problem (:class:`Problem`).
    """
    _validate.positive_int("dim", dim)
    dtype = _dtype()
    x0 = jnp.full(dim, 1.5, dtype) if x0 is None else jnp.asarray(x0, dtype)
    return Problem(
        "ackley" if dim == 2 else f"ackley{dim}",
        _ackley_fn,
        dim,
        x0,
        data={"a": jnp.asarray(20.0, dtype), "b": jnp.asarray(0.2, dtype), "c": jnp.asarray(2 * np.pi, dtype)},
        minimizers=jnp.zeros((1, dim), dtype),
        minimum=jnp.zeros([], dtype),
        box=((-5.0, 5.0), (-5.0, 5.0)) if dim == 2 else None,
        smooth_at_minimum=False,
    )


# --------------------------------------------------------------------------- logistic regression


@functools.lru_cache(maxsize=1)
def _breast_cancer() -> tuple[np.ndarray, np.ndarray]:
    """Wisconsin breast-cancer data (569 x 30), standardised, with a column of ones; labels in {-1, +1}."""
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True)
    x = (x - x.mean(0)) / x.std(0)
    features = np.hstack([x, np.ones((x.shape[0], 1))])
    labels = 2.0 * y - 1.0
    features.setflags(write=False)
    labels.setflags(write=False)
    return features, labels


def _logistic_fn(x, features, labels, l2):
    margins = labels * (features @ x)
    return jnp.mean(jax.nn.softplus(-margins)) + 0.5 * l2 * jnp.sum(x * x)


def _sigmoid(t: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * t))


@functools.lru_cache(maxsize=16)
def _logistic_solution(l2: float) -> tuple[np.ndarray, float]:
    """The minimiser and minimum by Newton's method in float64 (quadratic convergence to rounding)."""
    z, s = _breast_cancer()
    n, d = z.shape
    w = np.zeros(d)
    for _ in range(100):
        m = s * (z @ w)
        grad = -(z.T @ (s * _sigmoid(-m))) / n + l2 * w
        curv = _sigmoid(m) * _sigmoid(-m)
        hess = (z.T * curv) @ z / n + l2 * np.eye(d)
        step = np.linalg.solve(hess, grad)
        w = w - step
        if np.linalg.norm(step) <= 1e-15 * max(1.0, np.linalg.norm(w)):
            break
    value = float(np.mean(np.logaddexp(0.0, -s * (z @ w))) + 0.5 * l2 * w @ w)
    return w, value


def logistic_beta(features: jax.typing.ArrayLike, l2: jax.typing.ArrayLike) -> jax.Array:
    """Smoothness of L2-regularised logistic regression: beta = lambda_max(Z^T Z) / (4 n) + l2.

    The data term's Hessian Z^T diag(s(1 - s)) Z / n has weights s(1 - s) <= 1/4.

    Args:
        features: Z, the (n, d) design matrix (with the bias column).
        l2: The regularisation strength.

    Returns:
        beta, a scalar.
    """
    z = jnp.asarray(features)
    return jnp.linalg.eigvalsh(z.T @ z)[-1] / (4 * z.shape[0]) + l2


def logistic_alpha(features: jax.typing.ArrayLike, l2: jax.typing.ArrayLike) -> jax.Array:
    """Strong convexity of L2-regularised logistic regression over all of R^d: alpha = l2.

    The data term is convex with Hessian weights s(1 - s) that tend to 0 as
    ||w|| grows, so l2 is the tight global constant. ``features`` is accepted
    for symmetry with :func:`logistic_beta`.

    Args:
        features: Z, the (n, d) design matrix (unused).
        l2: The regularisation strength.

    Returns:
        alpha, a scalar.
    """
    return jnp.asarray(l2, jnp.asarray(features).dtype)


def logistic_regression(l2: float = 1e-2) -> Problem:
    """L2-regularised logistic regression on scikit-learn's breast-cancer set (569 samples, 30 features).

    f(w) = 1/n sum_i log(1 + exp(-y_i z_i^T w)) + l2/2 ||w||^2, with z_i the
    standardised features and a constant 1 (the bias, regularised like the rest),
    y_i in {-1, +1}; dim = 31. Strongly convex with alpha = l2 and beta =
    lambda_max(Z^T Z)/(4n) + l2 (:func:`logistic_alpha`, :func:`logistic_beta`;
    about 3.33 for l2 = 0.01). The minimiser is computed at construction by
    Newton's method in float64 (cached) and then cast. Data ships with
    scikit-learn (no download). Reference: Wolberg, Street & Mangasarian (1995).

    Args:
        l2: The regularisation strength, > 0.

    Returns:
        The problem (:class:`Problem`).
    """
    _validate.positive("l2", l2)
    dtype = _dtype()
    features, labels = _breast_cancer()
    w, value = _logistic_solution(float(l2))
    return Problem(
        "logistic_breast_cancer",
        _logistic_fn,
        features.shape[1],
        jnp.zeros(features.shape[1], dtype),
        data={
            "features": jnp.asarray(features, dtype),
            "labels": jnp.asarray(labels, dtype),
            "l2": jnp.asarray(l2, dtype),
        },
        minimizers=jnp.asarray(w, dtype)[None, :],
        minimum=jnp.asarray(value, dtype),
    )


# --------------------------------------------------------------------------- registry

REGISTRY: dict[str, Callable[[], Problem]] = {
    "isotropic": isotropic,
    "ravine10": lambda: ravine(10.0),
    "ravine50": lambda: ravine(50.0),
    "quadratic10": lambda: general_quadratic(np.logspace(0.0, 2.0, 10)),
    "rotated_quadratic10": lambda: general_quadratic(
        np.logspace(0.0, 2.0, 10), key=jax.random.key(0), linear=np.linspace(-1.0, 1.0, 10)
    ),
    "rosenbrock": rosenbrock,
    "rosenbrock10": lambda: rosenbrock(10),
    "beale": beale,
    "booth": booth,
    "himmelblau": himmelblau,
    "six_hump_camel": six_hump_camel,
    "strict_saddle": strict_saddle,
    "monkey_saddle": monkey_saddle,
    "rastrigin": rastrigin,
    "ackley": ackley,
    "logistic_breast_cancer": logistic_regression,
}


def get(name: str) -> Problem:
    """The built-in problem called ``name``; a ValueError lists the valid names otherwise.

    Args:
        name: A key of ``REGISTRY``.

    Returns:
        The problem (:class:`Problem`).

    Raises:
        ValueError: If no problem has that name.
    """
    if name not in REGISTRY:
        raise ValueError(f"unknown problem {name!r}; valid names: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]()
