"""Hypergradient descent: the learning rate adapted online (Baydin et al., "Online learning rate adaptation
with hypergradient descent", ICLR 2018).

With the unit-rate direction d_t of the base method (x_{t+1} = x_t - alpha_{t+1} d_t) and g_t = grad f(x_t),
the derivative of f(x_t) with respect to alpha_t is -g_t . d_{t-1}, so

    alpha_{t+1} = alpha_t + beta g_t . d_{t-1}          (d_{-1} = 0)

SGD-HD: d_t = g_t (their Algorithm 2, alpha_t = alpha_{t-1} + beta g_t . g_{t-1}); Adam-HD: d_t = m_hat_t /
(sqrt(v_hat_t) + eps) (their Algorithm 4). The rate lives in the state: ``state.learning_rate``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxgd import transforms as T
from jaxgd._core import Hyperparameter, real_dtype
from jaxgd._recipe import optimizer

__all__ = ["HypergradientState", "adam_hd", "scale_by_hypergradient", "sgd_hd"]


class HypergradientState(NamedTuple):
    """alpha_t (``learning_rate``), the previous direction d_{t-1}, the base direction's state."""

    learning_rate: jax.Array
    previous: Any
    inner: Any


def scale_by_hypergradient(
    direction: optax.GradientTransformation, learning_rate: Hyperparameter, hyper_lr: Hyperparameter
) -> optax.GradientTransformation:
    """u_t = -alpha_{t+1} d_t with alpha_{t+1} = alpha_t + beta g_t . d_{t-1}; ``direction`` gives d_t from g_t.

    Args:
        direction: The base method's unit-rate direction (``optax.identity()`` for SGD).
        learning_rate: alpha_0, the initial rate.
        hyper_lr: beta, the hypergradient step.

    Returns:
        An ``optax.GradientTransformation``; its state is a :class:`HypergradientState`.
    """

    def init(params):
        dtype = real_dtype(params)
        zeros = jax.tree.map(jnp.zeros_like, params)
        return HypergradientState(jnp.asarray(learning_rate, dtype), zeros, direction.init(params))

    def update(grads, state, params=None):
        dot = sum(jnp.vdot(g, d).real for g, d in zip(jax.tree.leaves(grads), jax.tree.leaves(state.previous)))
        alpha = (state.learning_rate + hyper_lr * dot).astype(state.learning_rate.dtype)
        d, inner = direction.update(grads, state.inner, params)
        updates = jax.tree.map(lambda x: (-alpha * x).astype(x.dtype), d)
        return updates, HypergradientState(alpha, d, inner)

    return optax.GradientTransformation(init, update)


@optimizer()
def sgd_hd(learning_rate: Hyperparameter = 1e-2, hyper_lr: Hyperparameter = 1e-4) -> optax.GradientTransformation:
    """SGD-HD (Baydin et al. 2018, Alg. 2): alpha_t = alpha_{t-1} + beta g_t . g_{t-1}, x_{t+1} = x_t - alpha_t g_t.

    Args:
        learning_rate: alpha_0, the initial rate.
        hyper_lr: beta, the hypergradient step.

    Returns:
        The optimizer (:class:`jaxgd.Optimizer`).
    """
    return scale_by_hypergradient(optax.identity(), learning_rate, hyper_lr)


@optimizer()
def adam_hd(
    learning_rate: Hyperparameter = 1e-3,
    hyper_lr: Hyperparameter = 1e-7,
    b1: Hyperparameter = 0.9,
    b2: Hyperparameter = 0.999,
    eps: Hyperparameter = 1e-8,
) -> optax.GradientTransformation:
    """Adam-HD (Baydin et al. 2018, Alg. 4): Adam whose alpha follows alpha_t = alpha_{t-1} + beta g_t . d_{t-1},
    d = m_hat / (sqrt(v_hat) + eps).

    Args:
        learning_rate: alpha_0, the initial rate.
        hyper_lr: beta, the hypergradient step.
        b1: Adam's first-moment decay.
        b2: Adam's second-moment decay.
        eps: Adam's eps, added to sqrt(v_hat).

    Returns:
        The optimizer (:class:`jaxgd.Optimizer`).
    """
    return scale_by_hypergradient(T.scale_by_adam(b1, b2, eps), learning_rate, hyper_lr)
