"""Mini-batch sampling as a pure state machine: ``state = init(key)``, ``idx, state = draw(state, t)``.

Three schemes (``Sampler.SCHEMES``):

* ``"with_replacement"``: every step draws B indices independently and uniformly;
* ``"without_replacement"``: every step draws B distinct indices, independently of other steps;
* ``"epochs"``: random reshuffling; each epoch is a fresh permutation of 0 .. n-1 cut into
  n // B batches (the last n mod B examples of the permutation are dropped), so with B | n
  every example is visited exactly once per epoch.

The draw at step t depends on (key, t) only: step t uses ``fold_in(key, t)``, an epoch e
the permutation of ``fold_in(key, e)``. The epoch's permutation is carried in the state
and redrawn at the first step of each epoch (a ``lax.cond`` on t alone, so it stays a
branch, not a select, when runs are ``vmap``-ped over keys).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxgd import _validate
from jaxgd.stochastic.finite_sum import check_batch_size, sample_indices

__all__ = ["Sampler"]


class Sampler:
    """Draws mini-batches of ``batch_size`` indices from 0 .. n-1 by ``scheme`` (see the module docstring).

    Args:
        n: The number of examples.
        batch_size: B.
        scheme: ``"with_replacement"``, ``"without_replacement"`` or ``"epochs"``.
    """

    SCHEMES = ("with_replacement", "without_replacement", "epochs")

    def __init__(self, n: int, batch_size: int, scheme: str = "with_replacement"):
        _validate.positive_int("n", n)
        check_batch_size(batch_size, n)
        _validate.one_of("sampling", scheme, self.SCHEMES)
        self.n, self.batch_size, self.scheme = int(n), int(batch_size), scheme

    @property
    def batches_per_epoch(self) -> int:
        """n // B."""
        return self.n // self.batch_size

    def init(self, key: jax.Array) -> Any:
        """The sampler's state: the key, and for ``"epochs"`` the current permutation."""
        if self.scheme == "epochs":
            return key, jnp.arange(self.n, dtype=jnp.int32)
        return key

    def draw(self, state: Any, t: jax.Array) -> tuple[jax.Array, Any]:
        """The indices of step ``t`` (shape (B,), int32) and the new state."""
        if self.scheme != "epochs":
            replace = self.scheme == "with_replacement"
            return sample_indices(jax.random.fold_in(state, t), self.n, self.batch_size, replace), state
        key, perm = state
        nb = self.batches_per_epoch
        pos = jnp.asarray(t, jnp.int32) % nb

        def reshuffle(_):
            return jax.random.permutation(jax.random.fold_in(key, t // nb), self.n).astype(jnp.int32)

        perm = jax.lax.cond(pos == 0, reshuffle, lambda _: perm, None)
        idx = jax.lax.dynamic_slice_in_dim(perm, pos * self.batch_size, self.batch_size)
        return idx, (key, perm)

    def __repr__(self) -> str:
        return f"Sampler(n={self.n}, batch_size={self.batch_size}, scheme={self.scheme!r})"
