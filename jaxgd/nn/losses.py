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
    "cross_entropy",
    "entropy",
    "kl_divergence",
    "l1_penalty",
    "l2_penalty",
    "misclassification_rate",
    "softmax_cross_entropy",
    "squared_loss",
    "weights",
]


def softmax_cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """-(1/n) sum_i log softmax(z_i)_{y_i}, with z_i the logits of sample i.

    Args:
        logits: The (n, K) logits z.
        labels: The (n,) integer labels.

    Returns:
        The mean loss, a scalar.
    """
    log_p = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.mean(jnp.take_along_axis(log_p, labels[..., None].astype(jnp.int32), axis=-1))


def _check_probs(name: str, p: jax.Array) -> jax.Array:
    p = jnp.asarray(p)
    if p.ndim == 0 or not jnp.issubdtype(p.dtype, jnp.floating):
        raise ValueError(f"{name} must be floating probabilities over the last axis, got {p.dtype} {p.shape}")
    return p


def entropy(p: jax.Array) -> jax.Array:
    """H(p) = -sum_k p_k log p_k over the last axis (0 log 0 = 0), in nats (ST449; Cover & Thomas 2006, eq. 2.1).

    Args:
        p: A distribution, (..., K).

    Returns:
        H per row, shape (...).
    """
    p = _check_probs("p", p)
    return -jnp.sum(jax.scipy.special.xlogy(p, p), axis=-1)


def cross_entropy(p: jax.Array, q: jax.Array) -> jax.Array:
    """CE(p, q) = -sum_k p_k log q_k over the last axis: the expected code length of p under q's code.

    With p one-hot at y, CE = -log q_y, the per-sample :func:`softmax_cross_entropy` of q = softmax(z).

    Args:
        p: The true distribution, (..., K).
        q: The model's distribution, (..., K).

    Returns:
        CE per row, shape (...).
    """
    p, q = _check_probs("p", p), _check_probs("q", q)
    if p.shape[-1] != q.shape[-1]:
        raise ValueError(f"p and q need the same number of classes, got {p.shape[-1]} and {q.shape[-1]}")
    return -jnp.sum(jax.scipy.special.xlogy(p, q), axis=-1)


def kl_divergence(p: jax.Array, q: jax.Array) -> jax.Array:
    """KL(p || q) = sum_k p_k log(p_k / q_k) = CE(p, q) - H(p) >= 0, zero iff p = q (Kullback & Leibler 1951; ST449).

    Minimising the cross-entropy in q is minimising KL(p || q): H(p) does not depend on q.

    Args:
        p: The true distribution, (..., K).
        q: The model's distribution, (..., K).

    Returns:
        KL per row, shape (...).
    """
    p, q = _check_probs("p", p), _check_probs("q", q)
    if p.shape[-1] != q.shape[-1]:
        raise ValueError(f"p and q need the same number of classes, got {p.shape[-1]} and {q.shape[-1]}")
    return jnp.sum(jax.scipy.special.xlogy(p, p) - jax.scipy.special.xlogy(p, q), axis=-1)


def squared_loss(outputs: jax.Array, targets: jax.Array) -> jax.Array:
    """(1/2n) sum_i ||f(x_i) - t_i||^2; integer ``targets`` are one-hot encoded, t_i = e_{y_i}.

    Args:
        outputs: The (n, K) network outputs.
        targets: The (n, K) targets, or (n,) integer labels (one-hot encoded).

    Returns:
        The loss, a scalar.
    """
    if jnp.issubdtype(jnp.asarray(targets).dtype, jnp.integer) and outputs.ndim == targets.ndim + 1:
        targets = jax.nn.one_hot(targets, outputs.shape[-1], dtype=outputs.dtype)
    sq = (outputs - targets) ** 2
    per_sample = jnp.sum(sq, axis=-1) if sq.ndim > 1 else sq
    return 0.5 * jnp.mean(per_sample)


def accuracy(outputs: jax.Array, labels: jax.Array) -> jax.Array:
    """(1/n) #{i : argmax_k f(x_i)_k = y_i}.

    Args:
        outputs: The (n, K) network outputs.
        labels: The (n,) integer labels.

    Returns:
        The accuracy, a scalar.
    """
    dtype = jnp.result_type(outputs.dtype, float)
    return jnp.mean((jnp.argmax(outputs, axis=-1) == labels).astype(dtype))


def misclassification_rate(outputs: jax.Array, labels: jax.Array) -> jax.Array:
    """The 0-1 loss: (1/n) #{i : argmax_k f(x_i)_k != y_i} = 1 - accuracy.

    Args:
        outputs: The (n, K) network outputs.
        labels: The (n,) integer labels.

    Returns:
        The error rate, a scalar.
    """
    return 1.0 - accuracy(outputs, labels)


def weights(params: Any) -> list[jax.Array]:
    """The leaves of ``params`` named ``"w"`` (the weight matrices of an MLP), biases excluded.

    Args:
        params: The MLP's parameters.

    Returns:
        The weight matrices, a list.
    """
    leaves = jax.tree_util.tree_leaves_with_path(params)
    return [leaf for path, leaf in leaves if path and getattr(path[-1], "key", None) == "w"]


def l2_penalty(params: Any, strength: jax.typing.ArrayLike) -> jax.Array:
    """lambda * phi(w), phi(w) = (1/2) sum ||W||_F^2 over weights (gradient lambda W: weight decay).

    Args:
        params: The MLP's parameters (the leaves named ``"w"`` are the weights).
        strength: lambda >= 0.

    Returns:
        The penalty, a scalar.
    """
    return strength * 0.5 * sum(jnp.sum(w**2) for w in weights(params))


def l1_penalty(params: Any, strength: jax.typing.ArrayLike) -> jax.Array:
    """lambda * phi(w), phi(w) = sum |W_ij| over weights.

    Args:
        params: The MLP's parameters (the leaves named ``"w"`` are the weights).
        strength: lambda >= 0.

    Returns:
        The penalty, a scalar.
    """
    return strength * sum(jnp.sum(jnp.abs(w)) for w in weights(params))


LOSSES: dict[str, Callable[[jax.Array, jax.Array], jax.Array]] = {
    "cross_entropy": softmax_cross_entropy,
    "squared": squared_loss,
}
