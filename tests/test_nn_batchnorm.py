"""Batch normalisation in jaxgd.nn.MLP (Ioffe and Szegedy 2015): training statistics, running averages, gradients,
the mode switch, vmap over an ensemble, and fit."""

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgd
from jaxgd import nn

SIZES = (5, 8, 6, 3)


def _data(n=32, seed=0, dtype=jnp.float32):
    rng = np.random.default_rng(seed)
    return jnp.asarray(3.0 + 2.0 * rng.normal(size=(n, SIZES[0])), dtype), jnp.asarray(rng.integers(0, 3, n))


def _train_hidden(model, params, stats, x):
    """The tanh hidden activations in training mode (batch statistics), layer by layer."""
    hs = []
    h = x
    for i, layer in enumerate(params[:-1]):
        z = h @ layer["w"] + layer["b"]
        z, _ = model._normalise(layer, z, stats[i], True)
        h = jnp.tanh(z)
        hs.append(h)
    return hs


def test_training_normalises_each_feature_to_mean_0_variance_1_and_updates_running_stats():
    model = nn.MLP(SIZES, activation="tanh", batch_norm=True, bn_momentum=0.9)
    params = model.init(jax.random.key(0))
    assert set(params[0]) == {"w", "b", "gamma", "beta"} and set(params[-1]) == {"w", "b"}
    stats = model.init_batch_stats(jnp.float32)
    x, _ = _data()
    logits, new = model.apply(params, x, key=jax.random.key(1), train=True, batch_stats=stats)
    assert logits.shape == (32, 3)
    z1 = x @ params[0]["w"] + params[0]["b"]
    n = x.shape[0]
    np.testing.assert_allclose(new[0]["mean"], 0.1 * z1.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(new[0]["var"], 0.9 + 0.1 * z1.var(0) * n / (n - 1), rtol=1e-5)
    # gamma = 1, beta = 0: each normalised feature has batch mean 0 and variance 1 (up to eps)
    for layer_z in (jnp.arctanh(a) for a in _train_hidden(model, params, stats, x)):
        np.testing.assert_allclose(layer_z.mean(0), 0.0, atol=1e-4)
        np.testing.assert_allclose(layer_z.var(0), 1.0, rtol=1e-3)


def test_evaluation_uses_the_running_statistics_not_the_batch():
    model = nn.MLP(SIZES, activation="relu", batch_norm=True)
    params = model.init(jax.random.key(0))
    x, _ = _data()
    stats = [{"mean": jnp.full(n, 0.5), "var": jnp.full(n, 4.0)} for n in SIZES[1:-1]]
    stats = jax.tree.map(lambda a: a.astype(jnp.float32), stats)
    out = model.apply(params, x, batch_stats=stats)
    h = x
    for layer in params[:-1]:
        z = h @ layer["w"] + layer["b"]
        h = jax.nn.relu(layer["gamma"] * (z - 0.5) / jnp.sqrt(4.0 + 1e-5) + layer["beta"])
    np.testing.assert_allclose(out, h @ params[-1]["w"] + params[-1]["b"], rtol=1e-5, atol=1e-6)
    # one example at a time gives the same outputs in evaluation (no batch dependence)
    np.testing.assert_allclose(model.apply(params, x[:1], batch_stats=stats), out[:1], rtol=1e-5, atol=1e-6)


def test_the_mode_switch_cannot_be_forgotten():
    model = nn.MLP(SIZES, batch_norm=True)
    params = model.init(jax.random.key(0))
    x, _ = _data()
    with pytest.raises(ValueError, match="needs batch_stats"):
        model.apply(params, x)
    with pytest.raises(ValueError, match="needs batch_stats"):
        model.apply(params, x, key=jax.random.key(0), train=True)
    with pytest.raises(ValueError, match="batch_norm=False"):
        nn.MLP(SIZES).apply(nn.MLP(SIZES).init(jax.random.key(0)), x, batch_stats=model.init_batch_stats())
    with pytest.raises(ValueError, match="at least 2"):
        model.apply(params, x[:1], key=jax.random.key(0), train=True, batch_stats=model.init_batch_stats())
    with pytest.raises(ValueError, match="gamma"):
        model.check_params(nn.MLP(SIZES).init(jax.random.key(0)))
    with pytest.raises(ValueError, match="bn_momentum"):
        nn.MLP(SIZES, batch_norm=True, bn_momentum=1.0)
    out = model.apply(params, x, key=jax.random.key(0), train=True, batch_stats=model.init_batch_stats())
    assert isinstance(out, tuple) and len(out) == 2  # training returns (logits, new_batch_stats)


def test_training_mode_gradients_match_finite_differences_in_float64():
    with jax.enable_x64(True):
        model = nn.MLP(SIZES, activation="tanh", batch_norm=True)
        params = model.init(jax.random.key(0))
        params = [dict(layer) for layer in params]
        rng = np.random.default_rng(1)
        for layer in params[:-1]:
            layer["gamma"] = jnp.asarray(1 + 0.3 * rng.normal(size=layer["gamma"].shape))
            layer["beta"] = jnp.asarray(0.2 * rng.normal(size=layer["beta"].shape))
        stats = model.init_batch_stats()
        x, y = _data(16, dtype=jnp.float64)
        key = jax.random.key(0)

        @jax.jit
        def loss(p):
            out, _ = model.apply(p, x, key=key, train=True, batch_stats=stats)
            return nn.softmax_cross_entropy(out, y)

        flat, unravel = jax.flatten_util.ravel_pytree(params)
        g = jax.flatten_util.ravel_pytree(jax.grad(loss)(params))[0]
        eps = 1e-6
        for i in rng.choice(flat.size, 25, replace=False):
            e = jnp.zeros_like(flat).at[i].set(eps)
            fd = (loss(unravel(flat + e)) - loss(unravel(flat - e))) / (2 * eps)
            np.testing.assert_allclose(g[i], fd, rtol=1e-5, atol=1e-9)


def test_vmap_over_an_ensemble_keeps_each_members_statistics():
    model = nn.MLP(SIZES, batch_norm=True)
    keys = jax.random.split(jax.random.key(0), 3)
    params = jax.vmap(model.init)(keys)
    stats = jax.vmap(lambda _: model.init_batch_stats(jnp.float32))(keys)
    xs = jnp.stack([_data(seed=s)[0] for s in range(3)])

    @jax.jit
    def train_step(p, s, x, k):
        return model.apply(p, x, key=k, train=True, batch_stats=s)

    out, new = jax.jit(jax.vmap(train_step))(params, stats, xs, keys)
    for m in range(3):
        one = jax.tree.map(lambda a: a[m], (params, stats))
        o, n = train_step(*one, xs[m], keys[m])
        np.testing.assert_allclose(out[m], o, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(new[0]["mean"][m], n[0]["mean"], rtol=1e-5, atol=1e-6)


def test_fit_trains_a_batch_norm_mlp_and_returns_its_running_statistics():
    data = nn.load("digits", seed=0, train_size=160)
    model = nn.MLP((64, 16, 16, 10), batch_norm=True)
    params = model.init(jax.random.key(0))
    r = nn.fit(model, params, jaxgd.momentum(0.05, 0.9), data.train, data.val, jax.random.key(1), epochs=4)
    assert r.batch_stats is not None and r.last_batch_stats is not None
    assert float(r.history.val_accuracy[-1]) > 0.5  # chance is 0.1
    _, acc = nn.evaluate(model, r.last_params, data.val, batch_stats=r.last_batch_stats)
    np.testing.assert_allclose(acc, r.history.val_accuracy[-1], rtol=1e-6)
    # the running statistics have moved from (0, 1) to the first layer's statistics on the training set
    z = data.train.x @ r.last_params[0]["w"] + r.last_params[0]["b"]
    running = r.last_batch_stats[0]
    assert float(jnp.corrcoef(running["var"], z.var(0))[0, 1]) > 0.9
    assert float(jnp.max(jnp.abs(running["mean"] - z.mean(0)) / z.std(0))) < 0.5
    with pytest.raises(ValueError, match="needs batch_stats"):
        nn.evaluate(model, r.params, data.val)
    with pytest.raises(ValueError, match="not supported with batch_norm"):
        nn.fit(model, params, jaxgd.sgd(0.1), data.train, data.val, jax.random.key(1), epochs=2, average_from=1)
    ens = nn.fit_ensemble(
        model, jax.vmap(model.init)(jax.random.split(jax.random.key(2), 2)), jaxgd.sgd(0.1), data.train, data.val,
        jax.random.split(jax.random.key(3), 2), epochs=1,
    )  # fmt: skip
    assert ens.batch_stats[0]["mean"].shape == (2, 16)
    proba = nn.ensemble_proba(model, ens.params, data.val.x, batch_stats=ens.batch_stats)
    assert proba.shape == (data.val.x.shape[0], 10)
