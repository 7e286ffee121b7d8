"""jaxgd.nn.train: jitted training on real data, early stopping, plateau, ensembles, averaging, curvature."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

import jaxgd
from jaxgd import nn

DIGITS = nn.MLP((64, 128, 10))
EPOCHS = 15


def _assert_trees_close(a, b, **kw):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), **kw)


@pytest.fixture(scope="module")
def digits():
    return nn.load("digits", seed=0)


@pytest.fixture(scope="module")
def small_digits():
    return nn.load("digits", seed=0, train_size=100)


@pytest.fixture(scope="module")
def adam_run(digits):
    params = jax.jit(DIGITS.init)(jax.random.key(0))
    return nn.fit(DIGITS, params, jaxgd.adam(2e-3), digits.train, digits.val, jax.random.key(1), epochs=EPOCHS)


def test_digits_mlp_reaches_95_percent_test_accuracy_with_adam(digits, adam_run):
    h = adam_run.history
    assert h.train_loss.shape == (EPOCHS,) and h.update_ratio.shape == (EPOCHS, 2)
    _, test_accuracy = nn.evaluate(DIGITS, adam_run.params, digits.test)
    assert float(test_accuracy) >= 0.95
    assert float(h.train_loss[-1]) < 0.2 * float(h.train_loss[0])
    # recorded metrics are those of the parameters
    val_loss, val_acc = nn.evaluate(DIGITS, adam_run.last_params, digits.val)
    np.testing.assert_allclose(h.val_loss[-1], val_loss, rtol=1e-5)
    np.testing.assert_allclose(h.val_accuracy[-1], val_acc)
    assert np.all(np.asarray(h.update_ratio) > 0) and np.all(np.asarray(h.grad_norm) > 0)
    np.testing.assert_array_equal(np.asarray(h.lr_scale), 1.0)


def test_ensemble_in_one_vmap_beats_its_members_mean():
    """Five seeds on 200 training images, in one vmap, scored on the 718 validation and test images."""
    data = nn.load("digits", seed=0, train_size=200)
    keys = jax.random.split(jax.random.key(7), 5)
    params = jax.jit(jax.vmap(DIGITS.init))(keys)
    result = nn.fit_ensemble(DIGITS, params, jaxgd.adam(2e-3), data.train, data.val, keys, epochs=20, batch_size=20)
    assert result.history.val_loss.shape == (5, 20)
    x = jnp.concatenate([data.val.x, data.test.x])
    y = jnp.concatenate([data.val.y, data.test.y])

    @jax.jit
    def scores(params):
        probs = jax.vmap(DIGITS.predict_proba, in_axes=(0, None))(params, x)
        correct = jnp.sum(jnp.argmax(probs, -1) == y, axis=-1)
        nll = jax.vmap(lambda p: -jnp.mean(jnp.log(p[jnp.arange(y.size), y])))
        ensemble = nn.ensemble_proba(DIGITS, params, x)
        return correct, jnp.sum(jnp.argmax(ensemble, -1) == y), nll(probs), nll(ensemble[None])[0]

    members, ensemble, member_nll, ensemble_nll = scores(result.params)
    assert len(set(np.asarray(members).tolist())) > 1  # the members differ
    assert int(ensemble) >= float(jnp.mean(members)), (ensemble, members)
    assert float(ensemble_nll) <= float(jnp.mean(member_nll))  # Jensen: always true for the log loss


@pytest.fixture(scope="module")
def overfit_run(small_digits):
    model = nn.MLP((64, 128, 128, 10))
    params = jax.jit(model.init)(jax.random.key(0))
    plateau = jaxgd.schedules.reduce_on_plateau(factor=0.5, patience=1)
    kw = dict(epochs=40, batch_size=20, plateau=plateau)
    result = nn.fit(
        model, params, jaxgd.adam(3e-3), small_digits.train, small_digits.val, jax.random.key(1),
        patience=6, average_from=3, record_params=True, **kw,
    )  # fmt: skip
    return model, params, kw, plateau, result


def test_early_stopping_returns_the_best_epochs_parameters(small_digits, overfit_run):
    model, _, kw, _, r = overfit_run
    run = int(r.epochs_run)
    val = np.asarray(r.history.val_loss)
    best = int(np.argmin(val[:run])) + 1
    assert int(r.best_epoch) == best and run == best + 6 < kw["epochs"]  # stopped by patience
    assert np.all(np.isnan(val[run:])) and np.all(np.isfinite(val[:run]))
    _assert_trees_close(r.params, jax.tree.map(lambda a: a[best - 1], r.param_history), rtol=0, atol=0)
    _assert_trees_close(r.last_params, jax.tree.map(lambda a: a[run - 1], r.param_history), rtol=0, atol=0)
    loss, _ = nn.evaluate(model, r.params, small_digits.val)
    np.testing.assert_allclose(loss, r.best_val_loss, rtol=1e-5)
    np.testing.assert_allclose(r.best_val_loss, val[best - 1], rtol=0)
    assert float(nn.evaluate(model, r.last_params, small_digits.val)[0]) > float(r.best_val_loss)


def test_checkpoint_average_is_the_mean_of_the_epochs_run(overfit_run):
    *_, r = overfit_run
    run = int(r.epochs_run)
    window = jax.tree.map(lambda a: a[2:run], r.param_history)  # epochs 3 .. run
    _assert_trees_close(r.averaged_params, nn.average_checkpoints(window), rtol=1e-5, atol=1e-6)


def test_reduce_on_plateau_steps_once_per_epoch_on_the_validation_loss(overfit_run):
    _, params, _, plateau, r = overfit_run
    run = int(r.epochs_run)
    state = plateau.init(params)
    expected = []
    for v in np.asarray(r.history.val_loss[:run]):
        expected.append(float(state.scale))
        _, state = plateau.update({}, state, value=jnp.asarray(v))
    np.testing.assert_allclose(np.asarray(r.history.lr_scale[:run]), expected)
    assert min(expected) < 1.0  # the plateau did reduce the step


def test_l2_narrows_the_train_validation_gap(small_digits):
    """Over-parameterised (64-128-128-10, 26k weights) on 100 training images, two seeds each."""
    model = nn.MLP((64, 128, 128, 10))
    keys = jax.random.split(jax.random.key(0), 2)
    params = jax.jit(jax.vmap(model.init))(keys)

    def gaps(p, key, l2):
        r = nn.fit(
            model, p, jaxgd.adam(1e-3), small_digits.train, small_digits.val, key, epochs=60, batch_size=20, l2=l2
        )
        h = r.history
        return h.val_loss[-1] - h.train_loss[-1], h.train_accuracy[-1] - h.val_accuracy[-1]

    per_seed = jax.vmap(gaps, in_axes=(0, 0, None))
    (loss_gap, acc_gap) = jax.vmap(per_seed, in_axes=(None, None, 0))(params, keys, jnp.array([0.0, 1e-2]))
    loss_gap, acc_gap = np.asarray(loss_gap), np.asarray(acc_gap)
    assert np.all(acc_gap[0] > 0.05)  # the plain net overfits
    assert np.all(loss_gap[1] < loss_gap[0]), loss_gap
    assert acc_gap[1].mean() < acc_gap[0].mean(), acc_gap


def _tiny_problem():
    """A 4-5-3 tanh net (43 parameters) on 40 random points; call inside enable_x64."""
    model = nn.MLP((4, 5, 3), activation="tanh")
    rng = np.random.default_rng(3)
    data = nn.make_dataset(rng.normal(size=(40, 4)), rng.integers(0, 3, 40), num_classes=3)
    return model, jax.jit(lambda k: model.init(k, bias=0.1))(jax.random.key(4)), data


def test_full_batch_epoch_is_a_gradient_step_and_curvature_matches_the_dense_hessian():
    eta, l2, l1, samples = 0.3, 1e-2, 1e-3, 300
    with jax.enable_x64(True):
        model, params, data = _tiny_problem()
        assert data.x.dtype == jnp.float64
        r = nn.fit(
            model, params, jaxgd.sgd(eta), data, data, jax.random.key(5), epochs=3, batch_size=None,
            l2=l2, l1=l1, curvature_every=2, lanczos_iters=43, hutchinson_samples=samples, record_params=True,
        )  # fmt: skip
        f = nn.training_objective(model, data, l2=l2, l1=l1)

        @jax.jit
        def reference(p, p_epoch2, key):
            value, grad = jax.value_and_grad(f)(p)
            stepped = jax.tree.map(lambda x, g: x - eta * g, p, grad)
            ratios = jnp.stack([eta * jaxgd.tree_norm(g["w"]) / jaxgd.tree_norm(x["w"]) for g, x in zip(grad, p)])
            train_loss = nn.training_objective(model, data)(stepped)
            flat, unravel = ravel_pytree(p)
            hessian = jax.hessian(lambda v: f(unravel(v)))
            curv = nn.network_curvature(model, p, data, key, l2=l2, l1=l1, lanczos_iters=43, hutchinson_samples=0)
            hessians = hessian(flat), hessian(ravel_pytree(p_epoch2)[0])
            return (value, jaxgd.tree_norm(grad), stepped, ratios, train_loss), hessians, curv

        first_epoch, hessians, at_init = reference(
            params, jax.tree.map(lambda a: a[1], r.param_history), jax.random.key(0)
        )
    value, grad_norm, stepped, ratios, train_loss = first_epoch
    h_init, h_epoch2 = (np.asarray(h) for h in hessians)
    assert h_init.shape == (43, 43)
    # epoch 1 is one step x <- x - eta grad f(x), with its metrics
    _assert_trees_close(jax.tree.map(lambda a: a[0], r.param_history), stepped, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(r.history.batch_loss[0], value, rtol=1e-12)
    np.testing.assert_allclose(r.history.grad_norm[0], grad_norm, rtol=1e-12)
    np.testing.assert_allclose(r.history.update_ratio[0], ratios, rtol=1e-12)
    np.testing.assert_allclose(r.history.train_loss[0], train_loss, rtol=1e-12)
    # Lanczos sharpness = the dense Hessian's top eigenvalue; Hutchinson's trace within
    # 5 standard errors sqrt(2 sum_{i != j} H_ij^2 / m) of tr H
    np.testing.assert_array_equal(r.curvature.epochs, [2])  # every 2 epochs; epoch 3 is a remainder
    np.testing.assert_allclose(r.curvature.sharpness[0], np.linalg.eigvalsh(h_epoch2)[-1], rtol=1e-8)
    se = math.sqrt(2 * (np.sum(h_epoch2**2) - np.sum(np.diag(h_epoch2) ** 2)) / samples)
    assert abs(float(r.curvature.trace[0]) - np.trace(h_epoch2)) < 5 * se
    np.testing.assert_allclose(at_init.sharpness, np.linalg.eigvalsh(h_init)[-1], rtol=1e-8)
    assert np.isnan(float(at_init.trace))  # hutchinson_samples=0 skips the trace
    assert float(at_init.sharpness) < 2 / eta  # gradient descent with eta is on the stable side


def test_bad_training_input_raises_clear_errors(small_digits):
    train, val = small_digits.train, small_digits.val
    params = jax.tree.map(jnp.zeros_like, jax.eval_shape(DIGITS.init, jax.random.key(0)))
    key = jax.random.key(1)
    opt = jaxgd.sgd(0.1)

    def fit(**kw):
        args = dict(model=DIGITS, params=params, optimizer=opt, train=train, val=val, key=key, epochs=2)
        return nn.fit(**{**args, **kw})

    with pytest.raises(ValueError, match=r"train.y holds label 10, outside \[0, 10\)"):
        fit(train=nn.Dataset(train.x, np.where(np.arange(100) == 3, 10, np.asarray(train.y))))
    with pytest.raises(ValueError, match=r"val.y holds label -1"):
        fit(val=nn.Dataset(val.x, np.where(np.arange(len(val.y)) == 0, -1, np.asarray(val.y))))
    with pytest.raises(ValueError, match=r"train\.x has 63 features, the model expects 64"):
        fit(train=nn.Dataset(np.asarray(train.x)[:, :63], train.y))
    with pytest.raises(ValueError, match=r"keep_prob .* \(0, 1\]"):
        fit(model=nn.MLP((64, 128, 10), keep_prob=0.0))
    with pytest.raises(ValueError, match="batch_size=500 exceeds"):
        fit(batch_size=500)
    with pytest.raises(ValueError, match="patience"):
        fit(patience=0)
    with pytest.raises(ValueError, match="average_from=3 is after the last epoch"):
        fit(average_from=3)
    with pytest.raises(TypeError, match="plateau must be a reduce-on-plateau"):
        fit(plateau=jaxgd.sgd(0.1))
    with pytest.raises(ValueError, match="layer 0"):
        fit(params=[{"w": np.zeros((64, 32)), "b": np.zeros(32)}, {"w": np.zeros((32, 10)), "b": np.zeros(10)}])
    with pytest.raises(ValueError, match="l2"):
        fit(l2=-1.0)
    stacked = jax.tree.map(lambda a: np.stack([a] * 3), params)
    with pytest.raises(ValueError, match="leading ensemble axis"):
        nn.fit_ensemble(DIGITS, stacked, opt, train, val, jnp.stack([key, key]), epochs=2)
