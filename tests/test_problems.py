"""Test problems: values, known minimisers and critical points, registry, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize

import jaxgd
from jaxgd import analysis, problems

NAMES = sorted(problems.REGISTRY)


@pytest.mark.parametrize("name", NAMES)
def test_registry_problem_is_consistent(name):
    p = problems.get(name)
    assert p.x0.shape == (p.dim,)
    assert np.isfinite(float(p(p.x0)))
    assert bool(jnp.all(jnp.isfinite(jax.grad(p)(p.x0))))
    if p.minimizers is not None:
        assert p.minimizers.ndim == 2 and p.minimizers.shape[1] == p.dim
        assert p.minimum is not None and jnp.shape(p.minimum) == ()
    if p.dim == 2:
        (x0, x1), (y0, y1) = p.box
        assert x0 < x1 and y0 < y1
        pts = [p.x0] + ([] if p.minimizers is None else list(p.minimizers))
        for pt in pts:
            assert x0 <= float(pt[0]) <= x1 and y0 <= float(pt[1]) <= y1, f"{pt} outside the box of {name}"


@pytest.mark.parametrize("name", NAMES)
def test_wrong_dimension_raises(name):
    p = problems.get(name)
    with pytest.raises(ValueError, match=rf"shape \({p.dim},\)"):
        p(jnp.zeros(p.dim + 1))
    with pytest.raises(ValueError, match="takes a vector"):
        p(jnp.zeros((1, p.dim)))


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="himmelblau"):
        problems.get("himmelblau2")


@jax.jit
def _at_minimizers(p):
    """f, grad f and the Hessian's extreme eigenvalues at each known minimiser, in one compilation."""
    return jax.vmap(p)(p.minimizers), jax.vmap(jax.grad(p))(p.minimizers), analysis.curvature_range(p, p.minimizers)


@pytest.mark.parametrize("name", NAMES)
def test_known_minimisers_are_smooth_minima(name):
    """Zero gradient, PSD Hessian and the stated value at every known minimiser (float64)."""
    with jax.enable_x64(True):
        p = problems.get(name)
        if p.minimizers is None:
            pytest.skip(f"{name} has no minimiser")
        if not p.smooth_at_minimum:
            assert name == "ackley", "only Ackley is declared non-smooth at its minimum"
            pytest.skip("Ackley is not differentiable at its minimum (see its docstring)")
        values, grads, curv = _at_minimizers(p)
        np.testing.assert_allclose(values, p.minimum, atol=1e-12)
        assert float(jnp.abs(grads).max()) < 1e-9, (name, grads)
        assert bool(jnp.all(curv.lambda_min > 1e-9 * jnp.maximum(1.0, curv.lambda_max))), curv


def test_ackley_is_declared_nonsmooth_at_minimum():
    p = problems.ackley()
    assert p.smooth_at_minimum is False
    assert "not differentiable" in problems.ackley.__doc__.lower()
    assert float(p(jnp.zeros(2))) == pytest.approx(0.0, abs=1e-6)
    with jax.enable_x64(True):
        p = problems.ackley(3)
        with pytest.raises(ValueError, match="non-finite"):
            analysis.hessian_eigenvalues(p, jnp.zeros(3))
        # away from 0 it is smooth, and 0 is the lowest of the lattice of local minima
        pts = jax.random.uniform(jax.random.key(0), (200, 3), minval=-3, maxval=3)
        assert float(jnp.min(jax.vmap(p)(pts))) > 0.0


def test_himmelblau_critical_points_are_classified():
    with jax.enable_x64(True):
        p = problems.himmelblau()
        assert p.minimizers.shape == (4, 2)
        for x in p.minimizers:
            assert analysis.classify_critical_point(p, x) == "minimum"
        (xmax,) = p.critical_points["maxima"]
        assert analysis.classify_critical_point(p, xmax) == "maximum"
        assert float(p(xmax)) == pytest.approx(181.6165215225827, rel=1e-12)
        for x in p.critical_points["saddles"]:
            assert analysis.classify_critical_point(p, x) == "strict saddle"


def test_six_hump_camel_critical_points():
    with jax.enable_x64(True):
        p = problems.six_hump_camel()
        kinds = {"local_minima": "minimum", "maxima": "maximum", "saddles": "strict saddle"}
        for key, kind in kinds.items():
            for x in p.critical_points[key]:
                assert analysis.classify_critical_point(p, x) == kind
                assert float(p(x)) > float(p.minimum)
        # the global minimum is the lowest point of a fine grid over the box
        (x0, x1), (y0, y1) = p.box
        grid = jnp.stack(jnp.meshgrid(jnp.linspace(x0, x1, 201), jnp.linspace(y0, y1, 201)), -1).reshape(-1, 2)
        assert float(jnp.min(jax.vmap(p)(grid))) >= float(p.minimum)


def test_monkey_saddle_is_degenerate():
    with jax.enable_x64(True):
        p = problems.monkey_saddle()
        (x,) = p.critical_points["degenerate"]
        assert analysis.classify_critical_point(p, x) == "degenerate"
        np.testing.assert_allclose(analysis.hessian(p, jnp.asarray([0.3, -0.2])), [[1.8, 1.2], [1.2, -1.8]], atol=1e-12)


def test_rosenbrock_matches_scipy():
    x = np.random.default_rng(0).normal(size=(5, 10))
    for dim in (2, 10):
        p = problems.rosenbrock(dim)
        for xi in x[:, :dim]:
            assert float(p(jnp.asarray(xi))) == pytest.approx(scipy.optimize.rosen(xi), rel=1e-5)
            np.testing.assert_allclose(jax.grad(p)(jnp.asarray(xi)), scipy.optimize.rosen_der(xi), rtol=1e-4)


def test_booth_is_the_stated_quadratic():
    with jax.enable_x64(True):
        p = problems.booth()
        h = analysis.hessian(p, jnp.asarray([0.3, -7.0]))
        np.testing.assert_allclose(h, [[10.0, 8.0], [8.0, 10.0]], atol=1e-12)
        assert float(analysis.condition_number(h)) == pytest.approx(9.0)


def test_beale_and_rastrigin_values():
    assert float(problems.beale()(jnp.asarray([0.0, 0.0]))) == pytest.approx(1.5**2 + 2.25**2 + 2.625**2)
    r = problems.rastrigin(3)
    # x_i = 0.5: each term 0.25 + 10 (cos(pi) = -1), plus A n = 30
    assert float(r(jnp.full(3, 0.5))) == pytest.approx(30 + 3 * 10.25, rel=1e-6)


@pytest.mark.parametrize("rotated", [False, True])
def test_general_quadratic(rotated):
    with jax.enable_x64(True):
        spectrum = jnp.asarray([0.5, 1.0, 4.0, 10.0])
        b = jnp.asarray([1.0, -2.0, 0.5, 3.0])
        key = jax.random.key(3) if rotated else None
        p = problems.general_quadratic(spectrum, key=key, linear=b)
        a = p.data["matrix"]
        np.testing.assert_allclose(analysis.hessian(p, p.x0), a, atol=1e-12)
        np.testing.assert_allclose(analysis.hessian_eigenvalues(p, p.x0), spectrum, rtol=1e-12)
        assert rotated == bool(jnp.abs(a - jnp.diag(jnp.diagonal(a))).max() > 1e-3)
        xstar = np.linalg.solve(np.asarray(a), -np.asarray(b))
        np.testing.assert_allclose(p.minimizers[0], xstar, rtol=1e-10)
        assert float(p.minimum) == pytest.approx(float(p(jnp.asarray(xstar))), rel=1e-12)
        x = jnp.asarray([0.3, 0.1, -2.0, 1.0])
        assert float(p(x)) == pytest.approx(float(0.5 * x @ a @ x + b @ x), rel=1e-12)


def test_general_quadratic_indefinite_has_no_minimiser():
    p = problems.general_quadratic([1.0, -2.0], linear=[1.0, 1.0])
    assert p.minimizers is None and p.minimum is None
    np.testing.assert_allclose(p.critical_points["saddles"][0], [-1.0, 0.5])


def test_problem_is_a_pytree_that_vmaps():
    ps = [problems.general_quadratic([1.0, k]) for k in (2.0, 5.0, 9.0)]
    stacked = jax.tree.map(lambda *a: jnp.stack(a), *ps)
    vals = jax.vmap(lambda p: p(jnp.ones(2)))(stacked)
    np.testing.assert_allclose(vals, [1.5, 3.0, 5.0])


def test_strict_saddle_needs_both_signs():
    with pytest.raises(ValueError, match="both signs"):
        problems.strict_saddle([1.0, 2.0])
    p = problems.strict_saddle([2.0, -0.5, 1.0])
    assert p.minimizers is None
    assert analysis.classify_critical_point(p, p.critical_points["saddles"][0]) == "strict saddle"


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="dim"):
        problems.rosenbrock(1)
    with pytest.raises(ValueError, match="l2"):
        problems.logistic_regression(-1.0)
    with pytest.raises(ValueError, match="linear"):
        problems.general_quadratic([1.0, 2.0], linear=[1.0])


def test_problems_follow_dtype():
    assert problems.himmelblau().x0.dtype == jnp.float32
    with jax.enable_x64(True):
        p = problems.logistic_regression()
        assert p.x0.dtype == jnp.float64 and p.minimizers.dtype == jnp.float64
        assert p.data["features"].dtype == jnp.float64


def test_logistic_regression_matches_sklearn_and_its_constants():
    from sklearn.linear_model import LogisticRegression

    with jax.enable_x64(True):
        l2 = 0.05
        p = problems.logistic_regression(l2)
        z, y = np.asarray(p.data["features"]), np.asarray(p.data["labels"])
        n = z.shape[0]
        assert z.shape == (569, 31)
        np.testing.assert_allclose(z[:, :30].mean(0), 0.0, atol=1e-12)
        np.testing.assert_allclose(z[:, :30].std(0), 1.0, rtol=1e-12)
        # sklearn: 1/2 ||w||^2 + C sum log-loss = (C n) f(w) with C = 1 / (n l2)
        clf = LogisticRegression(C=1.0 / (n * l2), fit_intercept=False, tol=1e-12, max_iter=10_000)
        clf.fit(z, y)
        np.testing.assert_allclose(p.minimizers[0], clf.coef_[0], atol=1e-5)
        w = p.minimizers[0]
        assert float(jnp.linalg.norm(jax.grad(p)(w))) < 1e-12
        alpha = float(problems.logistic_alpha(p.data["features"], l2))
        beta = float(problems.logistic_beta(p.data["features"], l2))
        assert alpha == pytest.approx(l2)
        assert beta == pytest.approx(np.linalg.eigvalsh(z.T @ z)[-1] / (4 * n) + l2)
        # the Hessian's spectrum lies within [alpha, beta] everywhere; check at random points
        pts = 2.0 * jax.random.normal(jax.random.key(0), (8, 31))
        rng = analysis.curvature_range(p, jnp.concatenate([pts, w[None]]))
        assert alpha <= float(rng.alpha) and float(rng.beta) <= beta
        # and beta is nearly attained at w = 0, where every weight s(1-s) = 1/4
        assert float(analysis.lambda_max(analysis.hessian(p, jnp.zeros(31)))) == pytest.approx(beta, rel=1e-10)


def test_gd_solves_logistic_regression_at_rate_bound():
    """GD with eta = 1/beta contracts ||w - w*|| at least as fast as 1 - alpha/beta."""
    with jax.enable_x64(True):
        p = problems.logistic_regression(0.1)
        beta = float(problems.logistic_beta(p.data["features"], 0.1))
        traj = jaxgd.run(jaxgd.sgd(1.0 / beta), p, p.x0, 200)
        err = jnp.linalg.norm(traj.params - p.minimizers[0], axis=1)
        bound = (1.0 - 0.1 / beta) ** jnp.arange(201) * err[0]
        assert bool(jnp.all(err <= bound * (1 + 1e-9)))
        assert bool(jnp.all(jnp.diff(err) < 0))
