"""Losses of a classifier's outputs and penalties on its weights.

Data losses are means over the batch (the first axis); labels are integers
in [0, K). Penalties are lambda * phi(w) summed over the weight matrices only
(every leaf named ``"w"``), never the biases: a bias has no interaction with
the inputs, and penalising it only adds underfitting (Goodfellow et al. 2016,
sec. 7.1).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

__all__ = [
    "LOSSES",
    "accuracy",
    "l1_penalty",
    "l2_penalty",
    "misclassification_rate",
    "softmax_cross_entropy",
    "squared_loss",
    "weights",
]


def softmax_cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """-(1/n) sum_i log softmax(z_i)_{y_i}, with z_i the logits of sample i."""
    log_p = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.mean(jnp.take_along_axis(log_p, labels[..., None].astype(jnp.int32), axis=-1))


def squared_loss(outputs: jax.Array, targets: jax.Array) -> jax.Array:
    """(1/2n) sum_i ||f(x_i) - t_i||^2; integer ``targets`` are one-hot encoded, t_i = e_{y_i}."""
    if jnp.issubdtype(jnp.asarray(targets).dtype, jnp.integer) and outputs.ndim == targets.ndim + 1:
        targets = jax.nn.one_hot(targets, outputs.shape[-1], dtype=outputs.dtype)
    sq = (outputs - targets) ** 2
    per_sample = jnp.sum(sq, axis=-1) if sq.ndim > 1 else sq
    return 0.5 * jnp.mean(per_sample)


def accuracy(outputs: jax.Array, labels: jax.Array) -> jax.Array:
    """(1/n) #{i : argmax_k f(x_i)_k = y_i}."""
    dtype = jnp.result_type(outputs.dtype, float)
    return jnp.mean((jnp.argmax(outputs, axis=-1) == labels).astype(dtype))


def misclassification_rate(outputs: jax.Array, labels: jax.Array) -> jax.Array:
    """The 0-1 loss: (1/n) #{i : argmax_k f(x_i)_k != y_i} = 1 - accuracy."""
    return 1.0 - accuracy(outputs, labels)


def weights(params: Any) -> list[jax.Array]:
    """The leaves of ``params`` named ``"w"`` (the weight matrices of an MLP), biases excluded."""
    leaves = jax.tree_util.tree_leaves_with_path(params)
    return [leaf for path, leaf in leaves if path and getattr(path[-1], "key", None) == "w"]


def l2_penalty(params: Any, strength: jax.typing.ArrayLike) -> jax.Array:
    """lambda * phi(w), phi(w) = (1/2) sum ||W||_F^2 over weights (gradient lambda W: weight decay)."""
    return strength * 0.5 * sum(jnp.sum(w**2) for w in weights(params))


def l1_penalty(params: Any, strength: jax.typing.ArrayLike) -> jax.Array:
    """lambda * phi(w), phi(w) = sum |W_ij| over weights."""
    return strength * sum(jnp.sum(jnp.abs(w)) for w in weights(params))


LOSSES: dict[str, Callable[[jax.Array, jax.Array], jax.Array]] = {
    "cross_entropy": softmax_cross_entropy,
    "squared": squared_loss,
}
