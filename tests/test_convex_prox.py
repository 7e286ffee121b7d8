"""Proximal operators against closed forms and the Moreau identity; ISTA, FISTA and backtracking FISTA on the Lasso
against scikit-learn; projected wrappers."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgd
from jaxgd import convex as C
from jaxgd.convex import prox as G

RNG = np.random.default_rng(0)
V = RNG.standard_normal(12) * 2
GROUPS = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 3, 3, 3])
ETA, LAM = 0.7, 0.9


def _group_ball(w, groups, radii):
    out = w.copy()
    for k, r in enumerate(radii):
        idx = groups == k
        n = np.linalg.norm(w[idx])
        if n > r:
            out[idx] = w[idx] * r / n
    return out


@pytest.fixture(scope="module")
def proxes():
    """Each operator at (V, ETA), all in one jit."""
    ops = {
        "l1": G.l1(LAM),
        "l2": G.l2_squared(LAM),
        "enet": G.elastic_net(LAM, 0.3),
        "box": G.box(-0.5, 1.0),
        "group": G.group_lasso(LAM, GROUPS),
        "indicator": G.indicator(C.projection("ball", radius=1.5)),
        "zero": G.zero(),
    }
    with jax.enable_x64(True):
        out = jax.jit(lambda ops, v: {k: (op.prox(v, ETA), op(v)) for k, op in ops.items()})(ops, jnp.asarray(V))
    return ops, {k: (np.asarray(p), float(g)) for k, (p, g) in out.items()}


def test_closed_forms(proxes):
    _, out = proxes
    soft = np.sign(V) * np.maximum(np.abs(V) - ETA * LAM, 0)
    np.testing.assert_allclose(out["l1"][0], soft, rtol=1e-14)
    np.testing.assert_allclose(out["l1"][1], LAM * np.abs(V).sum(), rtol=1e-14)
    np.testing.assert_allclose(out["l2"][0], V / (1 + ETA * LAM), rtol=1e-14)
    np.testing.assert_allclose(out["enet"][0], np.sign(V) * np.maximum(np.abs(V) - ETA * LAM, 0) / (1 + ETA * 0.3))
    np.testing.assert_allclose(out["box"][0], np.clip(V, -0.5, 1.0))
    assert out["box"][1] == np.inf and out["indicator"][1] == np.inf
    np.testing.assert_allclose(np.linalg.norm(out["indicator"][0]), 1.5, rtol=1e-12)
    np.testing.assert_array_equal(out["zero"][0], V)
    group = np.zeros_like(V)
    for k in range(4):
        idx = GROUPS == k
        w = np.sqrt(idx.sum())
        group[idx] = max(0, 1 - ETA * LAM * w / np.linalg.norm(V[idx])) * V[idx]
    np.testing.assert_allclose(out["group"][0], group, rtol=1e-13)


def test_prox_minimises_its_objective(proxes):
    """g(p) + ||p - v||^2 / (2 eta) <= the same at nearby points, for each operator."""
    ops, out = proxes
    pert = np.random.default_rng(1).standard_normal((50, V.size)) * 1e-3
    with jax.enable_x64(True):
        for name in ("l1", "l2", "enet", "group"):
            p = out[name][0]
            objective = jax.jit(jax.vmap(lambda x, op=ops[name]: op(x) + jnp.sum((x - V) ** 2) / (2 * ETA)))
            values = np.asarray(objective(jnp.asarray(p + pert)))
            centre = float(objective(jnp.asarray(p[None]))[0])
            assert np.all(values >= centre - 1e-13), name


def test_moreau_decomposition(proxes):
    """v = prox_{eta g}(v) + eta prox_{g*/eta}(v / eta), with the conjugates in closed form."""
    _, out = proxes
    # l1: g* is the indicator of the l_inf ball of radius lam
    np.testing.assert_allclose(out["l1"][0] + ETA * np.clip(V / ETA, -LAM, LAM), V, rtol=1e-14)
    # (lam/2)||x||^2: g*(y) = ||y||^2 / (2 lam), prox_{g*/eta}(w) = w lam eta / (1 + lam eta)
    np.testing.assert_allclose(out["l2"][0] + ETA * (V / ETA) * LAM * ETA / (1 + LAM * ETA), V, rtol=1e-14)
    # group lasso: g* is the indicator of {||y_G|| <= lam w_G}
    radii = [LAM * np.sqrt((GROUPS == k).sum()) for k in range(4)]
    np.testing.assert_allclose(out["group"][0] + ETA * _group_ball(V / ETA, GROUPS, radii), V, rtol=1e-13)


def test_prox_errors():
    with pytest.raises(ValueError, match="strength must be non-negative"):
        G.l1(-1.0)
    with pytest.raises(ValueError, match="groups must use every label"):
        G.group_lasso(1.0, [0, 2, 2])
    with pytest.raises(ValueError, match="non-negative integer labels"):
        G.group_lasso(1.0, [0.5, 1.0])
    with pytest.raises(ValueError, match="infeasible box"):
        G.box(2.0, 1.0)
    with pytest.raises(TypeError, match="Projection"):
        G.indicator(lambda x: x)
    with pytest.raises(TypeError, match="prox must be"):
        C.fista(0.1, prox=3.0)
    with pytest.raises(ValueError, match="learning_rate must be positive"):
        C.proximal_gradient(-0.1, G.l1(1.0))
    with pytest.raises(ValueError, match="momentum must lie in"):
        C.fista(0.1, G.l1(1.0), momentum=1.5)
    with pytest.raises(ValueError, match="increase_factor must be > 1"):
        C.backtracking_fista(G.l1(1.0), increase_factor=0.5)


# --------------------------------------------------------------------------- the Lasso


@pytest.fixture(scope="module")
def lasso():
    with jax.enable_x64(True):
        return C.problems.lasso_diabetes(0.05)


def _sklearn_lasso(strength):
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Lasso

    x, y = load_diabetes(return_X_y=True)
    return Lasso(alpha=strength, fit_intercept=False, tol=1e-10, max_iter=100_000).fit(x, y - y.mean()).coef_


def test_fista_matches_scikit_learn_on_the_lasso(lasso):
    k = lasso.constants
    with jax.enable_x64(True):
        fista = jaxgd.run(C.fista(1 / k["beta"], lasso.prox), lasso.f, lasso.x0, 600, record_every=600)
        ista = jaxgd.run(C.proximal_gradient(1 / k["beta"], lasso.prox), lasso.f, lasso.x0, 200)
        bt = jaxgd.run(C.backtracking_fista(lasso.prox, lipschitz=1e-4), lasso.f, lasso.x0, 600, record_every=600)
        values = jax.jit(jax.vmap(lasso.value))
        f_fista, f_bt = (float(v) for v in values(jnp.stack([fista.final_state.x, bt.final_state.x])))
        f_ista = np.asarray(values(ista.params))
    w_sklearn = _sklearn_lasso(0.05)
    np.testing.assert_allclose(fista.final_state.x, w_sklearn, atol=1e-6 * np.abs(w_sklearn).max())
    np.testing.assert_allclose(bt.final_state.x, w_sklearn, atol=1e-6 * np.abs(w_sklearn).max())
    assert abs(f_fista - lasso.f_star) <= 1e-12 * lasso.f_star
    assert abs(f_bt - lasso.f_star) <= 1e-12 * lasso.f_star
    assert np.all(np.diff(f_ista) <= 1e-9)  # ISTA is a descent method
    # ISTA's bound beta R^2 / (2 t) on the recorded steps
    assert np.all(f_ista[1:] - lasso.f_star <= C.bounds.smooth_bound(ista.steps[1:], k["beta"], k["R"]))
    # backtracking found L within a factor 2 of beta, with one evaluation per step at the end
    assert k["beta"] / 2 <= float(bt.final_state.lipschitz) <= 2 * k["beta"]
    assert not bool(bt.final_state.failed) and int(bt.final_state.n_fev) == 1


def test_fista_in_float32_and_a_vmapped_lasso_path(lasso):
    k = lasso.constants
    x, y = (np.asarray(lasso.data[n], np.float32) for n in ("x", "y"))
    f = jax.tree_util.Partial(C.problems.mean_squares_fn, x=jnp.asarray(x), y=jnp.asarray(y))
    strengths = jnp.asarray([0.05, 0.2, 1.0, 2.0], jnp.float32)

    def solve(lam):
        return jaxgd.run(C.fista(1 / k["beta"], G.l1(lam)), f, jnp.zeros(10, jnp.float32), 800, record_every=800)

    path = jax.jit(jax.vmap(solve))(strengths)
    assert path.final_state.x.dtype == jnp.float32
    np.testing.assert_allclose(path.final_state.x[0], lasso.x_star, atol=2e-5 * k["R"])
    for lam, w in zip(strengths, path.final_state.x):
        np.testing.assert_allclose(w, _sklearn_lasso(float(lam)), atol=2e-5 * k["R"])
    sparsity = (np.abs(np.asarray(path.final_state.x)) > 0).sum(1)
    assert np.all(np.diff(sparsity) <= 0) and sparsity[-1] < sparsity[0]  # sparser as lam grows


def test_projected_wraps_any_transform():
    f = jax.tree_util.Partial(C.problems.shifted_quadratic_fn, a=jnp.eye(3), center=jnp.array([2.0, 2.0, 2.0]))
    ball = C.projection("ball", radius=1.0)
    x0 = jnp.zeros(3)
    pgd = jaxgd.run(C.projected_gradient(0.1, ball), f, x0, 60)
    adam = jaxgd.run(C.projected(jaxgd.adam(0.05), ball), f, x0, 60)
    x_star = np.full(3, 1 / np.sqrt(3))  # the point of the sphere nearest (2, 2, 2)
    np.testing.assert_allclose(pgd.final_params, x_star, rtol=1e-5)
    np.testing.assert_allclose(adam.final_params, x_star, rtol=1e-2)
    assert np.all(np.linalg.norm(adam.params, axis=1) <= 1 + 1e-6)
    with pytest.raises(ValueError, match="needs params"):
        C.projected_gradient(0.1, ball).update(x0, C.projected_gradient(0.1, ball).init(x0))
