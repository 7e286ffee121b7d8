"""Line searches: Armijo / strong Wolfe hold at accepted steps, optax agreement, failures reported, extras."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxgd
from jaxgd import linesearch as ls
from jaxgd import problems
from jaxgd import second_order as so

ROSEN = problems.rosenbrock()


def rosen(x):
    return ROSEN.fn(x, **ROSEN.data)


def _loop(opt, f, x, steps):
    """Run opt by hand, returning (x_k, f_k, g_k, d_k-before-search, state) per step."""
    state = opt.init(x)
    rows = []

    @jax.jit
    def step(x, state):
        v, g = jax.value_and_grad(f)(x)
        u, state = opt.update(g, state, x, value=v, grad=g, value_fn=f)
        return v, g, u, state

    for _ in range(steps):
        v, g, u, state = step(x, state)
        rows.append((x, v, g, u, state))
        x = optax.apply_updates(x, u)
    return x, rows


def _search_state(state):
    return so._last_linesearch(state)


def test_backtracking_matches_optax_after_sgd():
    with jax.enable_x64(True):
        x0 = jnp.array([-1.2, 1.0])
        mine = jaxgd.chain(
            jaxgd.sgd(1.0), ls.scale_by_backtracking_linesearch(30, decrease_factor=0.8, increase_factor=1.5)
        )
        ref = optax.chain(optax.sgd(1.0), optax.scale_by_backtracking_linesearch(max_backtracking_steps=30))
        traj = jaxgd.run(mine, rosen, x0, 25)
        x, state = x0, ref.init(x0)
        xs = [x]
        for _ in range(25):
            v, g = jax.value_and_grad(rosen)(x)
            u, state = ref.update(g, state, x, value=v, grad=g, value_fn=rosen)
            x = optax.apply_updates(x, u)
            xs.append(x)
        np.testing.assert_allclose(traj.params, np.stack(xs), rtol=1e-12, atol=1e-14)
        assert traj.loss[-1] < traj.loss[0] * 0.5


@pytest.mark.parametrize("x64", [False, True])
def test_backtracking_steps_satisfy_armijo_and_are_the_largest_tried(x64):
    with jax.enable_x64(x64):
        c1, rho = 1e-4, 0.5
        opt = jaxgd.chain(jaxgd.sgd(1.0), ls.scale_by_backtracking_linesearch(40, c1=c1, decrease_factor=rho))
        _, rows = _loop(opt, rosen, jnp.array([-1.2, 1.0]), 15)
        for x, v, g, u, state in rows:
            s = _search_state(state)
            assert not bool(s.failed)
            a = float(s.learning_rate)
            d = -g
            np.testing.assert_allclose(u, a * d, rtol=1e-6)
            slope = float(g @ d)
            assert float(rosen(x + a * d)) <= float(v) + c1 * a * slope
            if a < 1.0:  # the previous trial a / rho failed the condition
                assert float(rosen(x + (a / rho) * d)) > float(v) + c1 * (a / rho) * slope
            assert int(s.n_fev) == int(s.num_steps) == round(np.log(a) / np.log(rho)) + 1


@pytest.mark.parametrize(
    "direction",
    [
        lambda: jaxgd.sgd(1.0),
        lambda: optax.chain(so.scale_by_lbfgs(), optax.scale(-1.0)),  # optax's sign convention: minus sign apart
        lambda: optax.chain(so.scale_by_nonlinear_cg("fletcher_reeves"), optax.scale(-1.0)),
    ],
)
def test_zoom_steps_satisfy_strong_wolfe(direction):
    with jax.enable_x64(True):
        c1, c2 = 1e-4, 0.4
        search = ls.scale_by_zoom_linesearch(c1=c1, c2=c2, initial_guess="quadratic")
        opt = jaxgd.chain(direction(), search)
        _, rows = _loop(opt, rosen, jnp.array([-1.2, 1.0]), 20)
        assert len(rows) == 20
        for x, v, g, u, state in rows:
            s = _search_state(state)
            if float(jnp.linalg.norm(g)) < 1e-6:
                break
            assert not bool(s.failed)
            a = float(s.learning_rate)
            d = u / a
            slope0 = float(g @ d)
            assert slope0 < 0
            f_a, g_a = jax.value_and_grad(rosen)(x + a * d)
            assert float(f_a) <= float(v) + c1 * a * slope0
            assert abs(float(g_a @ d)) <= c2 * abs(slope0) * (1 + 1e-9)
            # the state holds the value and gradient at the accepted point
            np.testing.assert_allclose(s.value, f_a, rtol=1e-12)
            np.testing.assert_allclose(s.grad, g_a, rtol=1e-10, atol=1e-14)


def test_zoom_on_a_quadratic_line_finds_a_wolfe_step_and_agrees_with_optax():
    """Along d = -g of f = 1/2 x^T A x the exact step is g.g / g^T A g; a tight c2 forces a step near it."""
    with jax.enable_x64(True):
        a_mat = jnp.diag(jnp.array([1.0, 10.0, 100.0]))

        def f(x):
            return 0.5 * x @ a_mat @ x

        x = jnp.array([1.0, 1.0, 1.0])
        v, g = jax.value_and_grad(f)(x)
        exact = float(g @ g / (g @ a_mat @ g))
        for search in (
            ls.scale_by_zoom_linesearch(c2=0.01),
            optax.scale_by_zoom_linesearch(max_linesearch_steps=30, curv_rtol=0.01),
        ):
            u, _ = search.update(-g, search.init(x), x, value=v, grad=g, value_fn=f)
            step = float(u[0] / -g[0])
            assert abs(step - exact) <= 0.01 * exact
            assert float(jnp.abs(jax.grad(f)(x + u) @ g)) <= 0.01 * float(g @ g)


def test_exact_linesearch_matches_the_closed_form_step():
    with jax.enable_x64(True):
        a_mat = jnp.array([[3.0, 1.0], [1.0, 2.0]])
        b = jnp.array([1.0, -1.0])

        def f(x):
            return 0.5 * x @ a_mat @ x + b @ x

        x = jnp.array([2.0, 1.0])
        d = jnp.array([-1.0, 0.5])
        v, g = jax.value_and_grad(f)(x)
        search = ls.scale_by_exact_linesearch()
        u, state = search.update(d, search.init(x), x, value=v, grad=g, value_fn=f)
        alpha = -(g @ d) / (d @ a_mat @ d)
        np.testing.assert_allclose(u, alpha * d, rtol=1e-12)
        np.testing.assert_allclose(state.value, f(x + alpha * d), rtol=1e-12)
        assert not bool(state.failed)


@pytest.mark.parametrize(
    "search",
    [ls.scale_by_backtracking_linesearch(), ls.scale_by_zoom_linesearch(), ls.scale_by_exact_linesearch()],
    ids=["backtracking", "zoom", "exact"],
)
def test_ascent_direction_fails_with_a_zero_step(search):
    def f(x):
        return -jnp.sum(x**2)  # concave: the exact search finds phi'' < 0 too

    x = jnp.array([1.0, 2.0])
    v, g = jax.value_and_grad(f)(x)
    u, state = search.update(g, search.init(x), x, value=v, grad=g, value_fn=f)
    assert bool(state.failed)
    np.testing.assert_array_equal(u, jnp.zeros(2))
    np.testing.assert_allclose(state.value, v)


def test_failed_search_is_reported_by_minimize():
    ascent = jaxgd.chain(optax.scale(1.0), ls.scale_by_zoom_linesearch())
    res = so.minimize(rosen, jnp.array([-1.2, 1.0]), ascent, max_steps=50)
    assert bool(res.linesearch_failed)
    assert not bool(res.converged)
    assert int(res.steps) == 1  # stopped: no decrease is possible along an ascent direction
    np.testing.assert_allclose(res.x, [-1.2, 1.0])


def test_has_aux_objectives_and_extra_arguments():
    with jax.enable_x64(True):
        data = jnp.array([3.0, 2.0, 1.0])

        def fn(params, x):
            return 0.5 * jnp.sum((params - x) ** 2)

        def fn_aux(params, x):
            return fn(params, x), {"resid": params - x}

        p = jnp.zeros(3)
        for make in (ls.scale_by_backtracking_linesearch, ls.scale_by_zoom_linesearch):
            plain, aux = make(), make(has_aux=True)
            v, g = jax.value_and_grad(fn)(p, data)
            u1, _ = plain.update(-g, plain.init(p), p, value=v, grad=g, value_fn=fn, x=data)
            u2, s2 = aux.update(-g, aux.init(p), p, value=v, grad=g, value_fn=fn_aux, x=data)
            np.testing.assert_allclose(u1, u2)
            np.testing.assert_allclose(u1, data)  # unit step reaches the minimiser
            assert not bool(s2.failed)


def test_line_search_after_first_order_methods_in_run_decreases_monotonically():
    for search in (ls.scale_by_backtracking_linesearch(), ls.scale_by_zoom_linesearch(initial_guess="keep")):
        ravine = problems.ravine(50.0)
        traj = jaxgd.run(jaxgd.chain(jaxgd.sgd(1.0), search), ravine, ravine.x0, 100)
        assert np.all(np.diff(np.asarray(traj.loss)) <= 0)
        assert traj.loss[-1] < 1e-2 * traj.loss[0]
        traj = jaxgd.run(jaxgd.chain(jaxgd.momentum(1.0, 0.5), search), ravine, ravine.x0, 50)
        assert np.all(np.diff(np.asarray(traj.loss)) <= 0)  # a momentum step is not always descent: no increase


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: ls.scale_by_backtracking_linesearch(c1=1.5), "c1"),
        (lambda: ls.scale_by_backtracking_linesearch(decrease_factor=1.0), "decrease_factor"),
        (lambda: ls.scale_by_backtracking_linesearch(increase_factor=0.5), "increase_factor"),
        (lambda: ls.scale_by_backtracking_linesearch(max_steps=0), "max_steps"),
        (lambda: ls.scale_by_zoom_linesearch(c1=0.5, c2=0.4), "c1 < c2"),
        (lambda: ls.scale_by_zoom_linesearch(initial_guess="two"), "initial_guess"),
        (lambda: ls.scale_by_zoom_linesearch(max_learning_rate=-1.0), "max_learning_rate"),
        (lambda: ls.scale_by_exact_linesearch(tol=-1.0), "tol"),
    ],
)
def test_bad_hyperparameters_raise(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_missing_value_fn_is_a_clear_error():
    search = ls.scale_by_zoom_linesearch()
    x = jnp.ones(2)
    with pytest.raises(TypeError, match="value_fn"):
        search.update(-x, search.init(x), x, value=1.0, grad=x)


@pytest.mark.parametrize("x64", [False, True])
def test_zoom_reaches_a_step_far_below_its_first_trial(x64):
    """phi(a) = (s - a)^2 / 2 from a trial of 1 with s = 1e-6 (float32) or 1e-12 (float64), as on Brown's badly
    scaled function: the interpolated trials approach 0 by a tenth of the interval each (bisection needed 20 or
    40 halvings, more than the 30 trials allowed)."""
    with jax.enable_x64(x64):
        s = 1e-12 if x64 else 1e-6

        def f(x):
            return 0.5 * jnp.sum(x**2)

        x = jnp.array([s])
        v, g = jax.value_and_grad(f)(x)
        search = ls.scale_by_zoom_linesearch()
        u, state = search.update(-jnp.ones(1), search.init(x), x, value=v, grad=g, value_fn=f)
        assert not bool(state.failed)
        assert int(state.num_steps) <= 15
        assert abs(float(u[0]) + s) <= 0.1 * s  # |slope| <= 0.9 |slope(0)| and more: the step is near s
        assert float(state.value) < float(v)


def test_zoom_interpolates_slopes_where_values_are_equal_to_rounding():
    """Near a minimiser f is flat to rounding: f = 1 + x^2 / 2 at x = 1e-9 along d = -2.5 x gives the same
    f at every trial, so the cubic through the values is noise; the secant of the slopes gives a = 0.4."""
    with jax.enable_x64(True):

        def f(x):
            return 1.0 + 0.5 * jnp.sum(x**2)

        x = jnp.array([1e-9])
        v, g = jax.value_and_grad(f)(x)
        search = ls.scale_by_zoom_linesearch(c2=0.01)
        u, state = search.update(-2.5 * x, search.init(x), x, value=v, grad=g, value_fn=f)
        assert not bool(state.failed) and int(state.num_steps) == 2
        np.testing.assert_allclose(state.learning_rate, 0.4, rtol=1e-6)
        np.testing.assert_allclose(u, -x, rtol=1e-6)  # 0.4 * (-2.5 x): the minimiser along the line


def test_zoom_accepts_a_step_by_its_slope_where_f_is_flat_to_rounding():
    """Hager & Zhang's approximate Wolfe test: f = 1 + x^2 / 2 at x = 1e-9, plus one ulp of rounding noise past
    half the step (as an O0 build or another CPU may give). The Newton step a = 1 lands on the minimiser (slope 0)
    with f one ulp above f(0): Armijo rejects it, the approximate test accepts it at the first trial."""
    with jax.enable_x64(True):
        x0 = jnp.array([1e-9])

        def f(x):
            return 1.0 + 0.5 * jnp.sum(x**2) + jnp.where(x[0] < 0.5 * x0[0], jnp.finfo(x.dtype).eps, 0.0)

        v, g = jax.value_and_grad(f)(x0)
        for rtol, trials in ((1e-6, 1), (None, 2)):
            search = ls.scale_by_zoom_linesearch(approx_dec_rtol=rtol)
            u, state = search.update(-x0, search.init(x0), x0, value=v, grad=g, value_fn=f)
            assert not bool(state.failed) and int(state.num_steps) == trials, rtol
        assert float(f(x0 - x0)) > float(v)  # the accepted step of the first search raised f by rounding
        np.testing.assert_allclose(u, -0.5 * x0, rtol=0.5)  # without the test: a step short of half, Armijo's
