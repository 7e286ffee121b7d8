"""Test problems with known minima.

A :class:`Problem` is a callable pytree: its array data (a quadratic's matrix,
its start, its minimisers) are leaves, so problems of the same kind and size
can be stacked and ``vmap``-ped over, and a new matrix does not recompile a run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["REGISTRY", "Problem", "get", "isotropic", "quadratic", "ravine", "rosenbrock"]


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
        box: tuple[tuple[float, float], tuple[float, float]] | None = None,
        smooth_at_minimum: bool = True,
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

    def __call__(self, x: jax.typing.ArrayLike) -> jax.Array:
        shape = jnp.shape(x)
        if len(shape) != 1 or shape[0] != self.dim:
            raise ValueError(f"problem {self.name!r} takes a vector of shape ({self.dim},), got shape {shape}")
        return self.fn(x, **self.data)

    def __repr__(self) -> str:
        return f"Problem({self.name!r}, dim={self.dim})"

    _static_fields = ("name", "fn", "dim", "box", "smooth_at_minimum")
    _dynamic_fields = ("x0", "data", "minimizers", "minimum")


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


def _quadratic_fn(x, diag, shift):
    d = x - shift
    return 0.5 * jnp.sum(diag * d * d)


def quadratic(
    diag: jax.typing.ArrayLike, x0: jax.typing.ArrayLike | None = None, *, name: str | None = None
) -> Problem:
    """Diagonal quadratic f(x) = 1/2 sum_i lambda_i x_i^2: Hessian diag(lambda), minimum 0 at 0."""
    diag = jnp.asarray(diag, jnp.result_type(float))
    if diag.ndim != 1:
        raise ValueError(f"diag must be a vector, got shape {diag.shape}")
    dim = diag.shape[0]
    x0 = jnp.ones(dim, diag.dtype) if x0 is None else jnp.asarray(x0, diag.dtype)
    lim = float(np.max(np.abs(np.asarray(x0)))) * 1.2 if not isinstance(x0, jax.core.Tracer) else 1.0
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
    """The course's ravine f(x) = x1^2 + scale x2^2 (Hessian diag(2, 2 scale), kappa = scale), start (4, 0.5)."""
    p = quadratic(jnp.asarray([2.0, 2.0 * scale]), x0, name=f"ravine{scale:g}")
    p.box = ((-4.5, 4.5), (-1.0, 1.0))
    return p


def isotropic(x0: jax.typing.ArrayLike = (4.0, 0.5)) -> Problem:
    """f(x) = x1^2 + x2^2, start (4, 0.5)."""
    p = quadratic(jnp.asarray([2.0, 2.0]), x0, name="isotropic")
    p.box = ((-4.5, 4.5), (-1.0, 1.0))
    return p


def _rosenbrock_fn(x, a, b):
    return jnp.sum(b * (x[1:] - x[:-1] ** 2) ** 2 + (a - x[:-1]) ** 2)


def rosenbrock(dim: int = 2, a: float = 1.0, b: float = 100.0, x0: jax.typing.ArrayLike | None = None) -> Problem:
    """Rosenbrock's valley, chained in n-D: f(x) = sum_i b (x_{i+1} - x_i^2)^2 + (a - x_i)^2.

    Minimum 0 at (a, a^2, ...) for a = 1: (1, ..., 1). Default start (-1.5, 2) in 2-D,
    (-1.2, 1, -1.2, 1, ...) otherwise. Reference: Rosenbrock (1960).
    """
    if dim < 2:
        raise ValueError(f"rosenbrock needs dim >= 2, got dim={dim}")
    dtype = jnp.result_type(float)
    if x0 is None:
        x0 = [-1.5, 2.0] if dim == 2 else [(-1.2 if i % 2 == 0 else 1.0) for i in range(dim)]
    x0 = jnp.asarray(x0, dtype)
    if a == 1.0:
        xstar = jnp.ones((1, dim), dtype)
    else:
        xs = [a]
        for _ in range(dim - 1):
            xs.append(xs[-1] ** 2)
        xstar = jnp.asarray([xs], dtype) if dim == 2 else None
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


REGISTRY: dict[str, Callable[[], Problem]] = {
    "isotropic": isotropic,
    "ravine10": lambda: ravine(10.0),
    "ravine50": lambda: ravine(50.0),
    "rosenbrock": rosenbrock,
}


def get(name: str) -> Problem:
    """The built-in problem called ``name``; a ValueError lists the valid names otherwise."""
    if name not in REGISTRY:
        raise ValueError(f"unknown problem {name!r}; valid names: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]()
