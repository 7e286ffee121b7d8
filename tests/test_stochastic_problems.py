"""Finite sums, mini-batch losses, sampling and the gradient-noise oracle of jaxgd.stochastic."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

import jaxgd
from jaxgd import stochastic as st


@pytest.fixture(scope="module")
def ridge():
    return st.ridge(0.1, n=64, d=5, seed=1)


def _grad_matrix(problem, params):
    g = problem.example_grads(params)
    return np.asarray(jax.vmap(lambda t: ravel_pytree(t)[0])(g), float)


def test_full_objective_is_the_mean_of_the_examples(ridge):
    x = jnp.linspace(-1.0, 1.0, 5)
    singles = jax.vmap(lambda i: ridge.batch_loss(x, i[None]))(jnp.arange(ridge.n))
    np.testing.assert_allclose(float(ridge(x)), float(jnp.mean(singles)), rtol=1e-5)
    np.testing.assert_allclose(_grad_matrix(ridge, x).mean(0), jax.grad(ridge)(x), rtol=1e-4, atol=1e-6)


def test_closed_form_minimisers_have_zero_gradient():
    with jax.enable_x64(True):
        for problem in (st.ridge(0.1, n=64, d=5), st.least_squares(n=64, d=5)):
            assert problem.minimizer.dtype == jnp.float64
            assert float(jaxgd.tree_norm(jax.grad(problem)(problem.minimizer))) < 1e-10, problem
            np.testing.assert_allclose(float(problem(problem.minimizer)), float(problem.minimum), rtol=1e-12)
            assert (
                float(problem.constants["mu"])
                <= float(problem.constants["beta"])
                <= float(problem.constants["beta_max"])
            )


def test_logistic_finite_sum_is_the_logistic_problem():
    fs, p = st.logistic_regression(0.01), jaxgd.problems.logistic_regression(0.01)
    x = jax.random.normal(jax.random.key(0), (31,)) * 0.1
    np.testing.assert_allclose(float(fs(x)), float(p(x)), rtol=1e-6)
    assert fs.n == 569 and float(fs.minimum) == float(p.minimum)


def test_softmax_regression_minimiser():
    with jax.enable_x64(True):
        p = st.softmax_regression(1e-3)
        assert p.n == 1797 and p.x0.shape == (65, 10)
        assert float(jaxgd.tree_norm(jax.grad(p)(p.minimizer))) < 1e-10
        assert float(p(p.x0)) == pytest.approx(np.log(10.0))


def test_minibatch_gradient_is_unbiased_and_averaging_divides_its_variance(ridge):
    """Mean over K keys of grad loss(x, key) against grad f, per coordinate, in units of sqrt(Var / (B K));
    E ||g_B - G||^2 = tr(Sigma) / B with replacement, times (n - B) / (n - 1) without."""
    x = jnp.linspace(-1.0, 1.0, 5)
    full = np.asarray(jax.grad(ridge)(x), float)
    g = _grad_matrix(ridge, x)
    var, trace, n, b = g.var(0), g.var(0).sum(), ridge.n, 8
    keys = jax.random.split(jax.random.key(3), 3000)
    for replace, correction in ((True, 1.0), (False, (n - b) / (n - 1))):
        grads = np.asarray(jax.vmap(jax.grad(ridge.minibatch(b, replace=replace)), (None, 0))(x, keys), float)
        z = (grads.mean(0) - full) / np.sqrt(var * correction / (b * len(keys)))
        assert np.max(np.abs(z)) < 5.0, z
        assert np.mean(np.sum((grads - full) ** 2, axis=1)) == pytest.approx(trace * correction / b, rel=0.1)
    assert float(st.gradient_noise_scale(ridge, x).trace_cov) == pytest.approx(trace, rel=1e-4)


def test_without_replacement_batches_hold_distinct_examples():
    idx = jax.vmap(lambda k: st.sample_indices(k, 10, 10, replace=False))(jax.random.split(jax.random.key(0), 50))
    assert all(sorted(row) == list(range(10)) for row in np.asarray(idx).tolist())


def test_epochs_visit_every_example_once_per_epoch():
    sampler = st.Sampler(12, 4, "epochs")

    def draw(state, t):
        idx, state = sampler.draw(state, t)
        return state, idx

    _, seen = jax.lax.scan(draw, sampler.init(jax.random.key(5)), jnp.arange(9))  # three epochs of three batches
    seen = np.asarray(seen)
    epochs = [np.concatenate(seen[3 * e : 3 * e + 3]) for e in range(3)]
    for e in epochs:
        assert sorted(e.tolist()) == list(range(12))
    assert not np.array_equal(epochs[0], epochs[1])  # reshuffled every epoch


def test_noise_oracle_value_mean_and_variance():
    problem = jaxgd.problems.quadratic(jnp.array([1.0, 2.0, 3.0, 4.0]))
    noisy = st.noisy_gradient(problem, 0.5)
    x = jnp.array([1.0, -1.0, 0.5, 2.0])
    keys = jax.random.split(jax.random.key(0), 2000)
    values, grads = jax.vmap(jax.value_and_grad(noisy), (None, 0))(x, keys)
    np.testing.assert_allclose(values, float(problem(x)), rtol=1e-6)  # the value is f itself
    err = np.asarray(grads - jax.grad(problem)(x), float)
    assert np.max(np.abs(err.mean(0))) < 5 * 0.5 / 2 / np.sqrt(len(keys))  # per-coordinate std sigma / sqrt(d)
    # E ||xi||^2 = sigma^2; ||xi||^2 is (sigma^2/d) chi^2_d, so the mean has relative std sqrt(2 / (d K))
    assert np.mean(np.sum(err**2, 1)) == pytest.approx(0.25, rel=5 * np.sqrt(2 / (4 * len(keys))))
    assert float(noisy.minimum) == 0.0 and noisy.full is not None


def test_the_oracle_and_minibatches_are_pytrees_with_their_arrays_as_leaves(ridge):
    noisy = st.noisy_gradient(ridge, 2.0)
    assert any(np.ndim(leaf) == 0 and float(leaf) == 2.0 for leaf in jax.tree.leaves(noisy))
    mb = ridge.minibatch(4)
    assert len(jax.tree.leaves(mb)) == len(jax.tree.leaves(ridge))
    doubled = jax.tree.map(lambda a: 2 * a, mb)
    assert doubled.batch_size == 4 and isinstance(doubled.problem, st.FiniteSum)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda p: p.minibatch(65), "batch_size=65 exceeds the n=64"),
        (lambda p: p.minibatch(0), "batch_size must be a positive integer"),
        (lambda p: st.noisy_gradient(p, -1.0), "sigma must be non-negative"),
        (lambda p: st.Sampler(64, 8, "shuffled"), "sampling must be one of"),
        (
            lambda p: st.FiniteSum(lambda w, b: 0.0, {"a": jnp.ones(3), "b": jnp.ones(4)}, x0=jnp.ones(1)),
            "same leading",
        ),
        (lambda p: st.gradient_noise_scale(p, p.x0, sample_size=8), "needs key"),
    ],
)
def test_bad_input_raises_a_clear_error(ridge, make, match):
    with pytest.raises(ValueError, match=match):
        make(ridge)


def test_jaxgd_run_needs_a_key_for_a_stochastic_loss(ridge):
    with pytest.raises(ValueError, match="pass key="):
        jaxgd.run(jaxgd.sgd(0.1), ridge.minibatch(4), ridge.x0, 5)
    traj = jaxgd.run(jaxgd.sgd(0.1), ridge.minibatch(4), ridge.x0, 5, key=jax.random.key(0))
    assert traj.loss.shape == (6,)
