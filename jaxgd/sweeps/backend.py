"""The sweep's two speed choices that depend on the backend, made in one place: :func:`choices_for`.

Neither changes a summary beyond float rounding; each changes the compiled program.

* ``value_with_grad``: a step folds f(x_t), taken from the forward pass of its
  gradient, into the running minimum instead of evaluating f(x_{t+1}) anew. It saves
  a forward pass where the gradient shares the loss's work (a matrix product, a
  transcendental); for a cheap polynomial the separate evaluation, fused on its
  own, is faster. Which primitives count as cheap is the backend's :attr:`BackendChoices.cheap`.
* ``unroll_sums``: the loss's sums over at most 16 numbers are written as adds
  (:mod:`jaxgd.sweeps.small_sums`), because XLA:CPU runs a reduction as a slow loop of its own.
"""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["CHEAP", "BackendChoices", "choices_for", "gradient_shares_value"]

# Primitives a loss can be made of and still cost less to evaluate again, fused on its own, than to take from
# the gradient's forward pass (measured on XLA:CPU: the ravine, Rosenbrock); anything else (a matrix product,
# a transcendental, a division) makes the sweep take f(x_t) from value_and_grad.
CHEAP = frozenset(
    "abs add and broadcast_in_dim clamp concatenate convert_element_type copy eq ge gt integer_pow iota le lt max "
    "min mul ne neg not or pad reduce_sum reshape rev select_n sign slice square squeeze sub transpose".split()
)


@dataclasses.dataclass(frozen=True)
class BackendChoices:
    """The speed choices of a sweep on one backend.

    Attributes:
      unroll_sums: write the loss's small sums as adds (:func:`jaxgd.sweeps.small_sums.unroll_small_sums`).
      cheap: primitives a loss may be made of and still be evaluated anew after each step rather than
        taken from ``value_and_grad`` (see :func:`gradient_shares_value`).
    """

    unroll_sums: bool
    cheap: frozenset[str] = CHEAP

    def value_with_grad(self, loss_jaxpr: Any) -> bool:
        """Whether the sweep's loop takes f(x_t) from ``value_and_grad`` for this loss (its closed jaxpr)."""
        return gradient_shares_value(loss_jaxpr, self.cheap)


def choices_for(platform: str) -> BackendChoices:
    """The speed choices for devices of ``platform`` (``jax.Device.platform``: "cpu", "gpu", "tpu", ...).

    Args:
        platform: The devices' platform; only ``"cpu"`` writes small sums as adds.

    Returns:
        The choices (:class:`BackendChoices`).
    """
    if platform == "cpu":
        # XLA:CPU emits a reduction as a loop of its own that neither vectorises across the rows of a vmap nor
        # fuses with the elementwise work around it: 1/2 sum_i lambda_i x_i^2 of a 2-D problem cost ten times
        # its gradient. CHEAP was measured here.
        return BackendChoices(unroll_sums=True, cheap=CHEAP)
    # Other backends (GPU, TPU, or devices of mixed platforms): reductions are not CPU's slow loops, so sums stay
    # as they are. CHEAP was measured on XLA:CPU and is applied here too until measured on these backends.
    return BackendChoices(unroll_sums=False, cheap=CHEAP)


def gradient_shares_value(loss_jaxpr: Any, cheap: frozenset[str] = CHEAP) -> bool:
    """True unless the loss (its closed jaxpr) is made only of ``cheap`` primitives (nested jits looked into).

    Args:
        loss_jaxpr: The loss's closed jaxpr (``jax.make_jaxpr(loss)(x, ...)``).
        cheap: Names of the primitives cheaper to evaluate anew than to take from ``value_and_grad``.

    Returns:
        Whether the sweep should take f(x_t) from ``value_and_grad``.
    """

    def costly(jaxpr) -> bool:
        for eqn in jaxpr.eqns:
            inner = eqn.params.get("jaxpr") if eqn.primitive.name in ("jit", "pjit") else None
            if inner is not None:
                if costly(inner.jaxpr):
                    return True
            elif eqn.primitive.name not in cheap:
                return True
        return False

    return costly(loss_jaxpr.jaxpr)
