"""Subgradient method, Frank-Wolfe, mirror descent, mirror prox, the ellipsoid method and the barrier method, each on a
problem with known optimum and constants, with the table's bound checked on the measured run."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgd
from jaxgd import convex as C
from jaxgd.convex import bounds as B

# --------------------------------------------------------------------------- subgradient method


def _averages_and_values(f, params, weighting="uniform"):
    """The running averages of x_1..x_T (the recorded points but the last) and f at them."""
    averages = C.iterate_average(params[:-1], weighting)
    return averages, jax.vmap(f)(averages)


def test_strongly_convex_subgradient_bound_holds_for_the_weighted_average():
    with jax.enable_x64(True):
        p = C.problems.max_affine(5, 12, alpha=1.0, seed=3)
        k = p.constants
        opt = C.averaged(C.projected_gradient(C.strongly_convex_step(k["alpha"]), p.projection), "linear")
        traj = jaxgd.run(opt, p.f, p.x0, 400)
        averages, values = jax.jit(lambda xs: _averages_and_values(p.f, xs, "linear"))(traj.params)
        gaps = np.asarray(values) - p.f_star
    t = np.arange(1, 401)
    assert np.all(gaps <= B.strongly_convex_subgradient_bound(t, k["L"], k["alpha"]))
    assert gaps[-1] < 0.1 * gaps[9]
    # the transform's running average is the last row of iterate_average
    np.testing.assert_allclose(traj.final_state.average, averages[-1], rtol=1e-12)
    assert np.all(np.linalg.norm(traj.params, axis=1) <= 1 + 1e-12)  # projected onto the unit ball


def test_lipschitz_subgradient_bound_holds_at_each_horizon():
    p = C.problems.max_affine(5, 12, seed=1)
    k = p.constants
    horizons = np.array([16, 64, 256])

    def at_horizon(eta):
        traj = jaxgd.run(C.projected_gradient(eta, p.projection), p.f, p.x0, int(horizons[-1]))
        return _averages_and_values(p.f, traj.params)[1]

    steps = jnp.asarray(k["R"] / (k["L"] * np.sqrt(horizons)), jnp.float32)
    values = jax.jit(jax.vmap(at_horizon))(steps)
    gaps = np.array([values[i, h - 1] for i, h in enumerate(horizons)]) - p.f_star
    assert np.all(gaps <= B.subgradient_bound(horizons, k["R"], k["L"]))
    assert np.all(np.diff(gaps) < 0)


# --------------------------------------------------------------------------- smooth and strongly convex rows


def _fista_values(p, lr, ys):
    """f at FISTA's iterates x_k = P(y_k - eta grad f(y_k)) for the recorded y_0..y_{T-1}."""
    return np.asarray(jax.jit(jax.vmap(lambda y: p.f(C.prox_gradient_step(p.f, p.projection, lr, y))))(ys[:-1]))


@pytest.mark.parametrize("kappa", [None, 20.0], ids=["smooth", "strongly_convex"])
def test_projected_and_accelerated_gradient_bounds_hold(kappa):
    with jax.enable_x64(True):
        p = C.problems.least_squares_ball(100 if kappa is None else 20, kappa=kappa, seed=1)
        k = p.constants
        lr, steps = 1 / k["beta"], 120
        pgd = jaxgd.run(C.projected_gradient(lr, p.projection), p.f, p.x0, steps)
        momentum = None if kappa is None else (np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1)
        agd = jaxgd.run(C.fista(lr, p.projection, momentum=momentum), p.f, p.x0, steps)
        gap_agd = _fista_values(p, lr, agd.params) - p.f_star
        gap0 = float(p.f(p.x0)) - p.f_star
    t = np.arange(1, steps + 1)
    gap_pgd = np.asarray(pgd.loss)[1:] - p.f_star
    assert np.all(gap_pgd >= -1e-15) and np.all(gap_agd >= -1e-15)
    if kappa is None:
        assert np.all(gap_pgd <= B.smooth_bound(t, k["beta"], k["R"]))
        assert np.all(gap_agd <= B.accelerated_bound(t, k["beta"], k["R"]))
        assert gap_agd[-1] < 0.2 * gap_pgd[-1]  # acceleration shows
    else:
        dist2 = np.sum((np.asarray(pgd.params) - np.asarray(p.x_star)) ** 2, axis=1)
        assert np.all(dist2 <= B.strongly_convex_smooth_bound(np.arange(steps + 1), k["kappa"], k["R"]) + 1e-28)
        assert np.all(gap_agd <= B.accelerated_strongly_convex_bound(t, k["kappa"], gap0, k["alpha"], k["R"]) + 1e-15)


# --------------------------------------------------------------------------- Frank-Wolfe


def test_linear_minimisation_oracles_against_vertices():
    rng = np.random.default_rng(0)
    g = rng.standard_normal(4)
    simplex = 2.0 * np.eye(4)
    l1 = np.concatenate([1.5 * np.eye(4), -1.5 * np.eye(4)])
    box = np.array(list(itertools.product(*[(-1.0, 3.0)] * 4)))
    for oracle, vertices in (
        (C.lmo("simplex", radius=2.0), simplex),
        (C.lmo("l1_ball", radius=1.5), l1),
        (C.lmo("box", lower=-1.0, upper=3.0), box),
    ):
        s = np.asarray(oracle(jnp.asarray(g, jnp.float32)))
        np.testing.assert_allclose(s @ g, (vertices @ g).min(), rtol=1e-6)
    with pytest.raises(ValueError, match="not a convex set"):
        C.lmo("sphere")
    with pytest.raises(ValueError, match="infeasible box"):
        C.lmo("box", lower=1.0, upper=-1.0)


@pytest.mark.parametrize("step", ["open_loop", "line_search"])
def test_frank_wolfe_gap_bounds_the_true_gap_at_every_step(step):
    p = C.problems.least_squares_simplex(12, 4)
    k = p.constants
    traj = jaxgd.run(C.frank_wolfe(p.lmo, step=step), p.f, p.x0, 300)
    fw_gap = np.asarray(jax.jit(jax.vmap(lambda x: C.duality_gap(jax.grad(p.f)(x), x, p.lmo)))(traj.params))
    true_gap = np.asarray(traj.loss, float) - p.f_star
    assert np.all(fw_gap >= true_gap - 1e-6 * true_gap[0])
    assert np.all(np.abs(np.asarray(traj.params).sum(1) - 1) < 1e-5)  # stays in the simplex
    if step == "open_loop":
        assert np.all(true_gap[1:] <= B.frank_wolfe_bound(np.arange(1, 301), k["beta"], k["D"]))
    np.testing.assert_allclose(traj.final_state.gap, fw_gap[-2], rtol=1e-4)
    assert true_gap[-1] < 2e-3 * true_gap[0]


# --------------------------------------------------------------------------- mirror descent, mirror prox


def test_mirror_prox_reaches_the_value_of_a_3x3_game():
    rps = jnp.asarray([[0.0, -1.0, 2.0], [1.0, 0.0, -3.0], [-2.0, 3.0, 0.0]]) + 0.5  # skew + 0.5: value 0.5
    results = {}
    with jax.enable_x64(True):
        for name, a in (("rps", rps), ("constructed", C.problems.matrix_game(3, value=-0.3, seed=2).data["a"])):
            phi = jax.tree_util.Partial(C.problems.bilinear_fn, a=a)
            res = C.mirror_prox(phi, jnp.full(3, 1 / 3), jnp.full(3, 1 / 3), 1000, C.game_step_sizes(a))
            gap = np.asarray(jax.jit(C.game_gap)(a, res.x_average, res.y_average))
            value = float(np.asarray(res.x_final_average) @ np.asarray(a) @ np.asarray(res.y_final_average))
            results[name] = (a, gap, value)
    for name, value in (("rps", 0.5), ("constructed", -0.3)):
        a, gap, measured = results[name]
        t = np.arange(1, 1001)
        amax = float(np.abs(a).max())
        assert np.all(gap <= B.mirror_prox_bound(t, amax, np.sqrt(np.log(3)), np.sqrt(np.log(3)))), name
        assert gap[-1] < 1e-2 and abs(measured - value) <= gap[-1], name


def test_entropic_mirror_descent_bound_and_simplex():
    p = C.problems.matrix_game(8, 6, seed=4)
    k = p.constants
    horizon = 400
    eta = k["R"] / k["L"] * np.sqrt(2 / horizon)
    traj = jaxgd.run(C.entropic_mirror_descent(eta), p.f, p.x0, horizon)
    np.testing.assert_allclose(traj.params.sum(1), 1.0, rtol=1e-5)
    assert np.all(np.asarray(traj.params) > 0)
    gap = float(jax.jit(lambda xs: _averages_and_values(p.f, xs)[1][-1])(traj.params)) - p.f_star
    assert 0 <= gap <= B.mirror_descent_bound(horizon, k["R"], k["L"])


# --------------------------------------------------------------------------- ellipsoid method


@pytest.mark.parametrize("x64", [False, True], ids=["float32", "float64"])
def test_ellipsoid_volume_shrinks_by_its_factor_and_the_bound_holds(x64):
    with jax.enable_x64(x64):
        p = C.problems.max_affine(4, 12, domain="box", seed=0)
        k = p.constants
        res = C.ellipsoid(p.f, p.x0, k["R"], 200, lower=-1.0, upper=1.0)
    factor = C.ellipsoid_volume_factor(4)
    assert factor <= np.exp(-1 / 8)
    ratios = np.diff(np.asarray(res.log_volume, float))
    np.testing.assert_allclose(ratios, np.log(factor), rtol=1e-9 if x64 else 2e-3)
    gaps = np.asarray(res.best, float) - p.f_star
    t = np.arange(1, 201)
    found = np.isfinite(gaps)
    assert found[-1] and np.all(gaps[found] <= B.ellipsoid_bound(t[found], 4, k["R"], k["r"], k["variation"]))
    assert float(res.value) - p.f_star < 1e-3
    assert np.all(np.abs(res.x) <= 1)


def test_ellipsoid_without_a_box_on_an_l1_regression():
    rng = np.random.default_rng(0)
    a = jnp.asarray(rng.standard_normal((9, 3)))
    x_true = jnp.asarray([0.5, -1.0, 2.0])
    f = jax.tree_util.Partial(lambda x, a, b: jnp.sum(jnp.abs(a @ x - b)), a=a, b=a @ x_true)
    res = C.ellipsoid(f, jnp.zeros(3), 5.0, 150)
    assert float(res.value) < 1e-3 and np.all(np.asarray(res.feasible))


# --------------------------------------------------------------------------- barrier method


def _linprog(c, a, b):
    from scipy.optimize import linprog

    out = linprog(c, A_ub=a, b_ub=b, bounds=(None, None), method="highs")
    assert out.status == 0
    return out.fun, out.x


@pytest.mark.parametrize("x64", [False, True], ids=["float32", "float64"])
def test_barrier_matches_linprog(x64):
    rng = np.random.default_rng(5)
    lps = [C.problems.linear_program(4, 10, seed=s).data for s in range(2)]
    # and a random LP that is not built from its KKT conditions: a polytope around 0, a random cost
    a = np.vstack([rng.standard_normal((12, 4)), np.eye(4), -np.eye(4)])
    lps.append({"c": rng.standard_normal(4), "a": a, "b": rng.uniform(0.5, 2.0, 20)})
    with jax.enable_x64(x64):
        for lp in lps:
            c, a, b = (np.asarray(lp[n], float) for n in ("c", "a", "b"))
            res = C.barrier_lp(c, a, b, mu=10.0, newton_steps=20, outer_steps=10 if x64 else 5)
            fun, x = _linprog(c, a, b)
            scale = 1 + abs(fun)
            assert abs(float(res.objective) - fun) <= (1e-7 if x64 else 1e-3) * scale
            np.testing.assert_allclose(res.x, x, atol=(1e-5 if x64 else 2e-2) * (1 + np.abs(x).max()))
            assert np.all(a @ np.asarray(res.x, float) < b)


def test_short_step_barrier_bound_holds():
    with jax.enable_x64(True):
        p = C.problems.linear_program(3, 6, seed=1)
        d = p.data
        res = C.barrier_lp(d["c"], d["a"], d["b"], outer_steps=600, centering_steps=60)
    gaps = np.asarray(res.objectives) - p.f_star
    nu = p.constants["nu"]
    assert np.all(np.asarray(res.decrement)[1:] < 1 / 9)  # stays near the central path
    assert np.all(gaps >= -1e-12) and np.all(gaps <= B.interior_point_bound(np.arange(601), nu, 1.0))
    assert np.all(gaps <= np.asarray(res.path_gap) * (1 + 1e-6))


def test_barrier_errors():
    a = np.vstack([np.eye(2), -np.eye(2)])
    with pytest.raises(ValueError, match="not strictly feasible"):
        C.barrier_lp(np.ones(2), a, np.array([1.0, 1.0, 1.0, -0.5]))
    with pytest.raises(ValueError, match="full column rank"):
        C.barrier_lp(np.ones(2), np.array([[1.0, 0.0]]), np.ones(1))
    with pytest.raises(ValueError, match="mu must be > 1"):
        C.barrier_lp(np.ones(2), a, np.ones(4), mu=0.5)
