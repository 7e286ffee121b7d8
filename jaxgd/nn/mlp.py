"""Multilayer perceptrons as plain JAX pytrees.

Parameters are a list with one ``{"w": (n_in, n_out), "b": (n_out,)}`` dict per
layer, and :class:`MLP` (widths, activation, dropout) is itself a pytree whose
leaves are the keep probabilities. Plain pytrees rather than flax or equinox,
deliberately: no extra dependency, nothing hidden, and parameters and
hyperparameters are ordinary leaves, so ``jax.vmap`` trains an ensemble of
seeds or a sweep of keep probabilities in one program, and every other jaxgd
tool (optimizers, :func:`jaxgd.tree_norm`, Hessian-vector products) applies
to them unchanged.

The forward pass is z_1 = x W_1 + b_1, h_l = D(sigma(z_l)),
z_{l+1} = h_l W_{l+1} + b_{l+1}, with D dropout on hidden units (and
optionally on the inputs); the last layer is linear and returns logits.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxgd import _validate
from jaxgd.nn import initializers
from jaxgd.nn.dropout import MODES, DropoutMode, apply_mask, check_keep_prob, dropout

__all__ = ["ACTIVATIONS", "MLP", "Params"]

Params = list[dict[str, jax.Array]]

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "relu": jax.nn.relu,
    "tanh": jnp.tanh,
    "elu": jax.nn.elu,
    "sigmoid": jax.nn.sigmoid,
}

_DATA_FIELDS = ("keep_prob", "input_keep_prob")
_META_FIELDS = ("sizes", "activation", "dropout")


@dataclasses.dataclass(frozen=True, eq=False)
class MLP:
    """An MLP's architecture: ``sizes = (n_inputs, hidden..., n_outputs)``.

    Attributes:
      sizes: the layer widths, at least (n_in, n_out).
      activation: ``"relu"``, ``"tanh"``, ``"elu"`` or ``"sigmoid"`` for hidden layers.
      keep_prob: p, the keep probability of hidden units, in (0, 1]; 1 disables dropout.
      input_keep_prob: the keep probability of the inputs (Srivastava et al. use 0.8).
      dropout: ``"inverted"`` (scale by 1/p in training) or ``"classic"`` (scale by p at test).

    A pytree: ``keep_prob`` and ``input_keep_prob`` are leaves (they may be
    traced and vmapped), the rest is static.
    """

    sizes: tuple[int, ...]
    activation: str = "relu"
    keep_prob: float | jax.Array = 1.0
    input_keep_prob: float | jax.Array = 1.0
    dropout: DropoutMode = "inverted"

    def __post_init__(self) -> None:
        sizes = tuple(self.sizes)
        if len(sizes) < 2:
            raise ValueError(f"sizes needs at least (n_in, n_out), got sizes={self.sizes!r}")
        for s in sizes:
            _validate.positive_int("sizes[i]", s)
        object.__setattr__(self, "sizes", tuple(int(s) for s in sizes))
        _validate.one_of("activation", self.activation, tuple(ACTIVATIONS))
        _validate.one_of("dropout", self.dropout, MODES)
        check_keep_prob("keep_prob", self.keep_prob)
        check_keep_prob("input_keep_prob", self.input_keep_prob)

    @property
    def num_layers(self) -> int:
        """The number of weight layers, len(sizes) - 1."""
        return len(self.sizes) - 1

    def init(
        self,
        key: jax.Array,
        *,
        weight_init: initializers.Initializer | None = None,
        bias: float | jax.Array = 0.0,
        dtype: Any = None,
    ) -> Params:
        """Draw parameters: weights from ``weight_init``, biases all equal to ``bias``.

        The default ``weight_init`` is :func:`~jaxgd.nn.initializers.he_normal`
        for ReLU and ELU, :func:`~jaxgd.nn.initializers.xavier_uniform` for tanh
        and sigmoid. ``dtype`` defaults to JAX's default float (float64 under x64).
        """
        _validate.finite("bias", bias)
        if weight_init is None:
            relu_like = self.activation in ("relu", "elu")
            weight_init = initializers.he_normal() if relu_like else initializers.xavier_uniform()
        dtype = dtype or jnp.result_type(float)
        keys = jax.random.split(key, self.num_layers)
        return [
            {"w": weight_init(k, (n_in, n_out), dtype), "b": jnp.full((n_out,), bias, dtype)}
            for k, n_in, n_out in zip(keys, self.sizes[:-1], self.sizes[1:])
        ]

    def check_params(self, params: Params) -> None:
        """Raise if ``params`` does not have this architecture's layer shapes."""
        if not isinstance(params, (list, tuple)) or len(params) != self.num_layers:
            n = len(params) if isinstance(params, (list, tuple)) else type(params).__name__
            raise ValueError(f"params must be a list of {self.num_layers} layers for sizes={self.sizes}, got {n}")
        for i, (layer, n_in, n_out) in enumerate(zip(params, self.sizes[:-1], self.sizes[1:])):
            if not isinstance(layer, dict) or set(layer) != {"w", "b"}:
                raise ValueError(f"layer {i} of params must be a dict with keys 'w' and 'b'")
            if jnp.shape(layer["w"])[-2:] != (n_in, n_out) or jnp.shape(layer["b"])[-1:] != (n_out,):
                raise ValueError(
                    f"layer {i} of params has w {jnp.shape(layer['w'])}, b {jnp.shape(layer['b'])}; "
                    f"sizes={self.sizes} needs w ({n_in}, {n_out}), b ({n_out},)"
                )

    def check_inputs(self, x: jax.Array) -> None:
        """Raise if ``x`` does not have ``sizes[0]`` features on its last axis."""
        shape = jnp.shape(x)
        if not shape or shape[-1] != self.sizes[0]:
            raise ValueError(
                f"x has {shape[-1] if shape else 0} features (shape {shape}), "
                f"the model expects sizes[0]={self.sizes[0]}"
            )

    def apply(self, params: Params, x: jax.Array, *, key: jax.Array | None = None, train: bool = False) -> jax.Array:
        """The logits f(x), shape (..., sizes[-1]); ``train=True`` samples dropout masks from ``key``."""
        self.check_inputs(x)
        if len(params) != self.num_layers:
            raise ValueError(f"params has {len(params)} layers, sizes={self.sizes} needs {self.num_layers}")
        if train and key is None:
            raise ValueError("apply(train=True) samples dropout masks and needs a PRNG key, got key=None")
        masks = self._masks(key, x) if train else None

        def drop(i, h, p):
            if train:
                return apply_mask(h, masks[i], p, mode=self.dropout)
            return dropout(None, h, p, mode=self.dropout, train=False)

        act = ACTIVATIONS[self.activation]
        h = drop(0, x, self.input_keep_prob)
        for i, layer in enumerate(params):
            z = h @ layer["w"] + layer["b"]
            if i + 1 < self.num_layers:
                h = drop(i + 1, act(z), self.keep_prob)
        return z

    def _masks(self, key: jax.Array, x: jax.Array) -> list[jax.Array]:
        # One uniform draw for every layer's mask (one RNG call: cheaper to compile than one per layer).
        widths = self.sizes[:-1]
        u = jax.random.uniform(key, (*jnp.shape(x)[:-1], sum(widths)), jnp.result_type(x.dtype, float))
        ends = np.cumsum(widths)
        probs = [self.input_keep_prob] + [self.keep_prob] * (len(widths) - 1)
        return [u[..., e - w : e] < jnp.asarray(p, u.dtype) for e, w, p in zip(ends, widths, probs)]

    def predict_proba(self, params: Params, x: jax.Array) -> jax.Array:
        """Class probabilities softmax(f(x)) of the deterministic test-time network."""
        return jax.nn.softmax(self.apply(params, x), axis=-1)

    def predict_proba_mc(self, params: Params, x: jax.Array, key: jax.Array, num_samples: int = 32) -> jax.Array:
        """Monte-Carlo dropout: (1/S) sum_s softmax(f(x; m_s)) over S training-time masks m_s."""
        _validate.positive_int("num_samples", num_samples)

        def one(k):
            return jax.nn.softmax(self.apply(params, x, key=k, train=True), axis=-1)

        return jnp.mean(jax.vmap(one)(jax.random.split(key, num_samples)), axis=0)

    def __repr__(self) -> str:
        return (
            f"MLP(sizes={self.sizes}, activation={self.activation!r}, keep_prob={self.keep_prob!r}, "
            f"input_keep_prob={self.input_keep_prob!r}, dropout={self.dropout!r})"
        )


def _flatten_with_keys(m: MLP):
    children = [(jax.tree_util.GetAttrKey(f), getattr(m, f)) for f in _DATA_FIELDS]
    return children, tuple(getattr(m, f) for f in _META_FIELDS)


def _flatten(m: MLP):
    return [getattr(m, f) for f in _DATA_FIELDS], tuple(getattr(m, f) for f in _META_FIELDS)


def _unflatten(aux: tuple, children: Sequence[Any]) -> MLP:
    # Bypasses __init__: JAX unflattens with placeholder leaves (None, axis numbers).
    m = object.__new__(MLP)
    for f, v in zip(_META_FIELDS, aux):
        object.__setattr__(m, f, v)
    for f, v in zip(_DATA_FIELDS, children):
        object.__setattr__(m, f, v)
    return m


jax.tree_util.register_pytree_with_keys(MLP, _flatten_with_keys, _unflatten, _flatten)
