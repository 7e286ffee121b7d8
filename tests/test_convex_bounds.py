"""The table's bounds, their inverses and the Robbins-Monro check; the problems' optima and constants."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgd import convex as C
from jaxgd.convex import bounds as B

# --------------------------------------------------------------------------- bounds


def test_bounds_are_the_formulas_and_vmap():
    cases = {  # bound(16, ...) and its value by hand
        "subgradient": (lambda t: B.subgradient_bound(t, 2.0, 3.0), 2 * 3 / 4),
        "sc_subgradient": (lambda t: B.strongly_convex_subgradient_bound(t, 3.0, 0.5), 2 * 9 / (0.5 * 17)),
        "smooth": (lambda t: B.smooth_bound(t, 2.0, 3.0), 2 * 9 / 32),
        "accelerated": (lambda t: B.accelerated_bound(t, 2.0, 3.0), 2 * 2 * 9 / 17**2),
        "frank_wolfe": (lambda t: B.frank_wolfe_bound(t, 2.0, 3.0), 2 * 2 * 9 / 18),
        "sc_smooth": (lambda t: B.strongly_convex_smooth_bound(t, 8.0, 3.0), 9 * math.exp(-2)),
        "sc_accelerated": (lambda t: B.accelerated_strongly_convex_bound(t, 4.0, 1.0, 2.0, 1.0), 2 * 0.5**16),
        "mirror_descent": (lambda t: B.mirror_descent_bound(t, 2.0, 3.0), 6 * math.sqrt(2 / 16)),
        "mirror_prox": (lambda t: B.mirror_prox_bound(t, 3.0, 2.0, 1.0), 4 * 6 / 16),
        "ellipsoid": (lambda t: B.ellipsoid_bound(t, 2, 4.0, 1.0, 0.5), 0.5 * 4 * math.exp(-2)),
        "interior_point": (lambda t: B.interior_point_bound(t, 4.0, 2.0), 4 * math.exp(-16 / 27)),
    }
    values = jax.jit(lambda t: {k: fn(t) for k, (fn, _) in cases.items()})(16.0)
    for k, (_, expected) in cases.items():
        assert math.isclose(float(values[k]), expected, rel_tol=1e-6), k
    ts = jnp.arange(1.0, 6.0)
    batched = jax.jit(jax.vmap(B.accelerated_bound, (0, None, None)))(ts, 2.0, 3.0)
    np.testing.assert_allclose(batched, 36 / (ts + 1) ** 2, rtol=1e-6)


def test_iterations_to_epsilon_inverts_the_bounds():
    eps = 1e-3
    t = B.iterations_to_epsilon(lambda t: B.subgradient_bound(t, 2.0, 3.0), eps)
    assert t == math.ceil((6 / eps) ** 2)
    t = B.iterations_to_epsilon(lambda t: B.accelerated_bound(t, 1.0, 1.0), eps)
    assert B.accelerated_bound(t, 1.0, 1.0) <= eps < B.accelerated_bound(t - 1, 1.0, 1.0)
    t = B.iterations_to_epsilon(lambda t: B.strongly_convex_smooth_bound(t, 10.0, 1.0), eps)
    assert t == math.ceil(10 * math.log(1 / eps))
    assert B.iterations_to_epsilon(lambda t: 0.5 / t, 1.0) == 1
    with pytest.raises(ValueError, match="stays above"):
        B.iterations_to_epsilon(lambda t: 1.0, 0.5, max_iterations=1000)


def test_robbins_monro_conditions():
    horizon = 4096
    sc = B.robbins_monro(C.strongly_convex_step(2.0), horizon)
    assert sc.satisfied and math.isclose(sc.exponent, 1.0, abs_tol=1e-2)
    lip = B.robbins_monro(C.lipschitz_step(1.0, 1.0), horizon)
    assert lip.sum_diverges and not lip.squares_converge and not lip.satisfied
    constant = B.robbins_monro(lambda t: 0.1 + 0 * t, horizon)
    assert constant.sum_diverges and not constant.squares_converge
    fast = B.robbins_monro(lambda t: 1 / (t + 1.0) ** 2, horizon)
    assert not fast.sum_diverges and fast.squares_converge and not fast.satisfied
    assert math.isclose(sc.sum_eta, float(np.sum(1.0 / (np.arange(horizon) + 2))), rel_tol=1e-5)
    with pytest.raises(ValueError, match="positive finite step"):
        B.robbins_monro(lambda t: 0 * t, horizon)


def test_table_names_its_bounds_and_its_left_out_rows():
    names = {row.bound for row in B.TABLE if row.bound}
    assert all(callable(getattr(B, n)) for n in names)
    left_out = {row.algorithm for row in B.TABLE if row.bound is None}
    assert {"centre of gravity", "Vaidya"} <= left_out
    assert "centre of gravity" in C.__doc__ and "Vaidya" in C.__doc__
    assert all(row.note for row in B.TABLE if row.bound is None)


def test_step_sizes():
    step = C.lipschitz_step(2.0, 4.0, horizon=100)
    assert math.isclose(step(0), step(50)) and math.isclose(step(7), 2 / (4 * 10), rel_tol=1e-6)
    assert math.isclose(C.lipschitz_step(2.0, 4.0)(3), 0.5 / 2, rel_tol=1e-6)
    assert math.isclose(C.strongly_convex_step(0.5)(0), 2.0, rel_tol=1e-6)  # eta_1 = 2 / (alpha 2) = 1 / alpha
    with pytest.raises(ValueError, match="alpha must be positive"):
        C.strongly_convex_step(0.0)


# --------------------------------------------------------------------------- problems


def test_least_squares_ball_optimum_and_constants():
    with jax.enable_x64(True):
        for p in (C.problems.least_squares_ball(30, kappa=20.0, seed=2), C.problems.least_squares_ball(64)):
            k = p.constants
            x = p.x_star
            value, g = jax.jit(jax.value_and_grad(p.f))(x)
            np.testing.assert_allclose(g, -k["multiplier"] * x, atol=1e-12)  # KKT: -grad f(x*) in the normal cone
            assert math.isclose(float(jnp.linalg.norm(x)), k["R"], rel_tol=1e-12)
            assert math.isclose(float(value), p.f_star, rel_tol=1e-10)
            a = np.asarray(p.data["a"]) if "a" in p.data else np.diag(np.asarray(p.data["scales"]))
            eig = np.linalg.eigvalsh(a.T @ a)  # the Hessian of (1/2)||A x - b||^2
            assert math.isclose(eig.max(), k["beta"], rel_tol=1e-10) and math.isclose(
                eig.min(), k["alpha"], rel_tol=1e-6
            )


def test_max_affine_optimum_and_lipschitz_constant():
    rng = np.random.default_rng(0)
    with jax.enable_x64(True):
        for alpha in (0.0, 1.0):
            p = C.problems.max_affine(6, 15, alpha=alpha, seed=1)
            pts = rng.standard_normal((500, 6))
            pts /= np.maximum(1, np.linalg.norm(pts, axis=1, keepdims=True))
            values, grads = jax.jit(jax.vmap(jax.value_and_grad(p.f)))(jnp.asarray(pts))
            at_star = float(jax.jit(p.f)(p.x_star))
            assert np.all(np.asarray(values) >= p.f_star) and math.isclose(at_star, p.f_star, rel_tol=1e-12)
            assert np.linalg.norm(grads, axis=1).max() <= p.constants["L"]
            distance = np.linalg.norm(np.asarray(p.x0) - np.asarray(p.x_star))
            assert math.isclose(distance, p.constants["R"], rel_tol=1e-12)
        box = C.problems.max_affine(3, 8, domain="box", seed=2)
        grid = np.stack(np.meshgrid(*[np.linspace(-1, 1, 21)] * 3), -1).reshape(-1, 3)
        values = np.asarray(jax.jit(jax.vmap(box.f))(jnp.asarray(grid)))
        assert values.min() >= box.f_star - 1e-12
        assert math.isclose(values.max() - box.f_star, box.constants["variation"], rel_tol=1e-12)  # at a vertex
    with pytest.raises(ValueError, match="m >= n"):
        C.problems.max_affine(5, 5)


def test_lasso_game_and_lp_optimality():
    with jax.enable_x64(True):
        lasso = C.problems.lasso_diabetes(0.1)
        x, y, w = (np.asarray(v) for v in (lasso.data["x"], lasso.data["y"], lasso.x_star))
        corr = x.T @ (y - x @ w) / x.shape[0]
        on = w != 0
        np.testing.assert_allclose(corr[on], 0.1 * np.sign(w[on]), rtol=1e-10)
        value = 0.5 * np.mean((x @ w - y) ** 2) + 0.1 * np.abs(w).sum()
        assert np.all(np.abs(corr[~on]) <= 0.1) and math.isclose(value, lasso.f_star, rel_tol=1e-14)
        assert math.isclose(float(jax.jit(lambda p: p.value(p.x_star))(lasso)), lasso.f_star, rel_tol=1e-14)
        game = C.problems.matrix_game(5, 4, value=0.7, seed=3)
        a = np.asarray(game.data["a"])
        np.testing.assert_allclose(a @ np.asarray(game.data["y_star"]), 0.7, rtol=1e-12)
        np.testing.assert_allclose(np.asarray(game.x_star) @ a, 0.7, rtol=1e-12)
        assert math.isclose(float(np.max(np.asarray(game.x_star) @ a)), game.f_star, rel_tol=1e-12)
        lp = C.problems.linear_program(4, 9, seed=2)
        c, a, b = (np.asarray(lp.data[n]) for n in ("c", "a", "b"))
        xs = np.asarray(lp.x_star)
        active = np.isclose(a @ xs, b, rtol=0, atol=1e-12)
        multipliers = np.linalg.lstsq(a[active].T, -c, rcond=None)[0]
        assert active.sum() == 4 and np.all(multipliers > 0) and np.all(a @ xs <= b + 1e-12) and np.all(b > 0)
