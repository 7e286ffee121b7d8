"""Gradient estimators for finite sums: the plain mini-batch gradient, SVRG and SAGA.

An estimator turns the step's mini-batch I (indices drawn by a :class:`Sampler`) into
an unbiased estimate g_t of grad f(x_t), keeping what it needs in its own state; any
optax transform then takes g_t as its gradient. With ``jaxgd.sgd(eta)`` the step
x_{t+1} = x_t - eta g_t is exactly SVRG or SAGA. ``jaxgd.stochastic.run`` takes one
as ``estimator=``; its cost (per-example gradients) is counted for plots against epochs.

Interface: ``state, cost = init(problem, params)``;
``Estimate(value, grad, state, cost) = estimate(problem, params, idx, key, state, t)`` (``idx`` None:
the full batch); flags ``needs_batches`` (no full batch) and ``needs_distinct`` (no repeated example in a batch).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxgd import _validate

__all__ = ["SAGA", "SVRG", "Estimate", "MiniBatchGradient", "SAGAState", "SVRGState", "minibatch", "saga", "svrg"]


class Estimate(NamedTuple):
    """One step's estimate: the mini-batch loss, the gradient estimate g_t, the new state, the cost."""

    value: jax.Array
    grad: Any
    state: Any
    cost: jax.Array


def _value_and_grad(problem: Any, params: Any, idx: Any, key: Any) -> tuple[jax.Array, Any]:
    if idx is None:
        return jax.value_and_grad(problem.full_loss)(params, key)
    return jax.value_and_grad(problem.batch_loss)(params, idx, key)


def _cost(x: Any) -> jax.Array:
    return jnp.asarray(x, jnp.int32)


def _static_pytree(cls: type, fields: tuple[str, ...]) -> type:
    def unflatten(aux, _):
        obj = object.__new__(cls)
        for f, v in zip(fields, aux):
            setattr(obj, f, v)
        return obj

    jax.tree_util.register_pytree_node(cls, lambda o: ((), tuple(getattr(o, f) for f in fields)), unflatten)
    return cls


class MiniBatchGradient:
    """g_t = (1/B) sum_{i in I_t} grad f_i(x_t): SGD's estimate (the full gradient when I_t is everything)."""

    needs_distinct = False
    needs_batches = False

    def init(self, problem: Any, params: Any) -> tuple[Any, jax.Array]:
        return (), _cost(0)

    def estimate(self, problem: Any, params: Any, idx: Any, key: Any, state: Any, t: jax.Array) -> Estimate:
        value, grad = _value_and_grad(problem, params, idx, key)
        return Estimate(value, grad, state, _cost(problem.n if idx is None else jnp.shape(idx)[0]))

    def __repr__(self) -> str:
        return "minibatch()"


_static_pytree(MiniBatchGradient, ())


class SVRGState(NamedTuple):
    snapshot: Any  # x~, the last snapshot
    full_grad: Any  # mu~ = grad f(x~)


class SVRG:
    """Stochastic variance-reduced gradient (Johnson & Zhang 2013, Fig. 1, option I).

    Every m steps (at t = 0, m, 2m, ...) the snapshot x~ = x_t and mu~ = grad f(x~)
    (n gradients) are refreshed; in between::

        g_t = (1/B) sum_{i in I_t} [grad f_i(x_t) - grad f_i(x~)] + mu~

    E g_t = grad f(x_t), and its variance vanishes as x_t and x~ approach x*, so a
    constant step converges linearly on a strongly convex finite sum (eta ~ 1/(10 beta_max),
    m ~ 2n/B in the paper). Cost: 2B per step plus n per refresh.

    Args:
        inner_steps: m, the steps between snapshot refreshes.
    """

    needs_distinct = False
    needs_batches = True

    def __init__(self, inner_steps: int):
        _validate.positive_int("inner_steps", inner_steps)
        self.inner_steps = int(inner_steps)

    def init(self, problem: Any, params: Any) -> tuple[SVRGState, jax.Array]:
        zeros = jax.tree.map(jnp.zeros_like, params)
        return SVRGState(zeros, zeros), _cost(0)

    def estimate(self, problem: Any, params: Any, idx: Any, key: Any, state: SVRGState, t: jax.Array) -> Estimate:
        refresh = jnp.asarray(t) % self.inner_steps == 0

        def snapshot(_):
            return SVRGState(params, jax.grad(problem)(params))

        state = jax.lax.cond(refresh, snapshot, lambda _: state, None)
        value, g_x = jax.value_and_grad(problem.batch_loss)(params, idx, key)
        g_snap = jax.grad(problem.batch_loss)(state.snapshot, idx, key)
        grad = jax.tree.map(lambda a, b, m: (a - b + m).astype(a.dtype), g_x, g_snap, state.full_grad)
        cost = 2 * jnp.shape(idx)[0] + jnp.where(refresh, problem.n, 0)
        return Estimate(value, grad, state, _cost(cost))

    def __repr__(self) -> str:
        return f"svrg(inner_steps={self.inner_steps})"


_static_pytree(SVRG, ("inner_steps",))


class SAGAState(NamedTuple):
    table: Any  # alpha_i = grad f_i(phi_i), the last gradient seen of each example (leading axis n)
    mean: Any  # (1/n) sum_i alpha_i


class SAGA:
    """SAGA (Defazio, Bach & Lacoste-Julien 2014, sec. 2), with a table of the last gradient of each example.

    The table starts at alpha_i = grad f_i(x_0) (n gradients). At step t, for the batch I_t
    of B distinct examples::

        g_t = (1/B) sum_{j in I_t} [grad f_j(x_t) - alpha_j] + (1/n) sum_i alpha_i
        alpha_j <- grad f_j(x_t) for j in I_t

    E g_t = grad f(x_t); a constant step eta = 1/(3 beta_max) converges linearly on a
    strongly convex finite sum. Memory: the n x d table. Cost: B per step.
    """

    needs_distinct = True
    needs_batches = True

    def init(self, problem: Any, params: Any) -> tuple[SAGAState, jax.Array]:
        table = problem.example_grads(params)
        return SAGAState(table, jax.tree.map(lambda a: jnp.mean(a, axis=0), table)), _cost(problem.n)

    def estimate(self, problem: Any, params: Any, idx: Any, key: Any, state: SAGAState, t: jax.Array) -> Estimate:
        new = problem.example_grads(params, idx, key)
        diff = jax.tree.map(lambda g, tab: g - tab[idx], new, state.table)
        grad = jax.tree.map(lambda d, m: (jnp.mean(d, axis=0) + m).astype(m.dtype), diff, state.mean)
        n = problem.n
        table = jax.tree.map(lambda tab, g: tab.at[idx].set(g), state.table, new)
        mean = jax.tree.map(lambda m, d: (m + jnp.sum(d, axis=0) / n).astype(m.dtype), state.mean, diff)
        value = problem.batch_loss(params, idx, key)
        return Estimate(value, grad, SAGAState(table, mean), _cost(jnp.shape(idx)[0]))

    def __repr__(self) -> str:
        return "saga()"


_static_pytree(SAGA, ())


def minibatch() -> MiniBatchGradient:
    """The plain mini-batch gradient (SGD), the default estimator.

    Returns:
        The estimator (:class:`MiniBatchGradient`).
    """
    return MiniBatchGradient()


def svrg(inner_steps: int) -> SVRG:
    """SVRG refreshing its snapshot every ``inner_steps`` steps (Johnson & Zhang use 2n / B); see :class:`SVRG`.

    Args:
        inner_steps: m >= 1.

    Returns:
        The estimator (:class:`SVRG`).
    """
    return SVRG(inner_steps)


def saga() -> SAGA:
    """SAGA; see :class:`SAGA`. Needs batches of distinct examples (B = 1, or sampling without replacement).

    Returns:
        The estimator (:class:`SAGA`).
    """
    return SAGA()
