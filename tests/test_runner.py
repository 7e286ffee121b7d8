"""jaxgd.run: records, strides, vmaps, compiles once, takes pytrees and stochastic losses."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxgd
from jaxgd import runner


def quad(x):
    return 0.5 * (x[0] ** 2 + 50 * x[1] ** 2)


X0 = jnp.array([4.0, 0.5])


def test_trajectory_contents_match_a_python_loop():
    opt = jaxgd.momentum(0.01, 0.9)
    traj = jaxgd.run(opt, quad, X0, 20)
    x, state = X0, opt.init(X0)
    xs, losses, ratios = [x], [quad(x)], []
    for _ in range(20):
        g = jax.grad(quad)(x)
        u, state = opt.update(g, state, x)
        ratios.append(jnp.linalg.norm(u) / jnp.linalg.norm(x))
        x = optax.apply_updates(x, u)
        xs.append(x)
        losses.append(quad(x))
    np.testing.assert_allclose(traj.params, np.stack(xs), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(traj.loss, np.stack(losses), rtol=1e-5)
    np.testing.assert_allclose(traj.update_ratio, np.stack(ratios), rtol=1e-5)
    np.testing.assert_allclose(traj.grad_norm[0], jnp.linalg.norm(jax.grad(quad)(X0)), rtol=1e-6)
    np.testing.assert_array_equal(traj.steps, np.arange(21))
    np.testing.assert_allclose(traj.final_params, xs[-1], rtol=1e-6)


@pytest.mark.parametrize("steps, every", [(20, 5), (23, 5), (7, 10)])
def test_record_every(steps, every):
    full = jaxgd.run(jaxgd.sgd(0.01), quad, X0, steps)
    strided = jaxgd.run(jaxgd.sgd(0.01), quad, X0, steps, record_every=every)
    expected_steps = sorted(set(range(0, steps + 1, every)) | {steps})
    np.testing.assert_array_equal(strided.steps, expected_steps)
    np.testing.assert_allclose(strided.params, np.asarray(full.params)[expected_steps], rtol=1e-6)
    np.testing.assert_allclose(strided.loss, full.loss, rtol=1e-6)
    assert strided.loss.shape == (steps + 1,) and strided.update_ratio.shape == (steps,)


def test_vmap_over_16_learning_rates_equals_16_runs():
    lrs = jnp.linspace(0.001, 0.05, 16)  # lambda_max = 50: diverges above 0.04
    batched = jax.vmap(lambda lr: jaxgd.run(jaxgd.sgd(lr), quad, X0, 50))(lrs)
    for i, lr in enumerate(lrs):
        single = jaxgd.run(jaxgd.sgd(float(lr)), quad, X0, 50)
        np.testing.assert_allclose(batched.loss[i], single.loss, rtol=1e-5, atol=1e-30)
        np.testing.assert_allclose(batched.params[i], single.params, rtol=1e-5, atol=1e-30)
    # the last ones (lr > 0.04) diverge, the first ones converge: not a vacuous comparison
    assert batched.loss[-1, -1] > batched.loss[-1, 0] and batched.loss[0, -1] < batched.loss[0, 0]


def test_vmap_over_initial_points_and_optimizer_pytrees():
    x0s = jnp.array([[4.0, 0.5], [-1.0, 1.0], [0.1, -0.2]])
    out = jax.vmap(lambda x: jaxgd.run(jaxgd.adam(0.1), quad, x, 30).final_params)(x0s)
    for i in range(3):
        chex.assert_trees_all_close(out[i], jaxgd.run(jaxgd.adam(0.1), quad, x0s[i], 30).final_params, rtol=1e-5)
    # An optimizer is a pytree of its hyperparameters: stack several and vmap over them.
    opts = [jaxgd.momentum(lr, m) for lr, m in [(0.01, 0.5), (0.005, 0.9)]]
    stacked = jax.tree.map(lambda *a: jnp.stack([jnp.asarray(v) for v in a]), *opts)
    finals = jax.vmap(lambda o: jaxgd.run(o, quad, X0, 30).final_params)(stacked)
    for i, o in enumerate(opts):
        chex.assert_trees_all_close(finals[i], jaxgd.run(o, quad, X0, 30).final_params, rtol=1e-5)


def test_new_hyperparameter_value_reuses_the_compiled_runner():
    loss = lambda x: jnp.sum((x - 1.0) ** 2)  # noqa: E731
    x0 = jnp.zeros(3)
    for make in (jaxgd.sgd, jaxgd.adam, lambda lr: jaxgd.rmsprop(lr, momentum=0.9)):
        jaxgd.run(make(0.1), loss, x0, 10)
        before = runner._run._cache_size()
        a = jaxgd.run(make(0.2), loss, x0, 10)
        b = jaxgd.run(make(0.3), loss, x0, 10)
        assert runner._run._cache_size() == before, "a new learning-rate value recompiled the runner"
        assert not np.allclose(a.final_params, b.final_params)  # and the new value is really used
    # A different structure (another optimizer) does compile once more.
    jaxgd.run(jaxgd.nadam(0.1), loss, x0, 10)
    assert runner._run._cache_size() == before + 1


def test_new_problem_data_reuses_the_compiled_runner():
    # Problem data (here the spectrum) are pytree leaves; the name, dimension and box are static.
    p1 = jaxgd.problems.quadratic(jnp.array([2.0, 20.0]), X0)
    p2 = jaxgd.problems.quadratic(jnp.array([2.0, 100.0]), X0)
    jaxgd.run(jaxgd.sgd(0.01), p1, p1.x0, 10)
    before = runner._run._cache_size()
    a = jaxgd.run(jaxgd.sgd(0.01), p2, p2.x0, 10)
    assert runner._run._cache_size() == before
    assert float(a.loss[0]) == pytest.approx(4.0**2 + 50 * 0.5**2)


def test_nested_pytrees_of_mixed_shapes_and_float64():
    def loss(p):
        return jnp.sum((p["w"] - 2.0) ** 2) + jnp.sum(p["layers"][0] ** 2) + (p["layers"][1] + 1.0) ** 2

    for x64 in (False, True):
        with jax.enable_x64(x64):
            dtype = jnp.float64 if x64 else jnp.float32
            params = {"w": jnp.zeros((2, 3), dtype), "layers": (jnp.ones(4, dtype), jnp.asarray(3.0, dtype))}
            traj = jaxgd.run(jaxgd.adam(0.05), loss, params, 400, record_every=100)
            chex.assert_shape([traj.params["w"], traj.params["layers"][0]], [(5, 2, 3), (5, 4)])
            chex.assert_shape(traj.params["layers"][1], (5,))
            chex.assert_tree_all_finite(traj.final_params)
            assert traj.final_params["w"].dtype == dtype and traj.loss.dtype == dtype
            expected = {"w": jnp.full((2, 3), 2.0, dtype), "layers": (jnp.zeros(4, dtype), jnp.asarray(-1.0, dtype))}
            chex.assert_trees_all_close(traj.final_params, expected, atol=1e-2)


def test_stochastic_loss_with_batches_and_key():
    steps = 200
    key = jax.random.PRNGKey(0)
    data = 3.0 + jax.random.normal(key, (steps, 8))

    def loss(x, batch, k):
        noise = 0.01 * jax.random.normal(k, x.shape)
        return jnp.mean((x - batch) ** 2) + jnp.sum(noise * x)

    traj = jaxgd.run(jaxgd.sgd(0.05), loss, jnp.zeros(1), steps, batches=data, key=jax.random.PRNGKey(1))
    assert abs(float(traj.final_params[0]) - 3.0) < 0.3
    again = jaxgd.run(jaxgd.sgd(0.05), loss, jnp.zeros(1), steps, batches=data, key=jax.random.PRNGKey(1))
    np.testing.assert_array_equal(traj.params, again.params)
    other = jaxgd.run(jaxgd.sgd(0.05), loss, jnp.zeros(1), steps, batches=data, key=jax.random.PRNGKey(2))
    assert not np.array_equal(traj.params, other.params)


def test_extra_args_reach_reduce_on_plateau():
    opt = jaxgd.chain(jaxgd.sgd(0.1), jaxgd.schedules.reduce_on_plateau(factor=0.5, patience=3))
    traj = jaxgd.run(opt, lambda x: jnp.sum(jnp.abs(x)), jnp.array([1.0]), 60)
    # |x| with a fixed step oscillates around 0 and plateaus: the scale must have been reduced
    assert float(traj.final_state[1].scale) < 1.0


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"steps": 0}, ValueError, "steps"),
        ({"steps": 2.5}, ValueError, "steps"),
        ({"record_every": 0}, ValueError, "record_every"),
        ({"params": jnp.array([jnp.nan, 1.0])}, ValueError, "non-finite"),
        ({"params": jnp.array([1, 2])}, TypeError, "floating"),
        ({"loss": lambda x: x**2}, TypeError, "scalar"),
        ({"batches": jnp.zeros((3, 2))}, ValueError, "leading axis"),
    ],
)
def test_bad_input_raises_early(kwargs, exc, match):
    args = {"loss": quad, "params": X0, "steps": 10}
    args.update(kwargs)
    loss = args.pop("loss")
    if "batches" in args:
        loss = lambda x, b: quad(x)  # noqa: E731
    with pytest.raises(exc, match=match):
        jaxgd.run(jaxgd.sgd(0.01), loss, **args)


def test_divergence_is_data_not_a_crash():
    traj = jaxgd.run(jaxgd.sgd(0.05), quad, X0, 200)
    assert not np.isfinite(float(traj.loss[-1])) or float(traj.loss[-1]) > 1e10


def test_loss_with_aux():
    """has_aux=True: the loss returns (value, aux); value_fn does too, so has_aux transforms run unchanged, and
    compile to the same arithmetic as the plain loss: bitwise the same losses and iterates.

    The plain reference is the same closure less its aux, not the Problem ``p``: a Problem's data (a, b) are
    traced arguments while a closure's are constants that XLA folds (b * 2 becomes 200), which differs in the last
    bit after a dozen BFGS steps whatever the aux (a different program, not a has_aux effect)."""
    p = jaxgd.problems.rosenbrock()

    def with_aux(x):
        return p(x), {"residual": x - 1.0}

    def plain_loss(x):
        return with_aux(x)[0]

    plain = jaxgd.run(jaxgd.bfgs(), plain_loss, p.x0, 15)
    aux = jaxgd.run(jaxgd.bfgs(has_aux=True), with_aux, p.x0, 15, has_aux=True)
    np.testing.assert_array_equal(plain.loss, aux.loss)
    np.testing.assert_array_equal(plain.final_params, aux.final_params)
    np.testing.assert_allclose(aux.final_aux["residual"], aux.final_params - 1.0)
    assert plain.final_aux is None
    first_order = jaxgd.run(jaxgd.adam(1e-2), with_aux, p.x0, 10, has_aux=True)
    np.testing.assert_array_equal(first_order.loss, jaxgd.run(jaxgd.adam(1e-2), plain_loss, p.x0, 10).loss)
    with pytest.raises(TypeError, match="has_aux=True"):
        jaxgd.run(jaxgd.adam(1e-2), with_aux, p.x0, 10)
    with pytest.raises(TypeError, match="pair"):
        jaxgd.run(jaxgd.adam(1e-2), p, p.x0, 10, has_aux=True)


@pytest.mark.parametrize("convention", ["descent", "velocity"])
def test_record_gives_the_lectures_nesterov_iterate(convention):
    """Sutskever et al. (2013): V <- mu V - eta grad f(x + mu V), x <- x + V, stepped by hand; jaxgd.nesterov carries
    y = x + mu V, and nesterov_iterate recovers x_t from (y_t, state_t) at every recorded step."""
    eta, mu, steps = 0.01, 0.9, 12
    opt = jaxgd.nesterov(eta, mu, convention=convention)
    traj = jaxgd.run(opt, quad, X0, steps, record=lambda p, s: jaxgd.nesterov_iterate(opt, p, s))
    x, v, xs = jnp.asarray(X0), jnp.zeros(2), [jnp.asarray(X0)]
    for _ in range(steps):
        v = mu * v - eta * jax.grad(quad)(x + mu * v)
        x = x + v
        xs.append(x)
    np.testing.assert_allclose(traj.recorded, np.stack(xs), rtol=1e-5, atol=1e-7)
    xs = np.stack(xs)
    velocity = np.diff(np.concatenate([xs[:1], xs]), axis=0)  # V_t = x_t - x_{t-1}, V_0 = 0
    np.testing.assert_allclose(traj.params, xs + mu * velocity, rtol=1e-5, atol=1e-7)  # the look-ahead y_t
    with pytest.raises(ValueError, match="nesterov_iterate"):
        jaxgd.nesterov_iterate(jaxgd.adam(0.1), X0, jaxgd.adam(0.1).init(jnp.asarray(X0)))
    with pytest.raises(TypeError, match="record"):
        jaxgd.run(opt, quad, X0, 3, record="x")
