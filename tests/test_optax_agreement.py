"""Where optax implements the same algorithm, 100 steps on a random quadratic agree with its trajectory.

Every "matches optax" claim in jaxgd's docstrings is checked here, with the default arguments and with others.
All pairs run in one compiled program (one compilation, not two per pair).
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxgd
from jaxgd import transforms as T


def random_quadratic(dim=6, seed=0):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    a = (q * np.geomspace(0.5, 20.0, dim)) @ q.T
    b = rng.normal(size=dim)
    a, b = jnp.asarray(a, jnp.float32), jnp.asarray(b, jnp.float32)

    def loss(x):
        return 0.5 * x @ a @ x + b @ x

    return loss, jnp.asarray(rng.normal(size=dim), jnp.float32)


def _by_optax(transform, lr):
    """A bare transform made an optimizer with optax's own last step."""
    return optax.chain(transform, optax.scale(-lr))


PAIRS = {
    "sgd": (jaxgd.sgd(0.03), optax.sgd(0.03)),
    "momentum": (jaxgd.momentum(0.02), optax.sgd(0.02, momentum=0.9)),  # jaxgd's default momentum is 0.9
    "momentum_0.5": (jaxgd.momentum(0.02, 0.5), optax.sgd(0.02, momentum=0.5)),
    "momentum_velocity": (jaxgd.momentum(0.02, 0.9, convention="velocity"), optax.sgd(0.02, momentum=0.9)),
    "nesterov": (jaxgd.nesterov(0.02), optax.sgd(0.02, momentum=0.9, nesterov=True)),
    "nesterov_0.5": (jaxgd.nesterov(0.02, 0.5), optax.sgd(0.02, momentum=0.5, nesterov=True)),
    # jaxgd's adagrad defaults are the book's on purpose; optax's are these two arguments
    "adagrad": (jaxgd.adagrad(0.2, initial_accumulator_value=0.1, eps_in_sqrt=True), optax.adagrad(0.2)),
    "adagrad_eps": (
        jaxgd.adagrad(0.2, initial_accumulator_value=0.5, eps=1e-3, eps_in_sqrt=True),
        optax.adagrad(0.2, initial_accumulator_value=0.5, eps=1e-3),
    ),
    "adadelta": (jaxgd.adadelta(), optax.adadelta(1.0)),  # optax's default learning_rate=None climbs: see below
    "adadelta_args": (jaxgd.adadelta(0.5, rho=0.95, eps=1e-4), optax.adadelta(0.5, rho=0.95, eps=1e-4)),
    "rmsprop": (jaxgd.rmsprop(0.01), optax.rmsprop(0.01)),
    "rmsprop_args": (
        jaxgd.rmsprop(0.01, decay=0.8, eps=1e-4, initial_scale=0.1, eps_in_sqrt=False),
        optax.rmsprop(0.01, decay=0.8, eps=1e-4, initial_scale=0.1, eps_in_sqrt=False),
    ),
    "rmsprop_centered_momentum": (
        jaxgd.rmsprop(0.005, centered=True, momentum=0.9, eps=1e-6),
        optax.rmsprop(0.005, centered=True, momentum=0.9, eps=1e-6),
    ),
    "rmsprop_nesterov": (
        jaxgd.rmsprop(0.005, momentum=0.9, nesterov=True),
        optax.rmsprop(0.005, momentum=0.9, nesterov=True),
    ),
    "adam": (jaxgd.adam(0.05), optax.adam(0.05)),
    "adam_args": (
        jaxgd.adam(0.05, b1=0.8, b2=0.99, eps=1e-6, eps_root=1e-8),
        optax.adam(0.05, b1=0.8, b2=0.99, eps=1e-6, eps_root=1e-8),
    ),
    "nadam": (jaxgd.nadam(0.05), optax.nadam(0.05)),
    "nadam_args": (
        jaxgd.nadam(0.05, b1=0.8, b2=0.99, eps=1e-6, eps_root=1e-8),
        optax.nadam(0.05, b1=0.8, b2=0.99, eps=1e-6, eps_root=1e-8),
    ),
    "adamax": (jaxgd.adamax(0.05), optax.adamax(0.05)),
    "adamax_args": (jaxgd.adamax(0.05, b1=0.8, b2=0.99, eps=1e-6), optax.adamax(0.05, b1=0.8, b2=0.99, eps=1e-6)),
    "adamw": (jaxgd.adamw(0.05), optax.adamw(0.05)),
    "adamw_args": (
        jaxgd.adamw(0.05, b1=0.8, b2=0.99, eps=1e-6, eps_root=1e-8, weight_decay=0.5, nesterov=True),
        optax.adamw(0.05, b1=0.8, b2=0.99, eps=1e-6, eps_root=1e-8, weight_decay=0.5, nesterov=True),
    ),
    "adamw_mu_dtype": (
        jaxgd.adamw(0.05, mu_dtype=jnp.bfloat16, weight_decay=0.1),
        optax.adamw(0.05, mu_dtype=jnp.bfloat16, weight_decay=0.1),
    ),
    # the building blocks whose docstrings claim optax's defaults or equations
    "scale_by_rms": (_by_optax(T.scale_by_rms(), 0.01), _by_optax(optax.scale_by_rms(), 0.01)),
    "scale_by_centered_rms": (_by_optax(T.scale_by_centered_rms(), 0.01), _by_optax(optax.scale_by_stddev(), 0.01)),
    "scale_by_adagrad_rss": (
        _by_optax(T.scale_by_adagrad(0.1, eps_in_sqrt=True), 0.2),
        _by_optax(optax.scale_by_rss(), 0.2),
    ),
    "scale_by_adadelta": (_by_optax(T.scale_by_adadelta(), 1.0), _by_optax(optax.scale_by_adadelta(), 1.0)),
    "scale_by_adam": (_by_optax(T.scale_by_adam(), 0.05), _by_optax(optax.scale_by_adam(), 0.05)),
    "scale_by_adamax": (_by_optax(T.scale_by_adamax(), 0.05), _by_optax(optax.scale_by_adamax(), 0.05)),
    "add_decayed_weights": (
        optax.chain(T.add_decayed_weights(0.3), optax.sgd(0.03)),
        optax.chain(optax.add_decayed_weights(0.3), optax.sgd(0.03)),
    ),
    # SGD with weight decay is optax's add_decayed_weights then sgd; SGDW with momentum decays outside the trace
    "sgd_weight_decay": (
        jaxgd.sgd(0.03, weight_decay=0.3),
        optax.chain(optax.add_decayed_weights(0.3), optax.sgd(0.03)),
    ),
    "momentum_weight_decay": (
        jaxgd.momentum(0.02, weight_decay=0.3),
        optax.chain(optax.trace(0.9), optax.add_decayed_weights(0.3), optax.scale(-0.02)),
    ),
}


def _path(opt, loss, x0, steps=100):
    """The iterates x_1..x_steps, in a lax.scan (to be traced inside one jit with the others)."""

    def step(carry, _):
        x, state = carry
        updates, state = opt.update(jax.grad(loss)(x), state, x)
        x = optax.apply_updates(x, updates)
        return (x, state), x

    return jax.lax.scan(step, (x0, opt.init(x0)), None, length=steps)[1]


def _paths(pairs, loss, x0, steps=100):
    return jax.jit(lambda x: {n: (_path(a, loss, x, steps), _path(b, loss, x, steps)) for n, (a, b) in pairs.items()})(
        x0
    )


def test_100_steps_match_optax():
    loss, x0 = random_quadratic()
    paths = _paths({**PAIRS, "run": (jaxgd.adamw(0.05), jaxgd.adamw(0.05))}, loss, x0)
    wrong = []
    for name, (ours, theirs) in paths.items():
        mine, ref = np.asarray(ours), np.asarray(theirs)
        if not np.allclose(mine, ref, rtol=2e-4, atol=2e-5):
            wrong.append((name, float(np.max(np.abs(mine - ref)))))
        # Not vacuous: the runs moved well away from the start (adadelta's first steps are ~sqrt(eps)).
        if float(np.linalg.norm(mine[-1] - np.asarray(x0))) < (0.005 if "adadelta" in name else 0.1):
            wrong.append((name, "did not move"))
    assert not wrong, wrong
    # jaxgd.run, the path users take, gives the scan's trajectory
    run = jaxgd.run(jaxgd.adamw(0.05), loss, x0, 100).params[1:]
    np.testing.assert_allclose(run, paths["run"][0], rtol=2e-4, atol=2e-5)
    # optax.adadelta() (learning_rate=None) returns +d, the ascent direction; jaxgd.adadelta() descends
    # (its docstring says so). If optax flips the sign one day, this fails and the docstring must change.
    ours, theirs = _paths({"adadelta": (jaxgd.adadelta(), optax.adadelta())}, loss, x0, 1)["adadelta"]
    np.testing.assert_allclose(ours - x0, -(theirs - x0), rtol=1e-6)
    assert float(loss(theirs[0])) > float(loss(x0)) > float(loss(ours[0]))


# --------------------------------------------------------------------------- weight decay on a pytree, with masks

W0 = {"w": jnp.array([[1.0, -2.0], [0.5, 1.5], [-1.0, 0.3]]), "b": jnp.array([0.7, -0.4])}
X = jnp.array([[1.0, 0.5, -1.0], [0.2, -0.3, 0.8], [1.5, 1.0, 0.1], [-0.7, 0.4, 0.9]])
Y = jnp.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 0.5]])
MASK = {"w": True, "b": False}  # no decay on the bias, the usual use


def _least_squares(p):
    return 0.5 * jnp.mean((X @ p["w"] + p["b"] - Y) ** 2)


def _matrices_only(params):
    return jax.tree.map(lambda x: x.ndim > 1, params)


def _weight_decay_pairs():
    return {
        "adamw": (jaxgd.adamw(0.05), optax.adamw(0.05)),
        "adamw_mask": (jaxgd.adamw(0.05, weight_decay=0.3, mask=MASK), optax.adamw(0.05, weight_decay=0.3, mask=MASK)),
        "adamw_callable_mask": (
            jaxgd.adamw(0.05, weight_decay=0.3, mask=_matrices_only),
            optax.adamw(0.05, weight_decay=0.3, mask=_matrices_only),
        ),
        "adamw_no_mask": (jaxgd.adamw(0.05, weight_decay=0.3), optax.adamw(0.05, weight_decay=0.3)),
        "sgd_mask": (
            jaxgd.sgd(0.1, weight_decay=0.3, mask=MASK),
            optax.chain(optax.add_decayed_weights(0.3, MASK), optax.sgd(0.1)),
        ),
        "momentum_mask": (
            jaxgd.momentum(0.1, 0.8, weight_decay=0.3, mask=_matrices_only),
            optax.chain(optax.trace(0.8), optax.add_decayed_weights(0.3, _matrices_only), optax.scale(-0.1)),
        ),
    }


@pytest.mark.parametrize("x64", [False, True])
def test_weight_decay_with_masks_matches_optax(x64):
    with jax.enable_x64(x64):
        dtype = jnp.float64 if x64 else jnp.float32
        w0 = jax.tree.map(lambda x: x.astype(dtype), W0)
        paths = _paths(_weight_decay_pairs(), _least_squares, w0)
        for name, (ours, theirs) in paths.items():
            assert jax.tree.leaves(ours)[0].dtype == dtype
            tol = {"rtol": 1e-12, "atol": 1e-14} if x64 else {"rtol": 2e-5, "atol": 2e-6}
            jax.tree.map(lambda a, b, n=name: np.testing.assert_allclose(a, b, **tol, err_msg=n), ours, theirs)
        # Not vacuous: the mask changes the run, and so does the decay.
        masked, unmasked = paths["adamw_mask"][0], paths["adamw_no_mask"][0]
        assert float(jnp.max(jnp.abs(masked["b"] - unmasked["b"]))) > 1e-2
        assert float(jnp.max(jnp.abs(paths["adamw"][0]["w"] - masked["w"]))) > 1e-2


def test_weight_decay_for_sgd_is_the_l2_penalty_and_for_momentum_is_not():
    loss, x0 = random_quadratic()
    lam = 0.5

    def penalised(x):
        return loss(x) + 0.5 * lam * jnp.sum(x**2)

    @jax.jit
    def paths(x0):
        return (
            _path(jaxgd.sgd(0.03, weight_decay=lam), loss, x0),
            _path(jaxgd.sgd(0.03), penalised, x0),
            _path(jaxgd.momentum(0.02, 0.9, weight_decay=lam), loss, x0, 400),
            _path(jaxgd.momentum(0.02, 0.9), penalised, x0, 400),
            jax.hessian(loss)(x0),
            jax.grad(loss)(jnp.zeros_like(x0)),
        )

    sgdw, sgd_l2, sgdw_momentum, momentum_l2, a, b = paths(x0)
    np.testing.assert_allclose(sgdw, sgd_l2, rtol=1e-5, atol=1e-6)  # x - eta (g + lam x) both ways
    assert float(jnp.max(jnp.abs(sgdw_momentum - momentum_l2))) > 1e-2  # the decay bypasses the velocity
    # At a fixed point v = eta g / (1 - mu) = -eta lam x: SGDW with momentum minimises f + (1 - mu) lam/2 ||x||^2,
    # the L2 penalty the minimiser of f + lam/2 ||x||^2.
    for path, penalty in ((sgdw_momentum, (1 - 0.9) * lam), (momentum_l2, lam)):
        np.testing.assert_allclose(path[-1], np.linalg.solve(a + penalty * np.eye(len(x0)), -b), atol=1e-4)


def test_weight_decay_hyperparameters_are_traced_and_vmapped():
    wds = [0.0, 0.01, 0.3]
    decay = jaxgd.schedules.linear_schedule(0.3, 0.0, 50)  # a weight decay may be a schedule too

    @jax.jit
    def references(w0):
        theirs = [_path(optax.adamw(0.05, weight_decay=w, mask=MASK), _least_squares, w0, 50) for w in wds]
        schedule = [_path(opt(0.05, weight_decay=decay, mask=MASK), _least_squares, w0, 50) for opt in (jaxgd.adamw,
                    optax.adamw)]  # fmt: skip
        return jax.tree.map(lambda p: p[-1], (theirs, schedule))

    def final(wd):
        return jaxgd.run(jaxgd.adamw(0.05, weight_decay=wd, mask=MASK), _least_squares, W0, 50).final_params

    batched = jax.vmap(final)(jnp.asarray(wds))  # one trace, the weight decay a batched tracer
    theirs, (ours_scheduled, theirs_scheduled) = references(W0)
    for i, ref in enumerate(theirs):
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a[i], b, rtol=2e-5, atol=2e-6), batched, ref)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6), ours_scheduled, theirs_scheduled)


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: jaxgd.adamw(0.1, weight_decay=-1e-4), ValueError, "weight_decay"),
        (lambda: jaxgd.adamw(0.1, weight_decay=float("nan")), ValueError, "weight_decay"),
        (lambda: jaxgd.sgd(0.1, weight_decay=-0.1), ValueError, "weight_decay"),
        (lambda: jaxgd.momentum(0.1, weight_decay=float("inf")), ValueError, "weight_decay"),
        (lambda: jaxgd.sgd(0.1, mask=MASK), ValueError, "weight_decay"),
        (lambda: jaxgd.adamw(0.1, mask={"w": 1, "b": 0}), TypeError, "mask"),
        (lambda: jaxgd.adamw(0.1, mask="w"), TypeError, "mask"),
    ],
)
def test_bad_weight_decay_raises(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_drop_in_optax_chain_and_apply_updates():
    loss, x0 = random_quadratic()
    tx = optax.chain(jaxgd.adam(1e-2), optax.clip_by_global_norm(1.0))
    ref = optax.chain(optax.adam(1e-2), optax.clip_by_global_norm(1.0))
    params, ref_params = x0, x0
    state, ref_state = tx.init(params), ref.init(ref_params)
    for _ in range(20):
        g = jax.grad(loss)(params)
        updates, state = tx.update(g, state, params)
        params = optax.apply_updates(params, updates)
        rg = jax.grad(loss)(ref_params)
        ref_updates, ref_state = ref.update(rg, ref_state, ref_params)
        ref_params = optax.apply_updates(ref_params, ref_updates)
    np.testing.assert_allclose(params, ref_params, rtol=1e-5, atol=1e-6)
    assert isinstance(jaxgd.adam(1e-3), optax.GradientTransformation)
    assert isinstance(jaxgd.sgd(1e-3), optax.GradientTransformationExtraArgs)


def test_jit_update_in_a_flax_style_step():
    """A jitted train step that closes over the optimizer, as flax/equinox loops do."""
    loss, x0 = random_quadratic()
    tx = jaxgd.nesterov(0.02, 0.9)

    @jax.jit
    def step(params, state):
        g = jax.grad(loss)(params)
        updates, state = tx.update(g, state, params)
        return optax.apply_updates(params, updates), state

    params, state = x0, tx.init(x0)
    for _ in range(100):
        params, state = step(params, state)
    ref = jaxgd.run(tx, loss, x0, 100).final_params
    np.testing.assert_allclose(params, ref, rtol=1e-5, atol=1e-6)
