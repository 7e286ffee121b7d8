"""Projections onto the box, ball, simplex and l1 ball, against solutions found another way.

The simplex and l1-ball projections are checked against a bisection on the
threshold theta of the KKT conditions (sum max(v - theta, 0) = r), a different
algorithm from the sort, and every projection against the variational
inequality <v - P(v), y - P(v)> <= 0 for points y of the set.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgd import convex as C

N, BATCH = 7, 40


def bisect_simplex(v, r):
    """P_simplex(v) by bisection on theta: sum max(v - theta, 0) = r, in float64."""
    lo, hi = v.min() - r, v.max()
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if np.maximum(v - mid, 0).sum() > r else (lo, mid)
    return np.maximum(v - (lo + hi) / 2, 0)


def bisect_l1(v, r):
    if np.abs(v).sum() <= r:
        return v
    return np.sign(v) * bisect_simplex(np.abs(v), r)


def inputs(rng):
    v = rng.standard_normal((BATCH, N)) * rng.choice([0.1, 1, 5], (BATCH, 1))
    v[0] = 0.5  # all tied
    v[1] = [1, 1, 1, 0, 0, -1, 2]  # ties around the threshold
    v[2] = 0  # the origin
    v[3] = rng.dirichlet(np.ones(N))  # already in the simplex and the l1 ball
    v[4] = 0.3 * v[3] * rng.choice([-1, 1], N)  # strictly inside the l1 ball
    v[5, :] = 0
    v[5, 2] = 1.0  # a vertex
    return v


@pytest.fixture(scope="module")
def batch():
    return inputs(np.random.default_rng(0))


@pytest.mark.parametrize("x64", [False, True], ids=["float32", "float64"])
def test_simplex_and_l1_ball_match_bisection(batch, x64):
    tol = 1e-12 if x64 else 2e-6
    with jax.enable_x64(x64):
        v = jnp.asarray(batch)
        both = jax.jit(jax.vmap(lambda x, r: (C.project_simplex(x, r), C.project_l1_ball(x, r)), in_axes=(0, None)))
        results = {r: [np.asarray(a) for a in both(v, r)] for r in (1.0, 2.5)}
    for radius, (simplex, l1) in results.items():
        assert simplex.dtype == (np.float64 if x64 else np.float32)
        for i, row in enumerate(batch):
            np.testing.assert_allclose(simplex[i], bisect_simplex(row, radius), atol=tol * (1 + np.abs(row).max()))
            np.testing.assert_allclose(l1[i], bisect_l1(row, radius), atol=tol * (1 + np.abs(row).max()))
        assert np.all(simplex >= 0)
        np.testing.assert_allclose(simplex.sum(1), radius, rtol=10 * tol)
        assert np.all(np.abs(l1).sum(1) <= radius * (1 + 10 * tol))
        np.testing.assert_allclose(l1[4], batch[4], atol=tol)  # strictly inside: fixed
    # points already in the simplex are fixed
    simplex = results[1.0][0]
    np.testing.assert_allclose(simplex[3], batch[3], atol=tol)
    np.testing.assert_allclose(simplex[5], batch[5], atol=tol)


def _variational_gap(v, p, ys):
    """max over y of <v - P(v), y - P(v)>: <= 0 iff P(v) is the projection (for y ranging over the set)."""
    return np.max((ys - p) @ (v - p))


def test_variational_inequality_on_every_set(batch):
    rng = np.random.default_rng(1)
    simplex_pts = rng.dirichlet(np.ones(N), 200)
    vertices = np.eye(N)
    l1_pts = np.concatenate([simplex_pts * rng.choice([-1, 1], (200, N)), vertices, -vertices])
    ball_pts = rng.standard_normal((200, N))
    ball_pts /= np.maximum(1, np.linalg.norm(ball_pts, axis=1, keepdims=True))
    box_pts = rng.uniform(-0.5, 2.0, (200, N))
    with jax.enable_x64(True):
        for proj, pts in (
            (C.projection("simplex"), np.concatenate([simplex_pts, vertices])),
            (C.projection("l1_ball"), l1_pts),
            (C.projection("ball"), ball_pts),
            (C.projection("box", lower=-0.5, upper=2.0), box_pts),
        ):
            projected = np.asarray(jax.jit(jax.vmap(proj))(jnp.asarray(batch)))
            for v, p in zip(batch, projected):
                assert _variational_gap(v, p, pts) <= 1e-12, proj.name


def test_ball_and_box_on_pytrees():
    tree = {"w": jnp.array([3.0, 4.0]), "b": jnp.array([0.0])}
    inside = {"w": jnp.array([0.3, 0.4]), "b": jnp.array([0.1])}
    lower = {"w": jnp.array([0.0, 0.0]), "b": -1.0}
    upper = {"w": jnp.array([1.0, 5.0]), "b": 1.0}

    @jax.jit
    def all_projections(tree, inside):
        return (
            C.project_ball(tree, 1.0),
            C.project_ball(inside, 1.0),
            C.project_ball(jnp.array([5.0, 1.0]), 2.0, center=jnp.array([1.0, 1.0])),
            C.project_box(tree, lower, upper),
            C.project_simplex({"a": jnp.array([1.0, 1.0]), "b": jnp.array([1.0])}),
        )

    out, same, centred, box, s = all_projections(tree, inside)
    np.testing.assert_allclose(out["w"], [0.6, 0.8], rtol=1e-6)
    for k in inside:
        np.testing.assert_array_equal(same[k], inside[k])
    np.testing.assert_allclose(centred, [3.0, 1.0], rtol=1e-6)
    np.testing.assert_allclose(box["w"], [1.0, 4.0])
    # the simplex of a pytree is taken over all its leaves together
    np.testing.assert_allclose(s["a"].sum() + s["b"].sum(), 1.0, rtol=1e-6)


def test_projection_is_a_pytree_and_traces_its_radius():
    proj = C.projection("l1_ball", radius=1.0)
    assert jax.tree.leaves(proj) == [1.0]

    @jax.jit
    def apply(p, x):
        return p(x)

    x = jnp.array([3.0, -1.0, 0.5])
    for r in (0.5, 1.0, 2.0):
        np.testing.assert_allclose(jnp.abs(apply(C.projection("l1_ball", radius=r), x)).sum(), r, rtol=1e-6)
    assert apply._cache_size() == 1
    radii = jnp.array([0.5, 1.0, 2.0])
    batched = jax.jit(jax.vmap(lambda r: C.projection("ball", radius=r)(x)))(radii)
    np.testing.assert_allclose(jnp.linalg.norm(batched, axis=1), radii, rtol=1e-6)


def test_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match="radius must be non-negative"):
        C.project_ball(jnp.ones(3), -1.0)
    with pytest.raises(ValueError, match="radius must be non-negative"):
        C.projection("simplex", radius=-2.0)
    with pytest.raises(ValueError, match="infeasible box: lower > upper at index 1"):
        C.project_box(jnp.ones(3), jnp.array([0.0, 2.0, 0.0]), 1.0)
    with pytest.raises(ValueError, match="infeasible box"):
        C.projection("box", lower=1.0, upper=0.0)
    with pytest.raises(ValueError, match="'sphere' is not a convex set"):
        C.projection("sphere")
    with pytest.raises(ValueError, match="'l0_ball' is not a convex set"):
        C.projection("l0_ball", radius=3)
    with pytest.raises(ValueError, match="unknown set 'cube'; valid sets: box, ball, simplex, l1_ball"):
        C.projection("cube")
    with pytest.raises(TypeError, match="unexpected"):
        C.projection("ball", lower=0.0)
    with pytest.raises(TypeError, match="by name"):
        C.projection(3)
