"""jaxgd.nn.gradients and losses: backprop by hand against jax.grad, entropy and KL, output-bias init, dead ReLUs,
per-layer gradient norms in fit."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxgd import nn


def _params(sizes, seed=0, dtype=np.float64, bias=0.1):
    rng = np.random.default_rng(seed)
    return [
        {"w": jnp.asarray(rng.normal(size=(a, b)) / np.sqrt(a), dtype), "b": jnp.asarray(np.full(b, bias), dtype)}
        for a, b in itertools.pairwise(sizes)
    ]


@pytest.mark.parametrize(
    "activation,keep,mode",
    [("relu", 1.0, "inverted"), ("tanh", 1.0, "inverted"), ("sigmoid", 0.5, "classic"), ("elu", 0.7, "inverted")],
)
def test_backprop_by_hand_equals_jax_grad_in_float64(activation, keep, mode):
    with jax.enable_x64(True):
        sizes = (5, 7, 6, 4)
        model = nn.MLP(sizes, activation=activation, keep_prob=keep, input_keep_prob=keep, dropout=mode)
        params = _params(sizes)
        rng = np.random.default_rng(3)
        x = jnp.asarray(rng.normal(size=(11, 5)))
        y = jnp.asarray(rng.integers(0, 4, size=11))
        by_hand = nn.backprop(model, params, x, y)
        auto = jax.grad(lambda p: nn.softmax_cross_entropy(model.apply(p, x), y))(params)
        assert jax.tree.structure(by_hand) == jax.tree.structure(auto)
        for a, b in zip(jax.tree.leaves(by_hand), jax.tree.leaves(auto), strict=True):
            assert a.dtype == jnp.float64
            np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13)


def test_backprop_rejects_bad_input():
    model = nn.MLP((3, 4, 2))
    params = _params((3, 4, 2), dtype=np.float32)
    with pytest.raises(ValueError, match="labels y of shape"):
        nn.backprop(model, params, jnp.ones((5, 3)), jnp.zeros(4, jnp.int32))
    with pytest.raises(ValueError, match="batch_norm"):
        nn.backprop(nn.MLP((3, 4, 2), batch_norm=True), params, jnp.ones((5, 3)), jnp.zeros(5, jnp.int32))


def test_kl_is_cross_entropy_minus_entropy_nonnegative_and_zero_on_itself():
    rng = np.random.default_rng(0)
    p = jnp.asarray(rng.dirichlet(np.ones(5), size=20))
    q = jnp.asarray(rng.dirichlet(np.ones(5), size=20))
    p = p.at[0, 2].set(0.0).at[0].divide(p[0].sum())  # a zero entry: 0 log 0 = 0
    kl = nn.kl_divergence(p, q)
    np.testing.assert_allclose(kl, -nn.entropy(p) + nn.cross_entropy(p, q), rtol=1e-5, atol=1e-6)
    assert np.all(np.asarray(kl) >= 0) and float(kl.min()) > 0
    np.testing.assert_allclose(nn.kl_divergence(p, p), 0.0, atol=1e-6)
    np.testing.assert_allclose(nn.entropy(jnp.full(4, 0.25)), np.log(4), rtol=1e-6)
    # one-hot p: cross-entropy is the softmax cross-entropy of the logits
    z = jnp.asarray(rng.normal(size=(20, 5)), jnp.float32)
    y = jnp.asarray(rng.integers(0, 5, 20))
    ce = nn.cross_entropy(jax.nn.one_hot(y, 5), jax.nn.softmax(z)).mean()
    np.testing.assert_allclose(ce, nn.softmax_cross_entropy(z, y), rtol=1e-5)
    with pytest.raises(ValueError, match="same number of classes"):
        nn.kl_divergence(p, q[:, :3])


def test_output_bias_init_starts_at_the_entropy_of_the_class_frequencies():
    labels = jnp.asarray([0] * 50 + [1] * 30 + [2] * 15 + [3] * 5)
    b = nn.output_bias_init(labels, 4)
    freq = np.array([0.5, 0.3, 0.15, 0.05])
    np.testing.assert_allclose(b, np.log(freq), rtol=1e-6)
    model = nn.MLP((6, 8, 4))
    params = model.init(jax.random.key(0), output_bias=b)
    params[-1]["w"] = jnp.zeros_like(params[-1]["w"])  # the bias alone sets the output
    x = jnp.asarray(np.random.default_rng(0).normal(size=(100, 6)), params[0]["w"].dtype)
    loss = nn.softmax_cross_entropy(model.apply(params, x), labels)
    np.testing.assert_allclose(loss, nn.entropy(jnp.asarray(freq)), rtol=1e-5)
    assert float(loss) < np.log(4)  # below the loss of uniform predictions
    # b* is the minimiser: the gradient in b vanishes
    g = jax.grad(lambda bb: nn.softmax_cross_entropy(jnp.broadcast_to(bb, (100, 4)), labels))(b)
    np.testing.assert_allclose(g, 0.0, atol=1e-6)
    with pytest.raises(ValueError, match="shape"):
        model.init(jax.random.key(0), output_bias=b[:3])
    with pytest.raises(ValueError, match="integer"):
        nn.output_bias_init(jnp.ones(4), 4)


def test_dead_units_counts_relus_that_are_zero_on_every_example():
    model = nn.MLP((3, 4, 2, 2))
    params = _params((3, 4, 2, 2), dtype=np.float32, bias=0.0)
    params[0]["b"] = jnp.asarray([-100.0, -100.0, 0.0, 100.0])  # units 0 and 1 are dead
    params[1]["b"] = jnp.asarray([-1e4, 1e4])  # unit 0 of layer 2 is dead
    x = jnp.asarray(np.random.default_rng(0).normal(size=(50, 3)), jnp.float32)
    np.testing.assert_allclose(nn.dead_units(model, params, x), [0.5, 0.5])


def test_fit_records_per_layer_gradient_norms():
    data = nn.load("digits", seed=0, train_size=64)
    model = nn.MLP((64, 16, 16, 10))
    params = model.init(jax.random.key(0))
    r = nn.fit(model, params, optax.set_to_zero(), data.train, data.val, jax.random.key(1), epochs=2, batch_size=None)
    h = r.history
    assert h.layer_grad_norm.shape == (2, 3)
    # zero updates: the parameters never move, so every step's gradient is the full-batch one
    x, y = data.train.x.astype(params[0]["w"].dtype), data.train.y
    g = jax.grad(lambda p: nn.softmax_cross_entropy(model.apply(p, x), y))(params)
    np.testing.assert_allclose(h.layer_grad_norm[0], [float(jnp.linalg.norm(layer["w"])) for layer in g], rtol=1e-4)
