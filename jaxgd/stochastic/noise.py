"""The gradient-noise oracle: any objective with Gaussian noise of a known sigma on its gradient."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from jaxgd import _validate
from jaxgd._core import objective_of

__all__ = ["NoisyGradient", "noisy_gradient"]


class NoisyGradient:
    """The stochastic loss ``loss(x, key)`` whose value is f(x) and whose gradient is grad f(x) + xi.

    xi ~ N(0, sigma^2 / d I), drawn from ``key``, d the number of parameters, so
    E xi = 0 and E ||g - grad f||^2 = sigma^2 exactly: the sigma of the SGD theorems
    (ST449 lecture 3; Bubeck 2015, sec. 6.1). Written as f(x) + <xi, x - stop_gradient(x)>.

    A pytree: ``sigma`` and the objective's arrays are leaves. ``full`` is f itself,
    ``minimum`` its f* and ``x0`` its default start (from a :class:`jaxgd.Problem` or a finite sum,
    where known; :func:`jaxgd.sweep` starts there when no start is given).

    Args:
        objective: f, a function of the params.
        sigma: The noise's size, >= 0.
        minimum: f* where known.
        x0: The default start where known.
    """

    __jaxgd_needs_key__ = True
    examples_per_call = 1

    def __init__(
        self, objective: Callable[[Any], jax.Array], sigma: jax.typing.ArrayLike, minimum: Any = None, x0: Any = None
    ):
        self.objective = objective
        self.sigma = sigma
        self.minimum = minimum
        self.x0 = x0

    @property
    def full(self) -> Callable[[Any], jax.Array]:
        return self.objective

    def noise(self, params: Any, key: jax.Array) -> Any:
        """The noise xi added to the gradient at ``params`` for ``key`` (a pytree like params)."""
        flat, unravel = ravel_pytree(params)
        d = flat.shape[0]
        scale = jnp.asarray(self.sigma, flat.dtype) / jnp.sqrt(jnp.asarray(d, flat.dtype))
        return unravel(scale * jax.random.normal(key, flat.shape, flat.dtype))

    def __call__(self, params: Any, key: jax.Array) -> jax.Array:
        xi = self.noise(jax.lax.stop_gradient(params), key)
        shift = jax.tree.map(lambda x, e: jnp.sum(e * (x - jax.lax.stop_gradient(x))), params, xi)
        return self.objective(params) + sum(jax.tree.leaves(shift))

    def __repr__(self) -> str:
        return f"NoisyGradient({self.objective!r}, sigma={self.sigma!r})"


jax.tree_util.register_pytree_node(
    NoisyGradient,
    lambda p: ((p.objective, p.sigma, p.minimum, p.x0), None),
    lambda _, ch: _unflatten(*ch),
)


def _unflatten(objective: Any, sigma: Any, minimum: Any, x0: Any) -> NoisyGradient:
    p = object.__new__(NoisyGradient)
    p.objective, p.sigma, p.minimum, p.x0 = objective, sigma, minimum, x0
    return p


def noisy_gradient(problem: Any, sigma: jax.typing.ArrayLike) -> NoisyGradient:
    """``problem`` (a :class:`jaxgd.Problem`, a finite sum or any loss f(x)) with gradient noise of size sigma >= 0.

    See :class:`NoisyGradient`: E ||g - grad f||^2 = sigma^2.

    Args:
        problem: A :class:`jaxgd.Problem`, a finite sum or any loss f(x).
        sigma: The noise's size, >= 0.

    Returns:
        The noisy loss (:class:`NoisyGradient`), with the problem's f* and default start where it has them.
    """
    if not callable(problem):
        raise TypeError(f"problem must be callable f(params), got {type(problem).__name__}")
    _validate.nonnegative("sigma", sigma)
    minimum = getattr(problem, "minimum", None)
    return NoisyGradient(objective_of(problem), sigma, minimum, getattr(problem, "x0", None))
