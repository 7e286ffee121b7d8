"""minimize speaks scipy: scipy.optimize's result names and status codes, method spellings, args, options and
list x0, checked against scipy.optimize.minimize; the default tolerance per dtype; history and progress; the
stops (a non-finite point, a line search without decrease); classic badly scaled and singular functions
(benchmarks/mgh.py: Moré, Garbow & Hillstrom 1981) against scipy."""

import importlib
import importlib.util
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize

from jaxgd import problems
from jaxgd import second_order as so

_spec = importlib.util.spec_from_file_location("mgh", pathlib.Path(__file__).parents[1] / "benchmarks" / "mgh.py")
mgh = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mgh)
MGH = {t.name: t for t in mgh.FUNCTIONS}
_minimize_module = importlib.import_module("jaxgd.second_order._minimize")


def rosen(x):
    """scipy.optimize.rosen, in JAX."""
    return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def _scipy(fun, x0, method, args=(), **kw):
    """scipy.optimize.minimize with JAX's gradient (and Hessian-vector products for Newton-CG)."""
    f, g = jax.jit(fun), jax.jit(jax.grad(fun))
    if method == "Newton-CG":
        hvp = jax.jit(lambda x, v, *a: jax.jvp(lambda y: jax.grad(fun)(y, *a), (x,), (v,))[1])
        kw["hessp"] = lambda x, v, *a: np.asarray(hvp(x, v, *a))
    return scipy.optimize.minimize(
        lambda x, *a: float(f(x, *a)),
        np.asarray(x0, float),
        jac=lambda x, *a: np.asarray(g(x, *a)),
        method=method,
        args=args,
        **kw,
    )


def test_result_reads_as_a_scipy_optimize_result():
    with jax.enable_x64(True):
        res = so.minimize(rosen, [-1.2, 1.0, -1.2, 1.0], "BFGS")
        ref = _scipy(rosen, [-1.2, 1.0, -1.2, 1.0], "BFGS", options={"gtol": 1e-8})
        assert res.fun is res.value and res.jac is res.grad and res.nit is res.steps
        assert res.nfev is res.n_fev and res.njev is res.n_gev and res.nhev is res.n_hev
        assert res.success is res.converged
        assert int(res.status) == ref.status == 0 and bool(res.success) and ref.success
        assert isinstance(res.message, str) and res.message == so.STATUS_MESSAGES[0]
        np.testing.assert_allclose(res.x, ref.x, atol=1e-6)
        np.testing.assert_allclose(res.fun, ref.fun, atol=1e-12)
        np.testing.assert_allclose(res.jac, jax.grad(rosen)(res.x), rtol=1e-6, atol=1e-12)
        # a result from vmap has one message per problem; inside jit the status is not known yet
        batched = jax.vmap(lambda x0: so.minimize(rosen, x0, "bfgs", max_steps=5))(jnp.array([[-1.2, 1.0], [1.0, 1.0]]))
        assert list(batched.message) == [so.STATUS_MESSAGES[1], so.STATUS_MESSAGES[0]]
        with pytest.raises(TypeError, match="outside jit"):
            jax.jit(lambda x0: so.minimize(rosen, x0).message)(jnp.array([-1.2, 1.0]))


def test_status_codes_are_scipys():
    """0 converged, 1 maxiter, 2 no decrease ('precision loss'), as scipy's BFGS says them."""
    with jax.enable_x64(True):
        for options, code in (({"gtol": 1e-8}, 0), ({"maxiter": 3, "gtol": 1e-8}, 1)):
            res = so.minimize(rosen, [-1.2, 1.0], "BFGS", options=options)
            ref = _scipy(rosen, [-1.2, 1.0], "BFGS", options=options)
            assert int(res.status) == ref.status == code, options
        assert int(res.nit) == ref.nit == 3
        t = MGH["brown_dennis"]  # f* = 85822: ||grad f|| <= 1e-12 is below what float64 resolves there (1e-8 is not,
        # with the approximate Wolfe test: BFGS reaches 7e-9 with or without FMA, stopping at 3e-11 to 7e-11)
        res = so.minimize(t.fun, mgh.x0_of(t), "BFGS", tol=1e-12)
        ref = _scipy(t.fun, mgh.x0_of(t), "BFGS", options={"gtol": 1e-12})
        assert int(res.status) == ref.status == 2
        assert res.message == so.STATUS_MESSAGES[2] and bool(res.linesearch_failed)
        np.testing.assert_allclose(res.fun, ref.fun, rtol=1e-12)
        assert int(res.nfev) < 200  # it stops there: no repeated 30-trial searches up to max_steps


@pytest.mark.parametrize("x64", [False, True])
def test_an_unbounded_problem_stops_at_the_last_finite_point_with_its_value(x64):
    with jax.enable_x64(x64):

        def fun(x):
            return -jnp.sum(x**2)

        res = so.minimize(fun, jnp.array([1.0, 2.0]), "lbfgs")
        assert int(res.status) == 3 and bool(res.diverged) and not bool(res.success)
        assert "non-finite" in res.message
        assert np.all(np.isfinite(np.asarray(res.x))) and np.isfinite(float(res.fun))
        assert float(res.fun) == float(fun(res.x))  # the true value at the point returned
        assert int(res.nit) < 50
        for method in ("bfgs", "newton", "newton_cg", "nonlinear_cg", "saddle_free_newton"):
            res = so.minimize(fun, jnp.array([1.0, 2.0]), method)
            assert int(res.status) in (2, 3), method  # a non-finite point, or no finite decrease left
            assert np.all(np.isfinite(np.asarray(res.x))) and float(res.fun) == float(fun(res.x)), method
            assert int(res.nit) < 1000, method
        nan_at_start = so.minimize(lambda x: jnp.sum(jnp.log(x - 3.0)), jnp.array([1.0, 2.0]))
        assert int(nan_at_start.status) == 3 and int(nan_at_start.nit) == 0
        np.testing.assert_array_equal(nan_at_start.x, [1.0, 2.0])


@pytest.mark.parametrize(
    "spelling, scipy_method",
    [
        ("BFGS", "BFGS"),
        ("Bfgs", "BFGS"),
        ("L-BFGS-B", "L-BFGS-B"),
        ("l-bfgs-b", "L-BFGS-B"),
        ("L-BFGS", "L-BFGS-B"),
        ("Newton-CG", "Newton-CG"),
        ("CG", "CG"),
        ("cg", "CG"),
    ],
)
def test_scipy_method_names_run_the_same_method(spelling, scipy_method):
    with jax.enable_x64(True):
        res = so.minimize(rosen, [-1.2, 1.0], spelling)
        options = {"xtol": 1e-14} if scipy_method == "Newton-CG" else {"gtol": 1e-8}
        ref = _scipy(rosen, [-1.2, 1.0], scipy_method, options=options)
        assert bool(res.success) and ref.success
        np.testing.assert_allclose(res.x, ref.x, atol=1e-5)
    name, options = _minimize_module._method_name(spelling)
    assert name in so.METHODS
    if scipy_method == "CG":  # scipy's CG is Polak-Ribiere with beta = max(0, beta_PR)
        assert options == {"variant": "pr_plus"}


def test_an_unknown_method_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"'Nelder-Mead'.*nonlinear_cg.*L-BFGS-B"):
        so.minimize(rosen, [-1.2, 1.0], "Nelder-Mead")


def test_args_are_passed_to_fun_as_scipy_passes_them():
    with jax.enable_x64(True):

        def fun(x, a, b):  # minimiser (a, a^2)
            return (a - x[0]) ** 2 + b * (x[1] - x[0] ** 2) ** 2

        res = so.minimize(fun, [-1.2, 1.0], "BFGS", args=(2.0, 50.0))
        ref = _scipy(fun, [-1.2, 1.0], "BFGS", args=(2.0, 50.0), options={"gtol": 1e-8})
        np.testing.assert_allclose(res.x, [2.0, 4.0], atol=1e-6)
        np.testing.assert_allclose(res.x, ref.x, atol=1e-6)
        compiled = _minimize_module._minimize._cache_size()
        again = so.minimize(fun, [-1.2, 1.0], "BFGS", args=(1.5, 20.0))  # args are traced: no new compilation
        assert _minimize_module._minimize._cache_size() == compiled
        np.testing.assert_allclose(again.x, [1.5, 2.25], atol=1e-6)
        one = so.minimize(lambda x, c: jnp.sum((x - c) ** 2), [0.0, 0.0], args=3.0)  # one argument, as scipy
        np.testing.assert_allclose(one.x, [3.0, 3.0], atol=1e-8)


def test_options_dict_and_scipy_arguments_not_taken():
    with jax.enable_x64(True):
        res = so.minimize(rosen, [-1.2, 1.0], "BFGS", options={"maxiter": 5})
        assert int(res.nit) == 5 and int(res.status) == 1
        res = so.minimize(rosen, [-1.2, 1.0], "BFGS", options={"gtol": 1e-3})
        assert bool(res.success) and 1e-8 < float(res.grad_norm) <= 1e-3
        by_scipy = so.minimize(rosen, [-1.2, 1.0], "L-BFGS-B", options={"maxcor": 3})
        by_jaxgd = so.minimize(rosen, [-1.2, 1.0], "lbfgs", memory_size=3)
        np.testing.assert_array_equal(by_scipy.x, by_jaxgd.x)
    with pytest.raises(ValueError, match="unknown key 'ftol'"):
        so.minimize(rosen, [-1.2, 1.0], options={"ftol": 1e-9})
    for name in ("jac", "bounds", "hessp"):
        with pytest.raises(TypeError, match=f"takes no '{name}'"):
            so.minimize(rosen, [-1.2, 1.0], **{name: None})
    with pytest.raises(ValueError, match="progress"):
        so.minimize(rosen, [-1.2, 1.0], progress=0)
    with pytest.raises(TypeError, match="history must be a bool"):
        so.minimize(rosen, [-1.2, 1.0], history="yes")


def test_a_list_or_tuple_x0_is_a_float_array_as_in_scipy():
    with jax.enable_x64(True):
        ref = so.minimize(rosen, jnp.array([-1.0, 1.0]))
        for x0 in ([-1, 1], (-1.0, 1), np.array([-1, 1])):
            res = so.minimize(rosen, x0)
            assert res.x.dtype == jnp.float64
            np.testing.assert_array_equal(res.x, ref.x)
    res = so.minimize(rosen, [-1, 1])  # without x64: float32, JAX's default float
    assert res.x.dtype == jnp.float32


def test_the_default_tolerance_is_reachable_in_each_dtype():
    p = problems.rosenbrock(10)
    res = so.minimize(p, np.asarray(p.x0, np.float32), "lbfgs")  # tol 1e-8 was out of reach in float32
    assert bool(res.success) and int(res.status) == 0, res.message
    assert so.default_tol(res.x) == pytest.approx(np.sqrt(np.finfo(np.float32).eps))
    assert float(res.grad_norm) <= so.default_tol(res.x)
    tight = so.minimize(p, np.asarray(p.x0, np.float32), "lbfgs", tol=1e-8)  # below float32: stops, says why
    assert int(tight.nit) < 200  # ... unless it lands on the minimiser exactly (rounding decides which)
    assert int(tight.status) == 2 or (int(tight.status) == 0 and float(tight.grad_norm) <= 1e-8), tight.message
    with jax.enable_x64(True):
        res = so.minimize(p, np.asarray(p.x0, np.float64), "lbfgs")
        assert so.default_tol(res.x) == 1e-8 and bool(res.success) and float(res.grad_norm) <= 1e-8


@pytest.mark.parametrize("x64", [False, True])
def test_history_holds_f_and_grad_norm_per_iteration_then_nan(x64):
    with jax.enable_x64(x64):
        p = problems.rosenbrock()
        x0 = jnp.asarray(p.x0)
        res = so.minimize(p, x0, "bfgs", max_steps=100, history=True)
        k = int(res.nit)
        value, gnorm = np.asarray(res.history.value), np.asarray(res.history.grad_norm)
        assert value.shape == gnorm.shape == (101,) and value.dtype == x0.dtype
        assert np.all(np.isfinite(value[: k + 1])) and np.all(np.isnan(value[k + 1 :]))
        assert np.all(np.isfinite(gnorm[: k + 1])) and np.all(np.isnan(gnorm[k + 1 :]))
        assert value[0] == float(p(x0)) and value[k] == float(res.fun)
        np.testing.assert_allclose(gnorm[0], jnp.linalg.norm(jax.grad(p)(x0)), rtol=1e-6)
        assert gnorm[k] == float(res.grad_norm)
        assert np.all(np.diff(value[: k + 1]) <= 0)  # a line search never increases f
        assert so.minimize(p, x0, "bfgs", max_steps=100).history is None
        starts = jnp.stack([x0, jnp.asarray([2.0, 2.0], x0.dtype)])
        batched = jax.vmap(lambda s: so.minimize(p, s, "bfgs", max_steps=100, history=True))(starts)
        assert batched.history.value.shape == (2, 101)
        for i in range(2):  # each problem's own iterations, then NaN
            k, row = int(batched.nit[i]), np.asarray(batched.history.value[i])
            assert np.all(np.isfinite(row[: k + 1])) and np.all(np.isnan(row[k + 1 :]))
            assert row[k] == float(batched.fun[i])


def test_progress_prints_from_inside_the_loop_and_nothing_when_off(capsys):
    with jax.enable_x64(True):
        x0 = jnp.array([-1.2, 1.0])
        res = so.minimize(rosen, x0, "bfgs", progress=5)
        jax.effects_barrier()
        lines = capsys.readouterr().out.strip().splitlines()
        k = int(res.nit)
        assert len(lines) == k // 5 + (k % 5 != 0)
        assert lines[0].startswith("minimize: iteration      5")
        assert lines[-1].endswith(f"({so.STATUS_MESSAGES[0]})")
        so.minimize(rosen, x0, "bfgs")
        jax.effects_barrier()
        assert capsys.readouterr().out == ""
        assert "callback" not in str(jax.make_jaxpr(lambda x: so.minimize(rosen, x).x)(x0))
        assert "callback" in str(jax.make_jaxpr(lambda x: so.minimize(rosen, x, progress=True).x)(x0))


BADLY_SCALED = ("powell_badly_scaled", "brown_badly_scaled")
MGH_NAMES = sorted(MGH)


@pytest.mark.parametrize("name", BADLY_SCALED)
def test_nonlinear_cg_solves_badly_scaled_functions(name):
    """PR+ stalled on both (Powell's: 1000 iterations of 30-trial searches, not converged; Brown's: f = 4.8e-4
    after 8 iterations); scipy's CG converges on Powell's and stops short on Brown's ('precision loss', f = 1.6e-9),
    with as many evaluations within a factor 2."""
    with jax.enable_x64(True):
        t = MGH[name]
        res = so.minimize(t.fun, mgh.x0_of(t), "nonlinear_cg", variant="pr_plus", tol=1e-8)
        assert bool(res.success), (res.message, float(res.fun))
        assert float(res.fun) < 1e-9 and int(res.nfev) < 600
        ref = _scipy(t.fun, mgh.x0_of(t), "CG", options={"gtol": 1e-8})
        assert int(res.nfev) <= 2 * ref.nfev


@pytest.mark.parametrize("name", MGH_NAMES)
def test_every_method_against_scipy_on_classic_test_functions(name):
    """jaxgd's BFGS, L-BFGS, Newton-CG and CG (PR+) against scipy's: f* reached wherever scipy's same method
    converges; no run ends at max_steps; where the tolerance is below rounding (Brown-Dennis, f* = 85822) both stop
    there (status 2) at f*."""
    t = MGH[name]
    with jax.enable_x64(True):
        for method, scipy_method in (("bfgs", "BFGS"), ("lbfgs", "L-BFGS-B"), ("newton_cg", "Newton-CG"), ("CG", "CG")):
            res = so.minimize(t.fun, mgh.x0_of(t), method, tol=1e-8)
            options = {"xtol": 1e-14} if scipy_method == "Newton-CG" else {"gtol": 1e-8}
            if scipy_method == "L-BFGS-B":
                options["ftol"] = 0.0
            ref = _scipy(t.fun, mgh.x0_of(t), scipy_method, options=options)
            where = (name, method, res.message, ref.message)
            assert int(res.status) in (0, 2) and int(res.nfev) < 1000, where
            assert abs(float(res.fun) - t.fmin) <= 1e-8 * max(1.0, t.fmin), where
            if int(res.status) == 2:
                assert ref.status != 0, where  # scipy cannot get there either
