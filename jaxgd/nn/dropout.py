"""Dropout with keep probability p and a mask drawn per sample and per unit (Srivastava et al. 2014).

Each unit of each sample is kept with probability p (m ~ Bernoulli(p)):

* ``inverted``: training h -> m h / p, test h -> h;
* ``classic``: training h -> m h, test h -> p h (Srivastava et al. 2014, sec. 2).

Either way the test-time activation is the training-time expectation,
E[m h / p] = h and E[m h] = p h, and with the same mask the classic output is
p times the inverted one: a network trained with classic dropout equals one
trained with inverted dropout whose next-layer weights are scaled by p.
Monte-Carlo dropout (Gal & Ghahramani 2016) keeps the training-time masks at
test time and averages predictions: :func:`jaxgd.nn.MLP.predict_proba_mc`.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["MODES", "DropoutMode", "apply_mask", "check_keep_prob", "dropout"]

DropoutMode = Literal["inverted", "classic"]
MODES = ("inverted", "classic")


def check_keep_prob(name: str, value: Any) -> None:
    """Require a concrete keep probability in (0, 1]; traced values pass unchecked.

    Args:
        name: The argument's name, for the message.
        value: The keep probability.

    Raises:
        ValueError: If a concrete value is outside (0, 1].
    """
    if isinstance(value, jax.core.Tracer):
        return
    try:
        values = np.asarray(value, dtype=float).ravel()
    except (TypeError, ValueError):
        return
    for v in values:
        if not (math.isfinite(v) and 0.0 < v <= 1.0):
            raise ValueError(f"{name} is a keep probability and must lie in (0, 1], got {name}={float(v)!r}")


def dropout(
    key: jax.Array | None,
    x: jax.Array,
    keep_prob: float | jax.Array,
    *,
    mode: DropoutMode = "inverted",
    train: bool = True,
) -> jax.Array:
    """Drop each entry of ``x`` independently (a per-sample, per-unit mask) with probability 1 - p.

    Training (``train=True``, needs ``key``): ``m x / p`` (inverted) or ``m x``
    (classic), m ~ Bernoulli(p). Test: ``x`` (inverted) or ``p x`` (classic).

    Args:
        key: The PRNG key of the mask (needed with ``train=True``).
        x: The activations.
        keep_prob: p in (0, 1].
        mode: ``"inverted"`` or ``"classic"``.
        train: Whether to drop (training) or scale (test).

    Returns:
        The result, like x.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got mode={mode!r}")
    check_keep_prob("keep_prob", keep_prob)
    p = jnp.asarray(keep_prob, x.dtype)
    if not train:
        return x if mode == "inverted" else p * x
    if key is None:
        raise ValueError("dropout in training mode needs a PRNG key, got key=None")
    return apply_mask(x, jax.random.bernoulli(key, p, x.shape), keep_prob, mode=mode)


def apply_mask(
    x: jax.Array, mask: jax.Array, keep_prob: float | jax.Array, *, mode: DropoutMode = "inverted"
) -> jax.Array:
    """Training-time dropout with a given boolean keep-mask: ``m x / p`` (inverted) or ``m x`` (classic).

    Args:
        x: The activations.
        mask: The boolean keep-mask, like x.
        keep_prob: p in (0, 1].
        mode: ``"inverted"`` or ``"classic"``.

    Returns:
        The dropped-out activations, like x.
    """
    p = jnp.asarray(keep_prob, x.dtype)
    kept = jnp.where(mask, x, jnp.zeros_like(x))
    return kept / p if mode == "inverted" else kept
