"""jaxgd.nn: initialisers, the MLP forward pass, dropout and losses."""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from scipy import stats

from jaxgd import nn
from jaxgd.nn import initializers, losses
from jaxgd.nn.dropout import dropout

N_IN, N_OUT = 300, 200  # 60 000 draws per test


def _params(sizes, seed=0, bias=0.0, dtype=np.float32):
    """Parameters from numpy (no JAX random calls to compile) for tests of the forward pass."""
    rng = np.random.default_rng(seed)
    return [
        {"w": jnp.asarray(rng.normal(size=(a, b)) / np.sqrt(a), dtype), "b": jnp.asarray(np.full(b, bias), dtype)}
        for a, b in itertools.pairwise(sizes)
    ]


def _x(shape, seed=1, dtype=np.float32):
    return jnp.asarray(np.random.default_rng(seed).normal(size=shape), dtype)


def _check_variance(w, var, fourth_moment):
    """Sample variance within 5 standard errors; Var(s^2) ~ (mu4 - sigma^4) / N."""
    w = np.asarray(w, np.float64).ravel()
    se = math.sqrt((fourth_moment - var**2) / w.size)
    assert abs(w.var() - var) < 5 * se, (w.var(), var, se)
    assert abs(w.mean()) < 5 * math.sqrt(var / w.size)


def test_xavier_uniform_has_the_stated_bounds_and_variance():
    w = initializers.xavier_uniform()(jax.random.key(0), (N_IN, N_OUT), jnp.float32)
    a = math.sqrt(6 / (N_IN + N_OUT))
    assert w.shape == (N_IN, N_OUT) and w.dtype == jnp.float32
    assert float(jnp.max(jnp.abs(w))) <= a
    var = 2 / (N_IN + N_OUT)  # a^2 / 3
    _check_variance(w, var, a**4 / 5)
    assert stats.kstest(np.asarray(w).ravel(), stats.uniform(-a, 2 * a).cdf).pvalue > 1e-3


def test_he_normal_has_variance_two_over_fan_in():
    w = initializers.he_normal()(jax.random.key(1), (N_IN, N_OUT), jnp.float32)
    var = 2 / N_IN
    _check_variance(w, var, 3 * var**2)
    assert stats.kstest(np.asarray(w).ravel(), stats.norm(0, math.sqrt(var)).cdf).pvalue > 1e-3


def test_gaussian_has_variance_sigma_squared_and_biases_are_constant():
    w = initializers.gaussian(0.05)(jax.random.key(2), (N_IN, N_OUT), jnp.float32)
    _check_variance(w, 0.05**2, 3 * 0.05**4)
    params = jax.jit(lambda k: nn.MLP((3, 4, 2)).init(k, weight_init=initializers.gaussian(0.05), bias=0.1))(
        jax.random.key(0)
    )
    assert [layer["w"].shape for layer in params] == [(3, 4), (4, 2)]
    for layer in params:
        np.testing.assert_array_equal(np.asarray(layer["b"]), np.float32(0.1))
    with pytest.raises(ValueError, match="sigma"):
        initializers.gaussian(-1.0)


def test_init_dtype_follows_x64_and_default_initialiser_follows_activation():
    with jax.enable_x64(True):
        params = jax.eval_shape(nn.MLP((5, 7, 3)).init, jax.random.key(0))
        assert all(leaf.dtype == jnp.float64 for leaf in jax.tree.leaves(params))

    @jax.jit
    def draws(key):
        k0 = jax.random.split(key, 2)[0]
        relu = nn.MLP((5, 7, 3)).init(key)[0]["w"]
        tanh = nn.MLP((5, 7, 3), activation="tanh").init(key)[0]["w"]
        he = initializers.he_normal()(k0, (5, 7), jnp.float32)
        return relu, tanh, he, initializers.xavier_uniform()(k0, (5, 7), jnp.float32)

    relu, tanh, he, xavier = draws(jax.random.key(3))
    np.testing.assert_array_equal(relu, he)
    np.testing.assert_array_equal(tanh, xavier)


@pytest.mark.parametrize(
    "activation, fn",
    [
        ("relu", lambda z: np.maximum(z, 0)),
        ("tanh", np.tanh),
        ("elu", lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0)))),
        ("sigmoid", lambda z: 1 / (1 + np.exp(-z))),
    ],
)
def test_forward_pass_matches_numpy(activation, fn):
    with jax.enable_x64(True):
        model = nn.MLP((4, 6, 5, 3), activation=activation)
        params = _params(model.sizes, bias=0.3, dtype=np.float64)
        x = _x((8, 4), dtype=np.float64)
        out, total = jax.jit(lambda p, x: (model.apply(p, x), model.predict_proba(p, x).sum(-1)))(params, x)
        assert out.dtype == jnp.float64
    np.testing.assert_allclose(np.asarray(total), 1.0, rtol=1e-12)
    h = np.asarray(x)
    p = [{k: np.asarray(v) for k, v in layer.items()} for layer in params]
    h = fn(h @ p[0]["w"] + p[0]["b"])
    h = fn(h @ p[1]["w"] + p[1]["b"])
    np.testing.assert_allclose(np.asarray(out), h @ p[2]["w"] + p[2]["b"], rtol=1e-12)


def test_inverted_and_classic_dropout_have_the_same_expected_activation():
    p, n = 0.7, 20_000
    h = jnp.linspace(0.5, 2.0, 50)
    keys = jax.random.split(jax.random.key(0), n)
    inverted = jax.vmap(lambda k: dropout(k, h, p, mode="inverted"))(keys)
    classic = jax.vmap(lambda k: dropout(k, h, p, mode="classic"))(keys)
    # the same mask: classic = p * inverted, exactly
    np.testing.assert_allclose(np.asarray(classic), p * np.asarray(inverted), rtol=1e-6)
    # E[m h / p] = h = inverted test output; E[m h] = p h = classic test output.
    # Per unit the mean of n draws has standard error h sqrt((1 - p) / p) / sqrt(n) (inverted): 5 of them.
    se = np.asarray(h) * math.sqrt((1 - p) / p / n)
    test_inverted = np.asarray(dropout(None, h, p, mode="inverted", train=False))
    test_classic = np.asarray(dropout(None, h, p, mode="classic", train=False))
    np.testing.assert_allclose(test_inverted, np.asarray(h))
    np.testing.assert_allclose(test_classic, p * np.asarray(h), rtol=1e-6)
    assert np.all(np.abs(np.asarray(inverted.mean(0)) - test_inverted) < 5 * se)
    assert np.all(np.abs(np.asarray(classic.mean(0)) - test_classic) < 5 * p * se)
    # and the fraction kept is p
    kept = float(jnp.mean(inverted != 0))
    assert abs(kept - p) < 5 * math.sqrt(p * (1 - p) / inverted.size)


def test_dropout_masks_are_per_sample_and_keep_prob_one_is_the_identity():
    x = jnp.ones((64, 32))
    model = nn.MLP((32, 16, 4), keep_prob=1.0)
    params = _params(model.sizes)

    @jax.jit
    def outputs(key):
        dropped = dropout(key, x, 0.5), dropout(key, x, 1.0)
        return dropped, (model.apply(params, x, key=key, train=True), model.apply(params, x))

    (half, full), (net_train, net_test) = outputs(jax.random.key(0))
    assert len({tuple(r) for r in np.asarray(half != 0)}) == 64  # every sample has its own mask
    np.testing.assert_array_equal(np.asarray(full), np.asarray(x))
    np.testing.assert_allclose(np.asarray(net_train), np.asarray(net_test), rtol=1e-5, atol=1e-6)


def test_classic_network_equals_inverted_network_with_scaled_weights():
    p = 0.6
    classic = nn.MLP((5, 8, 3), keep_prob=p, dropout="classic")
    inverted = nn.MLP((5, 8, 3), keep_prob=p, dropout="inverted")
    params = _params(classic.sizes, bias=0.1)
    scaled = [params[0], {"w": p * params[1]["w"], "b": params[1]["b"]}]
    x = _x((10, 5))

    @jax.jit
    def outputs(key):
        train = classic.apply(params, x, key=key, train=True), inverted.apply(scaled, x, key=key, train=True)
        return train, (classic.apply(params, x), inverted.apply(scaled, x))

    (c_train, i_train), (c_test, i_test) = outputs(jax.random.key(2))
    np.testing.assert_allclose(c_train, i_train, rtol=1e-5)
    np.testing.assert_allclose(c_test, i_test, rtol=1e-5)
    assert not np.allclose(c_train, c_test)


def test_monte_carlo_dropout_averages_training_time_predictions():
    model = nn.MLP((5, 16, 3), keep_prob=0.5, input_keep_prob=0.9)
    params, x = _params(model.sizes), _x((7, 5))

    @jax.jit
    def predictions(key):
        by_hand = [jax.nn.softmax(model.apply(params, x, key=k, train=True)) for k in jax.random.split(key, 10)]
        mc = model.predict_proba_mc(params, x, key, num_samples=10)
        return mc, sum(by_hand) / 10, model.predict_proba(params, x)

    mc, by_hand, deterministic = predictions(jax.random.key(2))
    np.testing.assert_allclose(mc, by_hand, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(mc).sum(-1), 1.0, rtol=1e-5)
    assert not np.allclose(mc, deterministic)


def test_keep_probabilities_are_pytree_leaves_and_vmappable():
    model = nn.MLP((4, 8, 2), keep_prob=0.5)
    assert jax.tree.leaves(model) == [0.5, 1.0]
    jax.tree.map(lambda _: 0, model)  # unflattening with placeholders does not validate
    params, x = _params(model.sizes), jnp.ones((3, 4))

    def out(p):
        m = nn.MLP((4, 8, 2), keep_prob=p)
        return m.apply(params, x, key=jax.random.key(1), train=True)

    @jax.jit
    def outputs():
        return jax.vmap(out)(jnp.array([1.0, 0.5])), out(0.5), model.apply(params, x)

    batched, half, deterministic = outputs()
    np.testing.assert_allclose(batched[0], deterministic, rtol=1e-6)
    np.testing.assert_allclose(batched[1], half, rtol=1e-6)
    assert not np.allclose(batched[0], batched[1])


def test_losses_match_closed_forms_and_optax():
    logits = jnp.array([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3], [1.0, 3.0, 0.0], [0.0, 0.0, 5.0]])
    labels = jnp.array([0, 2, 0, 2])
    expected = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
    np.testing.assert_allclose(losses.softmax_cross_entropy(logits, labels), expected, rtol=1e-6)
    np.testing.assert_allclose(losses.accuracy(logits, labels), 0.75)
    np.testing.assert_allclose(losses.misclassification_rate(logits, labels), 0.25)
    onehot = np.eye(3)[np.asarray(labels)]
    np.testing.assert_allclose(
        losses.squared_loss(logits, labels), 0.5 * np.mean(np.sum((np.asarray(logits) - onehot) ** 2, 1)), rtol=1e-6
    )
    np.testing.assert_allclose(losses.squared_loss(jnp.array([1.0, 2.0]), jnp.array([0.0, 0.0])), 1.25)


def test_penalties_count_weights_only():
    params = [
        {"w": jnp.array([[1.0, -2.0]]), "b": jnp.array([100.0, -100.0])},
        {"w": jnp.array([[3.0], [0.0]]), "b": jnp.ones(1)},
    ]
    np.testing.assert_allclose(losses.l2_penalty(params, 0.1), 0.1 * 0.5 * (1 + 4 + 9))
    np.testing.assert_allclose(losses.l1_penalty(params, 0.1), 0.1 * (1 + 2 + 3))
    grad = jax.grad(losses.l2_penalty)(params, 0.1)
    np.testing.assert_allclose(grad[0]["w"], 0.1 * params[0]["w"])  # weight decay
    np.testing.assert_array_equal(grad[0]["b"], 0.0)


def test_bad_model_input_raises_clear_errors():
    for p in (0.0, -0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match=r"keep_prob .* \(0, 1\]"):
            nn.MLP((4, 2), keep_prob=p)
    with pytest.raises(ValueError, match=r"input_keep_prob .* \(0, 1\]"):
        nn.MLP((4, 2), input_keep_prob=0.0)
    with pytest.raises(ValueError, match=r"keep_prob .* \(0, 1\]"):
        dropout(jax.random.key(0), jnp.ones(3), 1.01)
    with pytest.raises(ValueError, match="activation"):
        nn.MLP((4, 2), activation="swish")
    with pytest.raises(ValueError, match="sizes"):
        nn.MLP((4,))
    with pytest.raises(ValueError, match="dropout"):
        nn.MLP((4, 2), dropout="gaussian")
    model = nn.MLP((4, 3, 2))
    params = _params(model.sizes)
    with pytest.raises(ValueError, match=r"x has 5 features .* expects sizes\[0\]=4"):
        model.apply(params, jnp.ones((2, 5)))
    with pytest.raises(ValueError, match="needs a PRNG key"):
        model.apply(params, jnp.ones((2, 4)), train=True)
    with pytest.raises(ValueError, match="layer 1"):
        model.check_params([params[0], {"w": jnp.ones((3, 5)), "b": jnp.ones(5)}])
