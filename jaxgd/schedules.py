"""Learning-rate schedules: pure, jittable functions of the step count t.

Each constructor returns a :class:`jaxgd.Schedule`, a callable pytree whose
leaves are its own parameters, so they may be traced and swept (optax's
schedules fail with a traced ``decay_rate`` or ``transition_steps``). Concrete
parameters are checked at construction. Counts start at t = 0.

Names shared with optax (:func:`exponential_decay`, :func:`constant_schedule`,
:func:`linear_schedule`, :func:`polynomial_schedule`, :func:`cosine_decay_schedule`,
:func:`warmup_cosine_decay_schedule`) take optax's signature, defaults and meaning
(``tests/test_schedules.py`` compares them); jaxgd extends them to traced
parameters. The course's forms have their own names: :func:`natural_exp_decay`
(e^(-kt)), :func:`decade_decay` (10^(-t/r)), :func:`inverse_time_decay` (1/t),
:func:`power_decay`, :func:`step_decay`, :func:`linear_to_floor`.

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
    "constant_schedule",
    "cosine_decay_schedule",
    "cyclical",
    "decade_decay",
    "exponential_decay",
    "exponential_range",
    "inverse_sqrt_step",
    "inverse_time_decay",
    "linear_schedule",
    "linear_to_floor",
    "natural_exp_decay",
    "one_cycle",
    "piecewise_constant",
    "polynomial_schedule",
    "power_decay",
    "reduce_on_plateau",
    "smooth_convex_step",
    "step_decay",
    "strongly_convex_step",
    "warmup_cosine_decay_schedule",
]

ArrayLike = jax.typing.ArrayLike


def _t(count: ArrayLike) -> jax.Array:
    return jnp.asarray(count).astype(jnp.result_type(float))


def _check_constant(value):
    _validate.finite("value", value)


@schedule(validate=_check_constant)
def constant(count: ArrayLike, value: ArrayLike) -> jax.Array:
    """A constant: eta_t = value.

    Args:
        value: The value at every step.

    Returns:
        A schedule (:class:`jaxgd.Schedule`): called with the step count t, it returns eta_t.
    """
    return jnp.broadcast_to(jnp.asarray(value, jnp.result_type(value, float)), jnp.shape(count))


@schedule(validate=_check_constant)
def constant_schedule(count: ArrayLike, value: ArrayLike) -> jax.Array:
    """optax's ``constant_schedule``: eta_t = value (the same as :func:`constant`).

    Args:
        value: The value at every step.

    Returns:
        A schedule (:class:`jaxgd.Schedule`): called with the step count t, it returns eta_t.
    """
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
    """Piecewise constant: eta_t = values[i] for boundaries[i-1] <= t < boundaries[i].

    optax's ``piecewise_constant_schedule(init_value, boundaries_and_scales)`` multiplies
    scales; here the values themselves are given.

    Args:
        boundaries: The steps where the value changes, strictly increasing.
        values: One more value than boundaries: values[0] before the first boundary.

    Returns:
        A schedule (:class:`jaxgd.Schedule`): called with the step count t, it returns eta_t.

    Raises:
        ValueError: If the lengths do not match or the boundaries do not increase.
    """
    b = jnp.asarray(boundaries)
    v = jnp.asarray(values, jnp.result_type(float))
    return v[jnp.searchsorted(b, jnp.asarray(count), side="right")]


def _check_step(init_value, factor, every):
    _validate.positive("init_value", init_value)
    _validate.in_closed_interval("factor", factor, 0.0, 1.0)
    _validate.positive("every", every)


@schedule(validate=_check_step)
def step_decay(count: ArrayLike, init_value: ArrayLike, factor: ArrayLike, every: ArrayLike) -> jax.Array:
    """Step decay: eta <- factor eta every ``every`` steps, eta_t = eta0 factor^floor(t / every).

    Args:
        init_value: eta0 > 0.
        factor: The multiplier in [0, 1] applied at each drop.
        every: The number of steps between drops, > 0.

    Returns:
        A schedule (:class:`jaxgd.Schedule`): called with the step count t, it returns eta_t.
    """
    return init_value * factor ** jnp.floor(_t(count) / every)


def _check_exponential(init_value, transition_steps, decay_rate, transition_begin, staircase, end_value):
    _validate.finite("init_value", init_value)
    _validate.positive("transition_steps", transition_steps)
    _validate.positive("decay_rate", decay_rate)
    _validate.nonnegative("transition_begin", transition_begin)
    _validate.one_of("staircase", staircase, (False, True))
    if end_value is not None:
        _validate.finite("end_value", end_value)


@schedule(static_argnames=("staircase",), validate=_check_exponential)
def exponential_decay(
    count: ArrayLike,
    init_value: ArrayLike,
    transition_steps: ArrayLike,
    decay_rate: ArrayLike,
    transition_begin: ArrayLike = 0,
    staircase: bool = False,
    end_value: ArrayLike | None = None,
) -> jax.Array:
    """optax's ``exponential_decay``, with the same signature, defaults and meaning::

        eta_t = init_value                                          for t <= transition_begin
        eta_t = init_value decay_rate^((t - transition_begin) / transition_steps)   after

    The exponent is floored with ``staircase=True``; ``end_value`` bounds the decay (a floor
    when decay_rate < 1, a ceiling otherwise). Concrete arguments outside optax's documented
    domain (transition_steps <= 0, decay_rate <= 0, transition_begin < 0) raise; traced ones
    behave as optax's (a constant init_value; transition_begin clipped at 0). The course's
    e^(-kt) is :func:`natural_exp_decay` (= ``exponential_decay(eta0, 1, e^(-k))``).

    Args:
        init_value: The value up to ``transition_begin``.
        transition_steps: The number of steps over which the value is multiplied by decay_rate, > 0.
        decay_rate: The factor per ``transition_steps`` steps, > 0.
        transition_begin: The step where the decay starts, >= 0.
        staircase: Whether to decay in discrete jumps, every ``transition_steps`` steps.
        end_value: An optional bound where the decay stops.

    Returns:
        A schedule (:class:`jaxgd.Schedule`): called with the step count t, it returns eta_t.
    """
    dtype = jnp.result_type(float)
    steps = jnp.asarray(transition_steps, dtype)
    elapsed = _t(count) - jnp.maximum(jnp.asarray(transition_begin, dtype), 0.0)
    p = elapsed / jnp.where(steps > 0, steps, 1.0)
    if staircase:
        p = jnp.floor(p)
    value = jnp.where(elapsed <= 0, init_value, init_value * jnp.power(decay_rate, p))
    if end_value is not None:
        value = jnp.where(decay_rate < 1.0, jnp.maximum(value, end_value), jnp.minimum(value, end_value))
    return jnp.where((steps <= 0) | (jnp.asarray(decay_rate) == 0), init_value, value)


def _polynomial(t, init_value, end_value, power, transition_steps, transition_begin):
    """optax's polynomial transition at float step t (constant init_value when transition_steps <= 0)."""
    steps = jnp.asarray(transition_steps, t.dtype)
    safe = jnp.where(steps > 0, steps, 1.0)
    done = jnp.clip(t - jnp.maximum(jnp.asarray(transition_begin, t.dtype), 0.0), 0.0, safe)
    value = (init_value - end_value) * ((safe - done) / safe) ** power + end_value  # exactly 0 at the end
    return jnp.where(steps > 0, value, init_value)


def _check_polynomial(init_value, end_value, power, transition_steps, transition_begin):
    for name, v in (("init_value", init_value), ("end_value", end_value), ("power", power)):
        _validate.finite(name, v)
    _validate.finite("transition_steps", transition_steps)
    _validate.nonnegative("transition_begin", transition_begin)


@schedule(validate=_check_polynomial)
def polynomial_schedule(
    count: ArrayLike,
    init_value: ArrayLike,
    end_value: ArrayLike,
    power: ArrayLike,
    transition_steps: ArrayLike,
    transition_begin: ArrayLike = 0,
) -> jax.Array:
    """optax's ``polynomial_schedule``, with the same signature, defaults and meaning::

        eta_t = (I - E) (1 - s / T)^P + E,   s = clip(t - B, 0, T)

    with I = init_value, E = end_value, P = power, T = transition_steps, B = transition_begin;
    constant I when T <= 0 (as optax).

    Args:
        init_value: The value up to ``transition_begin``.
        end_value: The value from ``transition_begin + transition_steps`` on.
        power: The power of the polynomial.
        transition_steps: The length of the transition (<= 0: constant init_value).
        transition_begin: The step where the transition starts, >= 0.

    Returns:
        A schedule (:class:`jaxgd.Schedule`): called with the step count t, it returns eta_t.
    """
    return _polynomial(_t(count), init_value, end_value, power, transition_steps, transition_begin)


def _check_linear(init_value, end_value, transition_steps, transition_begin):
    _check_polynomial(init_value, end_value, 1.0, transition_steps, transition_begin)


@schedule(validate=_check_linear)
def linear_schedule(
    count: ArrayLike,
    init_value: ArrayLike,
    end_value: ArrayLike,
    transition_steps: ArrayLike,
    transition_begin: ArrayLike = 0,
) -> jax.Array:
    """optax's ``linear_schedule``: :func:`polynomial_schedule` with power 1.

    Args:
        init_value: The value up to ``transition_begin``.
        end_value: The value from ``transition_begin + transition_steps`` on.
        transition_steps: The length of the transition (<= 0: constant init_value).
        transition_begin: The step where the transition starts, >= 0.

    Returns:
        A schedule (:class:`jaxgd.Schedule`): called with the step count t, it returns eta_t.
    """
    return _polynomial(_t(count), init_value, end_value, 1.0, transition_steps, transition_begin)


def _cosine(t, init_value, decay_steps, alpha, exponent):
    steps = jnp.asarray(decay_steps, t.dtype)
    decay = 0.5 * (1.0 + jnp.cos(jnp.pi * jnp.minimum(t, steps) / steps))
    return init_value * ((1.0 - alpha) * decay**exponent + alpha)


def _check_cosine(init_value, decay_steps, alpha, exponent):
    _validate.finite("init_value", init_value)
    _validate.positive("decay_steps", decay_steps)
    _validate.finite("alpha", alpha)
    _validate.finite("exponent", exponent)


@schedule(validate=_check_cosine)
def cosine_decay_schedule(
    count: ArrayLike,
    init_value: ArrayLike,
    decay_steps: ArrayLike,
    alpha: ArrayLike = 0.0,
    exponent: ArrayLike = 1.0,
) -> jax.Array:
    """optax's ``cosine_decay_schedule`` (Loshchilov & Hutter 2017, SGDR, without restarts)::

        eta_t = I ((1 - alpha) (1/2 (1 + cos(pi min(t, T) / T)))^exponent + alpha)

    Args:
        init_value: I, the value at t = 0.
        decay_steps: T > 0, the length of the decay.
        alpha: The final value as a fraction of I.
        exponent: The power of the cosine factor.

    Returns:
        A schedule (:class:`jaxgd.Schedule`): called with the step count t, it returns eta_t.
    """
    return _cosine(_t(count), init_value, decay_steps, alpha, exponent)


def _check_warmup_cosine(init_value, peak_value, warmup_steps, decay_steps, end_value, exponent):
    for name, v in (("init_value", init_value), ("peak_value", peak_value), ("end_value", end_value)):
        _validate.finite(name, v)
    _validate.finite("exponent", exponent)
    _validate.nonnegative("warmup_steps", warmup_steps)
    _validate.positive("decay_steps", decay_steps)
    w, d = _validate._values(warmup_steps), _validate._values(decay_steps)
    if w and d and not all(dv > wv for wv in w for dv in d):
        raise ValueError(
            f"decay_steps must exceed warmup_steps, got decay_steps={decay_steps!r}, warmup_steps={warmup_steps!r}"
        )


@schedule(validate=_check_warmup_cosine)
def warmup_cosine_decay_schedule(
    count: ArrayLike,
    init_value: ArrayLike,
    peak_value: ArrayLike,
    warmup_steps: ArrayLike,
    decay_steps: ArrayLike,
    end_value: ArrayLike = 0.0,
    exponent: ArrayLike = 1.0,
) -> jax.Array:
    """optax's ``warmup_cosine_decay_schedule``: a linear warmup, then a cosine decay.

    From init_value to peak_value linearly over ``warmup_steps`` steps, then
    :func:`cosine_decay_schedule` from peak_value to end_value over the remaining
    ``decay_steps - warmup_steps`` steps (``decay_steps`` includes the warmup).

    Args:
        init_value: The value at t = 0.
        peak_value: The value at the end of the warmup.
        warmup_steps: The length of the warmup, >= 0.
        decay_steps: The length of the whole schedule, > warmup_steps.
        end_value: The value from ``decay_steps`` on.
        exponent: The power of the cosine factor.

    Returns:
        A schedule (:class:`jaxgd.Schedule`): called with the step count t, it returns eta_t.
    """
    t = _t(count)
    peak_is_zero = jnp.asarray(peak_value) == 0
    alpha = jnp.where(peak_is_zero, 0.0, end_value / jnp.where(peak_is_zero, 1.0, peak_value))
    warmup = _polynomial(t, init_value, peak_value, 1.0, warmup_steps, 0.0)
    decay = _cosine(t - warmup_steps, peak_value, decay_steps - warmup_steps, alpha, exponent)
    return jnp.where(t < warmup_steps, warmup, decay)


def _check_natural(init_value, rate):
    _validate.positive("init_value", init_value)
    _validate.nonnegative("rate", rate)


@schedule(validate=_check_natural)
def natural_exp_decay(count: ArrayLike, init_value: ArrayLike, rate: ArrayLike) -> jax.Array:
    """The course's exponential decay with base e: eta_t = eta0 exp(-k t), k = ``rate``.

    optax's :func:`exponential_decay` is ``eta0 decay_rate^(t / transition_steps)``:
    this schedule is ``exponential_decay(eta0, 1, exp(-k))``.

    Args:
        init_value: eta0 > 0.
        rate: k >= 0, the decay per step (eta falls by e every 1/k steps).

    Returns:
        A schedule (:class:`jaxgd.Schedule`): called with the step count t, it returns eta_t.
    """
    return init_value * jnp.exp(-rate * _t(count))


def _check_decade(init_value, steps_per_decade):
    _validate.positive("init_value", init_value)
    _validate.positive("steps_per_decade", steps_per_decade)


@schedule(validate=_check_decade)
def decade_decay(count: ArrayLike, init_value: ArrayLike, steps_per_decade: ArrayLike) -> jax.Array:
    """Exponential decay with base 10: eta_t = eta0 10^(-t / r), tenfold every r steps.

    Geron's "exponential scheduling" (Hands-On Machine Learning, ch. 11);
    ``exponential_decay(eta0, r, 0.1)`` in optax's terms.

    Args:
        init_value: eta0 > 0.
        steps_per_decade: r > 0.

    Returns:
        A schedule (:class:`jaxgd.Schedule`): called with the step count t, it returns eta_t.
    """
    return init_value * 10.0 ** (-_t(count) / steps_per_decade)


@schedule(validate=_check_natural)
def inverse_time_decay(count: ArrayLike, init_value: ArrayLike, rate: ArrayLike) -> jax.Array:
    """1/t decay: eta_t = eta0 / (1 + k t).

    Keras's ``InverseTimeDecay(eta0, decay_steps, decay_rate)`` is this schedule with
    k = decay_rate / decay_steps (optax has no such schedule).

    Args:
        init_value: eta0 > 0.
        rate: k >= 0.

    Returns:
        A schedule (:class:`jaxgd.Schedule`): called with the step count t, it returns eta_t.
    """
    return init_value / (1.0 + rate * _t(count))


def _check_power(init_value, steps, power):
    _validate.positive("init_value", init_value)
    _validate.positive("steps", steps)
    _validate.nonnegative("power", power)


@schedule(validate=_check_power)
def power_decay(count: ArrayLike, init_value: ArrayLike, steps: ArrayLike, power: ArrayLike = 1.0) -> jax.Array:
    """Power scheduling (Geron, ch. 11): eta_t = eta0 (1 + t / r)^(-c).

    Args:
        init_value: eta0 > 0.
        steps: r > 0.
        power: c >= 0 (c = 1 is 1/t decay).

    Returns:
        A schedule (:class:`jaxgd.Schedule`): called with the step count t, it returns eta_t.
    """
    return init_value * (1.0 + _t(count) / steps) ** (-power)


def _check_floor(init_value, floor, decay_steps):
    _validate.positive("init_value", init_value)
    _validate.nonnegative("floor", floor)
    _validate.positive("decay_steps", decay_steps)


@schedule(validate=_check_floor)
def linear_to_floor(count: ArrayLike, init_value: ArrayLike, floor: ArrayLike, decay_steps: ArrayLike) -> jax.Array:
    """Linear decay to a floor (Goodfellow et al. 2016, eq. 8.14)::

        eta_t = (1 - a) eta0 + a eta_tau,  a = t / tau   for t <= tau;   eta_tau after.

    ``linear_schedule(eta0, eta_tau, tau)`` in optax's terms.

    Args:
        init_value: eta0 > 0.
        floor: eta_tau >= 0.
        decay_steps: tau > 0.

    Returns:
        A schedule (:class:`jaxgd.Schedule`): called with the step count t, it returns eta_t.
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

    Args:
        base_value: The lowest value, > 0.
        max_value: The highest value, > 0.
        step_size: s > 0, half a cycle in steps.
        mode: ``"triangular"``, ``"triangular2"`` or ``"exp_range"``.
        gamma: The per-step factor of ``exp_range``, in [0, 1].

    Returns:
        A schedule (:class:`jaxgd.Schedule`): called with the step count t, it returns eta_t.
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
    to base / final_div_factor at ``total_steps``; constant after. (optax's
    ``linear_onecycle_schedule`` has other phases and defaults.)

    Args:
        max_value: The peak value, > 0.
        total_steps: The length of the schedule, > 0.
        div_factor: base = max_value / div_factor.
        final_div_factor: The final value is base / final_div_factor.
        cycle_fraction: The fraction of the steps in the triangular cycle, in [0, 1].

    Returns:
        A schedule (:class:`jaxgd.Schedule`): called with the step count t, it returns eta_t.
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
