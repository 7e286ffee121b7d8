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

Batch normalisation (``MLP(..., batch_norm=True)``; Ioffe and Szegedy 2015,
Alg. 1 and 2) replaces each hidden z_l by gamma_l * (z_l - mu) / sqrt(var + eps)
+ beta_l before the activation, per feature. In training mu and var are the
mini-batch mean and (biased) variance and the running statistics are updated,
m <- rho m + (1 - rho) mu, v <- rho v + (1 - rho) var n / (n - 1), with
momentum rho = ``bn_momentum`` (0.9); in evaluation the running m and v are
used. gamma and beta are trainable (hidden layers' params gain ``"gamma"`` and
``"beta"``); the running statistics are a separate non-trainable pytree,
``batch_stats`` (one ``{"mean", "var"}`` per hidden layer, from
:meth:`MLP.init_batch_stats`). The mode switch cannot be forgotten silently:
``apply(..., train=True, batch_stats=s)`` returns ``(logits, new_batch_stats)``
and ``apply`` without ``batch_stats`` raises.
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
_META_FIELDS = ("sizes", "activation", "dropout", "batch_norm", "bn_momentum")
BN_EPS = 1e-5  # added to the variance in batch normalisation (Ioffe and Szegedy's epsilon)


@dataclasses.dataclass(frozen=True, eq=False)
class MLP:
    """An MLP's architecture: ``sizes = (n_inputs, hidden..., n_outputs)``.

    Attributes:
      sizes: the layer widths, at least (n_in, n_out).
      activation: ``"relu"``, ``"tanh"``, ``"elu"`` or ``"sigmoid"`` for hidden layers.
      keep_prob: p, the keep probability of hidden units, in (0, 1]; 1 disables dropout.
      input_keep_prob: the keep probability of the inputs (Srivastava et al. use 0.8).
      dropout: ``"inverted"`` (scale by 1/p in training) or ``"classic"`` (scale by p at test).
      batch_norm: batch-normalise every hidden layer's pre-activation (see the module docstring).
      bn_momentum: rho of the running statistics, m <- rho m + (1 - rho) mu, in [0, 1).

    A pytree: ``keep_prob`` and ``input_keep_prob`` are leaves (they may be
    traced and vmapped), the rest is static.
    """

    sizes: tuple[int, ...]
    activation: str = "relu"
    keep_prob: float | jax.Array = 1.0
    input_keep_prob: float | jax.Array = 1.0
    dropout: DropoutMode = "inverted"
    batch_norm: bool = False
    bn_momentum: float = 0.9

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
        if not isinstance(self.batch_norm, (bool, np.bool_)):
            raise TypeError(f"batch_norm must be True or False, got batch_norm={self.batch_norm!r}")
        object.__setattr__(self, "batch_norm", bool(self.batch_norm))
        rho = self.bn_momentum
        if isinstance(rho, bool) or not isinstance(rho, (int, float, np.floating)) or not 0.0 <= rho < 1.0:
            raise ValueError(f"bn_momentum must be a float in [0, 1), got bn_momentum={rho!r}")
        object.__setattr__(self, "bn_momentum", float(rho))

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
        output_bias: jax.Array | None = None,
        dtype: Any = None,
    ) -> Params:
        """Draw parameters: weights from ``weight_init``, biases all equal to ``bias``.

        The default ``weight_init`` is :func:`~jaxgd.nn.initializers.he_normal`
        for ReLU and ELU, :func:`~jaxgd.nn.initializers.xavier_uniform` for tanh
        and sigmoid. ``output_bias`` (shape ``(sizes[-1],)``) sets the last
        layer's bias instead, e.g. :func:`~jaxgd.nn.output_bias_init`'s log class
        frequencies. With ``batch_norm`` hidden layers also get gamma = 1, beta = 0.
        ``dtype`` defaults to JAX's default float (float64 under x64).
        """
        _validate.finite("bias", bias)
        if output_bias is not None and jnp.shape(output_bias) != (self.sizes[-1],):
            raise ValueError(
                f"output_bias must have shape ({self.sizes[-1]},) (one per class), got {jnp.shape(output_bias)}"
            )
        if weight_init is None:
            relu_like = self.activation in ("relu", "elu")
            weight_init = initializers.he_normal() if relu_like else initializers.xavier_uniform()
        dtype = dtype or jnp.result_type(float)
        keys = jax.random.split(key, self.num_layers)
        params = [
            {"w": weight_init(k, (n_in, n_out), dtype), "b": jnp.full((n_out,), bias, dtype)}
            for k, n_in, n_out in zip(keys, self.sizes[:-1], self.sizes[1:])
        ]
        if output_bias is not None:
            params[-1]["b"] = jnp.asarray(output_bias, dtype)
        if self.batch_norm:
            for layer in params[:-1]:
                n = layer["b"].shape[0]
                layer.update(gamma=jnp.ones((n,), dtype), beta=jnp.zeros((n,), dtype))
        return params

    def init_batch_stats(self, dtype: Any = None) -> list[dict[str, jax.Array]]:
        """Running statistics to start from: mean 0 and variance 1 for each hidden layer (needs ``batch_norm``)."""
        if not self.batch_norm:
            raise ValueError("init_batch_stats: this MLP has batch_norm=False and keeps no running statistics")
        dtype = dtype or jnp.result_type(float)
        return [{"mean": jnp.zeros((n,), dtype), "var": jnp.ones((n,), dtype)} for n in self.sizes[1:-1]]

    def check_batch_stats(self, batch_stats: Any) -> None:
        """Raise unless ``batch_stats`` is None without ``batch_norm``, or one {mean, var} per hidden layer with it."""
        if not self.batch_norm:
            if batch_stats is not None:
                raise ValueError("batch_stats given to an MLP with batch_norm=False; pass batch_stats=None")
            return
        if batch_stats is None:
            raise ValueError(
                "MLP(batch_norm=True).apply needs batch_stats=: the running statistics to normalise with in "
                "evaluation, or to update in training (then it returns (logits, new_batch_stats)); "
                "start from model.init_batch_stats(), or use the batch_stats of fit's result"
            )
        hidden = self.sizes[1:-1]
        if not isinstance(batch_stats, (list, tuple)) or len(batch_stats) != len(hidden):
            raise ValueError(f"batch_stats must be list of {len(hidden)} dicts {{'mean', 'var'}}, one per hidden layer")
        for i, (st, n) in enumerate(zip(batch_stats, hidden)):
            if not isinstance(st, dict) or set(st) != {"mean", "var"}:
                raise ValueError(f"batch_stats[{i}] must be a dict with keys 'mean' and 'var'")
            if jnp.shape(st["mean"])[-1:] != (n,) or jnp.shape(st["var"])[-1:] != (n,):
                raise ValueError(f"batch_stats[{i}] needs mean and var of shape ({n},)")

    def check_params(self, params: Params) -> None:
        """Raise if ``params`` does not have this architecture's layer shapes."""
        if not isinstance(params, (list, tuple)) or len(params) != self.num_layers:
            n = len(params) if isinstance(params, (list, tuple)) else type(params).__name__
            raise ValueError(f"params must be a list of {self.num_layers} layers for sizes={self.sizes}, got {n}")
        for i, (layer, n_in, n_out) in enumerate(zip(params, self.sizes[:-1], self.sizes[1:])):
            bn = self.batch_norm and i + 1 < self.num_layers
            keys = {"w", "b", "gamma", "beta"} if bn else {"w", "b"}
            if not isinstance(layer, dict) or set(layer) != keys:
                raise ValueError(f"layer {i} of params must be a dict with keys {sorted(keys)}")
            if bn and (jnp.shape(layer["gamma"])[-1:] != (n_out,) or jnp.shape(layer["beta"])[-1:] != (n_out,)):
                raise ValueError(f"layer {i} of params needs gamma and beta of shape ({n_out},)")
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

    def apply(
        self,
        params: Params,
        x: jax.Array,
        *,
        key: jax.Array | None = None,
        train: bool = False,
        batch_stats: Any = None,
    ) -> Any:
        """The logits f(x), shape (..., sizes[-1]); ``train=True`` samples dropout masks from ``key``.

        With ``batch_norm``: ``batch_stats`` is required; training normalises by the batch's statistics and
        returns ``(logits, new_batch_stats)``, evaluation normalises by ``batch_stats``.
        """
        logits, _, new_stats = self._forward(params, x, key=key, train=train, batch_stats=batch_stats)
        return (logits, new_stats) if self.batch_norm and train else logits

    def hidden(self, params: Params, x: jax.Array, *, batch_stats: Any = None) -> list[jax.Array]:
        """The hidden activations sigma(z_l) of the test-time network, before dropout's scaling, one per layer."""
        return self._forward(params, x, key=None, train=False, batch_stats=batch_stats)[1]

    def _forward(self, params, x, *, key, train, batch_stats):
        self.check_inputs(x)
        if len(params) != self.num_layers:
            raise ValueError(f"params has {len(params)} layers, sizes={self.sizes} needs {self.num_layers}")
        if train and key is None:
            raise ValueError("apply(train=True) samples dropout masks and needs a PRNG key, got key=None")
        self.check_batch_stats(batch_stats)
        masks = self._masks(key, x) if train else None

        def drop(i, h, p):
            if train:
                return apply_mask(h, masks[i], p, mode=self.dropout)
            return dropout(None, h, p, mode=self.dropout, train=False)

        act = ACTIVATIONS[self.activation]
        h, hiddens, new_stats = drop(0, x, self.input_keep_prob), [], []
        for i, layer in enumerate(params):
            z = h @ layer["w"] + layer["b"]
            if i + 1 < self.num_layers:
                if self.batch_norm:
                    z, stats = self._normalise(layer, z, batch_stats[i], train)
                    new_stats.append(stats)
                hiddens.append(act(z))
                h = drop(i + 1, hiddens[-1], self.keep_prob)
        return z, hiddens, new_stats if self.batch_norm else None

    def _normalise(self, layer: dict, z: jax.Array, stats: dict, train: bool) -> tuple[jax.Array, dict]:
        """gamma (z - mu) / sqrt(var + eps) + beta per feature; training uses the batch's mu, var."""
        if train:
            axes = tuple(range(z.ndim - 1))
            n = int(np.prod(z.shape[:-1]))
            if n < 2:
                raise ValueError(f"batch normalisation in training needs a batch of at least 2 examples, got {n}")
            mean, var = jnp.mean(z, axis=axes), jnp.var(z, axis=axes)
            rho = jnp.asarray(self.bn_momentum, z.dtype)
            running = {
                "mean": rho * stats["mean"] + (1 - rho) * mean,
                "var": rho * stats["var"] + (1 - rho) * var * (n / (n - 1)),
            }
            running = jax.lax.stop_gradient(running)
        else:
            mean, var, running = stats["mean"], stats["var"], stats
        z_hat = (z - mean) * jax.lax.rsqrt(var + jnp.asarray(BN_EPS, z.dtype))
        return layer["gamma"] * z_hat + layer["beta"], running

    def _masks(self, key: jax.Array, x: jax.Array) -> list[jax.Array]:
        # One uniform draw for every layer's mask (one RNG call: cheaper to compile than one per layer).
        widths = self.sizes[:-1]
        u = jax.random.uniform(key, (*jnp.shape(x)[:-1], sum(widths)), jnp.result_type(x.dtype, float))
        ends = np.cumsum(widths)
        probs = [self.input_keep_prob] + [self.keep_prob] * (len(widths) - 1)
        return [u[..., e - w : e] < jnp.asarray(p, u.dtype) for e, w, p in zip(ends, widths, probs)]

    def predict_proba(self, params: Params, x: jax.Array, *, batch_stats: Any = None) -> jax.Array:
        """Class probabilities softmax(f(x)) of the deterministic test-time network."""
        return jax.nn.softmax(self.apply(params, x, batch_stats=batch_stats), axis=-1)

    def predict_proba_mc(self, params: Params, x: jax.Array, key: jax.Array, num_samples: int = 32) -> jax.Array:
        """Monte-Carlo dropout: (1/S) sum_s softmax(f(x; m_s)) over S training-time masks m_s."""
        _validate.positive_int("num_samples", num_samples)
        if self.batch_norm:
            raise ValueError("predict_proba_mc is not defined for batch_norm=True (training mode uses batch stats)")

        def one(k):
            return jax.nn.softmax(self.apply(params, x, key=k, train=True), axis=-1)

        return jnp.mean(jax.vmap(one)(jax.random.split(key, num_samples)), axis=0)

    def __repr__(self) -> str:
        return (
            f"MLP(sizes={self.sizes}, activation={self.activation!r}, keep_prob={self.keep_prob!r}, "
            f"input_keep_prob={self.input_keep_prob!r}, dropout={self.dropout!r}"
            + (f", batch_norm=True, bn_momentum={self.bn_momentum!r})" if self.batch_norm else ")")
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
