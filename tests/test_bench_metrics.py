"""Performance profiles against a hand-computed example; steps to target against a single run."""

import jax.numpy as jnp
import numpy as np
import pytest

import jaxgd
from jaxgd.bench.metrics import performance_profile, performance_ratios, steps_to_target


def test_profile_by_hand():
    # three problems, two solvers; solver B fails on problem 3
    costs = np.array([[10.0, 20.0], [30.0, 15.0], [8.0, -1.0]])
    r = performance_ratios(costs)
    np.testing.assert_allclose(r, [[1.0, 2.0], [2.0, 1.0], [1.0, np.inf]])
    taus, rho = performance_profile(costs, taus=np.array([1.0, 1.5, 2.0, 4.0]))
    np.testing.assert_allclose(rho[:, 0], [2 / 3, 2 / 3, 1.0, 1.0])
    np.testing.assert_allclose(rho[:, 1], [1 / 3, 1 / 3, 2 / 3, 2 / 3])
    taus, rho = performance_profile(costs)  # default taus: 1, the jumps, r_max
    np.testing.assert_allclose(taus, [1.0, 2.0, 4.0])


def test_profile_unsolved_problem_and_bad_input():
    r = performance_ratios(np.array([[np.nan, np.inf], [0.0, 3.0]]))
    assert np.all(np.isinf(r[0])) and r[1, 0] == 1.0 and np.isinf(r[1, 1])
    with pytest.raises(ValueError, match="problems, solvers"):
        performance_ratios(np.ones(3))
    with pytest.raises(ValueError, match="r_max"):
        performance_profile(np.ones((2, 2)), r_max=0.5)


def test_steps_to_target_matches_a_run():
    p = jaxgd.problems.ravine(10.0)
    traj = jaxgd.run(jaxgd.sgd(0.05), p, p.x0, 200)
    loss = np.asarray(traj.loss, float)
    taus = (1e-1, 1e-3, 1e-6, 0.0)
    got = steps_to_target(loss, 0.0, taus)
    for tau, k in zip(taus, got):
        hit = np.flatnonzero(loss <= tau * loss[0])
        assert k == (hit[0] if hit.size else -1)
    assert got[-1] == -1 and got[0] < got[1] < got[2]


def test_steps_to_target_of_the_tuning_equal_a_run():
    from jaxgd.bench.tuning import OptimizerSpec, tune

    p = jaxgd.problems.ravine(10.0)
    lrs = np.geomspace(1e-3, 0.2, 6)
    t = tune(OptimizerSpec("sgd", jaxgd.sgd), p, 150, lrs=lrs)
    for i, lr in enumerate(lrs):
        loss = np.asarray(jaxgd.run(jaxgd.sgd(float(lr)), p, p.x0, 150).loss, float)
        np.testing.assert_array_equal(t.steps_to_target[i, 0], steps_to_target(loss, 0.0, t.taus))
        assert t.final_gap[i, 0] == pytest.approx(float(loss[-1]), rel=1e-5, abs=1e-30) or not np.isfinite(loss[-1])
    assert jnp.all(t.steps_to_target == t.grad_evals_to_target)


def test_second_order_counts_match_minimize():
    from jaxgd.bench.second_order import second_order_row

    p = jaxgd.problems.rosenbrock()
    row = second_order_row("newton_cg", p, 12, (0.0, 1.0))
    res = jaxgd.minimize(p, p.x0, "newton_cg", max_steps=12, tol=0.0)
    assert row["steps_to_target"]["0"] == np.inf  # tau = 0 is never met in 12 steps
    # tau = 1: met at step 0, with the first gradient only
    assert row["grad_evals_to_target"]["1"] == 1 and row["hvps_to_target"]["1"] == 0
    counts = jaxgd.run(jaxgd.newton_cg(), p, p.x0, 12, record=lambda x, s: jaxgd._core.eval_counts(s)).recorded
    assert 1 + int(counts["n_gev"].sum()) == int(res.n_gev) and int(counts["n_hev"].sum()) == int(res.n_hev)
