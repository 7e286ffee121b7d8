"""Finite sums f(x) = (1/n) sum_i f_i(x) over data held on the device, and their mini-batch losses.

A :class:`FiniteSum` is a callable pytree: its data, constants, start and known
minimiser are leaves, its loss function and name are static. Calling it gives the
exact full objective; :meth:`FiniteSum.batch_loss` the mean over chosen rows,
whose gradient is an unbiased estimate of grad f when the rows are drawn
uniformly; :meth:`FiniteSum.minibatch` a pure stochastic loss ``loss(params, key)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from jaxgd import _validate

__all__ = ["FiniteSum", "MiniBatch", "sample_indices"]


def _rows(data: Any) -> int:
    sizes = {jnp.shape(a)[0] if jnp.ndim(a) else None for a in jax.tree.leaves(data)}
    if not sizes:
        raise ValueError("a finite sum needs data: got an empty pytree")
    if None in sizes or len(sizes) != 1:
        raise ValueError(f"every leaf of data needs the same leading axis (one row per example), got {sizes}")
    (n,) = sizes
    if n < 1:
        raise ValueError("a finite sum needs at least one example, got n=0")
    return n


def check_batch_size(batch_size: Any, n: int) -> None:
    """Require 1 <= batch_size <= n (an int), naming the argument."""
    _validate.positive_int("batch_size", batch_size)
    if batch_size > n:
        raise ValueError(f"batch_size={batch_size} exceeds the n={n} examples of the finite sum")


def sample_indices(key: jax.Array, n: int, batch_size: int, replace: bool = True) -> jax.Array:
    """``batch_size`` example indices drawn uniformly from 0 .. n-1 (int32).

    ``replace=True``: independent draws (an example may repeat); ``replace=False``:
    distinct examples (a uniformly random subset). Either way each index is
    uniform, so the mean of the rows' gradients is an unbiased estimate of grad f.

    Args:
        key: The PRNG key of the draw.
        n: The number of examples.
        batch_size: B.
        replace: Whether to draw with replacement.

    Returns:
        The (B,) int32 indices.
    """
    check_batch_size(batch_size, n)
    if replace:
        return jax.random.randint(key, (batch_size,), 0, n, dtype=jnp.int32)
    return jax.random.choice(key, n, (batch_size,), replace=False).astype(jnp.int32)


class FiniteSum:
    """f(x) = (1/n) sum_i f_i(x), the f_i given by rows of ``data``.

    Attributes:
      fn: ``fn(params, batch, **consts)``, the mean of f_i over the rows of ``batch`` (a pytree like
        ``data``); with ``takes_key`` it is ``fn(params, batch, key, **consts)``, and ``key=None``
        asks for the deterministic objective (dropout off).
      data: pytree whose leaves have a leading axis n, one row per example (kept on the device).
      consts: dict of arrays ``fn`` reads (a regularisation strength); leaves, not batched.
      x0: default start.
      minimizer: x* where known (else None).
      minimum: f* where known (else None).
      constants: dict of known constants (``beta`` smoothness, ``mu`` strong convexity,
        ``beta_max`` the largest per-example smoothness), leaves.
      name: a label (static).
      takes_key: whether ``fn`` takes a PRNG key (static).
    """

    def __init__(
        self,
        fn: Callable[..., jax.Array],
        data: Any,
        *,
        x0: Any,
        consts: dict[str, Any] | None = None,
        minimizer: Any = None,
        minimum: jax.typing.ArrayLike | None = None,
        constants: dict[str, Any] | None = None,
        name: str = "finite_sum",
        takes_key: bool = False,
    ):
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {type(fn).__name__}")
        _rows(data)
        self.fn = fn
        self.data = data
        self.consts = {} if consts is None else dict(consts)
        self.x0 = x0
        self.minimizer = minimizer
        self.minimum = minimum
        self.constants = {} if constants is None else dict(constants)
        self.name = name
        self.takes_key = bool(takes_key)

    _static = ("fn", "name", "takes_key")
    _dynamic = ("data", "consts", "x0", "minimizer", "minimum", "constants")

    @property
    def n(self) -> int:
        """The number of examples."""
        return _rows(self.data)

    @property
    def full(self) -> FiniteSum:
        """The exact objective: the finite sum itself (the protocol of stochastic losses)."""
        return self

    def _call(self, params: Any, batch: Any, key: Any) -> jax.Array:
        if self.takes_key:
            return self.fn(params, batch, key, **self.consts)
        return self.fn(params, batch, **self.consts)

    def __call__(self, params: Any) -> jax.Array:
        """The full objective f(x) = (1/n) sum_i f_i(x) (deterministic: no dropout)."""
        return self._call(params, self.data, None)

    def full_loss(self, params: Any, key: jax.Array | None = None) -> jax.Array:
        """The mean over every example, with the model's randomness drawn from ``key`` (the full batch of training)."""
        return self._call(params, self.data, key)

    def batch(self, idx: jax.Array) -> Any:
        """The rows ``idx`` of the data (gathered on the device)."""
        return jax.tree.map(lambda a: a[idx], self.data)

    def batch_loss(self, params: Any, idx: jax.Array, key: jax.Array | None = None) -> jax.Array:
        """(1/B) sum_{i in idx} f_i(x); ``key`` draws the model's own randomness (dropout) when it takes one."""
        return self._call(params, self.batch(idx), key)

    def example_grads(self, params: Any, idx: jax.Array | None = None, key: jax.Array | None = None) -> Any:
        """Per-example gradients grad f_i(x) for i in ``idx`` (all n by default): leaves with a leading axis.

        With a keyed loss and a ``key``, each example gets its own key (its own dropout mask).
        """
        idx = jnp.arange(self.n, dtype=jnp.int32) if idx is None else idx
        keys = None if key is None else jax.random.split(key, jnp.shape(idx)[0])

        def one(i, k):
            return jax.grad(self.batch_loss)(params, i[None], k)

        return jax.vmap(one)(idx, keys)

    def minibatch(self, batch_size: int, *, replace: bool = True) -> MiniBatch:
        """The pure stochastic loss ``loss(params, key)``: the mean over ``batch_size`` rows drawn from ``key``."""
        return MiniBatch(self, batch_size, replace=replace)

    def __repr__(self) -> str:
        return f"FiniteSum({self.name!r}, n={self.n})"


def _fs_flatten(p: FiniteSum):
    return tuple(getattr(p, f) for f in FiniteSum._dynamic), tuple(getattr(p, f) for f in FiniteSum._static)


def _fs_unflatten(aux, children) -> FiniteSum:
    p = object.__new__(FiniteSum)
    for f, v in zip(FiniteSum._static, aux):
        setattr(p, f, v)
    for f, v in zip(FiniteSum._dynamic, children):
        setattr(p, f, v)
    return p


jax.tree_util.register_pytree_node(FiniteSum, _fs_flatten, _fs_unflatten)


class MiniBatch:
    """The stochastic loss ``loss(params, key) = (1/B) sum_{i in I} f_i(x)``, I drawn from ``key``.

    A pure function of (params, key) whose data are pytree leaves: ``jaxgd.run(..., key=)``,
    ``vmap`` over keys and sweeps take it as it is. ``key`` is split into the draw of I
    (:func:`sample_indices`) and the model's own key (dropout), if it takes one.
    E[grad loss(x, key)] = grad f(x). ``full`` is the exact objective, ``minimum`` its f*.

    Args:
        problem: The :class:`FiniteSum`.
        batch_size: B.
        replace: Whether the B indices are drawn with replacement.
    """

    __jaxgd_needs_key__ = True

    def __init__(self, problem: FiniteSum, batch_size: int, *, replace: bool = True):
        if not isinstance(problem, FiniteSum):
            raise TypeError(f"problem must be a jaxgd.stochastic.FiniteSum, got {type(problem).__name__}")
        check_batch_size(batch_size, problem.n)
        self.problem = problem
        self.batch_size = int(batch_size)
        self.replace = bool(replace)

    @property
    def full(self) -> FiniteSum:
        return self.problem

    @property
    def minimum(self) -> Any:
        return self.problem.minimum

    @property
    def examples_per_call(self) -> int:
        """Per-example gradients one call costs (B)."""
        return self.batch_size

    def __call__(self, params: Any, key: jax.Array) -> jax.Array:
        k_idx, k_model = jax.random.split(key)
        idx = sample_indices(k_idx, self.problem.n, self.batch_size, self.replace)
        return self.problem.batch_loss(params, idx, k_model if self.problem.takes_key else None)

    def __repr__(self) -> str:
        return f"MiniBatch({self.problem!r}, batch_size={self.batch_size}, replace={self.replace})"


jax.tree_util.register_pytree_node(
    MiniBatch,
    lambda m: ((m.problem,), (m.batch_size, m.replace)),
    lambda aux, ch: _minibatch_unflatten(ch[0], *aux),
)


def _minibatch_unflatten(problem: Any, batch_size: int, replace: bool) -> MiniBatch:
    m = object.__new__(MiniBatch)
    m.problem, m.batch_size, m.replace = problem, batch_size, replace
    return m
