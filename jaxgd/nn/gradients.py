"""Back-propagation written out by hand, and what to look at in a network's hidden units.

:func:`backprop` is the delta recursion of an MLP (ST449; Rumelhart, Hinton and
Williams 1986), for the mean cross-entropy over n examples of the test-time
network (no dropout masks, no batch normalisation). With z_l = h_{l-1} W_l + b_l,
h_l = s sigma(z_l) (s = 1, or p under classic dropout at test time), h_0 = x:

* delta_L = (softmax(z_L) - onehot(y)) / n;
* delta_l = s (delta_{l+1} W_{l+1}^T) * sigma'(z_l);
* dL/dW_l = h_{l-1}^T delta_l, dL/db_l = sum_i delta_l,i.

It agrees with ``jax.grad`` to rounding (tests/test_nn_gradients.py).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxgd.nn.mlp import ACTIVATIONS, MLP, Params

__all__ = ["backprop", "dead_units", "output_bias_init"]

_DERIVATIVES = {
    "relu": lambda z: (z > 0).astype(z.dtype),
    "tanh": lambda z: 1 - jnp.tanh(z) ** 2,
    "elu": lambda z: jnp.where(z > 0, jnp.ones_like(z), jnp.exp(jnp.minimum(z, 0))),
    "sigmoid": lambda z: jax.nn.sigmoid(z) * (1 - jax.nn.sigmoid(z)),
}


def _scale(model: MLP, p: Any, dtype) -> jax.Array:
    return jnp.asarray(p if model.dropout == "classic" else 1.0, dtype)


def backprop(model: MLP, params: Params, x: jax.Array, y: jax.Array) -> Params:
    """The gradient of ``softmax_cross_entropy(model.apply(params, x), y)`` by the delta recursion (module docstring).

    Returns a pytree shaped like ``params``. Not for ``batch_norm`` models.

    Args:
        model: The :class:`MLP` (without batch norm).
        params: Its parameters.
        x: The (n, d) inputs.
        y: The (n,) integer labels.

    Returns:
        The gradient, a pytree shaped like params.
    """
    if not isinstance(model, MLP):
        raise TypeError(f"backprop needs a jaxgd.nn.MLP, got {type(model).__name__}")
    if model.batch_norm:
        raise ValueError("backprop writes out the plain MLP; batch_norm=True is not covered (use jax.grad)")
    model.check_params(params)
    model.check_inputs(x)
    x = jnp.asarray(x)
    if x.ndim != 2 or jnp.shape(y) != x.shape[:1]:
        raise ValueError(f"backprop needs x of shape (n, d) and labels y of shape (n,), got {x.shape}, {jnp.shape(y)}")
    act, dact = ACTIVATIONS[model.activation], _DERIVATIVES[model.activation]
    s_in = _scale(model, model.input_keep_prob, x.dtype)
    s_hid = _scale(model, model.keep_prob, x.dtype)
    hs, zs = [s_in * x], []  # forward pass, keeping h_{l-1} and z_l
    for i, layer in enumerate(params):
        zs.append(hs[-1] @ layer["w"] + layer["b"])
        if i + 1 < model.num_layers:
            hs.append(s_hid * act(zs[-1]))
    n = x.shape[0]
    delta = (jax.nn.softmax(zs[-1], axis=-1) - jax.nn.one_hot(y, zs[-1].shape[-1], dtype=x.dtype)) / n
    grads = [None] * model.num_layers
    for l in reversed(range(model.num_layers)):  # l: the lecture's layer index
        grads[l] = {"w": hs[l].T @ delta, "b": jnp.sum(delta, axis=0)}
        if l > 0:
            delta = s_hid * (delta @ params[l]["w"].T) * dact(zs[l - 1])
    return grads


def output_bias_init(labels: jax.Array, num_classes: int, *, dtype: Any = None) -> jax.Array:
    """b* = argmin_b L(b) with zero weights: for cross-entropy the log class frequencies, b*_k = log(n_k / n).

    The network then starts by predicting the class frequencies pi, and its initial loss is their entropy
    H(pi) rather than log K (Hildesheim; Karpathy 2019, "init well"). A class with no example gets log(1e-8).
    Pass it to :meth:`MLP.init` as ``output_bias=``.

    Args:
        labels: The (n,) integer training labels.
        num_classes: K.
        dtype: The result's dtype (None: JAX's default float).

    Returns:
        The (K,) bias b*.
    """
    labels = jnp.asarray(labels)
    if labels.ndim != 1 or not jnp.issubdtype(labels.dtype, jnp.integer) or labels.shape[0] == 0:
        raise ValueError(f"labels must be a non-empty 1-D integer array, got {labels.dtype} {labels.shape}")
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}")
    dtype = dtype or jnp.result_type(float)
    counts = jnp.bincount(labels, length=num_classes).astype(dtype)
    return jnp.log(jnp.maximum(counts / labels.shape[0], jnp.asarray(1e-8, dtype)))


def dead_units(model: MLP, params: Params, x: jax.Array, *, batch_stats: Any = None) -> jax.Array:
    """Per hidden layer, the fraction of units whose activation is 0 on every example of ``x`` ("dead ReLUs").

    A ReLU unit with z <= 0 on all inputs gets no gradient and never recovers; a small bias c > 0 at
    initialisation keeps units active (Goodfellow et al. 2016, sec. 8.4). Shape (L - 1,).

    Args:
        model: The :class:`MLP`.
        params: Its parameters.
        x: The (n, d) inputs.
        batch_stats: A batch-norm MLP's running statistics.

    Returns:
        The (L - 1,) fractions of dead units per hidden layer.
    """
    if not isinstance(model, MLP):
        raise TypeError(f"dead_units needs a jaxgd.nn.MLP, got {type(model).__name__}")
    if model.num_layers < 2:
        raise ValueError("dead_units: this MLP has no hidden layer")
    hiddens = model.hidden(params, x, batch_stats=batch_stats)
    axes = lambda h: tuple(range(h.ndim - 1))  # noqa: E731
    return jnp.stack([jnp.mean(jnp.all(h == 0, axis=axes(h)).astype(h.dtype)) for h in hiddens])
