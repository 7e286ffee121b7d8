"""Checks of concrete hyperparameters: one place for the error messages.

Traced values and schedules are passed through unchecked: they are only known
inside a trace, and a check there would force a host round-trip.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def hyperparameter_type(name: str, value: Any, *, sequences: bool = False) -> None:
    """Require a real number, a real array or a schedule (a callable); ``sequences``: lists and tuples too.

    Strings, booleans, complex numbers and None are refused with a ``TypeError`` that names the argument
    (``np.asarray`` would read ``'0.01'`` as 0.01, ``True`` as 1 and drop an imaginary part).
    """
    if callable(value) or isinstance(value, jax.core.Tracer):
        return
    what = None
    if value is None:
        what = "None"
    elif isinstance(value, (str, bytes)):
        what = f"the string {value!r}"
    elif isinstance(value, (bool, np.bool_)):
        what = f"the boolean {value!r}"
    elif isinstance(value, (list, tuple)):
        if not sequences:
            what = f"a {type(value).__name__} {list(value)!r} (pass an array for per-coordinate values)"
        else:
            for v in value:
                hyperparameter_type(name, v)
            return
    elif isinstance(value, complex) or np.iscomplexobj(value):
        what = f"the complex value {value!r}"
    elif not (isinstance(value, (int, float, np.ndarray, np.generic, jax.Array))):
        what = f"a {type(value).__name__}"
    else:
        dtype = np.asarray(value).dtype if not isinstance(value, jax.Array) else value.dtype
        if np.issubdtype(dtype, np.bool_):
            what = "a boolean array"
        elif not (np.issubdtype(dtype, np.integer) or jnp.issubdtype(dtype, jnp.floating)):
            what = f"an array of dtype {dtype}"
    if what is not None:
        raise TypeError(f"{name} must be a real number, an array of them or a schedule, got {what}")


def _values(value: Any, name: str = "value", *, sequences: bool = False) -> list[float]:
    hyperparameter_type(name, value, sequences=sequences)
    if callable(value) or isinstance(value, jax.core.Tracer):
        return []
    try:
        arr = np.asarray(value, dtype=float)
    except Exception:
        return []
    return [float(v) for v in arr.ravel()]


def positive(name: str, value: Any) -> None:
    """Require 0 < value < inf (learning rates, eps, scales)."""
    for v in _values(value, name):
        if not (math.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be positive and finite, got {name}={v!r}")


def nonnegative(name: str, value: Any) -> None:
    """Require 0 <= value < inf."""
    for v in _values(value, name):
        if not (math.isfinite(v) and v >= 0):
            raise ValueError(f"{name} must be non-negative and finite, got {name}={v!r}")


def decay(name: str, value: Any) -> None:
    """Require a decay rate in [0, 1)."""
    for v in _values(value, name):
        if not (0.0 <= v < 1.0):
            raise ValueError(f"{name} must lie in [0, 1), got {name}={v!r}")


def in_closed_interval(name: str, value: Any, low: float, high: float) -> None:
    """Require low <= value <= high."""
    for v in _values(value, name):
        if not (low <= v <= high):
            raise ValueError(f"{name} must lie in [{low}, {high}], got {name}={v!r}")


def finite(name: str, value: Any) -> None:
    """Require a finite value (or a list of them)."""
    for v in _values(value, name, sequences=True):
        if not math.isfinite(v):
            raise ValueError(f"{name} must be finite, got {name}={v!r}")


def positive_int(name: str, value: Any) -> None:
    """Require a Python int >= 1 (static sizes and counts)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {name}={value!r}")


def one_of(name: str, value: Any, options: tuple[Any, ...]) -> None:
    """Require value to be one of the options."""
    if value not in options:
        raise ValueError(f"{name} must be one of {options}, got {name}={value!r}")


def float_tree(name: str, tree: Any) -> None:
    """Require a non-empty pytree of finite real floating-point arrays (any JAX float: float16, bfloat16, ...).

    Traced leaves pass unchecked. Complex leaves are refused: jaxgd's transforms treat g * g as |g|^2 and
    ``jax.grad`` of a real loss of complex x returns the conjugate of the descent direction.
    """
    leaves = jax.tree.leaves(tree)
    if not leaves:
        raise ValueError(f"{name} is an empty pytree")
    for leaf in leaves:
        if isinstance(leaf, jax.core.Tracer):
            continue
        dtype = jnp.result_type(leaf)
        if jnp.issubdtype(dtype, jnp.complexfloating):
            raise TypeError(
                f"{name} has a complex leaf (dtype {dtype}): complex parameters are not supported; "
                "optimise the real and imaginary parts as two real arrays"
            )
        if not jnp.issubdtype(dtype, jnp.floating):
            raise TypeError(f"{name} must be floating point, got a leaf of dtype {dtype}")
        if not np.all(np.isfinite(np.asarray(leaf).astype(np.float64))):  # on the host: no op staged into a trace
            raise ValueError(f"{name} contains non-finite values (nan or inf)")


def scalar_output(fn: Any, params: Any, args: tuple = (), has_aux: bool = False, what: str = "loss") -> None:
    """Require ``fn(params, *args)`` to return a real scalar, or a pair (scalar, aux) with ``has_aux``."""
    scalar(jax.eval_shape(fn, params, *args), has_aux, what)


def scalar(out: Any, has_aux: bool = False, what: str = "loss") -> None:
    """Require ``out`` (the abstract output of a loss) to be a real scalar, or a pair (scalar, aux) with ``has_aux``."""
    if has_aux:
        if not (isinstance(out, tuple) and len(out) == 2):
            raise TypeError(f"with has_aux=True the {what} must return a pair (value, aux)")
        out = out[0]
    elif isinstance(out, tuple):
        raise TypeError(f"the {what} returned a tuple; pass has_aux=True if it returns (value, aux)")
    if not hasattr(out, "shape") or out.shape != ():
        shape = getattr(out, "shape", type(out).__name__)
        raise TypeError(f"the {what} must return a scalar, got shape {shape}")
    if not jnp.issubdtype(out.dtype, jnp.floating):
        raise TypeError(f"the {what} must return a real floating-point scalar, got dtype {out.dtype}")
