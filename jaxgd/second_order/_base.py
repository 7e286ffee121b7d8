"""What the second-order directions share: int32 counters and the objective read from ``value_fn``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from jaxgd import linesearch as ls


def zero() -> jax.Array:
    """An int32 0 (a counter's start)."""
    return jnp.zeros([], jnp.int32)


def one() -> jax.Array:
    """An int32 1 (one evaluation)."""
    return jnp.ones([], jnp.int32)


def objective(value_fn: Callable | None, has_aux: bool, extra_args: dict[str, Any], who: str) -> Callable:
    """``x -> f(x)`` from the ``value_fn`` extra argument, aux dropped, given the ``extra_args`` it takes by name."""
    return ls.scalar_fn(value_fn, has_aux, ls.fn_kwargs(value_fn, extra_args), who)
