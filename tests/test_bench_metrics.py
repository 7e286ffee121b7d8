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


def _tuning(problem, optimizer, gap, steps, stochastic=False, accuracy=None):
    """A hand-made Tuning of one configuration: final gaps (S,), steps to tau = 1e-3 (S,)."""
    from jaxgd.bench.tuning import Rule, Tuning

    steps = np.asarray(steps)[None, :, None]
    return Tuning(optimizer, problem, {"learning_rate": np.array([0.1])}, np.asarray([gap], float), steps,
                  steps * (32 if stochastic else 1), np.array([1e-3]), 1.0, 0.0, 0, np.zeros(1), Rule(), 100,
                  stochastic, accuracy=None if accuracy is None else np.asarray([accuracy], float))  # fmt: skip


def _second(problem, method, gap, grads, hvps):
    return {"problem": problem, "optimizer": method, "kind": "second_order", "hyperparams": {}, "final_gap": gap,
            "final_gap_min": gap, "final_gap_max": gap, "steps_to_target": {"0.001": 3.0},
            "grad_evals_to_target": {"0.001": grads}, "hvps_to_target": {"0.001": hvps},
            "gradient_equivalents_to_target": {"0.001": grads + 2 * hvps}, "test_accuracy": None,
            "test_accuracy_std": None, "test_accuracy_seeds": None, "seconds": np.nan, "good_range_decades": None,
            "seeds": 1, "stochastic": False, "f0": 1.0, "f_star": 0.0}  # fmt: skip


def test_second_order_solvers_in_the_profile_by_hand():
    from jaxgd.bench import report

    tunings = [  # problems P1, P2 (deterministic), N (stochastic); first-order solvers a, b
        _tuning("P1", "a", [1e-4], [10]),
        _tuning("P1", "b", [1e-5], [20]),
        _tuning("P2", "a", [1e-2], [-1]),
        _tuning("P2", "b", [1e-4], [40]),
        _tuning("N", "a", [1e-4, 3e-4, np.inf], [5, 7, -1], stochastic=True, accuracy=[0.5, 1.0, np.nan]),
        _tuning("N", "b", [1e-2, 1e-2, 1e-2], [-1, -1, -1], stochastic=True),
    ]
    # lbfgs: 4 + 2 x 3 = 10 gradient-equivalents on P1 (best), 30 + 0 on P2; it is not run on N
    board = report.leaderboard(
        tunings, second_order=[_second("P1", "lbfgs", 0.0, 4.0, 3.0), _second("P2", "lbfgs", 1e-3, 30.0, 0.0)]
    )
    prof = report.profiles(board)
    det, sto = prof["deterministic"]["0.001"], prof["stochastic"]["0.001"]
    # costs P1: a 10, b 20, lbfgs 10 -> ratios 1, 2, 1; P2: a fails, b 40, lbfgs 30 -> inf, 4/3, 1
    assert det["problems"] == ["P1", "P2"] and det["taus"] == pytest.approx([1.0, 4 / 3, 2.0, 4.0])
    assert det["lbfgs"] == [1.0, 1.0, 1.0, 1.0]
    assert det["a"] == [0.5, 0.5, 0.5, 0.5] and det["b"] == [0.0, 0.5, 1.0, 1.0]
    # stochastic: median per-example gradients 32 x 7 = 224 (a; seed 3 diverged); b fails; lbfgs absent
    assert sto["problems"] == ["N"] and "lbfgs" not in sto and sto["a"][0] == 1.0 and sto["b"][-1] == 0.0
    s = board["summary"]
    assert s["lbfgs"]["problems"] == 2 and s["lbfgs"]["solved"]["0.001"] == 2 and s["a"]["problems"] == 3
    # final-gap ranks among the solvers run: P1 lbfgs 1, b 2, a 3; P2 b 1, lbfgs 2, a 3; N a 1, b 2
    assert s["lbfgs"]["mean_rank_final_gap"] == 1.5 and s["a"]["mean_rank_final_gap"] == pytest.approx(7 / 3)
    assert board["order"][0] == "lbfgs"  # 2 of 2 solved
    row = next(r for r in board["rows"] if r["problem"] == "N" and r["optimizer"] == "a")
    assert row["test_accuracy"] == 0.75 and row["test_accuracy_std"] == 0.25  # over the 2 seeds not diverged
    assert row["gradient_equivalents_to_target"]["0.001"] == 224.0
    md = report.markdown(board)
    assert (
        "| P1 | lbfgs | - | 0 | - | 3 (10) |" in md
        and "0.750 ± 0.250 (2 of 3 seeds, others diverged)" in md
        and "gradient-equivalents" in md
    )
