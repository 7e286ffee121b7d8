"""Iterate-averaging wrappers against averages computed by hand from the recorded iterates."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxgd
from jaxgd import stochastic as st

STEPS = 12


@pytest.fixture(scope="module")
def path():
    """x_0 .. x_T of noisy SGD on a quadratic (a fixed noise sequence), in float64, and the problem."""
    with jax.enable_x64(True):
        problem = jaxgd.problems.quadratic(jnp.array([1.0, 3.0]))
        noise = jax.random.normal(jax.random.key(0), (STEPS, 2), jnp.float64)

        def loss(x, xi):
            return problem(x) + jnp.dot(xi, x)

        plain = jaxgd.run(jaxgd.sgd(0.2), loss, problem.x0, STEPS, batches=noise)
        return loss, problem.x0, noise, np.asarray(plain.params)


def _final_average(tx, path):
    loss, x0, noise, xs = path
    with jax.enable_x64(True):
        traj = jaxgd.run(tx, loss, x0, STEPS, batches=noise)
        np.testing.assert_array_equal(np.asarray(traj.params), xs)  # the wrapper leaves the iterates alone
        avg = st.averaged_params(traj.final_state)
        assert avg.dtype == jnp.float64
        return np.asarray(avg)


def test_polyak_average_is_the_mean_of_the_iterates_after_each_update(path):
    xs = path[3]
    np.testing.assert_allclose(_final_average(st.polyak_averaging(jaxgd.sgd(0.2)), path), xs[1:].mean(0), rtol=1e-12)


@pytest.mark.parametrize("start", [0, 1, 5, STEPS, STEPS + 3])
def test_tail_average_from_a_given_step(path, start):
    xs = path[3]
    expected = xs[start:].mean(0) if start <= STEPS else xs[-1]  # before the tail starts: the last iterate
    np.testing.assert_allclose(_final_average(st.tail_averaging(jaxgd.sgd(0.2), start), path), expected, rtol=1e-12)


def test_exponential_moving_average(path):
    xs, d = path[3], 0.8
    avg = xs[0]
    for x in xs[1:]:
        avg = d * avg + (1 - d) * x
    np.testing.assert_allclose(_final_average(st.ema_averaging(jaxgd.sgd(0.2), d), path), avg, rtol=1e-12)


def test_averaging_wraps_any_transform_and_is_read_from_any_nesting():
    params = {"w": jnp.ones(3, jnp.float32)}
    tx = optax.chain(optax.clip_by_global_norm(1.0), st.polyak_averaging(optax.adam(0.1)))
    state = tx.init(params)
    for _ in range(3):
        updates, state = tx.update({"w": jnp.ones(3)}, state, params)
        params = optax.apply_updates(params, updates)
    assert st.averaged_params(state)["w"].dtype == jnp.float32
    assert st.averaged_params(optax.sgd(0.1).init(params)) is None
    with pytest.raises(ValueError, match="needs params"):
        st.polyak_averaging(jaxgd.sgd(0.1)).update({"w": jnp.ones(3)}, state[1], None)


def test_averaging_wrappers_are_pytrees_of_their_hyperparameters():
    tx = st.tail_averaging(jaxgd.momentum(0.1, 0.9), 50)
    assert sorted(float(v) for v in jax.tree.leaves(tx)) == [0.1, 0.9, 50.0]
    finals = jax.vmap(
        lambda lr: jaxgd.run(st.ema_averaging(jaxgd.sgd(lr), 0.9), jaxgd.problems.isotropic(), jnp.ones(2), 5)
    )(jnp.array([0.1, 0.2]))
    assert finals.final_params.shape == (2, 2)
    with pytest.raises(ValueError, match="decay"):
        st.ema_averaging(jaxgd.sgd(0.1), 1.0)
    with pytest.raises(ValueError, match="start"):
        st.tail_averaging(jaxgd.sgd(0.1), -1)
