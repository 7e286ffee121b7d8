"""jaxgd inside the JAX ecosystem, tested against the real libraries: equinox, optimistix, flax (nnx and linen),
orbax, pickle, and optax's wrappers."""

import pickle

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxgd

eqx = pytest.importorskip("equinox")
optx = pytest.importorskip("optimistix")


def _quadratic(x, args=None):
    return jnp.sum((x - 1.0) ** 2)


# --------------------------------------------------------------------------- equinox


def test_equinox_partition_and_combine_round_trip():
    opt = jaxgd.adam(jnp.asarray(1e-3))
    arrays, static = eqx.partition(opt, eqx.is_array)
    back = eqx.combine(arrays, static)
    assert back == opt
    assert jax.tree.structure(back) == jax.tree.structure(opt)
    p = jnp.zeros(3)
    ours, theirs = back.update(jnp.ones(3), back.init(p), p)[0], opt.update(jnp.ones(3), opt.init(p), p)[0]
    np.testing.assert_array_equal(ours, theirs)


def test_equinox_filter_jit_loop_does_not_retrace_for_a_new_rate():
    """The recommended pattern: pass the optimizer (its rate an array leaf) as an argument of the jitted step."""
    traces = []

    @eqx.filter_jit
    def train(opt, x):
        traces.append(1)
        state = opt.init(x)

        def body(carry, _):
            x, state = carry
            updates, state = opt.update(jax.grad(_quadratic)(x), state, x)
            return (optax.apply_updates(x, updates), state), None

        (x, _), _ = jax.lax.scan(body, (x, state), None, length=50)
        return x

    results = [train(jaxgd.momentum(jnp.asarray(lr), 0.9), jnp.zeros(3)) for lr in (0.01, 0.02, 0.05)]
    assert len(traces) == 1
    assert not np.allclose(results[0], results[1])


# --------------------------------------------------------------------------- optimistix


def test_optimistix_optax_minimiser_with_a_jaxgd_optimizer():
    solver = optx.OptaxMinimiser(jaxgd.adam(1e-1), rtol=1e-6, atol=1e-6)
    sol = optx.minimise(_quadratic, solver, jnp.zeros(3), max_steps=5000)
    np.testing.assert_allclose(sol.value, jnp.ones(3), atol=1e-4)


# --------------------------------------------------------------------------- flax


def test_flax_nnx_optimizer_takes_a_jaxgd_optimizer():
    nnx = pytest.importorskip("flax.nnx")

    class Model(nnx.Module):
        def __init__(self, rngs):
            self.linear = nnx.Linear(3, 1, rngs=rngs)

        def __call__(self, x):
            return self.linear(x)

    x = jax.random.normal(jax.random.PRNGKey(0), (64, 3))
    y = x @ jnp.array([[1.0], [-2.0], [0.5]])
    model = Model(nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, jaxgd.adam(jnp.asarray(1e-1)), wrt=nnx.Param)

    @nnx.jit
    def step(model, optimizer):
        loss, grads = nnx.value_and_grad(lambda m: jnp.mean((m(x) - y) ** 2))(model)
        optimizer.update(model, grads)
        return loss

    first = float(step(model, optimizer))
    for _ in range(200):
        last = float(step(model, optimizer))
    assert last < 1e-3 * first


def test_flax_linen_train_state_vmapped_over_learning_rates_compiles_once():
    linen = pytest.importorskip("flax.linen")
    train_state = pytest.importorskip("flax.training.train_state")

    model = linen.Dense(1)
    x = jax.random.normal(jax.random.PRNGKey(1), (32, 2))
    y = x @ jnp.array([[0.5], [-1.0]])
    params = model.init(jax.random.PRNGKey(2), x)
    traces = []

    @jax.jit
    def train(lr):
        traces.append(1)
        state = train_state.TrainState.create(apply_fn=model.apply, params=params, tx=jaxgd.sgd(lr))

        def body(state, _):
            grads = jax.grad(lambda p: jnp.mean((state.apply_fn(p, x) - y) ** 2))(state.params)
            return state.apply_gradients(grads=grads), None

        state, _ = jax.lax.scan(body, state, None, length=100)
        return jnp.mean((state.apply_fn(state.params, x) - y) ** 2)

    losses = jax.vmap(train)(jnp.asarray([1e-3, 1e-2, 1e-1]))
    train(jnp.asarray(0.05))  # a new rate: no new trace
    assert len(traces) <= 2  # one for the vmapped call, one for the scalar call
    assert losses[0] > losses[1] > losses[2]


# --------------------------------------------------------------------------- checkpoints


def test_pickle_round_trips_optimizers_and_schedules():
    for opt in (jaxgd.adam(1e-3), jaxgd.momentum(jaxgd.schedules.natural_exp_decay(0.1, rate=0.01), 0.9)):
        back = pickle.loads(pickle.dumps(opt))
        assert back == opt and repr(back) == repr(opt)


def test_orbax_saves_and_restores_an_optimizer_and_its_state(tmp_path):
    """Hyperparameters given as Python numbers or arrays of any rank save as they are. (A 0-d jax.Array becomes a
    NumPy scalar, for flax.nnx; orbax's StandardCheckpointer takes Python numbers and arrays, not NumPy scalars.)"""
    ocp = pytest.importorskip("orbax.checkpoint")
    opt = jaxgd.adam(1e-2, b1=jnp.full(3, 0.9))
    p = {"w": jnp.arange(3.0)}
    state = opt.init(p)
    _, state = opt.update({"w": jnp.ones(3)}, state, p)
    ckpt = ocp.StandardCheckpointer()
    ckpt.save(tmp_path / "ckpt", {"opt": opt, "state": state})
    ckpt.wait_until_finished()
    target = {"opt": jaxgd.adam(1.0, b1=jnp.zeros(3)), "state": opt.init(p)}
    restored = ckpt.restore(tmp_path / "ckpt", target)
    assert jax.tree.structure(restored) == jax.tree.structure(target)
    assert restored["opt"] == opt  # same hyperparameters, same factory
    np.testing.assert_allclose(restored["opt"].b1, 0.9)
    jax.tree.map(np.testing.assert_array_equal, restored["state"], state)


# --------------------------------------------------------------------------- optax wrappers


def test_optax_wrappers_keep_working_with_jaxgd_transforms():
    p = {"a": jnp.ones(3), "b": jnp.ones(2)}
    g = {"a": jnp.full(3, 0.5), "b": jnp.full(2, -0.5)}
    for tx in (
        optax.inject_hyperparams(jaxgd.adam)(learning_rate=1e-2),
        optax.MultiSteps(jaxgd.adam(1e-2), every_k_schedule=2),
        optax.masked(jaxgd.sgd(0.1), {"a": True, "b": False}),
        optax.multi_transform({"x": jaxgd.sgd(0.1), "y": jaxgd.adam(1e-2)}, {"a": "x", "b": "y"}),
        optax.apply_if_finite(jaxgd.sgd(0.1), max_consecutive_errors=2),
        optax.contrib.schedule_free(jaxgd.sgd(0.1), learning_rate=0.1),
    ):
        state = tx.init(p)
        updates, state = jax.jit(tx.update)(g, state, p)
        assert jax.tree.structure(updates) == jax.tree.structure(p)
        assert all(bool(jnp.all(jnp.isfinite(u))) for u in jax.tree.leaves(updates))
    masked = optax.masked(jaxgd.sgd(0.1), {"a": True, "b": False})
    u, _ = masked.update(g, masked.init(p), p)
    np.testing.assert_allclose(u["a"], -0.05)
    np.testing.assert_allclose(u["b"], g["b"])  # left alone


def test_chain_with_an_optax_part_built_once_does_not_recompile_for_a_new_rate():
    """The documented pattern: build the optax part once, and enter jit with a filtering jit (equinox's or
    jaxgd.filter_jit): the optax part's functions are static, a new jaxgd rate is a new leaf value, not a new
    program. (A plain jax.jit refuses the functions inside the chain, as it would any function argument.)"""
    clip = optax.clip_by_global_norm(1.0)
    for filter_jit in (eqx.filter_jit, jaxgd.filter_jit):
        traces = []

        @filter_jit
        def run(opt):
            traces.append(1)
            return jaxgd.run(opt, _quadratic, jnp.zeros(3), 20).final_params

        finals = [run(jaxgd.chain(jaxgd.adam(jnp.asarray(lr)), clip)) for lr in (0.01, 0.02, 0.05)]
        assert len(traces) == 1, filter_jit
        assert not np.allclose(finals[0], finals[2])
    with pytest.raises(TypeError, match="non-array argument"):
        jax.jit(lambda opt: opt.init(jnp.zeros(3)))(jaxgd.chain(jaxgd.adam(0.1), clip))
    # jaxgd.run has its own cache keyed the same way
    before = jaxgd.runner._run._cache_size()
    for lr in (0.03, 0.04):
        jaxgd.run(jaxgd.chain(jaxgd.adam(lr), clip), _quadratic, jnp.zeros(3), 20)
    assert jaxgd.runner._run._cache_size() <= before + 1


def test_nn_fit_trains_a_flax_linen_model_with_the_labs_machinery():
    linen = pytest.importorskip("flax.linen")

    class Net(linen.Module):
        @linen.compact
        def __call__(self, x, train: bool = False):
            x = linen.relu(linen.Dense(16)(x))
            x = linen.Dropout(0.1, deterministic=not train)(x)
            return linen.Dense(3)(x)

    net = Net()

    def apply(params, x, *, key=None, train=False):
        return net.apply(params, x, train=train, rngs={"dropout": key} if train else None)

    key = jax.random.PRNGKey(0)
    x = jax.random.normal(key, (90, 4))
    y = jnp.argmax(x[:, :3], axis=1).astype(jnp.int32)
    train, val = jaxgd.nn.Dataset(x[:60], y[:60]), jaxgd.nn.Dataset(x[60:], y[60:])
    params = net.init(jax.random.PRNGKey(1), x[:1])
    plateau = jaxgd.schedules.reduce_on_plateau(patience=2)
    result = jaxgd.nn.fit(apply, params, jaxgd.adam(1e-2), train, val, key, epochs=30, batch_size=20, patience=10,
                          plateau=plateau, curvature_every=10, lanczos_iters=5, hutchinson_samples=2)  # fmt: skip
    history = result.history
    assert float(history.train_loss[0]) > float(np.nanmin(np.asarray(history.train_loss)))
    assert np.nanmax(np.asarray(history.val_accuracy)) > 0.8
    assert history.update_ratio.shape[1] == len(jax.tree.leaves(params))  # one ratio per parameter leaf
    assert result.curvature.sharpness.shape == (3,)
    loss, acc = jaxgd.nn.evaluate(apply, result.params, val)
    assert 0.0 <= float(acc) <= 1.0 and np.isfinite(float(loss))
