"""Building blocks: gradient transformations in optax's style.

Each function closes over its hyperparameters and returns an
``optax.GradientTransformation``. Every hyperparameter may be a Python float,
a (traced) array or a schedule, a function of the step count; schedules are
read at the count *before* the update, so the first update uses ``schedule(0)``.
Concrete values are checked when the transform is built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxgd import _validate

__all__ = [
    "AdadeltaState",
    "AdagradState",
    "AdamState",
    "CenteredRmsState",
    "HeavyBallState",
    "Hyperparameter",
    "Nesterov1983State",
    "RmsState",
    "ScaleByLearningRateState",
    "scale_by_adadelta",
    "scale_by_adagrad",
    "scale_by_adam",
    "scale_by_adamax",
    "scale_by_centered_rms",
    "scale_by_heavy_ball",
    "scale_by_learning_rate",
    "scale_by_nesterov_1983",
    "scale_by_rms",
]

Hyperparameter = float | jax.typing.ArrayLike | Callable[[jax.Array], jax.Array]


def value_at(h: Hyperparameter, count: jax.Array) -> jax.Array:
    """The hyperparameter's value at step ``count``: ``h(count)`` for a schedule, else ``h``."""
    return h(count) if callable(h) else h


def _tree_zeros(params):
    return jax.tree.map(jnp.zeros_like, params)


def _count() -> jax.Array:
    return jnp.zeros([], jnp.int32)


def _increment(count: jax.Array) -> jax.Array:
    return optax.safe_increment(count)


class ScaleByLearningRateState(NamedTuple):
    count: jax.Array


def scale_by_learning_rate(learning_rate: Hyperparameter, *, flip_sign: bool = True) -> optax.GradientTransformation:
    """Scale by the learning rate: ``u = -eta_t g`` (``+eta_t g`` with ``flip_sign=False``)."""
    _validate.positive("learning_rate", learning_rate)
    sign = -1.0 if flip_sign else 1.0

    def init_fn(params):
        del params
        return ScaleByLearningRateState(_count())

    def update_fn(updates, state, params=None):
        del params
        lr = sign * value_at(learning_rate, state.count)
        updates = jax.tree.map(lambda g: (lr * g).astype(g.dtype), updates)
        return updates, ScaleByLearningRateState(_increment(state.count))

    return optax.GradientTransformation(init_fn, update_fn)


class HeavyBallState(NamedTuple):
    count: jax.Array
    velocity: optax.Updates


def scale_by_heavy_ball(
    learning_rate: Hyperparameter,
    momentum: Hyperparameter,
    *,
    convention: Literal["descent", "velocity"] = "descent",
    nesterov: bool = False,
) -> optax.GradientTransformation:
    """Polyak's heavy ball (and its Nesterov variant) applied to the incoming direction ``d``.

    ``convention="descent"`` keeps the step to subtract::

        v <- mu v + eta d,    u = -v                  (nesterov: u = -(mu v + eta d))

    ``convention="velocity"`` keeps the velocity to add (Sutskever et al. 2013)::

        v <- mu v - eta d,    u = v                   (nesterov: u = mu v - eta d)

    The two differ only in the sign of the stored ``v``; their trajectories are
    identical. With ``nesterov=True`` the parameters are the look-ahead point
    ``y = x + mu v`` of Sutskever et al. (2013), eq. (3)-(4), so only the gradient
    at the current iterate is needed. The learning rate sits inside the
    velocity, as in the course equations; optax's ``trace`` applies it outside,
    which differs only when the learning rate changes over time.

    References: Polyak (1964), "Some methods of speeding up the convergence of
    iteration methods"; Sutskever, Martens, Dahl & Hinton (2013), "On the
    importance of initialization and momentum in deep learning".
    """
    _validate.positive("learning_rate", learning_rate)
    _validate.decay("momentum", momentum)
    _validate.one_of("convention", convention, ("descent", "velocity"))
    sign = 1.0 if convention == "descent" else -1.0

    def init_fn(params):
        return HeavyBallState(_count(), _tree_zeros(params))

    def update_fn(updates, state, params=None):
        del params
        lr = value_at(learning_rate, state.count)
        mu = value_at(momentum, state.count)
        velocity = jax.tree.map(lambda v, d: (mu * v + sign * lr * d).astype(v.dtype), state.velocity, updates)
        if nesterov:
            step = jax.tree.map(lambda v, d: mu * v + sign * lr * d, velocity, updates)
        else:
            step = velocity
        new_updates = jax.tree.map(lambda s, d: (-sign * s).astype(d.dtype), step, updates)
        return new_updates, HeavyBallState(_increment(state.count), velocity)

    return optax.GradientTransformation(init_fn, update_fn)


class Nesterov1983State(NamedTuple):
    count: jax.Array
    rho: jax.Array
    y: optax.Params


def scale_by_nesterov_1983(learning_rate: Hyperparameter) -> optax.GradientTransformation:
    """Nesterov's (1983) accelerated gradient method with the rho sequence.

    With rho_0 = 0, rho_{s+1} = (1 + sqrt(1 + 4 rho_s^2)) / 2 and
    gamma_s = (1 - rho_s) / rho_{s+1}, starting at s = 1 with y_1 = x_1::

        y_{s+1} = x_s - eta grad f(x_s)
        x_{s+1} = (1 - gamma_s) y_{s+1} + gamma_s y_s

    so the first step (gamma_1 = 0) is a plain gradient step. eta = 1/beta for a
    beta-smooth f gives f(y_s) - f* <= 2 beta ||x_1 - x*||^2 / s^2.
    Needs ``params`` in ``update``.

    References: Nesterov (1983); Bubeck (2015), "Convex Optimization: Algorithms
    and Complexity", section 3.7.
    """
    _validate.positive("learning_rate", learning_rate)

    def init_fn(params):
        dtype = jnp.result_type(*jax.tree.leaves(params)) if jax.tree.leaves(params) else jnp.float32
        return Nesterov1983State(_count(), jnp.ones([], dtype), params)

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError("nesterov_1983 needs params in update()")
        lr = value_at(learning_rate, state.count)
        rho = state.rho
        rho_next = (1 + jnp.sqrt(1 + 4 * rho**2)) / 2
        gamma = (1 - rho) / rho_next
        y_next = jax.tree.map(lambda x, g: (x - lr * g).astype(x.dtype), params, updates)
        x_next = jax.tree.map(lambda yn, y: ((1 - gamma) * yn + gamma * y).astype(y.dtype), y_next, state.y)
        new_updates = jax.tree.map(lambda xn, x: (xn - x).astype(x.dtype), x_next, params)
        return new_updates, Nesterov1983State(_increment(state.count), rho_next.astype(rho.dtype), y_next)

    return optax.GradientTransformation(init_fn, update_fn)


class AdagradState(NamedTuple):
    count: jax.Array
    sum_of_squares: optax.Updates


def scale_by_adagrad(
    initial_accumulator_value: float = 0.0, eps: Hyperparameter = 1e-7, *, eps_in_sqrt: bool = False
) -> optax.GradientTransformation:
    """AdaGrad's scaling: ``r <- r + g^2``, ``d = g / (delta + sqrt(r))``.

    That is Goodfellow et al. (2016), Algorithm 8.4 (eps outside the root,
    accumulator starting at 0). optax's ``scale_by_rss`` puts eps inside,
    ``g / sqrt(r + eps)``, and starts at 0.1: ``eps_in_sqrt=True,
    initial_accumulator_value=0.1`` reproduces it.

    Reference: Duchi, Hazan & Singer (2011), "Adaptive subgradient methods".
    """
    _validate.nonnegative("initial_accumulator_value", initial_accumulator_value)
    _validate.nonnegative("eps", eps)

    def init_fn(params):
        return AdagradState(_count(), jax.tree.map(lambda p: jnp.full_like(p, initial_accumulator_value), params))

    def update_fn(updates, state, params=None):
        del params
        e = value_at(eps, state.count)
        acc = jax.tree.map(lambda r, g: r + g * g, state.sum_of_squares, updates)
        if eps_in_sqrt:
            new = jax.tree.map(
                lambda g, r: jnp.where(r > 0, g * jax.lax.rsqrt(r + e), 0.0).astype(g.dtype), updates, acc
            )
        else:
            new = jax.tree.map(lambda g, r: (g / (e + jnp.sqrt(r))).astype(g.dtype), updates, acc)
        return new, AdagradState(_increment(state.count), acc)

    return optax.GradientTransformation(init_fn, update_fn)


class AdadeltaState(NamedTuple):
    count: jax.Array
    sq_grad: optax.Updates
    sq_delta: optax.Updates


def scale_by_adadelta(rho: Hyperparameter = 0.95, eps: Hyperparameter = 1e-6) -> optax.GradientTransformation:
    """AdaDelta's unit-correcting step (Zeiler 2012, Algorithm 1)::

        E[g^2] <- rho E[g^2] + (1 - rho) g^2
        d = sqrt(E[dx^2] + eps) / sqrt(E[g^2] + eps) * g
        E[dx^2] <- rho E[dx^2] + (1 - rho) d^2

    The update is ``-d`` scaled by a learning rate (1 in the paper).

    Reference: Zeiler (2012), "ADADELTA: an adaptive learning rate method".
    """
    _validate.decay("rho", rho)
    _validate.nonnegative("eps", eps)

    def init_fn(params):
        return AdadeltaState(_count(), _tree_zeros(params), _tree_zeros(params))

    def update_fn(updates, state, params=None):
        del params
        r = value_at(rho, state.count)
        e = value_at(eps, state.count)
        sq_grad = jax.tree.map(lambda e, g: (r * e + (1 - r) * g * g).astype(e.dtype), state.sq_grad, updates)
        new = jax.tree.map(
            lambda g, eg, ed: (jnp.sqrt(ed + e) / jnp.sqrt(eg + e) * g).astype(g.dtype),
            updates,
            sq_grad,
            state.sq_delta,
        )
        sq_delta = jax.tree.map(lambda e, d: (r * e + (1 - r) * d * d).astype(e.dtype), state.sq_delta, new)
        return new, AdadeltaState(_increment(state.count), sq_grad, sq_delta)

    return optax.GradientTransformation(init_fn, update_fn)


class RmsState(NamedTuple):
    count: jax.Array
    nu: optax.Updates


def _rms_scale(nu, eps, eps_in_sqrt: bool):
    if eps_in_sqrt:
        return jax.lax.rsqrt(nu + eps)
    return 1.0 / (jnp.sqrt(nu) + eps)


def scale_by_rms(
    decay: Hyperparameter = 0.9,
    eps: Hyperparameter = 1e-8,
    initial_scale: float = 0.0,
    *,
    eps_in_sqrt: bool = True,
) -> optax.GradientTransformation:
    """RMSProp's scaling (Hinton, lecture 6e; Goodfellow et al. 2016, Algorithm 8.5)::

        r <- rho r + (1 - rho) g^2,    d = g / sqrt(r + eps)

    ``eps_in_sqrt=False`` gives ``g / (sqrt(r) + eps)``. Same defaults as
    optax's ``scale_by_rms``.
    """
    _validate.decay("decay", decay)
    _validate.nonnegative("eps", eps)
    _validate.nonnegative("initial_scale", initial_scale)

    def init_fn(params):
        return RmsState(_count(), jax.tree.map(lambda p: jnp.full_like(p, initial_scale), params))

    def update_fn(updates, state, params=None):
        del params
        rho = value_at(decay, state.count)
        e = value_at(eps, state.count)
        nu = jax.tree.map(lambda n, g: (rho * n + (1 - rho) * g * g).astype(n.dtype), state.nu, updates)
        new = jax.tree.map(lambda g, n: (g * _rms_scale(n, e, eps_in_sqrt)).astype(g.dtype), updates, nu)
        return new, RmsState(_increment(state.count), nu)

    return optax.GradientTransformation(init_fn, update_fn)


class CenteredRmsState(NamedTuple):
    count: jax.Array
    mu: optax.Updates
    nu: optax.Updates


def scale_by_centered_rms(
    decay: Hyperparameter = 0.9,
    eps: Hyperparameter = 1e-8,
    initial_scale: float = 0.0,
    *,
    eps_in_sqrt: bool = True,
) -> optax.GradientTransformation:
    """Centred RMSProp's scaling (Graves 2013, eqs. 38-41)::

        n <- rho n + (1 - rho) g^2,   gbar <- rho gbar + (1 - rho) g
        d = g / sqrt(n - gbar^2 + eps)

    Same as optax's ``scale_by_stddev``. Reference: Graves (2013), "Generating
    sequences with recurrent neural networks".
    """
    _validate.decay("decay", decay)
    _validate.nonnegative("eps", eps)
    _validate.nonnegative("initial_scale", initial_scale)

    def init_fn(params):
        return CenteredRmsState(
            _count(), _tree_zeros(params), jax.tree.map(lambda p: jnp.full_like(p, initial_scale), params)
        )

    def update_fn(updates, state, params=None):
        del params
        rho = value_at(decay, state.count)
        e = value_at(eps, state.count)
        mu = jax.tree.map(lambda m, g: (rho * m + (1 - rho) * g).astype(m.dtype), state.mu, updates)
        nu = jax.tree.map(lambda n, g: (rho * n + (1 - rho) * g * g).astype(n.dtype), state.nu, updates)
        new = jax.tree.map(lambda g, m, n: (g * _rms_scale(n - m * m, e, eps_in_sqrt)).astype(g.dtype), updates, mu, nu)
        return new, CenteredRmsState(_increment(state.count), mu, nu)

    return optax.GradientTransformation(init_fn, update_fn)


class AdamState(NamedTuple):
    count: jax.Array
    mu: optax.Updates
    nu: optax.Updates


def scale_by_adam(
    b1: Hyperparameter = 0.9,
    b2: Hyperparameter = 0.999,
    eps: Hyperparameter = 1e-8,
    eps_root: Hyperparameter = 0.0,
    *,
    nesterov: bool = False,
) -> optax.GradientTransformation:
    """Adam's scaling (Kingma & Ba 2015, Algorithm 1)::

        m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2
        m_hat = m / (1 - b1^t),   v_hat = v / (1 - b2^t)
        d = m_hat / (sqrt(v_hat + eps_root) + eps)

    ``nesterov=True`` is Nadam (Dozat 2016) in optax's form:
    ``m_hat = b1 m / (1 - b1^(t+1)) + (1 - b1) g / (1 - b1^t)``.
    ``eps = 0`` is allowed here (the aliases require eps > 0).
    """
    _validate.decay("b1", b1)
    _validate.decay("b2", b2)
    _validate.nonnegative("eps", eps)
    _validate.nonnegative("eps_root", eps_root)

    def init_fn(params):
        return AdamState(_count(), _tree_zeros(params), _tree_zeros(params))

    def update_fn(updates, state, params=None):
        del params
        beta1 = value_at(b1, state.count)
        beta2 = value_at(b2, state.count)
        e = value_at(eps, state.count)
        t = _increment(state.count)
        tf = t.astype(jnp.result_type(float))
        mu = jax.tree.map(lambda m, g: (beta1 * m + (1 - beta1) * g).astype(m.dtype), state.mu, updates)
        nu = jax.tree.map(lambda n, g: (beta2 * n + (1 - beta2) * g * g).astype(n.dtype), state.nu, updates)
        c1 = 1 - beta1**tf
        c2 = 1 - beta2**tf
        if nesterov:
            c1_next = 1 - beta1 ** (tf + 1)
            mu_hat = jax.tree.map(lambda m, g: beta1 * m / c1_next + (1 - beta1) * g / c1, mu, updates)
        else:
            mu_hat = jax.tree.map(lambda m: m / c1, mu)
        new = jax.tree.map(
            lambda g, m, n: (m / (jnp.sqrt(n / c2 + value_at(eps_root, state.count)) + e)).astype(g.dtype),
            updates,
            mu_hat,
            nu,
        )
        return new, AdamState(t, mu, nu)

    return optax.GradientTransformation(init_fn, update_fn)


def scale_by_adamax(
    b1: Hyperparameter = 0.9, b2: Hyperparameter = 0.999, eps: Hyperparameter = 1e-8
) -> optax.GradientTransformation:
    """AdaMax's scaling (Kingma & Ba 2015, Algorithm 2, section 7.1)::

        m <- b1 m + (1 - b1) g,   u <- max(b2 u, |g| + eps),   d = m / ((1 - b1^t) u)

    eps is added to |g| inside the max, as optax does, so that u > 0.
    """
    _validate.decay("b1", b1)
    _validate.decay("b2", b2)
    _validate.nonnegative("eps", eps)

    def init_fn(params):
        return AdamState(_count(), _tree_zeros(params), _tree_zeros(params))

    def update_fn(updates, state, params=None):
        del params
        beta1 = value_at(b1, state.count)
        beta2 = value_at(b2, state.count)
        e = value_at(eps, state.count)
        t = _increment(state.count)
        c1 = 1 - beta1 ** t.astype(jnp.result_type(float))
        mu = jax.tree.map(lambda m, g: (beta1 * m + (1 - beta1) * g).astype(m.dtype), state.mu, updates)
        nu = jax.tree.map(lambda u, g: jnp.maximum(beta2 * u, jnp.abs(g) + e).astype(u.dtype), state.nu, updates)
        new = jax.tree.map(lambda g, m, u: (m / c1 / u).astype(g.dtype), updates, mu, nu)
        return new, AdamState(t, mu, nu)

    return optax.GradientTransformation(init_fn, update_fn)
