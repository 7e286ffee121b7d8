"""jaxgd.sweeps.small_sums: small sums written as adds keep the loss, its gradient and Hessian, leave the rest alone."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgd
from jaxgd import sweeps as S
from jaxgd.sweeps import engine
from jaxgd.sweeps.small_sums import unroll_small_sums

P = jaxgd.problems
PROBLEMS = [
    P.ravine(),
    P.rosenbrock(10),
    P.rastrigin(),
    P.ackley(),
    P.quadratic(np.arange(1.0, 17.0)),
    P.logistic_regression(),
]


def primitives(fn, *args) -> list[str]:
    """Names of the primitives of fn's jaxpr, nested jaxprs included."""
    names = []

    def walk(jaxpr):
        for eqn in jaxpr.eqns:
            names.append(eqn.primitive.name)
            for v in eqn.params.values():
                for sub in v if isinstance(v, (tuple, list)) else [v]:
                    inner = getattr(sub, "jaxpr", None)
                    if inner is not None:
                        walk(getattr(inner, "jaxpr", inner))

    walk(jax.make_jaxpr(fn)(*args).jaxpr)
    return names


@pytest.mark.parametrize("x64", [False, True], ids=["float32", "float64"])
@pytest.mark.parametrize("problem", PROBLEMS, ids=lambda p: p.name)
def test_value_gradient_and_hessian_are_the_sums(problem, x64):
    with jax.enable_x64(x64):
        dtype = jnp.float64 if x64 else jnp.float32
        data = jax.tree.map(
            lambda a: jnp.asarray(a, dtype) if jnp.issubdtype(jnp.asarray(a).dtype, jnp.floating) else a, problem.data
        )
        f = jax.tree_util.Partial(problem.fn, **data)
        g = unroll_small_sums(f)
        x0 = jnp.asarray(problem.x0, dtype)
        xs = x0 + 0.3 * jax.random.normal(jax.random.key(0), (4, *x0.shape), dtype)
        rtol = 1e-12 if x64 else 2e-6
        np.testing.assert_allclose(jax.vmap(g)(xs), jax.vmap(f)(xs), rtol=rtol)
        np.testing.assert_allclose(jax.jit(jax.vmap(jax.grad(g)))(xs), jax.vmap(jax.grad(f))(xs), rtol=rtol, atol=rtol)
        if x0.size <= 16:
            np.testing.assert_allclose(jax.hessian(g)(xs[0]), jax.hessian(f)(xs[0]), rtol=rtol, atol=rtol)
        assert g(x0).dtype == dtype


def test_small_float_sums_become_adds_and_the_rest_stays():
    big = jnp.arange(17.0)

    def loss(x, w):
        return (
            jnp.sum(x**2)  # 2 terms: unrolled
            + jnp.sum(w * x[:, None] * x[None, :])  # 2 x 2 over both axes: unrolled
            + jnp.sum(big * x[0])  # 17 terms: kept
            + jnp.sum(jnp.arange(3)).astype(x.dtype)  # integers: kept
        )

    x, w = jnp.array([1.0, -2.0]), jnp.array([[1.0, 2.0], [3.0, 4.0]])
    g = unroll_small_sums(loss)
    assert primitives(loss, x, w).count("reduce_sum") == 4
    assert primitives(g, x, w).count("reduce_sum") == 2  # the big one and the integer one
    assert float(g(x, w)) == pytest.approx(float(loss(x, w)), rel=1e-6)
    for a, b in zip(jax.grad(g, argnums=(0, 1))(x, w), jax.grad(loss, argnums=(0, 1))(x, w)):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_the_gradient_is_a_broadcast_not_padded_slices():
    g = unroll_small_sums(lambda x: jnp.sum(x**2))
    names = primitives(jax.grad(g), jnp.ones(8))
    assert "pad" not in names and "reduce_sum" not in names


def test_control_flow_and_data_axes_under_vmap():
    def loss(x, scale):
        inner = jax.lax.cond(x[0] > 0, lambda y: jnp.sum(y**2), lambda y: jnp.sum(jnp.abs(y)), x)
        return scale * inner + jnp.sum(jnp.sin(x))

    xs = jnp.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]])
    scales = jnp.array([2.0, 3.0])
    g = unroll_small_sums(loss)
    np.testing.assert_allclose(jax.vmap(g)(xs, scales), jax.vmap(loss)(xs, scales), rtol=1e-6)
    np.testing.assert_allclose(jax.vmap(jax.grad(g))(xs, scales), jax.vmap(jax.grad(loss))(xs, scales), rtol=1e-6)


def test_pytree_parameters_and_outputs():
    def loss(p):
        return {"a": jnp.sum(p["w"] ** 2), "b": jnp.sum(p["b"])}

    p = {"w": jnp.array([1.0, 2.0, 3.0]), "b": jnp.array([0.5, 0.25])}
    out = unroll_small_sums(loss)(p)
    assert set(out) == {"a", "b"}
    assert float(out["a"]) == 14.0 and float(out["b"]) == 0.75


def test_a_sweep_gives_the_numbers_of_the_sums(monkeypatch):
    """The sweep's loss is rewritten on CPU; without the rewrite the summaries agree to float rounding."""
    space = {"learning_rate": np.geomspace(1e-3, 1e-1, 12)}
    with_unroll = S.sweep(lambda learning_rate: jaxgd.momentum(learning_rate, 0.9), P.ravine(), space, 300)
    monkeypatch.setattr(engine, "unroll_small_sums", lambda fn: fn)
    engine.sweep_chunk.clear_cache()
    without = S.sweep(lambda learning_rate: jaxgd.momentum(learning_rate, 0.9), P.ravine(), space, 300)
    engine.sweep_chunk.clear_cache()
    assert with_unroll.diverged.any() and not with_unroll.diverged.all()
    np.testing.assert_array_equal(with_unroll.diverge_step, without.diverge_step)
    np.testing.assert_allclose(with_unroll.best_loss, without.best_loss, rtol=1e-5)
    ok = ~with_unroll.diverged
    np.testing.assert_allclose(with_unroll.final_loss[ok], without.final_loss[ok], rtol=1e-4, atol=1e-30)


@jax.custom_vjp
def _square_norm(x):
    return jnp.sum(x**2)


_square_norm.defvjp(lambda x: (_square_norm(x), x), lambda x, g: (2 * g * x,))

ODD_LOSSES = {
    "custom_jvp": lambda x: jax.nn.logsumexp(x) + jnp.sum(jax.nn.relu(x)),
    "custom_vjp": lambda x: _square_norm(x) + jnp.sum(x),
    "fori_loop": lambda x: jax.lax.fori_loop(0, 3, lambda i, a: a + jnp.sum(x * i), 0.0),
    "keepdims": lambda x: jnp.sum(jnp.sum(x.reshape(2, 2), axis=0, keepdims=True) ** 2),
    "norm_mean_var": lambda x: jnp.linalg.norm(x) + jnp.mean(x) + jnp.var(x),
    "fft": lambda x: jnp.sum(jnp.abs(jnp.fft.fft(x)) ** 2),
}


@pytest.mark.parametrize("name", ODD_LOSSES)
def test_losses_with_custom_derivatives_loops_and_other_primitives(name):
    f = ODD_LOSSES[name]
    g = unroll_small_sums(f)
    xs = jnp.array([[0.3, -1.2, 2.0, 0.7], [0.6, -2.4, 4.0, 1.4]])
    np.testing.assert_allclose(jax.jit(jax.vmap(g))(xs), jax.vmap(f)(xs), rtol=1e-6)
    np.testing.assert_allclose(jax.jit(jax.vmap(jax.grad(g)))(xs), jax.vmap(jax.grad(f))(xs), rtol=1e-5, atol=1e-6)
