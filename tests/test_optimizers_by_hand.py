"""Each optimizer, three steps on a 2-D quadratic, against its equations stepped by hand in NumPy."""

import jax.numpy as jnp
import numpy as np
import pytest

import jaxgd

A = np.array([1.0, 10.0])  # f(x) = 1/2 sum A_i x_i^2, grad = A x
X0 = np.array([1.5, -0.7])


def loss(x):
    return 0.5 * jnp.sum(jnp.asarray(A, x.dtype) * x * x)


def grad(x):
    return A * x


def jaxgd_path(opt, steps=3):
    traj = jaxgd.run(opt, loss, jnp.asarray(X0, jnp.float32), steps)
    return np.asarray(traj.params)


def hand_sgd(lr):
    x = X0.copy()
    out = [x.copy()]
    for _ in range(3):
        x = x - lr * grad(x)
        out.append(x.copy())
    return out


def hand_heavy_ball(lr, mu):
    x, v = X0.copy(), np.zeros(2)
    out = [x.copy()]
    for _ in range(3):
        v = mu * v + lr * grad(x)
        x = x - v
        out.append(x.copy())
    return out


def hand_nesterov_lookahead_reparam(lr, mu):
    # The params held are y = x + mu v; y <- y + mu^2 v - (1 + mu) lr grad(y), v <- mu v - lr grad(y).
    y, v = X0.copy(), np.zeros(2)
    out = [y.copy()]
    for _ in range(3):
        g = grad(y)
        y = y + mu**2 * v - (1 + mu) * lr * g
        v = mu * v - lr * g
        out.append(y.copy())
    return out


def hand_nesterov_1983(lr):
    x = X0.copy()
    y_prev = x.copy()
    lam = 0.0
    lam = (1 + np.sqrt(1 + 4 * lam**2)) / 2  # lambda_1 = 1
    out = [x.copy()]
    for _ in range(3):
        lam_next = (1 + np.sqrt(1 + 4 * lam**2)) / 2
        gamma = (1 - lam) / lam_next
        y = x - lr * grad(x)
        x = (1 - gamma) * y + gamma * y_prev
        y_prev, lam = y, lam_next
        out.append(x.copy())
    return out


def hand_adagrad(lr, eps):
    x, r = X0.copy(), np.zeros(2)
    out = [x.copy()]
    for _ in range(3):
        g = grad(x)
        r = r + g * g
        x = x - lr * g / (eps + np.sqrt(r))
        out.append(x.copy())
    return out


def hand_adadelta(lr, rho, eps):
    x, eg, ed = X0.copy(), np.zeros(2), np.zeros(2)
    out = [x.copy()]
    for _ in range(3):
        g = grad(x)
        eg = rho * eg + (1 - rho) * g * g
        d = -np.sqrt(ed + eps) / np.sqrt(eg + eps) * g
        ed = rho * ed + (1 - rho) * d * d
        x = x + lr * d
        out.append(x.copy())
    return out


def hand_rmsprop(lr, rho, eps, centered=False, mu=None, nesterov=False):
    x, r, gbar, v = X0.copy(), np.zeros(2), np.zeros(2), np.zeros(2)
    out = [x.copy()]
    for _ in range(3):
        g = grad(x)
        r = rho * r + (1 - rho) * g * g
        gbar = rho * gbar + (1 - rho) * g
        d = g / np.sqrt(r - gbar**2 + eps) if centered else g / np.sqrt(r + eps)
        if mu is None:
            x = x - lr * d
        else:
            v = mu * v - lr * d
            x = x + (mu * v - lr * d if nesterov else v)
        out.append(x.copy())
    return out


def hand_adam(lr, b1, b2, eps, nadam=False):
    x, m, v = X0.copy(), np.zeros(2), np.zeros(2)
    out = [x.copy()]
    for t in range(1, 4):
        g = grad(x)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        mhat = b1 * m / (1 - b1 ** (t + 1)) + (1 - b1) * g / (1 - b1**t) if nadam else m / (1 - b1**t)
        vhat = v / (1 - b2**t)
        x = x - lr * mhat / (np.sqrt(vhat) + eps)
        out.append(x.copy())
    return out


def hand_adamax(lr, b1, b2, eps):
    x, m, u = X0.copy(), np.zeros(2), np.zeros(2)
    out = [x.copy()]
    for t in range(1, 4):
        g = grad(x)
        m = b1 * m + (1 - b1) * g
        u = np.maximum(b2 * u, np.abs(g) + eps)
        x = x - lr / (1 - b1**t) * m / u
        out.append(x.copy())
    return out


CASES = {
    "sgd": (jaxgd.sgd(0.05), hand_sgd(0.05)),
    "momentum": (jaxgd.momentum(0.05, 0.8), hand_heavy_ball(0.05, 0.8)),
    "momentum_velocity": (jaxgd.momentum(0.05, 0.8, convention="velocity"), hand_heavy_ball(0.05, 0.8)),
    "nesterov": (jaxgd.nesterov(0.05, 0.8), hand_nesterov_lookahead_reparam(0.05, 0.8)),
    "nesterov_1983": (jaxgd.nesterov_1983(0.05), hand_nesterov_1983(0.05)),
    "adagrad": (jaxgd.adagrad(0.3, eps=1e-7), hand_adagrad(0.3, 1e-7)),
    "adadelta": (jaxgd.adadelta(1.0, 0.95, 1e-6), hand_adadelta(1.0, 0.95, 1e-6)),
    "rmsprop": (jaxgd.rmsprop(0.01, 0.9, 1e-8), hand_rmsprop(0.01, 0.9, 1e-8)),
    "rmsprop_centered_momentum": (
        jaxgd.rmsprop(0.01, 0.95, 1e-4, centered=True, momentum=0.9),
        hand_rmsprop(0.01, 0.95, 1e-4, centered=True, mu=0.9),
    ),
    "rmsprop_nesterov": (
        jaxgd.rmsprop(0.01, 0.9, 1e-8, momentum=0.9, nesterov=True),
        hand_rmsprop(0.01, 0.9, 1e-8, mu=0.9, nesterov=True),
    ),
    "adam": (jaxgd.adam(0.1, 0.9, 0.999, 1e-8), hand_adam(0.1, 0.9, 0.999, 1e-8)),
    "nadam": (jaxgd.nadam(0.1, 0.9, 0.999, 1e-8), hand_adam(0.1, 0.9, 0.999, 1e-8, nadam=True)),
    "adamax": (jaxgd.adamax(0.1, 0.9, 0.999, 1e-8), hand_adamax(0.1, 0.9, 0.999, 1e-8)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_three_steps_match_hand_equations(name):
    opt, expected = CASES[name]
    got = jaxgd_path(opt)
    np.testing.assert_allclose(got, np.asarray(expected), rtol=2e-6, atol=2e-6)
    # The steps really move: a test that the comparison is not vacuous.
    assert np.all(np.abs(np.diff(np.asarray(expected), axis=0)).sum(axis=1) > 1e-4)


def test_every_alias_has_a_case():
    names = {n.split("_")[0] if n.startswith(("momentum", "rmsprop")) else n for n in CASES}
    assert names >= {"sgd", "momentum", "nesterov", "nesterov_1983", "adagrad", "adadelta", "rmsprop", "adam"}
    assert {"nadam", "adamax"} <= names
