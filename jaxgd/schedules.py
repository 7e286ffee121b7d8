"""Learning-rate schedules: pure, jittable functions of the step count t.

Each constructor returns a :class:`jaxgd.Schedule`, a callable pytree whose
leaves are its own parameters, so they may be traced and swept (optax's
``exponential_decay`` fails with a traced rate). Concrete parameters are
checked at construction. Counts start at t = 0.

:func:`reduce_on_plateau`, a transform that reads the loss, lives in
:mod:`jaxgd.transforms` and is importable from here too.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxgd import _validate
from jaxgd._recipe import Schedule, schedule
from jaxgd.stochastic.schedules import (  # the step sizes of SGD's theory
    exponential_range,
    inverse_sqrt_step,
    smooth_convex_step,
    strongly_convex_step,
)
from jaxgd.transforms import ReduceOnPlateauState, reduce_on_plateau  # a transform; importable here as before

__all__ = [
    "ReduceOnPlateauState",
    "Schedule",
    "constant",
    "cyclical",
    "decade_decay",
    "exponential_decay",
    "exponential_range",
    "inverse_sqrt_step",
    "inverse_time_decay",
    "linear_to_floor",
    "one_cycle",
    "piecewise_constant",
    "power_decay",
    "reduce_on_plateau",
    "smooth_convex_step",
    "step_decay",
    "strongly_convex_step",
]

ArrayLike = jax.typing.ArrayLike


def _t(count: ArrayLike) -> jax.Array:
    return jnp.asarray(count).astype(jnp.result_type(float))


def _check_constant(value):
    _validate.finite("value", value)


@schedule(validate=_check_constant)
def constant(count: ArrayLike, value: ArrayLike) -> jax.Array:
    """eta_t = value."""
    return jnp.broadcast_to(jnp.asarray(value, jnp.result_type(value, float)), jnp.shape(count))


def _check_piecewise(boundaries, values):
    b = None if isinstance(boundaries, jax.core.Tracer) else np.asarray(boundaries).ravel().tolist()
    v, nb = np.shape(values), np.shape(boundaries)
    if len(v) != 1 or len(nb) != 1 or v[0] != nb[0] + 1:
        raise ValueError(
            f"piecewise_constant needs len(values) == len(boundaries) + 1, got values of shape {v} "
            f"and boundaries of shape {nb}"
        )
    if b is not None and any(b[i] >= b[i + 1] for i in range(len(b) - 1)):
        raise ValueError(f"boundaries must be strictly increasing, got boundaries={boundaries!r}")
    _validate.finite("values", values)


@schedule(validate=_check_piecewise)
def piecewise_constant(
    count: ArrayLike, boundaries: Sequence[int] | ArrayLike, values: Sequence[float] | ArrayLike
) -> jax.Array:
    """eta_t = values[i] for boundaries[i-1] <= t < boundaries[i] (values[0] before the first)."""
    b = jnp.asarray(boundaries)
    v = jnp.asarray(values, jnp.result_type(float))
    return v[jnp.searchsorted(b, jnp.asarray(count), side="right")]


def _check_step(init_value, factor, every):
    _validate.positive("init_value", init_value)
    _validate.in_closed_interval("factor", factor, 0.0, 1.0)
    _validate.positive("every", every)


@schedule(validate=_check_step)
def step_decay(count: ArrayLike, init_value: ArrayLike, factor: ArrayLike, every: ArrayLike) -> jax.Array:
    """Step decay: eta <- factor * eta every ``every`` steps, eta_t = eta0 factor^floor(t / every)."""
    return init_value * factor ** jnp.floor(_t(count) / every)


def _check_exp(init_value, rate):
    _validate.positive("init_value", init_value)
    _validate.nonnegative("rate", rate)


@schedule(validate=_check_exp)
def exponential_decay(count: ArrayLike, init_value: ArrayLike, rate: ArrayLike) -> jax.Array:
    """eta_t = eta0 exp(-k t), k = ``rate``."""
    return init_value * jnp.exp(-rate * _t(count))


def _check_decade(init_value, steps_per_decade):
    _validate.positive("init_value", init_value)
    _validate.positive("steps_per_decade", steps_per_decade)


@schedule(validate=_check_decade)
def decade_decay(count: ArrayLike, init_value: ArrayLike, steps_per_decade: ArrayLike) -> jax.Array:
    """eta_t = eta0 10^(-t / r): a tenfold drop every r steps (Geron's "exponential scheduling")."""
    return init_value * 10.0 ** (-_t(count) / steps_per_decade)


@schedule(validate=_check_exp)
def inverse_time_decay(count: ArrayLike, init_value: ArrayLike, rate: ArrayLike) -> jax.Array:
    """1/t decay: eta_t = eta0 / (1 + k t)."""
    return init_value / (1.0 + rate * _t(count))


def _check_power(init_value, steps, power):
    _validate.positive("init_value", init_value)
    _validate.positive("steps", steps)
    _validate.nonnegative("power", power)


@schedule(validate=_check_power)
def power_decay(count: ArrayLike, init_value: ArrayLike, steps: ArrayLike, power: ArrayLike = 1.0) -> jax.Array:
    """Power scheduling: eta_t = eta0 (1 + t / r)^(-c), r = ``steps``, c = ``power``."""
    return init_value * (1.0 + _t(count) / steps) ** (-power)


def _check_floor(init_value, floor, decay_steps):
    _validate.positive("init_value", init_value)
    _validate.nonnegative("floor", floor)
    _validate.positive("decay_steps", decay_steps)


@schedule(validate=_check_floor)
def linear_to_floor(count: ArrayLike, init_value: ArrayLike, floor: ArrayLike, decay_steps: ArrayLike) -> jax.Array:
    """Linear decay to a floor (Goodfellow et al. 2016, eq. 8.14)::

    eta_t = (1 - a) eta0 + a eta_tau,  a = t / tau   for t <= tau;   eta_tau after.
    """
    a = jnp.clip(_t(count) / decay_steps, 0.0, 1.0)
    return (1 - a) * init_value + a * floor


def _check_cyclical(base_value, max_value, step_size, mode, gamma):
    _validate.positive("base_value", base_value)
    _validate.positive("max_value", max_value)
    _validate.positive("step_size", step_size)
    _validate.one_of("mode", mode, ("triangular", "triangular2", "exp_range"))
    _validate.in_closed_interval("gamma", gamma, 0.0, 1.0)


@schedule(static_argnames=("mode",), validate=_check_cyclical)
def cyclical(
    count: ArrayLike,
    base_value: ArrayLike,
    max_value: ArrayLike,
    step_size: ArrayLike,
    mode: str = "triangular",
    gamma: ArrayLike = 1.0,
) -> jax.Array:
    """Cyclical learning rates (Smith 2017, "Cyclical learning rates for training neural networks")::

        cycle = floor(1 + t / (2 s)),  x = |t / s - 2 cycle + 1|
        eta_t = base + (max - base) max(0, 1 - x) scale

    with scale = 1 (``triangular``), 1 / 2^(cycle - 1) (``triangular2``) or
    gamma^t (``exp_range``). s = ``step_size`` is half a cycle.
    """
    t = _t(count)
    cycle = jnp.floor(1 + t / (2 * step_size))
    x = jnp.abs(t / step_size - 2 * cycle + 1)
    if mode == "triangular":
        scale = 1.0
    elif mode == "triangular2":
        scale = 1.0 / 2.0 ** (cycle - 1)
    else:
        scale = gamma**t
    return base_value + (max_value - base_value) * jnp.maximum(0.0, 1 - x) * scale


def _check_one_cycle(max_value, total_steps, div_factor, final_div_factor, cycle_fraction):
    _validate.positive("max_value", max_value)
    _validate.positive("total_steps", total_steps)
    for name, v in (("div_factor", div_factor), ("final_div_factor", final_div_factor)):
        _validate.positive(name, v)
    _validate.in_closed_interval("cycle_fraction", cycle_fraction, 0.0, 1.0)


@schedule(validate=_check_one_cycle)
def one_cycle(
    count: ArrayLike,
    max_value: ArrayLike,
    total_steps: ArrayLike,
    div_factor: ArrayLike = 10.0,
    final_div_factor: ArrayLike = 100.0,
    cycle_fraction: ArrayLike = 0.9,
) -> jax.Array:
    """1cycle (Smith 2018, "A disciplined approach to neural network hyper-parameters", sec. 4.1).

    One triangular cycle over ``cycle_fraction`` of the steps, from
    base = max / div_factor up to max and back, then a linear annihilation
    to base / final_div_factor at ``total_steps``; constant after.
    """
    t = _t(count)
    base = max_value / div_factor
    half = cycle_fraction * total_steps / 2
    up = base + (max_value - base) * t / half
    down = max_value - (max_value - base) * (t - half) / half
    tail_len = jnp.maximum(total_steps - 2 * half, 1.0)
    final = base / final_div_factor
    tail = base + (final - base) * jnp.clip((t - 2 * half) / tail_len, 0.0, 1.0)
    return jnp.where(t < half, up, jnp.where(t < 2 * half, down, tail))
