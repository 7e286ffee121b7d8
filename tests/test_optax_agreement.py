"""Where optax implements the same algorithm, 100 steps on a random quadratic agree with its trajectory."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxgd


def random_quadratic(dim=6, seed=0):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    a = (q * np.geomspace(0.5, 20.0, dim)) @ q.T
    b = rng.normal(size=dim)
    a, b = jnp.asarray(a, jnp.float32), jnp.asarray(b, jnp.float32)

    def loss(x):
        return 0.5 * x @ a @ x + b @ x

    return loss, jnp.asarray(rng.normal(size=dim), jnp.float32)


PAIRS = {
    "sgd": (jaxgd.sgd(0.03), optax.sgd(0.03)),
    "momentum": (jaxgd.momentum(0.02, 0.9), optax.sgd(0.02, momentum=0.9)),
    "momentum_velocity": (jaxgd.momentum(0.02, 0.9, convention="velocity"), optax.sgd(0.02, momentum=0.9)),
    "nesterov": (jaxgd.nesterov(0.02, 0.9), optax.sgd(0.02, momentum=0.9, nesterov=True)),
    "adagrad": (
        jaxgd.adagrad(0.2, initial_accumulator_value=0.1, eps=1e-7, eps_in_sqrt=True),
        optax.adagrad(0.2, initial_accumulator_value=0.1, eps=1e-7),
    ),
    "adadelta": (jaxgd.adadelta(0.5, rho=0.9, eps=1e-6), optax.adadelta(0.5, rho=0.9, eps=1e-6)),
    "rmsprop": (jaxgd.rmsprop(0.01, decay=0.9, eps=1e-8), optax.rmsprop(0.01, decay=0.9, eps=1e-8)),
    "rmsprop_centered_momentum": (
        jaxgd.rmsprop(0.005, centered=True, momentum=0.9, eps=1e-6),
        optax.rmsprop(0.005, centered=True, momentum=0.9, eps=1e-6),
    ),
    "rmsprop_nesterov": (
        jaxgd.rmsprop(0.005, momentum=0.9, nesterov=True),
        optax.rmsprop(0.005, momentum=0.9, nesterov=True),
    ),
    "adam": (jaxgd.adam(0.05), optax.adam(0.05)),
    "adam_eps_root": (jaxgd.adam(0.05, eps_root=1e-8), optax.adam(0.05, eps_root=1e-8)),
    "nadam": (jaxgd.nadam(0.05), optax.nadam(0.05)),
    "adamax": (jaxgd.adamax(0.05), optax.adamax(0.05)),
}


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_100_steps_match_optax(name):
    ours, theirs = PAIRS[name]
    loss, x0 = random_quadratic()
    a = jaxgd.run(ours, loss, x0, 100)
    b = jaxgd.run(theirs, loss, x0, 100)
    np.testing.assert_allclose(np.asarray(a.params), np.asarray(b.params), rtol=2e-4, atol=2e-5)
    # Not vacuous: the runs moved well away from the start.
    assert float(jnp.linalg.norm(a.final_params - x0)) > 0.1


def test_drop_in_optax_chain_and_apply_updates():
    loss, x0 = random_quadratic()
    tx = optax.chain(jaxgd.adam(1e-2), optax.clip_by_global_norm(1.0))
    ref = optax.chain(optax.adam(1e-2), optax.clip_by_global_norm(1.0))
    params, ref_params = x0, x0
    state, ref_state = tx.init(params), ref.init(ref_params)
    for _ in range(20):
        g = jax.grad(loss)(params)
        updates, state = tx.update(g, state, params)
        params = optax.apply_updates(params, updates)
        rg = jax.grad(loss)(ref_params)
        ref_updates, ref_state = ref.update(rg, ref_state, ref_params)
        ref_params = optax.apply_updates(ref_params, ref_updates)
    np.testing.assert_allclose(params, ref_params, rtol=1e-5, atol=1e-6)
    assert isinstance(jaxgd.adam(1e-3), optax.GradientTransformation)
    assert isinstance(jaxgd.sgd(1e-3), optax.GradientTransformationExtraArgs)


def test_jit_update_in_a_flax_style_step():
    """A jitted train step that closes over the optimizer, as flax/equinox loops do."""
    loss, x0 = random_quadratic()
    tx = jaxgd.nesterov(0.02, 0.9)

    @jax.jit
    def step(params, state):
        g = jax.grad(loss)(params)
        updates, state = tx.update(g, state, params)
        return optax.apply_updates(params, updates), state

    params, state = x0, tx.init(x0)
    for _ in range(100):
        params, state = step(params, state)
    ref = jaxgd.run(tx, loss, x0, 100).final_params
    np.testing.assert_allclose(params, ref, rtol=1e-5, atol=1e-6)
