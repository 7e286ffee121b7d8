"""Weight initialisers for dense layers: ``init(key, (n_in, n_out), dtype) -> W``.

* :func:`gaussian`: W_ij ~ N(0, sigma^2).
* :func:`xavier_uniform`: W_ij ~ U(-a, a), a = sqrt(6 / (n_in + n_out)), so
  Var W_ij = a^2 / 3 = 2 / (n_in + n_out) (Glorot & Bengio 2010, eq. 16).
* :func:`he_normal`: W_ij ~ N(0, 2 / n_in) (He et al. 2015, eq. 10), for ReLU.

Biases are constant (:func:`jaxgd.nn.MLP.init` takes ``bias=c``); a small
c > 0 keeps ReLU units active at the start (Goodfellow et al. 2016, sec. 8.4).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from jaxgd import _validate

__all__ = ["Initializer", "gaussian", "he_normal", "xavier_uniform"]

Initializer = Callable[[jax.Array, tuple[int, int], jnp.dtype], jax.Array]


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    if len(shape) != 2:
        raise ValueError(f"dense initialisers need a shape (n_in, n_out), got shape={shape!r}")
    return int(shape[0]), int(shape[1])


def gaussian(sigma: float = 0.01) -> Initializer:
    """W_ij ~ N(0, sigma^2).

    Args:
        sigma: The standard deviation.

    Returns:
        An ``Initializer``: ``(key, shape, dtype) -> W``.
    """
    _validate.positive("sigma", sigma)

    def init(key: jax.Array, shape: tuple[int, int], dtype=None) -> jax.Array:
        _fans(shape)
        dtype = dtype or jnp.result_type(float)
        return sigma * jax.random.normal(key, shape, dtype)

    return init


def xavier_uniform() -> Initializer:
    """Glorot/Xavier uniform: W_ij ~ U(-a, a), a = sqrt(6 / (n_in + n_out)); variance 2 / (n_in + n_out).

    Returns:
        An ``Initializer``: ``(key, shape, dtype) -> W``.
    """

    def init(key: jax.Array, shape: tuple[int, int], dtype=None) -> jax.Array:
        n_in, n_out = _fans(shape)
        dtype = dtype or jnp.result_type(float)
        a = (6.0 / (n_in + n_out)) ** 0.5
        return jax.random.uniform(key, shape, dtype, minval=-a, maxval=a)

    return init


def he_normal() -> Initializer:
    """He/Kaiming normal: W_ij ~ N(0, 2 / n_in).

    Returns:
        An ``Initializer``: ``(key, shape, dtype) -> W``.
    """

    def init(key: jax.Array, shape: tuple[int, int], dtype=None) -> jax.Array:
        n_in, _ = _fans(shape)
        dtype = dtype or jnp.result_type(float)
        return (2.0 / n_in) ** 0.5 * jax.random.normal(key, shape, dtype)

    return init
