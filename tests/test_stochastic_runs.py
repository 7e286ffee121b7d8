"""jaxgd.stochastic.run: sampling inside the loop, reproducibility, the evaluation schedule, SVRG and SAGA by hand."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgd
from jaxgd import stochastic as st

KEY = jax.random.key(7)


@pytest.fixture(scope="module")
def tiny():
    """Ridge on 8 examples in 3 dimensions, float64, with its data as NumPy arrays."""
    with jax.enable_x64(True):
        p = st.ridge(0.1, n=8, d=3, seed=2)
    return p, np.asarray(p.data["features"]), np.asarray(p.data["targets"])


def _grads(a, b, x, l2=0.1):
    """Per-example gradients a_i (a_i^T x - b_i) + l2 x, rows."""
    return a * (a @ x - b)[:, None] + l2 * x


def _indices(key, n, batch_size, scheme, steps):
    """The indices the run draws at steps 0 .. steps-1: its sampler, with the first half of split(key)."""
    sampler = st.Sampler(n, batch_size, scheme)

    def draw(state, t):
        idx, state = sampler.draw(state, t)
        return state, idx

    _, idx = jax.lax.scan(draw, sampler.init(jax.random.split(key)[0]), jnp.arange(steps, dtype=jnp.int32))
    return list(np.asarray(idx))


def _ridge_value(a, b, x, l2=0.1):
    return 0.5 * np.mean((a @ x - b) ** 2) + 0.5 * l2 * x @ x


def test_sgd_run_is_the_loop_written_by_hand(tiny):
    """The batches, the iterates, f at the iterates and at their running average, at every second step."""
    p, a, b = tiny
    with jax.enable_x64(True):
        traj = st.run(st.polyak_averaging(jaxgd.sgd(0.05)), p, p.x0, 6, key=KEY, batch_size=3, eval_at=2)
    xs = [np.zeros(3)]
    for idx in _indices(KEY, 8, 3, "with_replacement", 6):
        xs.append(xs[-1] - 0.05 * _grads(a[idx], b[idx], xs[-1]).mean(0))
    np.testing.assert_allclose(np.asarray(traj.final_params), xs[-1], rtol=1e-12)
    np.testing.assert_allclose(np.asarray(traj.final_average), np.mean(xs[1:], axis=0), rtol=1e-12)
    np.testing.assert_array_equal(traj.steps, [0, 2, 4, 6])
    np.testing.assert_allclose(traj.loss, [_ridge_value(a, b, xs[t]) for t in (0, 2, 4, 6)], rtol=1e-12)
    averages = [xs[0]] + [np.mean(xs[1 : t + 1], axis=0) for t in (2, 4, 6)]
    np.testing.assert_allclose(traj.averaged_loss, [_ridge_value(a, b, x) for x in averages], rtol=1e-12)
    np.testing.assert_array_equal(traj.grad_evals, [0, 6, 12, 18])
    assert traj.loss.dtype == traj.averaged_loss.dtype == traj.grad_norm.dtype == jnp.float64


def test_svrg_stepped_by_hand(tiny):
    p, a, b = tiny
    m, lr, steps = 3, 0.05, 7
    with jax.enable_x64(True):
        traj = st.run(jaxgd.sgd(lr), p, p.x0, steps, key=KEY, batch_size=2, estimator=st.svrg(m), eval_at=1)
    x = np.zeros(3)
    evals = [0]
    for t, idx in enumerate(_indices(KEY, 8, 2, "with_replacement", steps)):
        if t % m == 0:
            snap, mu = x.copy(), _grads(a, b, x).mean(0)
        g = _grads(a[idx], b[idx], x).mean(0) - _grads(a[idx], b[idx], snap).mean(0) + mu
        x = x - lr * g
        evals.append(evals[-1] + 4 + (8 if t % m == 0 else 0))
    np.testing.assert_allclose(np.asarray(traj.final_params), x, rtol=1e-12)
    np.testing.assert_array_equal(traj.grad_evals, evals)


def test_saga_stepped_by_hand(tiny):
    p, a, b = tiny
    lr, steps = 0.05, 7
    with jax.enable_x64(True):
        traj = st.run(
            jaxgd.sgd(lr), p, p.x0, steps, key=KEY, batch_size=2, sampling="epochs", estimator=st.saga(), eval_at=1
        )
    x = np.zeros(3)
    table = _grads(a, b, x)
    for idx in _indices(KEY, 8, 2, "epochs", steps):
        new = _grads(a[idx], b[idx], x)
        g = (new - table[idx]).mean(0) + table.mean(0)
        table[idx] = new
        x = x - lr * g
    np.testing.assert_allclose(np.asarray(traj.final_params), x, rtol=1e-12)
    np.testing.assert_array_equal(traj.grad_evals, 8 + 2 * np.arange(steps + 1))


@pytest.fixture(scope="module")
def ridge64():
    with jax.enable_x64(True):
        return st.ridge(0.5, n=64, d=5, seed=0)


def test_svrg_and_saga_converge_linearly_to_1e_10_where_sgd_stalls(ridge64):
    p = ridge64
    beta_max = float(p.constants["beta_max"])
    steps = 1500  # 23 epochs of single examples
    with jax.enable_x64(True):
        runs = {
            "svrg": st.run(
                jaxgd.sgd(1 / (5 * beta_max)), p, p.x0, steps, key=KEY, batch_size=1, estimator=st.svrg(128)
            ),
            "saga": st.run(jaxgd.sgd(1 / (3 * beta_max)), p, p.x0, steps, key=KEY, batch_size=1, estimator=st.saga()),
            "sgd": st.run(jaxgd.sgd(1 / (3 * beta_max)), p, p.x0, steps, key=KEY, batch_size=1),
        }
    excess = {k: np.asarray(r.loss, float) - float(p.minimum) for k, r in runs.items()}
    for name in ("svrg", "saga"):
        e = excess[name]  # a fixed factor per epoch: 1e-2 after a quarter, 1e-5 after half, 1e-10 at the end
        assert e[len(e) // 4] < 1e-2 * e[0] and e[len(e) // 2] < 1e-5 * e[0] and e[-1] < 1e-10, (name, e)
    assert excess["sgd"][-1] > 1e-4 and excess["sgd"][len(excess["sgd"]) // 2] > 1e-4  # the constant step's floor
    assert runs["svrg"].grad_evals[-1] == 2 * steps + 64 * 12 and runs["saga"].grad_evals[-1] == 64 + steps


def test_runs_are_reproducible_and_a_vmap_over_keys_is_the_runs_one_by_one(ridge64):
    p = ridge64
    keys = jax.random.split(KEY, 3)
    with jax.enable_x64(True):

        def one(k):
            return st.run(st.polyak_averaging(jaxgd.sgd(0.05)), p, p.x0, 40, key=k, batch_size=4, eval_at=10)

        batched = jax.vmap(one)(keys)
        singles = [one(k) for k in keys]
        again = one(keys[0])
    for i, s in enumerate(singles):  # the iterates bit for bit; f(x_t) up to the order XLA sums the batched product
        np.testing.assert_array_equal(np.asarray(batched.final_params[i]), np.asarray(s.final_params))
        np.testing.assert_array_equal(np.asarray(batched.final_average[i]), np.asarray(s.final_average))
        np.testing.assert_allclose(np.asarray(batched.loss[i]), np.asarray(s.loss), rtol=1e-14)
        np.testing.assert_allclose(np.asarray(batched.averaged_loss[i]), np.asarray(s.averaged_loss), rtol=1e-14)
    np.testing.assert_array_equal(np.asarray(again.final_params), np.asarray(singles[0].final_params))
    assert not np.array_equal(np.asarray(singles[0].final_params), np.asarray(singles[1].final_params))


def test_the_full_objective_is_recorded_at_the_evaluation_steps(ridge64):
    """Any schedule records what the every-step schedule records at its steps (f at x_t itself: by hand above)."""
    p = ridge64
    tx = st.polyak_averaging(jaxgd.sgd(0.05))
    with jax.enable_x64(True):
        traj = st.run(tx, p, p.x0, 10, key=KEY, batch_size=4, sampling="epochs", eval_at=(0, 3, 7))
        every = st.run(tx, p, p.x0, 10, key=KEY, batch_size=4, sampling="epochs", eval_at=1)
        thirds = st.run(tx, p, p.x0, 10, key=KEY, batch_size=4, sampling="epochs", eval_at=3)  # chunks and a rest
        np.testing.assert_array_equal(traj.steps, [0, 3, 7, 10])
        np.testing.assert_array_equal(thirds.steps, [0, 3, 6, 9, 10])
        np.testing.assert_allclose(thirds.loss, every.loss[np.array([0, 3, 6, 9, 10])], rtol=1e-14)
        np.testing.assert_array_equal(thirds.grad_evals, every.grad_evals[np.array([0, 3, 6, 9, 10])])
        np.testing.assert_allclose(traj.loss, every.loss[np.array([0, 3, 7, 10])], rtol=1e-14)
        np.testing.assert_allclose(traj.averaged_loss, every.averaged_loss[np.array([0, 3, 7, 10])], rtol=1e-14)
        assert float(traj.loss[-1]) == pytest.approx(float(p(traj.final_params)), rel=1e-14)
        assert float(traj.grad_norm[-1]) == pytest.approx(float(jaxgd.tree_norm(jax.grad(p)(traj.final_params))))
        assert float(traj.loss[0]) == float(traj.averaged_loss[0]) == pytest.approx(float(p(p.x0)))


def test_full_batch_without_a_key_is_gradient_descent(ridge64):
    p = ridge64
    with jax.enable_x64(True):
        traj = st.run(jaxgd.sgd(0.1), p, p.x0, 20, key=None)
        ref = jaxgd.run(jaxgd.sgd(0.1), p, p.x0, 20)
    np.testing.assert_allclose(np.asarray(traj.final_params), np.asarray(ref.final_params), rtol=1e-12)
    assert int(traj.grad_evals[-1]) == 20 * 64


def test_stochastic_losses_run_with_a_key_per_step():
    problem = jaxgd.problems.quadratic(jnp.array([1.0, 2.0]))
    noisy = st.noisy_gradient(problem, 0.3)
    traj = st.run(jaxgd.sgd(0.1), noisy, problem.x0, 5, key=KEY, eval_at=1)
    x = problem.x0
    for t in range(5):
        x = x - 0.1 * jax.grad(noisy)(x, jax.random.fold_in(KEY, t))
    np.testing.assert_allclose(np.asarray(traj.final_params), np.asarray(x), rtol=1e-6)
    np.testing.assert_allclose(traj.loss[-1], problem(x), rtol=1e-5)
    np.testing.assert_array_equal(traj.grad_evals, np.arange(6))
    assert traj.loss.dtype == traj.final_params.dtype == jnp.float32


def _dropout_fn(w, batch, key):
    """Least squares on features with an inverted-dropout mask drawn per example and feature (none for key=None)."""
    a = batch["features"]
    if key is not None:
        a = jnp.where(jax.random.bernoulli(key, 0.5, a.shape), 2 * a, 0.0)
    return 0.5 * jnp.mean((a @ w - batch["targets"]) ** 2)


def test_a_model_with_its_own_randomness_gets_a_key_per_step_and_per_example():
    p = st.FiniteSum(_dropout_fn, dict(st.ridge(0.5, n=64, d=5).data), x0=jnp.zeros(5), takes_key=True)
    assert float(p(p.x0)) == pytest.approx(0.5 * float(jnp.mean(p.data["targets"] ** 2)), rel=1e-5)
    g = p.example_grads(jnp.ones(5), jnp.array([0, 0]), key=KEY)  # the same example twice: two masks
    assert not np.allclose(g[0], g[1])
    with pytest.raises(ValueError, match="needs a PRNG key"):
        st.run(jaxgd.sgd(0.01), p, p.x0, 5, key=None)
    one, two = (st.run(jaxgd.sgd(0.01), p, p.x0, 5, key=KEY, batch_size=8).final_params for _ in range(2))
    np.testing.assert_array_equal(one, two)
    full_batch = st.run(jaxgd.sgd(0.01), p, p.x0, 5, key=KEY)  # every example, each with its own masks
    assert not np.allclose(full_batch.final_params, jaxgd.run(jaxgd.sgd(0.01), p, p.x0, 5).final_params)


def test_noise_scale_exact_sampled_and_from_two_batches(ridge64):
    p = ridge64
    with jax.enable_x64(True):
        x = jnp.linspace(-1.0, 1.0, 5)
        exact = st.gradient_noise_scale(p, x)
        g = np.asarray(p.example_grads(x))
        assert float(exact.grad_sq_norm) == pytest.approx(np.sum(g.mean(0) ** 2), rel=1e-10)
        assert float(exact.b_simple) == pytest.approx(g.var(0).sum() / np.sum(g.mean(0) ** 2), rel=1e-10)
        sampled = [
            float(st.gradient_noise_scale(p, x, sample_size=64, key=k).trace_cov) for k in jax.random.split(KEY, 16)
        ]
        assert np.mean(sampled) == pytest.approx(float(exact.trace_cov), rel=0.15)
        # with the expected squared norms |G|^2 + tr(Sigma)/B the two-batch estimate is exact
        sq, tr = float(exact.grad_sq_norm), float(exact.trace_cov)
        two = st.two_batch_noise_scale(sq + tr / 4, sq + tr / 32, 4, 32)
        assert float(two.b_simple) == pytest.approx(float(exact.b_simple), rel=1e-10)
        # B_noise = tr(H Sigma) / (G^T H G), H = A^T A / n + l2 I for ridge
        a = np.asarray(p.data["features"])
        h = a.T @ a / p.n + 0.5 * np.eye(5)
        dev = g - g.mean(0)
        expected = np.einsum("ij,jk,ik->", dev, h, dev) / p.n / (g.mean(0) @ h @ g.mean(0))
        assert float(st.hessian_noise_scale(p, x)) == pytest.approx(expected, rel=1e-10)


def test_lr_finder_stops_after_the_loss_blows_up_and_suggests_a_stable_rate(ridge64):
    p = ridge64
    with jax.enable_x64(True):
        res = st.lr_finder(jaxgd.sgd, p, p.x0, key=KEY, batch_size=8, low=1e-4, high=10.0, steps=100)
    assert res.learning_rates[0] == pytest.approx(1e-4) and res.learning_rates[-1] == pytest.approx(10.0)
    assert 10 < res.stop_step < 100
    assert np.all(np.isnan(res.loss[res.stop_step + 1 :])) and np.all(np.isfinite(res.loss[: res.stop_step + 1]))
    assert res.smoothed[res.stop_step] > 4 * np.nanmin(res.smoothed[: res.stop_step])
    beta = float(p.constants["beta"])
    assert 1e-2 < res.suggested < 1 / beta < res.min_loss_rate < 2 / beta * 1.5
    assert np.isfinite(res.steepest)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"key": None, "batch_size": 4}, ValueError, "needs a PRNG key"),
        ({"batch_size": 65}, ValueError, "batch_size=65 exceeds"),
        ({"batch_size": 0}, ValueError, "batch_size must be a positive integer"),
        ({"batch_size": 4, "estimator": st.saga()}, ValueError, "distinct examples"),
        ({"estimator": st.saga()}, ValueError, "needs mini-batches"),
        ({"batch_size": 4, "eval_at": (0, 11)}, ValueError, "eval_at must lie in"),
        ({"batch_size": 4, "sampling": "shuffle"}, ValueError, "sampling must be one of"),
        ({"key": 3, "batch_size": 4}, TypeError, "PRNG key"),
        ({"key": jax.random.split(KEY, 2), "batch_size": 4}, ValueError, "vmap the run over keys"),
    ],
)
def test_bad_input_raises_a_clear_error(ridge64, kwargs, error, match):
    kwargs = {"key": KEY, **kwargs}
    with jax.enable_x64(True), pytest.raises(error, match=match):
        st.run(jaxgd.sgd(0.1), ridge64, ridge64.x0, 10, **kwargs)


def test_problems_that_are_not_stochastic_are_refused():
    problem, ridge = jaxgd.problems.isotropic(), st.ridge(0.1, n=16, d=2)
    with pytest.raises(TypeError, match="FiniteSum or a stochastic loss"):
        st.run(jaxgd.sgd(0.1), problem, problem.x0, 10, key=KEY)
    with pytest.raises(TypeError, match=r"needs a jaxgd\.stochastic\.FiniteSum"):
        st.run(jaxgd.sgd(0.1), st.noisy_gradient(problem, 1.0), problem.x0, 10, key=KEY, estimator=st.svrg(4))
    with pytest.raises(ValueError, match="batch_size is for finite sums"):
        st.run(jaxgd.sgd(0.1), ridge.minibatch(4), ridge.x0, 10, key=KEY, batch_size=4)
