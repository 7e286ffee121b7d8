"""Small sums unrolled: a ``jnp.sum`` over at most 16 numbers inside a loss becomes a chain of adds (for XLA:CPU).

Why: XLA:CPU emits a reduction as a loop of its own that neither vectorises across
the rows of a ``vmap`` nor fuses with the elementwise work around it. Swept over
thousands of runs of a 2-D problem, the loss 1/2 sum_i lambda_i x_i^2 then costs
ten times the step that makes its gradient. As adds of slices it fuses into the
step's loop like any other elementwise work.

The numbers are those of the sum up to the order of its additions. The derivative
is still the sum's own (a custom JVP whose tangent is ``jnp.sum``), so a gradient is
a broadcast, not a sum of padded slices. Every other operation, and every sum inside
control flow or a custom derivative, is left as it is.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from jaxgd._core import combine, partition

MAX_TERMS = 16

try:  # jax's public extension API; without it (an old jax) losses run as they are
    from jax.extend import core as _jex

    _REDUCE_SUM = _jex.primitives.reduce_sum_p
    _JIT = getattr(_jex.primitives, "jit_p", None) or getattr(_jex.primitives, "pjit_p", None)
    _LITERAL, _DROP = _jex.Literal, _jex.DropVar
except (ImportError, AttributeError):  # pragma: no cover
    _jex = None


def _unrolled_sum(x: jax.Array, axes: tuple[int, ...]) -> jax.Array:
    tail = tuple(range(x.ndim - len(axes), x.ndim))
    x = jnp.moveaxis(x, axes, tail)
    rest = x.shape[: x.ndim - len(axes)]
    x = x.reshape(*rest, math.prod(x.shape[len(rest) :]))
    total = lax.index_in_dim(x, 0, -1, keepdims=False)
    for i in range(1, x.shape[-1]):
        total = total + lax.index_in_dim(x, i, -1, keepdims=False)
    return total


@functools.partial(jax.custom_jvp, nondiff_argnums=(1,))
def _small_sum(x: jax.Array, axes: tuple[int, ...]) -> jax.Array:
    return _unrolled_sum(x, axes)


@_small_sum.defjvp
def _small_sum_jvp(axes, primals, tangents):
    (x,), (t,) = primals, tangents
    return _small_sum(x, axes), jnp.sum(t, axis=axes)


def _eval(jaxpr: Any, consts: list, args: list, max_terms: int) -> list:
    env: dict = {}

    def read(v):
        return v.val if isinstance(v, _LITERAL) else env[v]

    env.update(zip(jaxpr.constvars, consts))
    env.update(zip(jaxpr.invars, args))
    for eqn in jaxpr.eqns:
        ins = [read(v) for v in eqn.invars]
        if eqn.primitive is _JIT:  # inline: the sums inside a nested jit (jnp functions) count too
            inner = eqn.params["jaxpr"]
            outs = _eval(inner.jaxpr, inner.consts, ins, max_terms)
        elif (
            eqn.primitive is _REDUCE_SUM
            and jnp.issubdtype(ins[0].dtype, jnp.floating)
            and 2 <= math.prod(ins[0].shape[a] for a in eqn.params["axes"]) <= max_terms
        ):
            outs = [_small_sum(ins[0], tuple(eqn.params["axes"]))]
        else:
            params = eqn.primitive.get_bind_params(eqn.params)
            subfuns, params = params if isinstance(params, tuple) else ((), params)
            out = eqn.primitive.bind(*subfuns, *ins, **params)
            outs = out if eqn.primitive.multiple_results else [out]
        for v, o in zip(eqn.outvars, outs):
            if not isinstance(v, _DROP):
                env[v] = o
    return [read(v) for v in jaxpr.outvars]


def unroll_small_sums(fn: Callable, max_terms: int = MAX_TERMS) -> Callable:
    """``fn`` with each float ``reduce_sum`` over 2..``max_terms`` numbers written as adds of slices.

    ``fn`` may be a callable pytree (a ``jax.tree_util.Partial`` holding data);
    its array leaves are traced as arguments. Where the rewrite cannot be made
    (jax without ``jax.extend``), ``fn`` runs unchanged.
    """
    if _jex is None:  # pragma: no cover
        return fn

    def unrolled(*args: Any) -> Any:
        arrays, static = partition((fn, args))

        def flat(*leaves):
            f, a = combine(list(leaves), static)
            return f(*a)

        closed, out_shape = jax.make_jaxpr(flat, return_shape=True)(*arrays)
        outs = _eval(closed.jaxpr, closed.consts, list(arrays), max_terms)
        return jax.tree.unflatten(jax.tree.structure(out_shape), outs)

    return unrolled
