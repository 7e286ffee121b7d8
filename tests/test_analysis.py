"""Hessian analysis: closed forms on the course's ravine, and theory checked against measured runs."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgd
from jaxgd import analysis, problems


def _diverged(traj):
    final = traj.loss[..., -1]
    return ~jnp.isfinite(final) | (final > traj.loss[..., 0])


# --------------------------------------------------------------------------- x1^2 + 50 x2^2


def test_ravine_constants():
    with jax.enable_x64(True):
        p = problems.ravine(50.0)
        h = analysis.hessian(p, p.x0)
        np.testing.assert_allclose(h, np.diag([2.0, 100.0]), atol=1e-12)
        eigs = analysis.eigenvalues(h)
        assert float(analysis.lambda_min(eigs)) == pytest.approx(2.0)
        assert float(analysis.lambda_max(h)) == pytest.approx(100.0)
        assert float(analysis.condition_number(eigs)) == pytest.approx(50.0)
        assert float(analysis.stability_bound(eigs)) == pytest.approx(0.02)
        assert float(analysis.optimal_lr(h)) == pytest.approx(2.0 / 102.0)
        assert float(analysis.gd_optimal_rate(50.0)) == pytest.approx(49.0 / 51.0)
        assert float(analysis.gd_rate(2.0 / 102.0, eigs)) == pytest.approx(49.0 / 51.0)
        # eta* minimises the predicted rate over a fine grid
        etas = jnp.linspace(0.001, 0.0199, 4000)
        assert float(etas[jnp.argmin(analysis.gd_rate(etas, eigs))]) == pytest.approx(2.0 / 102.0, abs=1e-5)


def test_gd_converges_below_and_diverges_above_the_bound():
    p = problems.ravine(50.0)
    runs = jax.vmap(lambda lr: jaxgd.run(jaxgd.sgd(lr), p, p.x0, 500))(jnp.asarray([0.019, 0.021]))
    assert float(runs.loss[0, -1]) < 1e-6 * float(runs.loss[0, 0])
    assert bool(jnp.isfinite(runs.loss[1, -1])) is False or float(runs.loss[1, -1]) > 1e6 * float(runs.loss[1, 0])
    assert [bool(d) for d in _diverged(runs)] == [False, True]
    eigs = jnp.asarray([2.0, 100.0])
    assert float(analysis.gd_rate(0.019, eigs)) < 1.0 < float(analysis.gd_rate(0.021, eigs))


def test_measured_gd_rate_at_optimal_lr():
    """Theory: ||x_k - x*|| = ((kappa-1)/(kappa+1))^k ||x_0 - x*|| at eta*; measured from ||x - x*||."""
    with jax.enable_x64(True):
        p = problems.ravine(50.0)
        eigs = analysis.hessian_eigenvalues(p, p.x0)
        eta = analysis.optimal_lr(eigs)
        predicted = float(analysis.gd_optimal_rate(analysis.condition_number(eigs)))
        traj = jaxgd.run(jaxgd.sgd(eta), p, p.x0, 300)
        measured = float(analysis.fitted_rate(traj, x_star=p.minimizers[0]))
        assert measured == pytest.approx(predicted, rel=0.05)
        assert measured == pytest.approx(predicted, rel=1e-6)  # both eigen-components shrink by exactly rho
        # f - f* contracts at the square of the iterate rate
        assert float(analysis.fitted_rate(traj, f_star=p.minimum)) == pytest.approx(predicted**2, rel=1e-4)


def test_measured_gd_rates_across_a_sweep_match_prediction():
    with jax.enable_x64(True):
        p = problems.ravine(50.0)
        eigs = jnp.asarray([2.0, 100.0])
        etas = jnp.asarray([0.002, 0.005, 0.0125, 0.019, 0.0205])
        runs = jax.vmap(lambda lr: jaxgd.run(jaxgd.sgd(lr), p, p.x0, 400))(etas)
        measured = jax.vmap(lambda t: analysis.fitted_rate(t, x_star=jnp.zeros(2), start=100))(runs)
        np.testing.assert_allclose(measured, analysis.gd_rate(etas, eigs), rtol=2e-3)


def test_iterations_to_tolerance_matches_run():
    with jax.enable_x64(True):
        p = problems.ravine(50.0)
        rho = analysis.gd_optimal_rate(50.0)
        traj = jaxgd.run(jaxgd.sgd(2.0 / 102.0), p, p.x0, 600)
        err = jnp.linalg.norm(traj.params, axis=1)
        for tol in (1e-3, 1e-6, 1e-9):
            predicted = int(analysis.iterations_to_tolerance(rho, tol * err[0], err[0]))
            first = int(jnp.argmax(err <= tol * err[0]))
            assert abs(predicted - first) <= 1, (tol, predicted, first)
        assert float(analysis.iterations_to_tolerance(1.0, 1e-3)) == np.inf
        assert float(analysis.iterations_to_tolerance(0.5, 2.0, 1.0)) == 0.0
        assert float(analysis.iterations_to_tolerance(0.5, 1 / 8)) == 3.0


def test_heavy_ball_at_polyak_optimum():
    """Theory: rate (sqrt(kappa)-1)/(sqrt(kappa)+1) for ||x - x*||; measured on that quantity after a burn-in."""
    with jax.enable_x64(True):
        p = problems.ravine(50.0)
        eigs = analysis.hessian_eigenvalues(p, p.x0)
        hb = analysis.heavy_ball_optimal(eigs)
        q = np.sqrt(50.0)
        assert float(hb.rate) == pytest.approx((q - 1) / (q + 1))
        assert float(hb.momentum) == pytest.approx(((q - 1) / (q + 1)) ** 2)
        assert float(hb.learning_rate) == pytest.approx(4.0 / (np.sqrt(100.0) + np.sqrt(2.0)) ** 2)
        assert float(analysis.heavy_ball_rate(hb.learning_rate, hb.momentum, eigs)) == pytest.approx(float(hb.rate))
        hb_traj = jaxgd.run(jaxgd.momentum(hb.learning_rate, hb.momentum), p, p.x0, 150)
        gd_traj = jaxgd.run(jaxgd.sgd(analysis.optimal_lr(eigs)), p, p.x0, 150)
        measured = float(analysis.fitted_rate(hb_traj, x_star=p.minimizers[0], start=20))
        assert measured == pytest.approx(float(hb.rate), rel=0.05)
        assert measured < float(analysis.fitted_rate(gd_traj, x_star=p.minimizers[0], start=20))
        assert float(hb_traj.loss[-1]) < 1e-6 * float(gd_traj.loss[-1])


def test_heavy_ball_rate_formula_matches_runs_off_optimum():
    with jax.enable_x64(True):
        p = problems.ravine(50.0)
        eigs = jnp.asarray([2.0, 100.0])
        a = jnp.asarray([0.005, 0.02, 0.03, 0.02])
        b = jnp.asarray([0.0, 0.3, 0.6, 0.95])
        runs = jax.vmap(lambda a, b: jaxgd.run(jaxgd.momentum(a, b), p, p.x0, 600))(a, b)
        measured = jax.vmap(lambda t: analysis.fitted_rate(t, x_star=jnp.zeros(2), start=200))(runs)
        np.testing.assert_allclose(measured, analysis.heavy_ball_rate(a, b, eigs), rtol=5e-3)
        # b = 0 is plain GD
        assert float(analysis.heavy_ball_rate(0.005, 0.0, eigs)) == pytest.approx(float(analysis.gd_rate(0.005, eigs)))


def test_nesterov_rate_bounds_measured_rate():
    with jax.enable_x64(True):
        p = problems.ravine(50.0)
        eigs = jnp.asarray([2.0, 100.0])
        nv = analysis.nesterov_optimal(eigs)
        assert float(nv.rate) == pytest.approx(1 - 1 / np.sqrt(50.0))
        assert float(nv.rate) == pytest.approx(float(analysis.nesterov_rate(50.0)))
        traj = jaxgd.run(jaxgd.nesterov(nv.learning_rate, nv.momentum), p, p.x0, 300)
        measured = float(analysis.fitted_rate(traj, f_star=0.0, start=20))
        assert measured <= float(nv.rate)
        # accelerated: better than GD's f-rate ((kappa-1)/(kappa+1))^2 at eta*
        assert measured < float(analysis.gd_optimal_rate(50.0)) ** 2


@pytest.mark.parametrize("b", [0.5, 0.9])
def test_heavy_ball_stability_edge(b):
    """Runs of z <- b z + grad, x <- x - a z start to diverge at a = (2 + 2b) / 100."""
    p = problems.ravine(50.0)
    edge = (2 + 2 * b) / 100.0
    factors = jnp.asarray([0.5, 0.9, 0.97, 0.99, 1.01, 1.03, 1.1, 1.5])
    region = analysis.momentum_stability_region(jnp.asarray([2.0, 100.0]), edge * factors, jnp.asarray([b]))
    assert float(region.edge[0]) == pytest.approx(edge)
    assert region.stable[0].tolist() == [True] * 4 + [False] * 4
    runs = jax.vmap(lambda a: jaxgd.run(jaxgd.momentum(a, b), p, p.x0, 1500))(edge * factors)
    diverged = _diverged(runs)
    assert diverged.tolist() == (~region.stable[0]).tolist()
    converged = runs.loss[:, -1] < 1e-3 * runs.loss[:, 0]
    assert converged.tolist() == region.stable[0].tolist()


def test_stability_region_grid():
    eigs = jnp.asarray([2.0, 100.0])
    lrs = jnp.linspace(0.0, 0.05, 51)
    moms = jnp.asarray([-0.1, 0.0, 0.5, 0.9, 1.0])
    r = analysis.momentum_stability_region(eigs, lrs, moms)
    assert r.stable.shape == r.rate.shape == (5, 51)
    assert not bool(r.stable[0].any()) and not bool(r.stable[-1].any())
    np.testing.assert_allclose(r.edge[1:4], [0.02, 0.03, 0.038])
    assert np.isnan(r.edge[0]) and np.isnan(r.edge[-1])
    # inside the region the predicted rate is < 1, outside it is >= 1 (for valid momenta)
    inside = np.asarray(r.stable[1:4])
    rate = np.asarray(r.rate[1:4])
    assert np.all(rate[inside] < 1) and np.all(rate[~inside] >= 1 - 1e-6)
    # no stable point when lambda_min <= 0
    assert not bool(analysis.momentum_stability_region(jnp.asarray([-1.0, 2.0]), lrs, moms).stable.any())


# --------------------------------------------------------------------------- saddles and critical points


def test_gd_escapes_strict_saddle_from_random_start():
    with jax.enable_x64(True):
        p = problems.strict_saddle([1.0, -1.0])
        lr = 0.1
        x0 = 1e-3 * jax.random.normal(jax.random.key(0), (2,))
        traj = jaxgd.run(jaxgd.sgd(lr), p, x0, 100)
        assert float(jnp.linalg.norm(traj.final_params)) > 1e3 * float(jnp.linalg.norm(x0))
        assert float(traj.loss[-1]) < -1.0
        # the escape runs at |1 - eta lambda_min| = 1.1 along the negative-curvature axis
        assert float(analysis.fitted_rate(traj, x_star=jnp.zeros(2), start=50)) == pytest.approx(1.1, rel=1e-3)


def test_gd_converges_to_strict_saddle_from_stable_subspace():
    with jax.enable_x64(True):
        p = problems.strict_saddle([1.0, -1.0])
        x0 = jnp.asarray([float(jax.random.normal(jax.random.key(1))), 0.0])
        traj = jaxgd.run(jaxgd.sgd(0.1), p, x0, 300)
        assert float(jnp.linalg.norm(traj.final_params)) < 1e-10
        assert analysis.classify_critical_point(p, traj.final_params) == "strict saddle"


@pytest.mark.parametrize(
    ("eigs", "kind"),
    [
        ([1.0, 3.0], "minimum"),
        ([-1.0, -3.0], "maximum"),
        ([-1.0, 3.0], "strict saddle"),
        ([0.0, 3.0], "degenerate"),
        ([-1e-10, 3.0], "degenerate"),
        ([0.0, 0.0], "degenerate"),
        ([-2.0, 0.0], "degenerate"),
        ([-2.0, 0.0, 1.0], "strict saddle"),
    ],
)
def test_classify_eigenvalues(eigs, kind):
    assert analysis.classify_eigenvalues(jnp.asarray(eigs)) == kind


def test_classify_tolerance_and_non_critical_point():
    assert analysis.classify_eigenvalues(jnp.asarray([1e-3, 1.0]), tol=1e-2) == "degenerate"
    assert analysis.classify_eigenvalues(jnp.asarray([1e-3, 1.0]), tol=1e-4) == "minimum"
    p = problems.himmelblau()
    with pytest.raises(ValueError, match="not a critical point"):
        analysis.classify_critical_point(p, jnp.asarray([1.0, 1.0]))

    def quartic(x):
        return jnp.sum(x**4)

    assert analysis.classify_critical_point(quartic, jnp.zeros(3)) == "degenerate"


# --------------------------------------------------------------------------- pytrees, regions, fitted rates


def test_hessian_of_pytree_function():
    with jax.enable_x64(True):
        params = {"w": jnp.asarray([[1.0, 2.0]]), "b": jnp.asarray(0.5)}

        def f(p):
            return jnp.sum(p["w"] ** 2) * p["b"] + p["b"] ** 3

        h = analysis.hessian(f, params)
        # ravel order: b, then w (dict keys sorted)
        b, w1, w2 = 0.5, 1.0, 2.0
        expected = [[6 * b, 2 * w1, 2 * w2], [2 * w1, 2 * b, 0.0], [2 * w2, 0.0, 2 * b]]
        np.testing.assert_allclose(h, expected, atol=1e-12)
        np.testing.assert_allclose(analysis.hessian_eigenvalues(f, params), np.linalg.eigvalsh(expected), atol=1e-12)


def test_curvature_over_region():
    with jax.enable_x64(True):
        booth = problems.booth()
        r = analysis.estimate_curvature(booth, jax.random.key(0), booth.box, 16)
        assert float(r.alpha) == pytest.approx(2.0) and float(r.beta) == pytest.approx(18.0)

        rosen = problems.rosenbrock()
        r = analysis.estimate_curvature(rosen, jax.random.key(1), rosen.box, 64)
        assert r.lambda_min.shape == r.lambda_max.shape == (64,)
        pts = np.asarray(jax.random.uniform(jax.random.key(1), (64, 2)))
        lo, hi = np.asarray(rosen.box)[:, 0], np.asarray(rosen.box)[:, 1]
        x, y = (lo + pts * (hi - lo)).T
        # closed-form Hessian of 2-D Rosenbrock
        h = np.stack([[1200 * x**2 - 400 * y + 2, -400 * x], [-400 * x, np.full_like(x, 200.0)]]).transpose(2, 0, 1)
        e = np.linalg.eigvalsh(h)
        np.testing.assert_allclose(r.lambda_min, e[:, 0], rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(r.lambda_max, e[:, 1], rtol=1e-9)
        assert float(r.alpha) < 0 < float(r.beta)  # not convex over the box
        assert float(r.beta) == pytest.approx(e[:, 1].max())


def test_fit_rate_recovers_geometric_decay_and_skips_bad_points():
    with jax.enable_x64(True):
        e = 3.0 * 0.8 ** jnp.arange(40.0)
        assert float(analysis.fit_rate(e)) == pytest.approx(0.8, rel=1e-12)
        bad = e.at[5].set(jnp.nan).at[9].set(0.0).at[11].set(jnp.inf).at[13].set(-1.0)
        assert float(analysis.fit_rate(bad)) == pytest.approx(0.8, rel=1e-12)
        assert np.isnan(float(analysis.fit_rate(jnp.asarray([1.0, jnp.nan, 0.0]))))
        steps = jnp.arange(0.0, 80.0, 2.0)
        assert float(analysis.fit_rate(e, steps)) == pytest.approx(np.sqrt(0.8), rel=1e-12)
        batch = jnp.stack([e, 2.0 * 0.5 ** jnp.arange(40.0)])
        np.testing.assert_allclose(jax.jit(jax.vmap(analysis.fit_rate))(batch), [0.8, 0.5], rtol=1e-12)


def test_fitted_rate_window_and_record_every():
    with jax.enable_x64(True):
        p = problems.ravine(50.0)
        traj = jaxgd.run(jaxgd.sgd(2.0 / 102.0), p, p.x0, 200, record_every=10)
        assert float(analysis.fitted_rate(traj, x_star=jnp.zeros(2), start=50, stop=150)) == pytest.approx(49 / 51)
        with pytest.raises(ValueError, match="exactly one"):
            analysis.fitted_rate(traj)
        with pytest.raises(ValueError, match="exactly one"):
            analysis.fitted_rate(traj, f_star=0.0, x_star=jnp.zeros(2))
        with pytest.raises(ValueError, match="start"):
            analysis.fitted_rate(traj, f_star=0.0, start=10, stop=5)


def test_analysis_is_jittable_and_vmappable():
    mats = jnp.stack([jnp.diag(jnp.asarray([1.0, k])) for k in (4.0, 9.0, 25.0)])
    kappas = jax.jit(jax.vmap(analysis.condition_number))(mats)
    np.testing.assert_allclose(kappas, [4.0, 9.0, 25.0], rtol=1e-6)
    hb = jax.jit(analysis.heavy_ball_optimal)(jnp.asarray([1.0, 9.0]))
    assert float(hb.rate) == pytest.approx(0.5)
    assert float(analysis.condition_number(jnp.asarray([-1.0, 2.0]))) == np.inf


# --------------------------------------------------------------------------- errors


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="square"):
        analysis.eigenvalues(jnp.ones((2, 3)))
    with pytest.raises(ValueError, match="square"):
        analysis.condition_number(jnp.ones((3, 2)))
    with pytest.raises(ValueError, match="non-finite"):
        analysis.eigenvalues(jnp.asarray([[1.0, jnp.nan], [jnp.nan, 1.0]]))
    with pytest.raises(ValueError, match="non-finite"):
        analysis.stability_bound(jnp.asarray([1.0, jnp.nan]))
    with pytest.raises(ValueError, match="non-finite"):
        analysis.hessian(problems.booth(), jnp.asarray([jnp.nan, 1.0]))
    with pytest.raises(ValueError, match="non-finite"):
        analysis.estimate_curvature(problems.booth(), jax.random.key(0), [[0.0, jnp.nan], [0.0, 1.0]], 4)
    with pytest.raises(ValueError, match="symmetric"):
        analysis.eigenvalues(jnp.asarray([[1.0, 2.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="vector of eigenvalues or a square matrix"):
        analysis.lambda_max(jnp.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="empty"):
        analysis.lambda_min(jnp.zeros((0,)))
    with pytest.raises(TypeError, match="scalar"):
        analysis.hessian(lambda x: x**2, jnp.ones(2))
    with pytest.raises(ValueError, match="box"):
        analysis.estimate_curvature(problems.booth(), jax.random.key(0), [[1.0, 0.0], [0.0, 1.0]], 4)
    with pytest.raises(ValueError, match="num_samples"):
        analysis.estimate_curvature(problems.booth(), jax.random.key(0), problems.booth().box, 0)
    with pytest.raises(ValueError, match="1-D"):
        analysis.momentum_stability_region(jnp.ones(2), jnp.ones((2, 2)), jnp.ones(2))


# --------------------------------------------------------------------------- a problem in one call


def test_momentum_stable_is_the_region_elementwise():
    eig = jnp.asarray([2.0, 100.0])
    lrs, momenta = np.geomspace(1e-3, 0.1, 30), np.linspace(-0.1, 1.0, 25)
    aa, bb = np.meshgrid(lrs, momenta)
    stable = np.asarray(analysis.momentum_stable(eig, aa, bb))
    np.testing.assert_array_equal(stable, analysis.momentum_stability_region(eig, lrs, momenta).stable)
    np.testing.assert_array_equal(stable, (bb >= 0) & (bb < 1) & (aa * 100 < 2 + 2 * bb))
    assert not bool(analysis.momentum_stable(jnp.asarray([-1.0, 1.0]), 0.01, 0.5))  # indefinite: never


def test_learning_rate_bounds_at_the_minimiser():
    bounds = analysis.learning_rate_bounds(problems.ravine(50.0))
    assert bounds.stability_bound == pytest.approx(0.02, rel=1e-6)
    assert bounds.optimal_lr == pytest.approx(2 / 102, rel=1e-6)
    np.testing.assert_allclose(bounds.spectrum, [2.0, 100.0], rtol=1e-6)
    assert bounds.to_dict() == {"stability_bound": bounds.stability_bound, "optimal_lr": bounds.optimal_lr}
    assert analysis.learning_rate_bounds(problems.strict_saddle()) is None  # no minimiser listed
    p = problems.ravine(50.0)
    p.minimizers = None
    assert analysis.learning_rate_bounds(p) is None


def test_analyze_ravine_and_saddle():
    result = analysis.analyze(problems.ravine(50.0), samples=8)
    (m,) = result.critical_points
    assert m.listed_as == "minimizer" and m.kind == "minimum"
    assert (m.lambda_min, m.lambda_max) == pytest.approx((2.0, 100.0), rel=1e-6)
    assert m.kappa == pytest.approx(50.0, rel=1e-6) and m.gd_rate_at_optimal_lr == pytest.approx(49 / 51, rel=1e-6)
    assert result.start.kind == "Hessian positive definite" and result.start.f == pytest.approx(28.5)
    assert float(result.box_curvature.beta) == pytest.approx(100.0, rel=1e-5) and result.samples == 8
    d = result.to_dict()
    assert d["critical_points"][0]["gd_iterations_to_1e-6"] == m.gd_iterations
    assert d["curvature_over_box"]["box"] == [list(b) for b in problems.ravine(50.0).box]
    saddle = analysis.analyze(problems.strict_saddle(), samples=8)
    (s,) = saddle.critical_points
    assert s.kind == "strict saddle" and s.kappa is None and s.stability_bound == pytest.approx(2.0)
    row = s.to_dict()
    assert "kappa" not in row and "heavy_ball_optimal" not in row and row["listed_as"] == "saddles"


def test_problems_that_differ_only_in_data_share_one_hessian_compile():
    analysis.hessian(problems.ravine(3.0), jnp.zeros(2))
    before = analysis._dense_hessian._cache_size()
    for c in (7.0, 11.0):
        np.testing.assert_allclose(analysis.hessian(problems.ravine(c), jnp.zeros(2)), np.diag([2.0, 2 * c]))
    assert analysis._dense_hessian._cache_size() == before
