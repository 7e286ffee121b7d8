"""Matrix-free curvature: HVPs, Lanczos and power iteration against dense eigh, Hutchinson's trace."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgd import analysis, curvature, problems


def _random_symmetric(n, seed):
    a = np.random.default_rng(seed).normal(size=(n, n))
    return (a + a.T) / np.sqrt(2 * n)


def _quadratic_fn(x, matrix):
    return 0.5 * x @ (matrix @ x)


def _quadratic(a):
    """f(x) = 1/2 x^T A x as a Problem pytree: A is a traced leaf, so matrices of one shape share a compilation."""
    a = jnp.asarray(a)
    return problems.Problem("quadratic", _quadratic_fn, a.shape[0], jnp.zeros(a.shape[0], a.dtype), data={"matrix": a})


def _mlp_loss(params, batch):
    x, y = batch
    h = jnp.tanh(x @ params["w1"] + params["b1"])
    return jnp.mean((h @ params["w2"] - y) ** 2)


def _mlp(seed, dtype=np.float32):
    rng = np.random.default_rng(seed)
    params = {
        "w1": jnp.asarray(rng.normal(size=(3, 8)), dtype),
        "b1": jnp.zeros(8, dtype),
        "w2": jnp.asarray(rng.normal(size=(8, 2)), dtype),
    }
    batch = (jnp.asarray(rng.normal(size=(16, 3)), dtype), jnp.asarray(rng.normal(size=(16, 2)), dtype))
    return params, batch


def test_hvp_matches_dense_hessian_on_pytree():
    with jax.enable_x64(True):
        params, batch = _mlp(0, np.float64)
        v = jax.tree.map(lambda p: jnp.cos(jnp.arange(p.size, dtype=p.dtype).reshape(p.shape)), params)
        hv = curvature.hvp(lambda p: _mlp_loss(p, batch), params, v)
        assert jax.tree.structure(hv) == jax.tree.structure(params)
        flat_v, _ = jax.flatten_util.ravel_pytree(v)
        dense = analysis.hessian(_mlp_loss, params, batch) @ flat_v
        np.testing.assert_allclose(jax.flatten_util.ravel_pytree(hv)[0], dense, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_lanczos_agrees_with_eigh_on_random_symmetric_200(seed):
    with jax.enable_x64(True):
        a = _random_symmetric(200, seed)
        ev = np.linalg.eigvalsh(a)
        r = curvature.lanczos(_quadratic(a), jnp.zeros(200), jax.random.key(seed), num_iters=80)
        assert float(r.lambda_max) == pytest.approx(ev[-1], abs=1e-8)
        assert float(r.lambda_min) == pytest.approx(ev[0], abs=1e-8)
        # Ritz values lie inside the spectrum, and the residual is an honest error bar
        assert ev[0] - 1e-12 <= float(r.lambda_min) <= float(r.lambda_max) <= ev[-1] + 1e-12
        for lam, res, vec in [
            (r.lambda_max, r.residual_max, r.vector_max),
            (r.lambda_min, r.residual_min, r.vector_min),
        ]:
            assert float(jnp.linalg.norm(vec)) == pytest.approx(1.0)
            assert float(res) == pytest.approx(float(jnp.linalg.norm(a @ vec - lam * vec)), rel=1e-6, abs=1e-13)
            assert np.min(np.abs(ev - float(lam))) <= float(res) + 1e-12
        # fewer iterations: less accurate, but still within the reported residual of an eigenvalue
        r = curvature.lanczos(_quadratic(a), jnp.zeros(200), jax.random.key(seed), num_iters=20)
        assert float(r.residual_max) > 1e-8
        assert np.min(np.abs(ev - float(r.lambda_max))) <= float(r.residual_max)
        assert float(r.lambda_max) <= ev[-1] + 1e-12


def test_lanczos_float32_random_symmetric_200():
    a = _random_symmetric(200, 2)
    ev = np.linalg.eigvalsh(a)
    r = curvature.lanczos(_quadratic(a.astype(np.float32)), jnp.zeros(200), jax.random.key(0), num_iters=80)
    assert r.lambda_max.dtype == jnp.float32
    assert float(r.lambda_max) == pytest.approx(ev[-1], abs=1e-4)
    assert float(r.lambda_min) == pytest.approx(ev[0], abs=1e-4)


@pytest.mark.parametrize("method", ["lanczos", "power_iteration"])
def test_extremes_are_by_sign_not_magnitude(method):
    with jax.enable_x64(True):
        # the largest magnitude is negative: PyHessian's "top eigenvalue" would be -10
        d = jnp.asarray([-10.0, -1.0, 0.5, 1.0, 2.0, 3.0])
        rotation = jnp.linalg.qr(jax.random.normal(jax.random.key(0), (6, 6)))[0]
        a = rotation @ jnp.diag(d) @ rotation.T
        fn = getattr(curvature, method)
        kwargs = {"num_iters": 6} if method == "lanczos" else {"num_iters": 400}
        r = fn(_quadratic(a), jnp.zeros(6), jax.random.key(1), **kwargs)
        assert float(r.lambda_max) == pytest.approx(3.0, abs=1e-6)
        assert float(r.lambda_min) == pytest.approx(-10.0, abs=1e-6)
        assert float(r.residual_max) < 1e-5 and float(r.residual_min) < 1e-5


def test_power_iteration_agrees_with_eigh():
    with jax.enable_x64(True):
        rng = np.random.default_rng(3)
        q = np.linalg.qr(rng.normal(size=(50, 50)))[0]
        d = np.concatenate([[-4.0], rng.uniform(-1, 1, 48), [6.0]])
        a = (q * d) @ q.T
        r = curvature.power_iteration(_quadratic(a), jnp.zeros(50), jax.random.key(0), num_iters=300)
        assert float(r.lambda_max) == pytest.approx(6.0, abs=1e-8)
        assert float(r.lambda_min) == pytest.approx(-4.0, abs=1e-8)
        v = np.asarray(r.vector_max)
        assert abs(v @ q[:, -1]) == pytest.approx(1.0, abs=1e-8)
        assert float(r.residual_min) == pytest.approx(
            float(np.linalg.norm(a @ r.vector_min - r.lambda_min * r.vector_min))
        )


@pytest.mark.parametrize("num_iters", [4, 12])
def test_lanczos_handles_invariant_subspaces(num_iters):
    """Repeated eigenvalues make the Krylov space invariant early; more iterations than n are clipped."""
    key = jax.random.key(0)
    with jax.enable_x64(True):
        # three distinct eigenvalues: the Krylov space is exhausted after 3 steps, then Lanczos restarts
        r = curvature.lanczos(
            _quadratic(jnp.diag(jnp.asarray([1.0, 1.0, 1.0, 2.0, -3.0]))), jnp.zeros(5), key, num_iters
        )
        assert bool(jnp.isfinite(jnp.asarray(r[:4])).all())
        assert float(r.lambda_max) == pytest.approx(2.0, abs=1e-10)
        assert float(r.lambda_min) == pytest.approx(-3.0, abs=1e-10)
        # the identity: a one-dimensional Krylov space
        r = curvature.lanczos(_quadratic(jnp.eye(5)), jnp.zeros(5), key, num_iters)
        assert float(r.lambda_max) == pytest.approx(1.0) and float(r.lambda_min) == pytest.approx(1.0)


def test_sharpness_in_a_jitted_training_step_and_vmapped_over_keys():
    """The NN use case: f closes over a batch inside jit; dense eigh of the exact Hessian agrees."""
    with jax.enable_x64(True):
        params, batch = _mlp(1, np.float64)
        n = sum(p.size for p in jax.tree.leaves(params))

        @jax.jit
        def curvature_step(params, batch, keys):
            def loss(p):
                return _mlp_loss(p, batch)

            pairs = jax.vmap(lambda k: curvature.lanczos(loss, params, k, num_iters=n))(keys)
            return pairs, curvature.hutchinson_samples(loss, params, keys[0], 1000)

        h = np.asarray(analysis.hessian(_mlp_loss, params, batch))
        ev = np.linalg.eigvalsh(h)
        pairs, samples = curvature_step(params, batch, jax.random.split(jax.random.key(0), 2))
        np.testing.assert_allclose(pairs.lambda_max, ev[-1], rtol=1e-8)
        np.testing.assert_allclose(pairs.lambda_min, ev[0], atol=1e-8 * abs(ev).max())
        assert jax.tree.structure(pairs.vector_max) == jax.tree.structure(params)
        stderr = float(samples.std()) / np.sqrt(samples.size)
        assert abs(float(samples.mean()) - ev.sum()) < 5 * stderr
        # the Rademacher estimator's variance is 2 sum_{i != j} H_ij^2
        variance = 2 * (np.sum(h**2) - np.sum(np.diag(h) ** 2))
        assert float(samples.var()) == pytest.approx(variance, rel=0.2)


def test_lanczos_vmaps_over_params():
    scales = jnp.asarray([1.0, 2.0, 5.0])
    d = jnp.asarray([0.5, 1.0, 4.0])

    def f(x, s):
        return 0.5 * s * jnp.sum(d * x * x) + jnp.sum(x**4)

    out = jax.vmap(lambda s: curvature.lanczos(lambda x: f(x, s), jnp.zeros(3), jax.random.key(0), 3))(scales)
    np.testing.assert_allclose(out.lambda_max, 4.0 * scales, rtol=1e-5)
    np.testing.assert_allclose(out.lambda_min, 0.5 * scales, rtol=1e-5)


def test_hutchinson_is_exact_for_diagonal_hessians():
    d = jnp.asarray([3.0, -1.0, 0.25, 7.0])
    f = _quadratic(jnp.diag(d))
    samples = curvature.hutchinson_samples(f, jnp.zeros(4), jax.random.key(0), 5)
    np.testing.assert_allclose(samples, d.sum(), rtol=1e-6)
    assert float(curvature.hutchinson_trace(f, jnp.zeros(4), jax.random.key(0), 5)) == pytest.approx(float(d.sum()))


def test_million_parameter_pytree():
    """Lanczos never forms H: a 10^6-parameter pytree with a known diagonal Hessian, isolated extremes."""
    n1, shape2 = 600_000, (400, 1000)
    d1 = jnp.linspace(1.0, 2.0, n1).at[7].set(10.0)
    d2 = jnp.linspace(0.5, 1.5, 400_000).at[3].set(-5.0).reshape(shape2)
    params = {"a": jnp.zeros(n1), "b": {"c": jnp.zeros(shape2)}}

    def f(p):
        return 0.5 * jnp.sum(d1 * p["a"] ** 2) + 0.5 * jnp.sum(d2 * p["b"]["c"] ** 2)

    r = jax.jit(lambda p, k: curvature.lanczos(f, p, k, num_iters=10))(params, jax.random.key(0))
    assert float(r.lambda_max) == pytest.approx(10.0, abs=1e-3)
    assert float(r.lambda_min) == pytest.approx(-5.0, abs=1e-2)
    assert abs(float(r.lambda_max) - 10.0) <= float(r.residual_max) + 1e-4
    assert r.vector_min["b"]["c"].shape == shape2
    # the eigenvector of -5 sits on the single entry that carries it
    assert abs(float(r.vector_min["b"]["c"][0, 3])) == pytest.approx(1.0, abs=1e-3)
    tr = curvature.hutchinson_trace(f, params, jax.random.key(1), 2)
    assert float(tr) == pytest.approx(float(jnp.sum(d1) + jnp.sum(d2)), rel=1e-5)


def test_bad_inputs_raise():
    f = _quadratic(np.eye(3))
    for fn in (curvature.lanczos, curvature.power_iteration):
        with pytest.raises(ValueError, match="num_iters"):
            fn(f, jnp.zeros(3), jax.random.key(0), num_iters=0)
        with pytest.raises(TypeError, match="scalar"):
            fn(lambda x: x, jnp.zeros(3), jax.random.key(0))
        with pytest.raises(ValueError, match="empty"):
            fn(f, {}, jax.random.key(0))
    with pytest.raises(ValueError, match="num_samples"):
        curvature.hutchinson_trace(f, jnp.zeros(3), jax.random.key(0), num_samples=0)
    with pytest.raises(TypeError, match="floating"):
        curvature.lanczos(f, jnp.zeros(3, jnp.int32), jax.random.key(0))


def test_functions_with_unhashable_static_parts_still_work():
    """A loss whose non-array part cannot be hashed (here a set) cannot be a jit static argument: no outer jit."""

    def loss(x, config):
        return 0.5 * jnp.sum(jnp.asarray(config["diag"]) * x * x)

    f = functools.partial(loss, config={"diag": [1.0, -2.0, 3.0], "tags": {"a", "b"}})
    r = curvature.lanczos(f, jnp.zeros(3), jax.random.key(0), 3)
    assert float(r.lambda_max) == pytest.approx(3.0, abs=1e-5)
    assert float(r.lambda_min) == pytest.approx(-2.0, abs=1e-5)
    assert float(curvature.hutchinson_trace(f, jnp.zeros(3), jax.random.key(0), 2)) == pytest.approx(2.0)
    np.testing.assert_allclose(analysis.hessian(f, jnp.zeros(3)), np.diag([1.0, -2.0, 3.0]))


def test_problems_that_differ_only_in_data_and_name_share_one_compile():
    """Each entry takes the Problem's objective (function and data, not its name or start): one compile."""
    a = _random_symmetric(5, 0)
    curvature.lanczos(_quadratic(a), jnp.zeros(5), jax.random.key(0), 5)
    before = curvature._jitted._cache_size()
    for seed in (1, 2):
        b = _random_symmetric(5, seed)
        p = _quadratic(b)
        p.name, p.x0 = f"quadratic{seed}", jnp.ones(5)
        r = curvature.lanczos(p, jnp.zeros(5), jax.random.key(0), 5)
        assert float(r.lambda_max) == pytest.approx(float(np.linalg.eigvalsh(b)[-1]), abs=1e-4)
    assert curvature._jitted._cache_size() == before
