"""Gradients of a run's loss with respect to its hyperparameters, with memory O(sqrt(T)).

L(h) = f(x_T(h)) (or the average (1/T) sum_{t=1..T} f(x_t)), x_{t+1} = x_t + u_t(h) the optimizer's steps:
``jax.grad`` differentiates through the whole run (Maclaurin et al. 2015; Domke 2012). The T steps run as
T/k blocks of k ~ sqrt(T) steps, each block under ``jax.checkpoint``: the backward pass keeps the T/k block
boundaries and recomputes one block's k steps at a time (Griewank & Walther 2008, ch. 12), so memory grows
like T/k + k = O(sqrt(T)) instead of O(T).

:func:`gradient_tune` descends log(eta) on log L, the hyperparameter tuned by its gradient.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxgd import _validate
from jaxgd._core import evaluate, objective_of, update_step

__all__ = ["GradientTuning", "gradient_tune", "hypergradient", "run_loss"]


def _blocks(steps: int, block: int | None) -> tuple[int, int, int]:
    _validate.positive_int("steps", steps)
    k = max(1, math.isqrt(steps)) if block is None else block
    _validate.positive_int("block", k)
    n, rem = divmod(steps, k)
    return k, n, rem


def run_loss(
    make_optimizer: Callable[..., optax.GradientTransformation],
    loss: Callable[[Any], jax.Array],
    hyperparams: Mapping[str, jax.typing.ArrayLike],
    x0: Any,
    steps: int,
    *,
    average: bool = False,
    block: int | None = None,
) -> jax.Array:
    """f(x_T) (``average``: (1/T) sum_{t=1..T} f(x_t)) of ``make_optimizer(**hyperparams)`` run from x0 for T steps.

    Differentiable in ``hyperparams`` (and x0); blocks of ``block`` steps (default ~sqrt(T)) are checkpointed.

    Args:
        make_optimizer: ``make_optimizer(**hyperparams)`` -> an optax transformation.
        loss: The objective ``f(params)``.
        hyperparams: The hyperparameters h, scalars (may be traced).
        x0: The start point.
        steps: T, a positive integer.
        average: Return (1/T) sum_{t=1..T} f(x_t) instead of f(x_T).
        block: Steps per checkpointed block; None: about sqrt(T).

    Returns:
        L(h), a scalar.

    Raises:
        ValueError: If steps or block is not a positive integer.
    """
    k, n, rem = _blocks(steps, block)
    fn = objective_of(loss)
    opt = make_optimizer(**hyperparams)

    def one(carry, _):
        x, state, total = carry
        s = update_step(opt, fn, x, state)
        return (s.params, s.state, total + fn(s.params) if average else total), None

    @jax.checkpoint
    def run_block(carry, _):
        return jax.lax.scan(one, carry, None, length=k)[0], None

    dtype = jnp.result_type(*jax.tree.leaves(x0))
    carry = (x0, opt.init(x0), jnp.zeros([], dtype))
    carry = jax.lax.scan(run_block, carry, None, length=n)[0]
    if rem:
        carry = jax.lax.scan(one, carry, None, length=rem)[0]
    x, _, total = carry
    return total / steps if average else evaluate(fn, x)[0]


def hypergradient(
    make_optimizer: Callable[..., optax.GradientTransformation],
    loss: Callable[[Any], jax.Array],
    hyperparams: Mapping[str, jax.typing.ArrayLike],
    x0: Any,
    steps: int,
    *,
    average: bool = False,
    block: int | None = None,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """(L, dL/dh) for the run of :func:`run_loss`, one forward and one checkpointed backward pass, jitted.

    Args:
        make_optimizer: As in :func:`run_loss`; hashable (a static argument).
        loss: As in :func:`run_loss`.
        hyperparams: As in :func:`run_loss`, cast to x0's dtype.
        x0: As in :func:`run_loss`.
        steps: As in :func:`run_loss`.
        average: As in :func:`run_loss`.
        block: As in :func:`run_loss`.

    Returns:
        value: L(h), a scalar.
        grads: dL/dh, a dict with the keys of ``hyperparams``.

    Raises:
        ValueError: As :func:`run_loss`.
    """
    hp = {k: jnp.asarray(v, jnp.result_type(*jax.tree.leaves(x0))) for k, v in hyperparams.items()}
    return _value_and_grad(make_optimizer, loss, hp, x0, steps, average, block)


@jax.jit(static_argnames=("make_optimizer", "steps", "average", "block"))
def _value_and_grad(make_optimizer, loss, hp, x0, steps, average, block):
    def f(h):
        return run_loss(make_optimizer, loss, h, x0, steps, average=average, block=block)

    return jax.value_and_grad(f)(hp)


class GradientTuning(NamedTuple):
    """Iterates of :func:`gradient_tune`: learning rates (I+1,), the losses L at them (I+1,), the best rate."""

    learning_rates: jax.Array
    losses: jax.Array
    best: float


def gradient_tune(
    make_optimizer: Callable[..., optax.GradientTransformation],
    loss: Callable[[Any], jax.Array],
    x0: Any,
    steps: int,
    *,
    learning_rate: float,
    iterations: int = 20,
    meta_lr: float = 0.1,
    average: bool = True,
) -> GradientTuning:
    """Tune eta by gradient descent on s = log eta of log L(eta): s <- s - meta_lr * sign-free Adam step.

    The meta-optimizer is Adam with rate ``meta_lr`` on s (scale-free in both eta and L). A non-finite
    L (the run diverged) halves eta instead. Each iteration costs one hypergradient (about three runs).

    Args:
        make_optimizer: ``make_optimizer(learning_rate=eta)`` -> an optax transformation.
        loss: The objective ``f(params)``.
        x0: The start point.
        steps: T, the steps of each run.
        learning_rate: The initial eta, > 0.
        iterations: The meta-steps, a positive integer.
        meta_lr: Adam's rate on log eta.
        average: L is (1/T) sum_t f(x_t) (True) or f(x_T).

    Returns:
        The iterates (:class:`GradientTuning`): ``iterations + 1`` rates and losses, and the best rate.

    Raises:
        ValueError: If iterations or steps is not a positive integer.
    """
    _validate.positive_int("iterations", iterations)

    def log_l(s):
        return jnp.log(run_loss(make_optimizer, loss, {"learning_rate": jnp.exp(s)}, x0, steps, average=average))

    vg = jax.jit(jax.value_and_grad(log_l))
    meta = optax.adam(meta_lr)
    s = jnp.log(jnp.asarray(learning_rate, jnp.result_type(*jax.tree.leaves(x0))))
    state = meta.init(s)
    rates, values = [], []
    for _ in range(iterations + 1):
        v, g = vg(s)
        rates.append(jnp.exp(s))
        values.append(jnp.exp(v))
        if not (jnp.isfinite(v) and jnp.isfinite(g)):
            s = s - jnp.log(2.0)
            continue
        u, state = meta.update(g, state)
        s = s + u
    rates, values = jnp.stack(rates), jnp.stack(values)
    finite = jnp.where(jnp.isfinite(values), values, jnp.inf)
    return GradientTuning(rates, values, float(rates[jnp.argmin(finite)]))
