"""Second-order and quasi-Newton methods: closed forms, hand-stepped updates, optax and scipy agreement, minimize."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.optimize

import jaxgd
from jaxgd import problems
from jaxgd import second_order as so

SPECTRUM = np.logspace(0.0, 2.0, 6)


def _rotated_quadratic():
    return problems.general_quadratic(SPECTRUM, key=jax.random.key(1), linear=np.linspace(-1.0, 1.0, 6))


@pytest.mark.parametrize("x64", [False, True])
@pytest.mark.parametrize("method", ["newton", "regularized_newton", "saddle_free_newton"])
def test_newton_solves_a_positive_definite_quadratic_in_one_step(x64, method):
    with jax.enable_x64(x64):
        p = _rotated_quadratic()
        kw = {"alpha": 0.0} if method == "regularized_newton" else {}
        traj = jaxgd.run(so.METHODS[method](**kw), p, p.x0, 1)
        tol = 1e-10 if x64 else 2e-4
        np.testing.assert_allclose(traj.final_params, p.minimizers[0], rtol=tol, atol=tol)


def test_newton_converges_quadratically_on_rosenbrock():
    with jax.enable_x64(True):
        p = problems.rosenbrock()
        x = jnp.array([1.01, 1.02])
        traj = jaxgd.run(so.newton(), p, x, 4)
        err = np.linalg.norm(np.asarray(traj.params) - 1.0, axis=1)  # 2e-2, 4e-4, 8e-6, 5e-11, 0
        assert err[3] < 1e-9
        for k in range(3):
            assert err[k + 1] <= 100.0 * err[k] ** 2  # e_{k+1} <= C e_k^2
        assert np.log(err[3]) / np.log(err[2]) > 1.8  # the number of correct digits doubles


@pytest.mark.parametrize("variant", ["polak_ribiere", "fletcher_reeves", "hestenes_stiefel", "pr_plus"])
def test_cg_with_exact_line_search_solves_a_d_dim_quadratic_in_d_steps(variant):
    with jax.enable_x64(True):
        p = _rotated_quadratic()
        d = p.dim
        traj = jaxgd.run(so.nonlinear_cg(variant, linesearch="exact"), p, p.x0, d)
        assert traj.grad_norm[-1] < 1e-9 * traj.grad_norm[0]
        assert traj.grad_norm[d - 1] > 1e-6 * traj.grad_norm[0]  # not done earlier: the test is about d
        # hand-stepped linear CG (Nocedal & Wright, Algorithm 5.2) gives the same iterates
        a_mat, b = p.data["matrix"], p.data["linear"]
        x = p.x0
        r = a_mat @ x + b
        dd = -r
        for k in range(d):
            alpha = (r @ r) / (dd @ a_mat @ dd)
            x = x + alpha * dd
            r_new = r + alpha * a_mat @ dd
            dd = -r_new + (r_new @ r_new) / (r @ r) * dd
            r = r_new
            np.testing.assert_allclose(traj.params[k + 1], x, rtol=1e-7, atol=1e-9)


SMOOTH = [
    name
    for name, make in problems.REGISTRY.items()
    if make().minimizers is not None and make().smooth_at_minimum and name != "logistic_breast_cancer"
]


@pytest.mark.parametrize("method", ["bfgs", "lbfgs"])
def test_quasi_newton_reaches_tolerance_on_every_smooth_problem_and_agrees_with_scipy(method):
    with jax.enable_x64(True):
        names = [*SMOOTH, "logistic_breast_cancer"]
        for name in names:
            p = problems.get(name)
            res = so.minimize(p, p.x0, method, tol=1e-8, max_steps=2000)
            assert bool(res.converged), (name, float(res.grad_norm))
            assert float(res.grad_norm) < 1e-8
            f = jax.jit(p)
            g = jax.jit(jax.grad(p))
            refs = [
                scipy.optimize.minimize(
                    lambda x: float(f(x)), np.asarray(p.x0), jac=lambda x: np.asarray(g(x)), method=m, tol=1e-12
                )
                for m in ("BFGS", "L-BFGS-B")
            ]
            # scipy's two methods disagree on rosenbrock10 (one stops at its local minimum near (-1, 1, ..., 1)):
            # the minimiser found must be one of scipy's
            dist = [float(np.max(np.abs(np.asarray(res.x) - ref.x))) for ref in refs]
            k = int(np.argmin(dist))
            assert dist[k] < 1e-5, (name, dist)
            np.testing.assert_allclose(res.value, refs[k].fun, rtol=1e-8, atol=1e-12, err_msg=name)


def test_lbfgs_matches_optax_lbfgs_step_for_step():
    with jax.enable_x64(True):
        p = problems.rosenbrock()
        mine = jaxgd.run(so.lbfgs(memory_size=3, learning_rate=0.01, linesearch=None), p, p.x0, 30)
        ref = optax.lbfgs(learning_rate=0.01, memory_size=3, linesearch=None)

        @jax.jit
        def step(x, state):
            u, state = ref.update(jax.grad(p)(x), state, x)
            return optax.apply_updates(x, u), state

        x, state = p.x0, ref.init(p.x0)
        for k in range(30):
            x, state = step(x, state)
            np.testing.assert_allclose(mine.params[k + 1], x, rtol=1e-10, atol=1e-12)


def test_lbfgs_with_zoom_agrees_with_optax_lbfgs_on_rosenbrock10():
    with jax.enable_x64(True):
        p = problems.rosenbrock(10)
        res = so.minimize(p, p.x0, "lbfgs", tol=1e-9)
        opt = optax.lbfgs()
        vg = optax.value_and_grad_from_state(p)

        @jax.jit
        def step(x, state):
            v, g = vg(x, state=state)
            u, state = opt.update(g, state, x, value=v, grad=g, value_fn=p)
            return optax.apply_updates(x, u), state

        x, state = p.x0, opt.init(p.x0)
        for _ in range(300):
            x, state = step(x, state)
        np.testing.assert_allclose(res.x, x, atol=1e-7)
        assert int(res.steps) < 300


def test_bfgs_inverse_hessian_satisfies_the_secant_equation():
    with jax.enable_x64(True):
        p = problems.beale()
        opt = so.scale_by_bfgs()
        x, state = p.x0, opt.init(p.x0)
        xs, gs = [], []
        for _ in range(4):
            g = jax.grad(p)(x)
            u, state = opt.update(g, state, x)  # u = H_k g, to be subtracted (optax's sign convention)
            xs.append(x)
            gs.append(g)
            x = x - 0.1 * u
        s, y = xs[-1] - xs[-2], gs[-1] - gs[-2]
        np.testing.assert_allclose(state.inv_hessian @ y, s, rtol=1e-10)
        np.testing.assert_allclose(state.inv_hessian, state.inv_hessian.T, atol=1e-12)
        assert np.all(np.linalg.eigvalsh(state.inv_hessian) > 0)


def test_newton_cg_meets_its_forcing_tolerance_and_agrees_with_scipy():
    with jax.enable_x64(True):
        p = _rotated_quadratic()
        g = jax.grad(p)(p.x0)
        opt = so.scale_by_newton_cg()
        u, state = opt.update(g, opt.init(p.x0), p.x0, value_fn=p)
        d = -u  # the update is to be subtracted (optax's sign convention): d solves H d = -g
        gnorm = float(jnp.linalg.norm(g))
        resid = float(jnp.linalg.norm(p.data["matrix"] @ d + g))
        assert resid <= min(0.5, np.sqrt(gnorm)) * gnorm
        assert int(state.cg_steps) <= p.dim and not bool(state.negative_curvature)
        r = problems.rosenbrock(10)
        res = so.minimize(r, r.x0, "newton_cg")
        ref = scipy.optimize.minimize(
            lambda x: float(r(x)),
            np.asarray(r.x0),
            jac=lambda x: np.asarray(jax.grad(r)(x)),
            hessp=lambda x, v: np.asarray(jax.jvp(jax.grad(r), (x,), (v,))[1]),
            method="Newton-CG",
            options={"xtol": 1e-12},
        )
        assert bool(res.converged)
        np.testing.assert_allclose(res.x, ref.x, atol=1e-6)


def test_saddle_repels_regularised_and_saddle_free_newton_but_attracts_plain_newton():
    with jax.enable_x64(True):
        p = problems.strict_saddle()  # f = (x1^2 - x2^2) / 2, start (1, 0.01)
        plain = jaxgd.run(so.newton(linesearch=None, fallback="none"), p, p.x0, 1)
        np.testing.assert_allclose(plain.final_params, [0.0, 0.0], atol=1e-15)
        for opt in (
            so.regularized_newton(alpha=2.0),
            so.regularized_newton(alpha=1e-3, adaptive=True),
            so.saddle_free_newton(),
            so.newton(),  # default fallback: shift H until positive definite
        ):
            traj = jaxgd.run(opt, p, p.x0, 6)
            x2 = np.abs(np.asarray(traj.params)[:, 1])
            assert np.all(np.diff(x2) > 0), opt
            assert x2[-1] > 0.1 and float(traj.loss[-1]) < -0.005, opt
            assert np.all(np.diff(np.asarray(traj.loss)) < 0), opt


def test_levenberg_marquardt_adapts_alpha():
    with jax.enable_x64(True):
        p = problems.rosenbrock()
        opt = so.scale_by_levenberg_marquardt(alpha=1.0)
        x, state = p.x0, opt.init(p.x0)
        for _ in range(3):
            v, g = jax.value_and_grad(p)(x)
            u, new_state = opt.update(g, state, x, value=v, value_fn=p)
            d = -u  # the update is to be subtracted (optax's sign convention)
            h = jax.hessian(p)(x)
            mu = max(
                float(state.alpha), -float(np.linalg.eigvalsh(h)[0]) + 1.49e-8 * np.abs(np.linalg.eigvalsh(h)).max()
            )
            dd = -np.linalg.solve(h + mu * np.eye(2), g)
            rho = (v - p(x + dd)) / -(g @ dd + 0.5 * dd @ h @ dd)
            np.testing.assert_allclose(new_state.rho, rho, rtol=1e-6)
            expected = mu / 3 if rho > 0.75 else (mu if rho >= 0.25 else 4 * mu)
            np.testing.assert_allclose(new_state.alpha, expected, rtol=1e-6)
            np.testing.assert_allclose(d, dd if rho > 1e-4 else 0 * dd, rtol=1e-6, atol=1e-12)
            x, state = x + d, new_state


def test_minimize_vmaps_over_starts_and_counts_evaluations():
    with jax.enable_x64(True):
        p = problems.rosenbrock()
        starts = jnp.array([[-1.2, 1.0], [2.0, 2.0], [0.0, -1.0]])
        batched = jax.vmap(lambda x0: so.minimize(p, x0, "bfgs"))(starts)
        for i in range(3):
            single = so.minimize(p, starts[i], "bfgs")
            np.testing.assert_allclose(batched.x[i], single.x, rtol=1e-12)
            assert int(batched.steps[i]) == int(single.steps)
            assert int(batched.n_fev[i]) == int(single.n_fev)
        assert bool(jnp.all(batched.converged)) and not bool(jnp.any(batched.linesearch_failed))
        np.testing.assert_allclose(batched.x, 1.0, atol=1e-7)
        single = so.minimize(p, starts[0], "bfgs")
        assert int(single.n_fev) == int(single.n_gev) >= int(single.steps) + 1


def test_minimize_has_aux_and_pytree_params():
    with jax.enable_x64(True):

        def fun(params):
            r = params["w"] @ jnp.array([1.0, 2.0]) + params["b"] - 3.0
            return r**2 + 0.1 * jnp.sum(params["w"] ** 2) + 0.1 * params["b"] ** 2, {"residual": r}

        x0 = {"w": jnp.zeros(2), "b": jnp.zeros([])}
        for method in ("bfgs", "lbfgs", "newton", "newton_cg", "nonlinear_cg"):
            res = so.minimize(fun, x0, method, has_aux=True)
            assert bool(res.converged), method
            r = res.x["w"] @ jnp.array([1.0, 2.0]) + res.x["b"] - 3.0
            np.testing.assert_allclose(res.aux["residual"], r, rtol=1e-10)
            # stationarity of the ridge problem: w = r * (1, 2) * 10 / -1 ... checked through the gradient
            assert float(jaxgd.tree_norm(jax.grad(lambda p: fun(p)[0])(res.x))) < 1e-8


def test_every_method_runs_in_run_and_a_sweep_over_alpha_is_a_vmap():
    p = problems.rosenbrock()
    for name, make in so.METHODS.items():
        traj = jaxgd.run(make(), p, p.x0, 30)
        assert float(traj.loss[-1]) < 0.5 * float(traj.loss[0]), name
    opt = so.regularized_newton(alpha=1.0)
    leaves, treedef = jax.tree.flatten(opt)
    alphas = jnp.array([0.1, 1.0, 10.0])

    def run_one(a):
        return jaxgd.run(jax.tree.unflatten(treedef, [a, *leaves[1:]]), p, p.x0, 5).loss[-1]

    swept = jax.vmap(run_one)(alphas)
    for a, loss in zip(alphas, swept):
        np.testing.assert_allclose(
            loss, jaxgd.run(so.regularized_newton(alpha=float(a)), p, p.x0, 5).loss[-1], rtol=1e-5
        )


def test_restart_every_step_is_steepest_descent():
    # float64: the two chains round differently (one negation is a constant, the other a traced learning
    # rate, and XLA fuses them differently); in float32 a one-ulp difference grows past 1e-6 in 10 steps
    with jax.enable_x64(True):
        p = problems.rosenbrock()
        cg = jaxgd.run(so.nonlinear_cg(restart_every=1, linesearch="backtracking"), p, p.x0, 10)
        sd = jaxgd.run(jaxgd.chain(jaxgd.sgd(1.0), jaxgd.linesearch.scale_by_backtracking_linesearch()), p, p.x0, 10)
        np.testing.assert_allclose(cg.params, sd.params, rtol=1e-6)


def test_bad_input_raises_clear_errors():
    p = problems.rosenbrock()
    with pytest.raises(ValueError, match="non-finite"):
        so.minimize(p, jnp.array([jnp.nan, 1.0]))
    with pytest.raises(ValueError, match="non-finite"):
        so.minimize(p, jnp.array([jnp.inf, 1.0]))
    with pytest.raises(TypeError, match="scalar"):
        so.minimize(lambda x: x**2, jnp.ones(2))
    with pytest.raises(TypeError, match="has_aux"):
        so.minimize(lambda x: (jnp.sum(x**2), x), jnp.ones(2))
    with pytest.raises(ValueError, match="method"):
        so.minimize(p, p.x0, "adam")
    with pytest.raises(ValueError, match="memory_size"):
        so.lbfgs(memory_size=0)
    with pytest.raises(ValueError, match="variant"):
        so.nonlinear_cg("dai_yuan")
    with pytest.raises(ValueError, match="linesearch"):
        so.bfgs(linesearch="armijo")
    with pytest.raises(ValueError, match="alpha"):
        so.regularized_newton(alpha=-1.0)
    with pytest.raises(TypeError, match="value_fn"):
        opt = so.newton()
        opt.update(p.x0, opt.init(p.x0), p.x0)


def _steps(opt, fun, x, count):
    """``count`` steps of ``opt`` (given value, grad and value_fn, as optax.lbfgs expects), by hand."""

    @jax.jit
    def step(x, state):
        v, g = jax.value_and_grad(fun)(x)
        u, state = opt.update(g, state, x, value=v, grad=g, value_fn=fun)
        return optax.apply_updates(x, u), state

    xs, state = [x], opt.init(x)
    for _ in range(count):
        x, state = step(x, state)
        xs.append(x)
    return np.stack(xs)


def test_scale_by_lbfgs_has_optax_sign_and_numbers_in_the_same_chain():
    """optax.scale_by_lbfgs and jaxgd's, each in chain(., scale(-1), zoom) with default arguments, agree."""
    with jax.enable_x64(True):
        p = problems.rosenbrock(4)
        runs = [
            _steps(optax.chain(make(), optax.scale(-1.0), jaxgd.linesearch.scale_by_zoom_linesearch()), p, p.x0, 40)
            for make in (optax.scale_by_lbfgs, so.scale_by_lbfgs)
        ]
        np.testing.assert_allclose(runs[1], runs[0], rtol=1e-9, atol=1e-12)
        assert float(p(runs[1][-1])) < 1e-8  # the chain minimises (without the sign it would not move)
        g = jax.grad(p)(p.x0)
        for make in (optax.scale_by_lbfgs, so.scale_by_lbfgs):  # the first update: +g / max(1, ||g||)
            u, _ = make().update(g, make().init(p.x0), p.x0)
            np.testing.assert_allclose(u, g / max(1.0, float(jnp.linalg.norm(g))), rtol=1e-12)


def test_lbfgs_takes_optax_lbfgs_positional_arguments():
    with jax.enable_x64(True):
        p = problems.rosenbrock()
        for args in [(0.01,), (0.01, 3, False), (0.02, 5, True)]:
            mine = _steps(jaxgd.lbfgs(*args, linesearch=None), p, p.x0, 25)
            ref = _steps(optax.lbfgs(*args, linesearch=None), p, p.x0, 25)
            np.testing.assert_allclose(mine, ref, rtol=1e-10, atol=1e-12, err_msg=str(args))
        mine = _steps(jaxgd.lbfgs(0.01, 3, True, None), p, p.x0, 25)  # all four of optax's, in its order
        ref = _steps(optax.lbfgs(0.01, 3, True, None), p, p.x0, 25)
        np.testing.assert_allclose(mine, ref, rtol=1e-10, atol=1e-12)
        # with each one's default line search (they differ on purpose): the same minimiser
        mine, ref = (_steps(opt, p, p.x0, 60)[-1] for opt in (jaxgd.lbfgs(), optax.lbfgs()))
        np.testing.assert_allclose(mine, ref, atol=1e-8)


@pytest.mark.parametrize("name", sorted(so.METHODS))
def test_linesearch_names_are_static_so_plain_jit_takes_the_optimizer(name):
    p = problems.rosenbrock()
    for spec in ("auto", "backtracking", "zoom", None):
        opt = so.METHODS[name](linesearch=spec)
        assert not any(isinstance(leaf, str) for leaf in jax.tree.leaves(opt)), (name, spec)

        @jax.jit
        def step(opt, x):
            v, g = jax.value_and_grad(p)(x)
            u, _ = opt.update(g, opt.init(x), x, value=v, grad=g, value_fn=p)
            return optax.apply_updates(x, u)

        x1 = step(opt, p.x0)
        assert np.all(np.isfinite(np.asarray(x1))), (name, spec)
    assert step._cache_size() >= 1
