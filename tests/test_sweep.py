"""jaxgd.sweep: equals separate runs, closed-form divergence and tolerance steps, spaces, saving and resuming."""

import itertools
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from scipy import optimize, stats

import jaxgd
from jaxgd import analysis
from jaxgd import sweeps as S
from jaxgd.sweeps import backend, driver, engine, result

RAVINE = jaxgd.problems.ravine(50.0)  # f = x1^2 + 50 x2^2 from (4, 0.5): Hessian diag(2, 100)


@pytest.fixture(params=[False, True], ids=["value-after-step", "value-with-grad"])
def value_mode(request, monkeypatch):
    """Both inner loops whatever the loss: f(x_{t+1}) evaluated after the step, or f(x_t) from value_and_grad."""
    monkeypatch.setattr(backend, "gradient_shares_value", lambda loss_jaxpr, cheap: request.param)
    return request.param


def ravine_closed_form(eta: float, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GD on x1^2 + 50 x2^2 from (4, 0.5): x_t = x0 (1 - eta lambda)^t, f_t = 16 r1^2t + 12.5 r2^2t."""
    x = np.stack([4.0 * (1 - 2 * eta) ** t, 0.5 * (1 - 100 * eta) ** t], -1)
    return x, x[..., 0] ** 2 + 50 * x[..., 1] ** 2


@pytest.mark.parametrize("x64", [False, True])
def test_sweep_equals_separate_runs(x64, value_mode):
    with jax.enable_x64(x64):
        problem = jaxgd.problems.rosenbrock()
        lrs, mus = [1e-4, 3e-4, 1e-3], [0.0, 0.5, 0.9]
        res = S.sweep(jaxgd.momentum, problem, S.grid(learning_rate=lrs, momentum=mus), 150, chunk_size=4)
        assert res.num_runs == 9 and res.done and not res.diverged.any()
        rtol = 1e-12 if x64 else 2e-5
        for i in range(9):
            lr, mu = res.hyperparams["learning_rate"][i], res.hyperparams["momentum"][i]
            assert (lr, mu) == (lrs[i // 3], mus[i % 3])  # the first name varies slowest
            traj = jaxgd.run(jaxgd.momentum(lr, mu), problem, problem.x0, 150)
            np.testing.assert_allclose(res.final_params[i], traj.final_params, rtol=rtol)
            np.testing.assert_allclose(res.final_loss[i], traj.loss[-1], rtol=rtol)
            np.testing.assert_allclose(res.best_loss[i], np.min(traj.loss), rtol=rtol)
            np.testing.assert_allclose(res.final_grad_norm[i], traj.grad_norm[-1], rtol=rtol)
        assert res.final_params.dtype == (np.float64 if x64 else np.float32)


def test_divergence_step_frozen_params_and_tolerance_step_match_closed_form(value_mode):
    lrs = np.array([0.005, 0.0195, 0.0203, 0.021, 0.025])
    steps, tol = 600, 1e-3
    with jax.enable_x64(True):
        ravine = jaxgd.problems.ravine(50.0)
        res = S.sweep(jaxgd.sgd, ravine, {"learning_rate": lrs}, steps, tol=tol, blowup=1e4)
    assert res.final_params.dtype == np.float64
    t = np.arange(steps + 1)
    for i, eta in enumerate(lrs):
        x, f = ravine_closed_form(eta, t)
        over = np.nonzero(f > 1e4 * 28.5)[0]
        if over.size:
            d = over[0]
            assert res.diverge_step[i] == d
            assert res.final_loss[i] == np.inf
            np.testing.assert_allclose(res.final_params[i], x[d - 1], rtol=1e-10)  # frozen at x_{d-1}
            np.testing.assert_allclose(res.best_loss[i], f[:d].min(), rtol=1e-10)
        else:
            assert res.diverge_step[i] == -1
            np.testing.assert_allclose(res.final_loss[i], f[-1], rtol=1e-8)
            np.testing.assert_allclose(res.final_params[i], x[-1], rtol=1e-8, atol=1e-300)
        reached = np.nonzero(f <= tol)[0]
        assert res.tol_step[i] == (reached[0] if reached.size and (not over.size or reached[0] < over[0]) else -1)
    assert list(res.diverged) == [False, False, True, True, True]
    assert res.tol_step[0] > res.tol_step[1] > 0


@pytest.mark.parametrize("where", ["first", "last", "middle"])
def test_exact_summaries_whatever_the_block_size(where, value_mode):
    # The fast loop checks blocks as a whole; divergence step, frozen x_{d-1}, best loss and tol step are
    # recovered by a replay. Put the divergence step d and the tol step on the first step of a block,
    # on its last step, and inside it; compare with the closed form of GD on x1^2 + 50 x2^2.
    eta_div, eta_tol, steps, tol = 0.0203, 0.0195, 400, 1e-3
    t = np.arange(steps + 1)
    x_div, f_div = ravine_closed_form(eta_div, t)
    d = int(np.nonzero(f_div > 1e4 * 28.5)[0][0])
    x_tol, f_tol = ravine_closed_form(eta_tol, t)
    k = int(np.nonzero(f_tol <= tol)[0][0])
    assert 10 < d < steps and 10 < k < steps
    for target in (d, k):
        block = {"first": target - 1, "last": target, "middle": 7}[where]  # steps t0+1 .. t0+block form a block
        with jax.enable_x64(True):
            ravine = jaxgd.problems.ravine(50.0)
            res = S.sweep(jaxgd.sgd, ravine, {"learning_rate": [eta_div, eta_tol]}, steps, tol=tol, block=block)
        assert list(res.diverge_step) == [d, -1] and list(res.tol_step) == [-1, k]
        np.testing.assert_allclose(res.final_params[0], x_div[d - 1], rtol=1e-10)
        np.testing.assert_allclose(res.best_loss[0], f_div[:d].min(), rtol=1e-10)
        np.testing.assert_allclose(res.final_grad_norm[0], np.hypot(2 * x_div[d - 1, 0], 100 * x_div[d - 1, 1]))
        np.testing.assert_allclose(res.final_params[1], x_tol[-1], rtol=1e-8, atol=1e-300)
        np.testing.assert_allclose(res.best_loss[1], f_tol.min(), rtol=1e-8)
        assert res.final_loss[0] == np.inf


def test_events_just_past_the_last_step_are_not_counted(value_mode):
    # The replay after the loop runs a whole block from the last checkpoint, past the last step when the
    # steps end inside a block: a divergence or a tol step found there must not count.
    eta_div, eta_tol, tol = 0.0203, 0.0195, 1e-3
    t = np.arange(1000)
    d = int(np.nonzero(ravine_closed_form(eta_div, t)[1] > 1e4 * 28.5)[0][0])
    x_tol, f_tol = ravine_closed_form(eta_tol, t)
    k = int(np.nonzero(f_tol <= tol)[0][0])
    assert k < d
    for steps in (d - 1, k - 1):
        with jax.enable_x64(True):
            res = S.sweep(
                jaxgd.sgd, jaxgd.problems.ravine(50.0), {"learning_rate": [eta_div, eta_tol]}, steps, tol=tol, block=7
            )
        assert steps % 7 and list(res.diverge_step) == [-1, -1]
        assert list(res.tol_step) == [-1, k if k <= steps else -1]
        assert np.all(np.isfinite(res.final_loss))
        np.testing.assert_allclose(res.final_params[1], x_tol[steps], rtol=1e-8)


def test_tol_reached_then_diverged_in_the_same_block_and_a_bad_start(value_mode):
    # lr = 0.0203: f dips from 28.5 to 27.32 at step 4 (the x1 term shrinks first), then diverges at step 170.
    steps, tol, eta = 300, 27.5, 0.0203
    t = np.arange(steps + 1)
    x, f = ravine_closed_form(eta, t)
    d = int(np.nonzero(f > 1e4 * 28.5)[0][0])
    k = int(np.nonzero(f <= tol)[0][0])
    assert (k, d) == (3, 170)
    for block in (1, 4, d + 5, None):  # with d + 5, tol and divergence fall in the same block; None: sqrt(steps)
        with jax.enable_x64(True):
            res = S.sweep(jaxgd.sgd, jaxgd.problems.ravine(50.0), {"learning_rate": [eta]}, steps, tol=tol, block=block)
        assert (res.diverge_step[0], res.tol_step[0]) == (d, k)
        np.testing.assert_allclose(res.final_params[0], x[d - 1], rtol=1e-10)
        np.testing.assert_allclose(res.best_loss[0], f[:d].min(), rtol=1e-10)

    def log_loss(x):  # NaN at a negative start: diverged at step 0, frozen at x_0
        return jnp.sum(jnp.log(x))

    res = S.sweep(jaxgd.sgd, log_loss, {"learning_rate": [0.1]}, 10, x0=jnp.array([-1.0, 2.0]))
    assert res.diverge_step[0] == 0 and res.best_loss[0] == np.inf and res.final_loss[0] == np.inf
    np.testing.assert_array_equal(res.final_params[0], [-1.0, 2.0])
    with pytest.raises(ValueError, match="block"):
        S.sweep(jaxgd.sgd, RAVINE, {"learning_rate": [0.1]}, 10, block=0)


def test_a_loss_that_falls_to_minus_infinity_diverges_there(value_mode):
    # f(x) = -exp(x), GD with eta = 1 from 0: x = 0, 1, 1 + e, ~44.9, ~3e19; f(x_4) = -inf in float32, so d = 4.
    xs = [np.float32(0.0)]
    with np.errstate(over="ignore"):
        for _ in range(4):
            xs.append(xs[-1] + np.exp(xs[-1]))
        assert np.isfinite(np.exp(xs[3])) and np.exp(xs[4]) == np.inf
    for block in (1, 3, None):
        res = S.sweep(jaxgd.sgd, lambda x: -jnp.exp(x[0]), {"learning_rate": [1.0]}, 20, x0=jnp.zeros(1), block=block)
        assert res.diverge_step[0] == 4 and res.final_loss[0] == np.inf
        np.testing.assert_allclose(res.final_params[0], [xs[3]], rtol=1e-6)
        np.testing.assert_allclose(res.best_loss[0], -np.exp(xs[3]), rtol=1e-4)


def test_diverged_runs_leave_the_others_untouched(value_mode):
    # The same five lanes, once all stable and once with two diverging: the same program, so the stable
    # lanes must be bitwise the same (a NaN or inf leaking across lanes would change them).
    stable = np.array([0.001, 0.002, 0.01, 0.003, 0.019])
    mixed = np.array([0.001, 0.5, 0.01, 1e3, 0.019])  # 1e3 overflows to inf within a few steps in float32
    a = S.sweep(jaxgd.sgd, RAVINE, {"learning_rate": stable}, 200, curve_every=10)
    b = S.sweep(jaxgd.sgd, RAVINE, {"learning_rate": mixed}, 200, curve_every=10)
    keep = [0, 2, 4]
    np.testing.assert_array_equal(b.final_params[keep], a.final_params[keep])
    np.testing.assert_array_equal(b.curve[keep], a.curve[keep])
    assert not a.diverged.any()
    assert list(b.diverged) == [False, True, False, True, False]
    assert np.all(np.isfinite(b.final_params)) and np.all(np.isfinite(b.best_loss))
    for i in (1, 3):
        d = b.diverge_step[i]
        assert d > 0
        assert np.all(np.isnan(b.curve[i, b.curve_steps >= d])) and np.all(np.isfinite(b.curve[i, b.curve_steps < d]))


def test_divergence_edge_of_gd_on_the_ravine():
    # 2 / lambda_max = 0.02 for x1^2 + 50 x2^2.
    lrs = np.linspace(0.0195, 0.0205, 101)
    res = S.sweep(jaxgd.sgd, RAVINE, {"learning_rate": lrs}, 2000, keep_params=False)
    div = res.diverged
    assert not div[lrs < 0.0199].any() and div[lrs > 0.0201].all()
    edge_low, edge_high = lrs[~div].max(), lrs[div].min()
    assert 0.0199 <= edge_low < edge_high <= 0.0201
    assert res.final_params is None


def test_the_loop_takes_the_value_from_the_gradient_where_they_share_work():
    P = jaxgd.problems
    cheap = [P.ravine(), P.rosenbrock(), P.rosenbrock(6), P.quadratic(np.arange(1.0, 30.0)), P.booth()]
    shared = [
        P.logistic_regression(),
        P.ackley(),
        P.rastrigin(),
        P.general_quadratic([1.0, 2.0, 3.0], key=jax.random.key(0)),
    ]
    for problem in cheap + shared:
        loss = jax.tree_util.Partial(problem.fn, **problem.data)
        assert backend.gradient_shares_value(jax.make_jaxpr(loss)(problem.x0)) == (problem in shared), problem.name
    assert backend.gradient_shares_value(jax.make_jaxpr(lambda p: jnp.sum(jax.nn.softplus(p["w"])))({"w": jnp.ones(3)}))


def test_curve_matches_a_recorded_run(value_mode):
    res = S.sweep(jaxgd.nesterov, RAVINE, {"learning_rate": [0.005, 0.01], "momentum": 0.8}, 53, curve_every=10)
    np.testing.assert_array_equal(res.curve_steps, [0, 10, 20, 30, 40, 50, 53])
    for i, lr in enumerate([0.005, 0.01]):
        traj = jaxgd.run(jaxgd.nesterov(lr, 0.8), RAVINE, RAVINE.x0, 53)
        np.testing.assert_allclose(res.curve[i], np.asarray(traj.loss)[res.curve_steps], rtol=1e-5)


@pytest.mark.parametrize("x64", [False, True])
def test_swept_adam_matches_plain_float_adam_to_rounding(x64):
    # optax issue 1532: inject_hyperparams makes Adam drift from the plain optimizer. Here the only
    # differences are XLA's rounding (e.g. fused multiply-adds, other vector code for the sweep's lanes),
    # grown over 300 steps of Rosenbrock: about 1e-4 in float32 near the end, a drift would be far larger.
    rtol = 1e-12 if x64 else 5e-4
    with jax.enable_x64(x64):
        problem = jaxgd.problems.rosenbrock()
        space = S.grid(learning_rate=[1e-3, 1e-2, 3e-2], b1=[0.8, 0.9], b2=[0.99, 0.999])
        res = S.sweep(jaxgd.adam, problem, space, 300, curve_every=1)
        for i in range(len(space)):
            hp = {k: float(v[i]) for k, v in res.hyperparams.items()}
            traj = jaxgd.run(jaxgd.adam(**hp), problem, problem.x0, 300)
            np.testing.assert_allclose(res.curve[i], traj.loss, rtol=rtol)
            np.testing.assert_allclose(res.final_params[i], traj.final_params, rtol=rtol)


def test_several_problems_and_starts_in_one_call(value_mode):
    kappas = [1.0, 10.0, 100.0]
    problems = [jaxgd.problems.quadratic(jnp.array([1.0, k])) for k in kappas]
    x0s = jnp.array([[1.0, 1.0], [-2.0, 0.5]])
    lrs = [0.005, 0.015, 0.1]
    res = S.sweep(jaxgd.sgd, problems, {"learning_rate": lrs}, 40, x0s=x0s)
    assert (res.num_configs, res.num_problems, res.num_starts, res.num_runs) == (3, 3, 2, 18)
    np.testing.assert_array_equal(res.problem_index.reshape(3, 3, 2)[:, :, 0], [[0, 1, 2]] * 3)
    np.testing.assert_array_equal(res.start_index.reshape(3, 3, 2)[:, 0, :], [[0, 1]] * 3)
    for r in range(res.num_runs):
        lr, p, s = res.hyperparams["learning_rate"][r], res.problem_index[r], res.start_index[r]
        lam = np.array([1.0, kappas[p]])
        x_t = np.asarray(x0s[s]) * (1 - lr * lam) ** np.arange(41)[:, None]  # GD on a diagonal quadratic
        t = res.diverge_step[r] - 1 if res.diverged[r] else 40  # a diverged run is frozen at x_{d-1}
        np.testing.assert_allclose(res.final_params[r], x_t[t], rtol=1e-5, atol=1e-30)
    # lr = 0.1 > 2 / 100 diverges on kappa = 100 only; best() takes the worst case over problems and starts.
    div = res.diverged.reshape(3, 3, 2)
    assert div[2, 2].all() and div.sum() == 2
    assert res.best().hyperparams == {"learning_rate": 0.015}
    scores = res.config_scores()
    assert scores[2] == np.inf and scores[1] < scores[0]


def test_default_starts_of_several_problems():
    problems = [jaxgd.problems.quadratic(jnp.array([1.0, k]), x0=jnp.array([k, 1.0])) for k in (2.0, 3.0)]
    res = S.sweep(jaxgd.sgd, problems, {"learning_rate": [0.1]}, 5)
    for p, k in enumerate((2.0, 3.0)):
        expected = np.array([k, 1.0]) * (1 - 0.1 * np.array([1.0, k])) ** 5
        np.testing.assert_allclose(res.final_params[p], expected, rtol=1e-6)


def test_plain_loss_with_pytree_params_and_x0():
    def loss(p):
        return jnp.sum(p["w"] ** 2) + 3.0 * p["b"] ** 2

    x0 = {"w": jnp.array([1.0, -2.0]), "b": jnp.array(0.5)}
    res = S.sweep(jaxgd.sgd, loss, {"learning_rate": [0.1, 0.2]}, 10, x0=x0)
    np.testing.assert_allclose(res.final_params["w"][1], np.array([1.0, -2.0]) * 0.6**10, rtol=1e-5)
    np.testing.assert_allclose(res.final_params["b"][0], 0.5 * 0.4**10, rtol=1e-5)
    with pytest.raises(ValueError, match="needs a start"):
        S.sweep(jaxgd.sgd, loss, {"learning_rate": [0.1]}, 10)


def test_a_repeated_sweep_traces_neither_loss_nor_optimizer_again():
    traced = []

    def loss(x):
        traced.append(1)
        return jnp.sum(x**2)

    first = S.sweep(jaxgd.sgd, loss, {"learning_rate": [0.1, 0.2]}, 10, x0=jnp.ones(2))
    n = len(traced)
    again = S.sweep(jaxgd.sgd, loss, {"learning_rate": [0.3, 0.4]}, 10, x0=jnp.ones(2))
    assert len(traced) == n > 0
    np.testing.assert_allclose(again.final_params[0], 0.4**10, rtol=1e-5)
    np.testing.assert_allclose(first.final_params[1], 0.6**10, rtol=1e-5)
    S.sweep(jaxgd.sgd, loss, {"learning_rate": [0.3, 0.4]}, 10, x0=jnp.ones(3))  # new shapes: traced anew
    assert len(traced) > n


def test_extra_args_optimizer_gets_value_and_value_fn(value_mode):
    def make(learning_rate):
        return optax.chain(optax.sgd(learning_rate), optax.scale_by_backtracking_linesearch(max_backtracking_steps=15))

    problem = jaxgd.problems.rosenbrock()
    res = S.sweep(make, problem, {"learning_rate": [1e-3, 1e-2]}, 30)
    for i, lr in enumerate([1e-3, 1e-2]):
        traj = jaxgd.run(make(lr), problem, problem.x0, 30)
        np.testing.assert_allclose(res.final_params[i], traj.final_params, rtol=1e-5)


def test_chunks_with_padding_equal_one_chunk():
    lrs = np.geomspace(1e-3, 0.03, 7)
    one = S.sweep(jaxgd.sgd, RAVINE, {"learning_rate": lrs}, 50, tol=1.0)
    many = S.sweep(jaxgd.sgd, RAVINE, {"learning_rate": lrs}, 50, tol=1.0, chunk_size=3)
    for k in ("final_loss", "best_loss", "tol_step", "diverge_step", "final_params"):
        np.testing.assert_array_equal(getattr(many, k), getattr(one, k))


# --------------------------------------------------------------------------- spaces


def test_grid_product_and_scales():
    space = S.grid(learning_rate=np.geomspace(1e-4, 1e-1, 4), momentum=[0.0, 0.9], eps=1e-8)
    assert len(space) == 8 and space.names == ("learning_rate", "momentum", "eps")
    np.testing.assert_array_equal(space.columns["momentum"], [0.0, 0.9] * 4)
    assert space.scales == {"learning_rate": "log", "momentum": "linear", "eps": "linear"}


def test_random_search_is_reproducible_and_log_uniform():
    key = jax.random.key(3)
    a = S.random_search(key, 4000, learning_rate=S.log_uniform(1e-6, 10.0), momentum=S.uniform(0.0, 0.99), b=2.0)
    b = S.random_search(key, 4000, learning_rate=S.log_uniform(1e-6, 10.0), momentum=S.uniform(0.0, 0.99), b=2.0)
    c = S.random_search(jax.random.key(4), 4000, learning_rate=S.log_uniform(1e-6, 10.0))
    np.testing.assert_array_equal(a.columns["learning_rate"], b.columns["learning_rate"])
    assert not np.array_equal(a.columns["learning_rate"], c.columns["learning_rate"])
    assert not np.array_equal(a.columns["learning_rate"], a.columns["momentum"])
    logs = np.log10(a.columns["learning_rate"])
    assert logs.min() >= -6 and logs.max() <= 1
    assert stats.kstest(logs, stats.uniform(-6, 7).cdf).pvalue > 1e-3
    assert stats.kstest(a.columns["momentum"], stats.uniform(0, 0.99).cdf).pvalue > 1e-3
    assert np.all(a.columns["b"] == 2.0)
    assert a.scales["learning_rate"] == "log" and a.scales["momentum"] == "linear"


def _no_compile(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("compiled before the error")

    monkeypatch.setattr(engine, "sweep_chunk", fail)


@pytest.mark.parametrize(
    "space, match",
    [
        ({"learning_rate": []}, "empty list"),
        ({"learning_rate": [0.1], "mu": [0.9]}, "does not take 'mu'"),
        ({"momentum": [0.9]}, "needs 'learning_rate'"),
        ({"learning_rate": [0.1, -0.1]}, "learning_rate must be positive"),
        ({"learning_rate": [0.1, np.nan]}, "finite"),
        ({"learning_rate": [0.1], "momentum": [1.5]}, "momentum must lie in"),
    ],
)
def test_bad_spaces_fail_before_compiling(monkeypatch, space, match):
    _no_compile(monkeypatch)
    with pytest.raises(ValueError, match=match):
        S.sweep(jaxgd.momentum, RAVINE, space, 10)


def test_bad_samplers_and_arguments(monkeypatch):
    with pytest.raises(ValueError, match="low must be positive"):
        S.log_uniform(-1.0, 1.0)
    with pytest.raises(ValueError, match="low < high"):
        S.log_uniform(1.0, 0.1)
    with pytest.raises(ValueError, match="low < high"):
        S.uniform(1.0, 1.0)
    with pytest.raises(ValueError, match="empty list"):
        S.grid(learning_rate=[])
    with pytest.raises(TypeError, match="real numbers"):
        S.grid(learning_rate=["a"])
    _no_compile(monkeypatch)
    with pytest.raises(ValueError, match="steps"):
        S.sweep(jaxgd.sgd, RAVINE, {"learning_rate": [0.1]}, 0)
    with pytest.raises(ValueError, match="differs in structure"):
        S.sweep(jaxgd.sgd, [RAVINE, jaxgd.problems.rosenbrock()], {"learning_rate": [0.1]}, 10)
    with pytest.raises(ValueError, match="leading axis"):
        S.sweep(jaxgd.sgd, RAVINE, {"learning_rate": [0.1]}, 10, x0s={"a": jnp.ones((2, 2)), "b": jnp.ones(3)})
    with pytest.raises(TypeError, match="scalar"):
        S.sweep(jaxgd.sgd, lambda x: x**2, {"learning_rate": [0.1]}, 10, x0=jnp.ones(2))


# --------------------------------------------------------------------------- saving and resuming


def test_save_load_round_trip(tmp_path):
    res = S.sweep(jaxgd.sgd, RAVINE, {"learning_rate": [0.01, 0.03]}, 20, tol=1.0, curve_every=5)
    path = tmp_path / "r.npz"
    res.save(path)
    back = S.SweepResult.load(path)
    for k in ("final_loss", "best_loss", "tol_step", "diverge_step", "final_params", "curve", "curve_steps"):
        np.testing.assert_array_equal(getattr(back, k), getattr(res, k))
    np.testing.assert_array_equal(back.hyperparams["learning_rate"], [0.01, 0.03])
    assert (back.steps, back.completed, back.info) == (20, 2, res.info)
    assert os.listdir(tmp_path) == ["r.npz"]


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "r.npz"
    result.atomic_savez(path, {"a": np.arange(3)})

    def broken(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        result.atomic_savez(path, {"a": np.arange(5)})
    assert os.listdir(tmp_path) == ["r.npz"]
    np.testing.assert_array_equal(np.load(path)["a"], np.arange(3))


def test_interrupted_sweep_resumes_and_equals_uninterrupted(tmp_path, monkeypatch):
    space = {"learning_rate": np.geomspace(1e-3, 0.05, 9)}
    kwargs = dict(tol=1.0, curve_every=10, chunk_size=2)
    full = S.sweep(jaxgd.sgd, RAVINE, space, 60, **kwargs)
    path = tmp_path / "sweep.npz"
    real = driver._run_chunk
    calls = []

    def interrupt_third(*args):
        calls.append(1)
        if len(calls) == 3:
            assert os.listdir(tmp_path) == ["sweep.npz"]
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(driver, "_run_chunk", interrupt_third)
    with pytest.raises(KeyboardInterrupt):
        S.sweep(jaxgd.sgd, RAVINE, space, 60, out=path, **kwargs)
    assert os.listdir(tmp_path) == ["sweep.npz"]
    partial = S.SweepResult.load(path)
    assert partial.completed == 4 and not partial.done
    assert np.isnan(partial.final_loss[4:]).all() and np.isfinite(partial.final_loss[:4]).all()

    calls.clear()
    monkeypatch.setattr(driver, "_run_chunk", lambda *a: calls.append(1) or real(*a))
    resumed = S.sweep(jaxgd.sgd, RAVINE, space, 60, out=path, **kwargs)
    assert len(calls) == 3  # configurations 4-5, 6-7, 8
    assert os.listdir(tmp_path) == ["sweep.npz"]
    loaded = S.SweepResult.load(path)
    for r in (resumed, loaded):
        assert r.done
        for k in ("final_loss", "best_loss", "tol_step", "diverge_step", "final_params", "curve"):
            np.testing.assert_array_equal(getattr(r, k), getattr(full, k))
    calls.clear()
    S.sweep(jaxgd.sgd, RAVINE, space, 60, out=path, **kwargs)  # already complete: nothing runs
    assert not calls
    with pytest.raises(ValueError, match="different sweep"):
        S.sweep(jaxgd.sgd, RAVINE, space, 61, out=path, **kwargs)


# --------------------------------------------------------------------------- refinement and the range test


def test_refine_brackets_the_best_grid_point_and_coarse_to_fine_finds_the_closed_form_optimum():
    # f_100(eta) in closed form; its minimiser lies near eta* = 2 / 102 (slightly below: x1 weighs more).
    best_eta = optimize.minimize_scalar(
        lambda eta: ravine_closed_form(eta, np.array(100))[1],
        bounds=(0.018, 0.0199),
        method="bounded",
        options={"xatol": 1e-9},
    ).x
    assert abs(best_eta / (2 / 102) - 1) < 0.03
    coarse = S.sweep(jaxgd.sgd, RAVINE, {"learning_rate": np.geomspace(1e-3, 0.05, 8)}, 100)
    lrs = coarse.hyperparams["learning_rate"]
    best = coarse.best().index
    fine = S.refine(coarse)
    np.testing.assert_allclose(fine.columns["learning_rate"][[0, -1]], lrs[[best - 1, best + 1]])
    assert len(fine) == 8 and fine.scales["learning_rate"] == "log"
    rounds = S.coarse_to_fine(jaxgd.sgd, RAVINE, {"learning_rate": np.geomspace(1e-3, 0.05, 8)}, 100, rounds=5)
    values = [r.best().value for r in rounds]
    assert all(b <= a for a, b in itertools.pairwise(values))
    assert abs(rounds[-1].best().hyperparams["learning_rate"] / best_eta - 1) < 2e-3


def test_refine_random_space_narrows_around_the_best():
    space = S.random_search(jax.random.key(0), 64, learning_rate=S.log_uniform(1e-4, 0.05))
    res = S.sweep(jaxgd.sgd, RAVINE, space, 100)
    new = S.refine(res, 32, key=jax.random.key(1))
    lo, hi = new.columns["learning_rate"].min(), new.columns["learning_rate"].max()
    assert len(new) == 32 and new.kind == "random"
    assert 1e-4 < lo <= res.best().hyperparams["learning_rate"] <= hi < 0.05
    assert np.log(hi / lo) < 0.5 * np.log(0.05 / 1e-4)


def test_lr_range_test_on_quadratic_against_theory():
    eig = analysis.hessian_eigenvalues(RAVINE, RAVINE.x0)
    eta_star, edge = float(analysis.optimal_lr(eig)), float(analysis.stability_bound(eig))
    rt = S.lr_range_test(jaxgd.sgd, RAVINE, 300, low=1e-4, high=1.0, num=200)
    step = rt.learning_rates[1] / rt.learning_rates[0]
    assert eta_star / step**2 <= rt.suggested <= edge
    assert edge / step <= rt.largest_stable <= edge * step
    assert np.all(rt.final_loss[rt.learning_rates > edge * step] == np.inf)
    assert np.all(rt.diverge_step[rt.learning_rates > edge * step] > 0)
    assert np.all(rt.diverge_step[rt.learning_rates < edge] == -1)


# --------------------------------------------------------------------------- divergence near a minimum, static options


def test_the_blowup_threshold_has_an_absolute_floor():
    # Near the minimum f(x_0) = 1e-8: Adam's first steps of size ~lr reach 1e-3 > blowup |f(x_0)| = 1e-4, noise
    # that the floor (blowup * max(|f0|, 1)) does not call divergence; the run converges as jaxgd.run does.
    rosenbrock, x0 = jaxgd.problems.rosenbrock(), jnp.array([1.0001, 1.0002])
    res = S.sweep(jaxgd.adam, rosenbrock, {"learning_rate": [1e-3]}, 500, x0=x0)
    traj = jaxgd.run(jaxgd.adam(1e-3), rosenbrock, x0, 500)
    assert traj.loss[0] < 2e-8 and traj.loss.max() > 1e4 * traj.loss[0] and traj.loss[-1] < 1e-9
    assert res.diverge_step[0] == -1
    assert res.final_loss[0] < 1e-9  # converged too (in float32 the last digits at 1e-10 are rounding noise)
    # f(x_0) = 0 exactly: f = |x|^2 - 1 from (1, 0) with GD at lr 1.5 has x_t = (-2)^t x_0, f_t = 4^t - 1, first above
    # blowup * max(0, floor) at t = 7 (floor 1: 16383 > 1e4) and at t = 10 (floor 100: 1048575 > 1e6).
    loss = lambda x: jnp.sum(x**2) - 1  # noqa: E731
    for floor, step in [(1.0, 7), (100.0, 10)]:
        res = S.sweep(jaxgd.sgd, loss, {"learning_rate": [1.5]}, 20, x0=jnp.array([1.0, 0.0]), blowup_floor=floor)
        assert res.diverge_step[0] == step and res.final_loss[0] == np.inf and res.info["blowup_floor"] == floor
        np.testing.assert_array_equal(res.final_params[0], [(-2.0) ** (step - 1), 0.0])
    with pytest.raises(ValueError, match="blowup_floor"):
        S.sweep(jaxgd.sgd, loss, {"learning_rate": [1.5]}, 20, x0=jnp.array([1.0, 0.0]), blowup_floor=0.0)


def test_a_static_option_in_the_space_is_named_before_compiling(monkeypatch):
    _no_compile(monkeypatch)
    with pytest.raises(ValueError, match=r"'centered' cannot be swept.*one sweep per value"):
        S.sweep(jaxgd.rmsprop, RAVINE, {"learning_rate": [0.1, 0.2], "centered": [0, 1]}, 10)
    with pytest.raises(ValueError, match="'centered' cannot be swept"):  # one value is traced all the same
        S.sweep(jaxgd.rmsprop, RAVINE, {"learning_rate": [0.1, 0.2], "centered": [1]}, 10)

    def by_count(learning_rate, n):  # a plain factory: n decides a shape
        return optax.sgd(learning_rate * jnp.ones(int(n))[0])

    with pytest.raises(ValueError, match="'n' cannot be swept"):
        S.sweep(by_count, RAVINE, {"learning_rate": [0.1, 0.2], "n": [1, 2]}, 10)
