"""The step sizes of the theory as schedules, their bounds, and the ST449 theorem measured over seeds."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgd
from jaxgd import stochastic as st


def test_schedules_follow_their_formulas_with_one_based_steps():
    t = jnp.arange(5)
    s = np.arange(1, 6, dtype=float)
    np.testing.assert_allclose(st.smooth_convex_step(2.0, 3.0, 0.5)(t), 1 / (2.0 + 6.0 * np.sqrt(s / 2)), rtol=1e-6)
    np.testing.assert_allclose(st.strongly_convex_step(2.0, 0.5)(t), 2.0 / (0.5 * s), rtol=1e-6)
    np.testing.assert_allclose(st.strongly_convex_step(2.0, 0.5, t0=10.0)(t), 2.0 / (0.5 * (t + 10.0)), rtol=1e-6)
    np.testing.assert_allclose(st.inverse_sqrt_step(0.3)(t), 0.3 / np.sqrt(s), rtol=1e-6)
    np.testing.assert_allclose(st.exponential_range(1e-3, 1e1, 5)(t), np.geomspace(1e-3, 1e1, 5), rtol=1e-5)


def test_schedule_parameters_are_leaves_that_can_be_traced():
    sched = st.smooth_convex_step(2.0, 3.0, 0.5)
    assert sorted(float(v) for v in jax.tree.leaves(sched)) == [0.5, 2.0, 3.0]
    eta = jax.jit(lambda sigma: st.smooth_convex_step(2.0, sigma, 0.5)(jnp.asarray(0)))(jnp.asarray(0.0))
    assert float(eta) == pytest.approx(0.5)
    for make, match in (
        (lambda: st.smooth_convex_step(-1.0, 1.0, 1.0), "beta"),
        (lambda: st.smooth_convex_step(1.0, -1.0, 1.0), "sigma"),
        (lambda: st.strongly_convex_step(1.0, 0.0), "mu"),
        (lambda: st.inverse_sqrt_step(0.0), "init_value"),
    ):
        with pytest.raises(ValueError, match=match):
            make()


def test_bounds_follow_their_formulas():
    t = np.array([1.0, 10.0, 100.0])
    np.testing.assert_allclose(
        st.smooth_convex_bound(t, 2.0, 3.0, 0.5), math.sqrt(2) * 1.5 / np.sqrt(t) + 0.5 / t, rtol=1e-6
    )
    # nu = max(c^2 beta sigma^2 / (2 mu^2 (c - 1)), t0 gap) with c = 2, mu = 1, beta = 4, sigma = 1, t0 = 8
    np.testing.assert_allclose(st.strongly_convex_bound(t, 2.0, 1.0, 4.0, 1.0, 0.1, t0=8.0), 8.0 / (t + 8.0), rtol=1e-6)
    np.testing.assert_allclose(
        st.strongly_convex_bound(t, 2.0, 1.0, 4.0, 1.0, 5.0, t0=8.0), 40.0 / (t + 8.0), rtol=1e-6
    )
    floor = st.constant_step_floor(0.1, 0.5, 2.0, 1.0)
    assert float(floor) == pytest.approx(0.1 * 2.0 / (2 * 0.5))
    np.testing.assert_allclose(
        st.constant_step_bound(t, 0.1, 0.5, 2.0, 1.0, 3.0), 0.2 + 0.95**t * (3.0 - 0.2), rtol=1e-6
    )
    lam = np.array([0.1, 1.0])
    np.testing.assert_allclose(
        st.quadratic_noise_floor(0.5, lam, 2.0), np.sum(0.5 * 4.0 / (2 * 2 * (2 - 0.5 * lam))), rtol=1e-6
    )
    with pytest.raises(ValueError, match="c > 1"):
        st.strongly_convex_bound(t, 1.0, 1.0, 4.0, 1.0, 1.0, t0=8.0)
    with pytest.raises(ValueError, match="t0 >= c beta / mu"):
        st.strongly_convex_bound(t, 2.0, 1.0, 4.0, 1.0, 1.0, t0=1.0)
    with pytest.raises(ValueError, match="learning_rate <= 1/beta"):
        st.constant_step_bound(t, 1.0, 0.5, 2.0, 1.0, 3.0)


def test_the_quadratic_noise_floor_is_reached_by_constant_step_sgd():
    """Stationary E f - f* of SGD with noise N(0, sigma^2/d I): measured over seeds against the exact formula."""
    lam = jnp.array([0.5, 1.0, 2.0, 4.0])
    problem = jaxgd.problems.quadratic(lam)
    noisy = st.noisy_gradient(problem, 1.0)
    keys = jax.random.split(jax.random.key(1), 256)
    traj = jax.vmap(lambda k: st.run(jaxgd.sgd(0.2), noisy, problem.x0, 400, key=k, eval_at=50))(keys)
    measured = float(np.mean(np.asarray(traj.loss)[:, -4:]))  # steps 250 .. 400: stationary after ~100 steps
    assert measured == pytest.approx(float(st.quadratic_noise_floor(0.2, lam, 1.0)), rel=0.1)


def test_the_st449_theorem_bound_holds_over_seeds():
    """SGD with eta_t = 1/(beta + (sigma/R) sqrt(t/2)) on a convex quadratic with exact noise sigma:
    the mean excess error of the average iterate over 128 seeds, plus 3 standard errors, stays below
    sqrt(2) sigma R / sqrt(t) + beta R^2 / t at every evaluated t."""
    lam = jnp.array([1.0, 0.1, 0.01, 0.001])
    problem = jaxgd.problems.quadratic(lam)
    beta, sigma = 1.0, 2.0
    radius = float(jnp.linalg.norm(problem.x0))  # x* = 0
    tx = st.polyak_averaging(jaxgd.sgd(st.smooth_convex_step(beta, sigma, radius)))
    noisy = st.noisy_gradient(problem, sigma)
    steps = st.log_steps(1000, 12)
    keys = jax.random.split(jax.random.key(0), 128)
    traj = jax.vmap(lambda k: st.run(tx, noisy, problem.x0, 1000, key=k, eval_at=steps))(keys)
    t = np.asarray(traj.steps[0])[1:]
    excess = np.asarray(traj.averaged_loss)[:, 1:]
    upper = excess.mean(0) + 3 * excess.std(0) / np.sqrt(len(keys))
    bound = np.asarray(st.smooth_convex_bound(t, beta, sigma, radius))
    assert np.all(upper <= bound), (t, upper, bound)
    assert np.asarray(traj.averaged_loss)[:, 0].mean() == pytest.approx(float(problem(problem.x0)))
