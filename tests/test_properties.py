"""Properties of the optimizers that the course material states."""

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxgd
from jaxgd import schedules, transforms


def rosen(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


X0 = jnp.array([-1.2, 1.0])


def test_momentum_conventions_give_identical_trajectories():
    lr = schedules.natural_exp_decay(2e-4, 1e-3)  # also with a schedule inside the velocity
    a = jaxgd.run(jaxgd.momentum(lr, 0.9, convention="descent"), rosen, X0, 300)
    b = jaxgd.run(jaxgd.momentum(lr, 0.9, convention="velocity"), rosen, X0, 300)
    np.testing.assert_array_equal(np.asarray(a.params), np.asarray(b.params))
    # The stored velocities have opposite signs.
    np.testing.assert_array_equal(np.asarray(a.final_state.velocity), -np.asarray(b.final_state.velocity))
    assert float(jnp.abs(a.final_state.velocity).sum()) > 0


def test_nesterov_lookahead_equals_direct_gradient_at_x_plus_mu_v():
    lr, mu, steps = 2e-4, 0.9, 200
    traj = jaxgd.run(jaxgd.nesterov(lr, mu, convention="velocity"), rosen, X0, steps)

    # Direct form (Sutskever et al. 2013): gradient evaluated at the look-ahead point x + mu v.
    x, v = np.asarray(X0, np.float64), np.zeros(2)
    ys = [x + mu * v]
    g = jax.grad(rosen)
    for _ in range(steps):
        v = mu * v - lr * np.asarray(g(jnp.asarray(x + mu * v, jnp.float32)), np.float64)
        x = x + v
        ys.append(x + mu * v)
    np.testing.assert_allclose(np.asarray(traj.params), np.asarray(ys), rtol=1e-4, atol=1e-5)
    # x itself is recovered as y - mu v.
    x_rec = traj.final_params - mu * traj.final_state.velocity
    np.testing.assert_allclose(np.asarray(x_rec), x, rtol=1e-4, atol=1e-5)


def test_nesterov_1983_rho_sequence_and_rate():
    # rho: 1, (1+sqrt5)/2, ...; on a quadratic f(y_s) - f* <= 2 beta ||x1 - x*||^2 / s^2 with eta = 1/beta.
    diag = jnp.array([0.01, 1.0])
    problem = jaxgd.problems.quadratic(diag, jnp.array([3.0, 1.0]))
    traj = jaxgd.run(jaxgd.nesterov_1983(1.0), problem, problem.x0, 50)
    assert float(traj.final_state.rho) > 25.0  # rho_s grows like s/2
    s = np.arange(1, 51)
    bound = 2 * 1.0 * float(jnp.sum(problem.x0**2)) / s**2
    assert np.all(np.asarray(traj.loss[1:]) <= bound + 1e-6)


def _adam_eps0(lr):
    return jaxgd.chain(transforms.scale_by_adam(eps=0.0), transforms.scale_by_learning_rate(lr))


def test_adam_is_invariant_to_loss_scale():
    lr = 1e-2
    base = jaxgd.run(_adam_eps0(lr), rosen, X0, 50)
    for c in (1e-3, 7.0, 1e4):
        scaled = jaxgd.run(_adam_eps0(lr), lambda x, c=c: c * rosen(x), X0, 50)
        np.testing.assert_allclose(np.asarray(scaled.params), np.asarray(base.params), rtol=1e-5, atol=1e-6)


def test_adam_first_step_is_lr_times_sign_of_gradient():
    lr = 0.01
    with jax.enable_x64(True):
        opt = _adam_eps0(lr)
        g = jnp.array([3.0, -1e-4, 250.0])
        updates, _ = opt.update(g, opt.init(jnp.zeros(3)), jnp.zeros(3))
        np.testing.assert_allclose(updates, -lr * jnp.sign(g), rtol=1e-12)


def _adam_steps(grads, lr=1.0, b1=0.9, b2=0.999):
    opt = optax.chain(transforms.scale_by_adam(b1, b2, eps=0.0), transforms.scale_by_learning_rate(lr))
    state = opt.init(jnp.zeros(1))

    def step(state, g):
        u, state = opt.update(jnp.reshape(g, (1,)), state)
        return state, u[0]

    _, us = jax.lax.scan(step, state, grads)
    return us


def test_adam_single_nonzero_gradient_respects_kingma_ba_bound():
    b1, b2, lr = 0.9, 0.999, 1.0
    bound = lr * max((1 - b1) / np.sqrt(1 - b2), 1.0)  # 3.16 lr with the defaults
    with jax.enable_x64(True):
        for s in (0, 1, 10, 500):
            g = jnp.zeros(1000, jnp.float64).at[s].set(5.0)
            us = np.asarray(_adam_steps(g, lr, b1, b2))
            us = us[np.isfinite(us)]
            assert np.max(np.abs(us)) <= bound * (1 + 1e-9)
        # A late single gradient gives exactly (1 - b1)/sqrt(1 - b2) sqrt(1 - b2^t)/(1 - b1^t): near the bound.
        t = 20000
        g = jnp.zeros(t, jnp.float64).at[t - 1].set(5.0)
        last = abs(float(_adam_steps(g, lr, b1, b2)[-1]))
        np.testing.assert_allclose(last, lr * (1 - b1) / np.sqrt(1 - b2) * np.sqrt(1 - b2**t) / (1 - b1**t), rtol=1e-9)
        assert last > 0.99 * bound


def test_adam_true_worst_case_is_cauchy_schwarz_bound():
    b1, b2, lr, t = 0.9, 0.999, 1.0, 2000
    k = np.arange(t)[::-1]  # t - s for s = 1..t
    a = (1 - b1) * b1**k / (1 - b1**t)
    b = (1 - b2) * b2**k / (1 - b2**t)
    cs_bound = lr * np.sqrt(np.sum(a**2 / b))
    assert 6.7 < cs_bound < 6.85  # "about 6.8 eta after 2000 steps"
    with jax.enable_x64(True):
        us = _adam_steps(jnp.asarray(a / b), lr, b1, b2)
        final = abs(float(us[-1]))
    np.testing.assert_allclose(final, cs_bound, rtol=1e-6)
    assert final > 2 * lr * (1 - b1) / np.sqrt(1 - b2)  # the course's bound is exceeded


def test_reduce_on_plateau_reduces_after_patience():
    opt = schedules.reduce_on_plateau(factor=0.5, patience=2)
    state = opt.init(jnp.zeros(1))
    scales = []
    for value in [1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.1]:
        _, state = opt.update(jnp.ones(1), state, value=value)
        scales.append(float(state.scale))
    assert scales == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25]
