"""The classic test functions: f at the stated minimisers equals the stated minimum, and grad f vanishes there."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgd.bench import problems as classic


@pytest.mark.parametrize("name", sorted(classic.CLASSIC))
def test_minimum_and_zero_gradient(name):
    with jax.enable_x64(True):
        p = classic.get(name)
        vg = jax.jit(jax.vmap(jax.value_and_grad(lambda x, d: p.fn(x, **d)), (0, None)))
        (f, f0), (g, g0) = vg(jnp.stack([p.minimizers[0], p.x0]), p.data)
        assert float(f) == pytest.approx(float(p.minimum), rel=1e-10, abs=1e-20)
        assert float(jnp.linalg.norm(g)) <= 1e-9 * max(1.0, float(jnp.linalg.norm(g0)))
        assert float(f0) > float(p.minimum)  # the start is not a minimiser


def test_the_set_covers_the_issue():
    problems = classic.classic()
    dims = [p.dim for p in problems]
    assert len(problems) >= 15 and max(dims) >= 100 and sum(d >= 10 for d in dims) >= 5
    assert {"powell_badly_scaled", "brown_badly_scaled", "powell_singular"} <= set(classic.CLASSIC)


def test_every_builder_is_exported_and_registered():
    builders = {getattr(classic, n) for n in classic.__all__ if n not in ("CLASSIC", "classic", "get")}
    assert builders == set(classic.CLASSIC.values())
    with pytest.raises(ValueError, match="m >= n"):
        classic.linear_full_rank(10, 5)
    with pytest.raises(ValueError, match="n = 10 only"):
        classic.discrete_boundary_value(12)


def test_singular_hessian_at_powell_minimiser():
    with jax.enable_x64(True):
        p = classic.powell_singular()
        eig = np.linalg.eigvalsh(np.asarray(jax.jit(jax.hessian(p.fn))(p.minimizers[0])))
        assert np.sum(np.abs(eig) < 1e-12) == 2


def test_bad_input():
    with pytest.raises(ValueError, match="multiple of 4"):
        classic.extended_powell(10)
    with pytest.raises(ValueError, match="unknown classic problem"):
        classic.get("nope")
    with pytest.raises(ValueError, match="m >= n"):
        classic.linear_full_rank(10, 5)
