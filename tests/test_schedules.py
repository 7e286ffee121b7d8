"""Schedules equal their closed forms, are jittable, and take traced parameters."""

import inspect
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxgd
from jaxgd import schedules as S

T = np.array([0, 1, 5, 10, 99, 100, 101, 250, 1000])


def close(sched, expected):
    got = np.asarray(jax.jit(jax.vmap(sched))(jnp.asarray(T)))
    np.testing.assert_allclose(got, np.asarray(expected, float), rtol=1e-5, atol=1e-9)


def test_constant():
    close(S.constant(0.3), [0.3] * len(T))


def test_piecewise_constant():
    close(S.piecewise_constant([10, 100], [1.0, 0.1, 0.01]), [1.0 if t < 10 else 0.1 if t < 100 else 0.01 for t in T])


def test_step_decay():
    close(S.step_decay(0.5, 0.1, 100), [0.5 * 0.1 ** (t // 100) for t in T])


def test_natural_exp_decay():
    close(S.natural_exp_decay(0.2, 0.01), [0.2 * math.exp(-0.01 * t) for t in T])
    close(S.exponential_decay(0.2, 1, math.exp(-0.01)), [0.2 * math.exp(-0.01 * t) for t in T])  # as its docstring says


def test_decade_decay():
    close(S.decade_decay(0.2, 100), [0.2 * 10 ** (-t / 100) for t in T])


def test_inverse_time_decay():
    close(S.inverse_time_decay(0.2, 0.5), [0.2 / (1 + 0.5 * t) for t in T])


def test_power_decay():
    close(S.power_decay(0.2, 20, 0.5), [0.2 * (1 + t / 20) ** -0.5 for t in T])


def test_linear_to_floor():
    close(S.linear_to_floor(1.0, 0.01, 100), [(1 - min(t, 100) / 100) * 1.0 + min(t, 100) / 100 * 0.01 for t in T])


# Every jaxgd schedule named as an optax schedule, with optax's arguments: defaults, then the optional ones.
OPTAX_NAMED = [
    ("constant_schedule", (0.3,), {}),
    ("exponential_decay", (0.1, 100, 0.5), {}),
    ("exponential_decay", (0.1, 30, 0.5), {"transition_begin": 20, "staircase": True, "end_value": 0.02}),
    ("exponential_decay", (0.1, 30, 2.0), {"end_value": 0.5}),  # decay_rate > 1: end_value is a ceiling
    ("polynomial_schedule", (1.0, 0.01, 2, 100), {}),
    ("polynomial_schedule", (1.0, 0.01, 3, 100), {"transition_begin": 5}),
    ("polynomial_schedule", (1.0, 0.01, 2, 0), {}),  # transition_steps <= 0: constant, as optax
    ("linear_schedule", (1.0, 0.01, 100), {}),
    ("linear_schedule", (1.0, 0.01, 100, 50), {}),
    ("cosine_decay_schedule", (0.5, 250), {}),
    ("cosine_decay_schedule", (0.5, 250, 0.1, 2.0), {}),
    ("warmup_cosine_decay_schedule", (0.0, 1.0, 50, 300), {}),
    ("warmup_cosine_decay_schedule", (0.1, 1.0, 50, 300, 0.01, 1.5), {}),
]


def test_every_optax_name_takes_optax_signature_and_meaning():
    shared = {n for n in S.__all__ if n != "Schedule" and (hasattr(optax, n) or hasattr(optax.schedules, n))}
    assert shared == {name for name, _, _ in OPTAX_NAMED}  # a new shared name needs a case here
    for name in shared:
        ours, theirs = inspect.signature(getattr(S, name)), inspect.signature(getattr(optax.schedules, name))
        assert [(p.name, p.default) for p in ours.parameters.values()] == [
            (p.name, p.default) for p in theirs.parameters.values()
        ], name

    @jax.jit  # one compilation for all the cases: both sides elementwise in the count
    def both(steps):
        return [
            (getattr(S, n)(*a, **k)(steps), jnp.broadcast_to(getattr(optax.schedules, n)(*a, **k)(steps), steps.shape))
            for n, a, k in OPTAX_NAMED
        ]

    for (name, args, kwargs), (got, want) in zip(OPTAX_NAMED, both(jnp.arange(0, 400))):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7, err_msg=f"{name}{args} {kwargs}")


def _smith(t, base, mx, s, mode, gamma=1.0):
    cycle = math.floor(1 + t / (2 * s))
    x = abs(t / s - 2 * cycle + 1)
    scale = {"triangular": 1.0, "triangular2": 1 / 2 ** (cycle - 1), "exp_range": gamma**t}[mode]
    return base + (mx - base) * max(0.0, 1 - x) * scale


@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
def test_cyclical(mode):
    close(S.cyclical(0.001, 0.01, 50, mode=mode, gamma=0.999), [_smith(t, 0.001, 0.01, 50, mode, 0.999) for t in T])


def test_one_cycle():
    sched = S.one_cycle(1.0, 1000, div_factor=10.0, final_div_factor=100.0, cycle_fraction=0.9)
    np.testing.assert_allclose(float(sched(0)), 0.1, rtol=1e-6)
    np.testing.assert_allclose(float(sched(450)), 1.0, rtol=1e-6)
    np.testing.assert_allclose(float(sched(225)), 0.55, rtol=1e-6)
    np.testing.assert_allclose(float(sched(900)), 0.1, rtol=1e-5)
    np.testing.assert_allclose(float(sched(1000)), 0.001, rtol=1e-5)
    np.testing.assert_allclose(float(sched(2000)), 0.001, rtol=1e-5)


def test_parameters_may_be_traced():
    # optax.exponential_decay cannot take a traced rate; ours can, so a sweep can range over it.
    rates = jnp.array([0.0, 0.01, 0.1])
    got = jax.vmap(lambda r: S.natural_exp_decay(0.2, r)(10))(rates)
    np.testing.assert_allclose(got, 0.2 * np.exp(-10 * np.asarray(rates)), rtol=1e-6)
    # Traced values outside optax's domain behave as optax's concrete ones: transition_steps 0 is constant.
    got = jax.jit(jax.vmap(lambda n, r: S.exponential_decay(0.2, n, r)(10)))(
        jnp.array([0, 5, 20]), jnp.array([0.5, 0.5, 0.25])
    )
    np.testing.assert_allclose(got, [0.2, 0.2 * 0.25, 0.2 * 0.5], rtol=1e-6)
    got = jax.vmap(lambda s: S.step_decay(1.0, 0.5, s)(10))(jnp.array([3.0, 5.0, 20.0]))
    np.testing.assert_allclose(got, [0.5**3, 0.25, 1.0], rtol=1e-6)


def test_schedule_drives_an_optimizer():
    loss = lambda x: 0.5 * jnp.sum(x**2)  # noqa: E731
    x0 = jnp.array([1.0])
    sched = S.step_decay(0.5, 0.1, 2)
    traj = jaxgd.run(jaxgd.sgd(sched), loss, x0, 4)
    expected = [1.0]
    for t in range(4):
        expected.append(expected[-1] * (1 - 0.5 * 0.1 ** (t // 2)))
    np.testing.assert_allclose(np.asarray(traj.params)[:, 0], expected, rtol=1e-6)
    # and matches optax with the same schedule
    ref = jaxgd.run(optax.sgd(sched), loss, x0, 4)
    np.testing.assert_allclose(np.asarray(traj.params), np.asarray(ref.params), rtol=1e-6)


def test_new_schedule_values_do_not_recompile():
    from jaxgd import runner

    loss = lambda x: jnp.sum(x**2)  # noqa: E731
    x0 = jnp.ones(2)
    jaxgd.run(jaxgd.sgd(S.exponential_decay(0.1, 10, 0.5)), loss, x0, 5)
    before = runner._run._cache_size()
    jaxgd.run(jaxgd.sgd(S.exponential_decay(0.05, 3, 0.9)), loss, x0, 5)
    assert runner._run._cache_size() == before


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: S.natural_exp_decay(-0.1, 0.01), "init_value"),
        (lambda: S.natural_exp_decay(0.1, float("nan")), "rate"),
        (lambda: S.exponential_decay(0.1, 0, 0.5), "transition_steps"),
        (lambda: S.exponential_decay(0.1, 10, 0.0), "decay_rate"),
        (lambda: S.exponential_decay(0.1, 10, 0.5, transition_begin=-1), "transition_begin"),
        (lambda: S.cosine_decay_schedule(0.1, 0), "decay_steps"),
        (lambda: S.warmup_cosine_decay_schedule(0.0, 1.0, 100, 100), "exceed"),
        (lambda: S.step_decay(0.1, 1.5, 10), "factor"),
        (lambda: S.piecewise_constant([10, 5], [1.0, 0.5, 0.1]), "increasing"),
        (lambda: S.piecewise_constant([10], [1.0]), "len"),
        (lambda: S.cyclical(0.1, 1.0, 10, mode="sawtooth"), "mode"),
        (lambda: S.reduce_on_plateau(factor=1.0), "factor"),
    ],
)
def test_bad_schedule_parameters_raise(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_the_course_form_is_not_silently_read_as_optax():
    with pytest.raises(TypeError, match="decay_rate"):  # the old exponential_decay(eta0, k): now a clear error
        S.exponential_decay(0.1, 0.99)


def test_polynomial_reaches_end_value_exactly_under_jit():
    # optax's 1 - s/T is rounded above 0 by XLA (0.0101 for 0.01 with power 0.5); (T - s)/T is exactly 0.
    assert float(jax.jit(S.polynomial_schedule(1.0, 0.01, 0.5, 100))(150)) == np.float32(0.01)
