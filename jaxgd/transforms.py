"""Building blocks: gradient transformations in optax's style.

Each function closes over its hyperparameters and returns an
``optax.GradientTransformation``. Every hyperparameter may be a Python float,
a (traced) array or a schedule, a function of the step count; schedules are
read at the count *before* the update, so the first update uses ``schedule(0)``.
Concrete values are checked when the transform is built.

Step counts. The transform that opens an alias keeps the step ``count`` (for
bias corrections and schedules), as optax's ``scale_by_adam`` does; the two that
close one (:func:`scale_by_learning_rate`, :func:`scale_by_heavy_ball`) keep a
``schedule_count`` only when one of their hyperparameters is a schedule (None
otherwise), as optax's ``scale`` and ``scale_by_schedule``. So an alias's state
has one ``count``, which ``optax.tree.get(state, "count")`` finds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgd import _validate
from jaxgd._core import Hyperparameter, value_at
from jaxgd._recipe import optimizer

__all__ = [
    "AdadeltaState",
    "AdagradState",
    "AdamState",
    "AddDecayedWeightsState",
    "CenteredRmsState",
    "HeavyBallState",
    "Hyperparameter",
    "Nesterov1983State",
    "ReduceOnPlateauState",
    "RmsState",
    "ScaleByLearningRateState",
    "add_decayed_weights",
    "decoupled_weight_decay",
    "nesterov_iterate",
    "reduce_on_plateau",
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


def _count() -> jax.Array:
    return jnp.zeros([], jnp.int32)


def _increment(count: jax.Array) -> jax.Array:
    return optax.safe_increment(count)


def _schedule_count(*hyperparams: Hyperparameter) -> jax.Array | None:
    """A zero count when one of the hyperparameters is a schedule, else None (nothing to count)."""
    return _count() if any(callable(h) for h in hyperparams) else None


def _next_schedule_count(count: jax.Array | None) -> jax.Array | None:
    return None if count is None else _increment(count)


def _moment(updates: optax.Updates, moments: optax.Updates, decay: jax.Array, order: int) -> optax.Updates:
    """The moving average ``decay m + (1 - decay) g^order`` (``|g|^order`` for order 2), kept in m's dtype."""
    if order == 1:
        new = optax.tree.update_moment(updates, moments, decay, 1)
    else:
        new = optax.tree.update_moment_per_elem_norm(updates, moments, decay, order)
    return optax.tree.cast_like(new, moments)


class ScaleByLearningRateState(NamedTuple):
    schedule_count: jax.Array | None  # None unless the learning rate is a schedule


def scale_by_learning_rate(learning_rate: Hyperparameter, *, flip_sign: bool = True) -> optax.GradientTransformation:
    """Scale by the learning rate: ``u = -eta_t g`` (``+eta_t g`` with ``flip_sign=False``).

    Args:
        learning_rate: eta > 0 (a float, an array or a schedule).
        flip_sign: Whether to negate (a descent step).

    Returns:
        An ``optax.GradientTransformation``.
    """
    _validate.positive("learning_rate", learning_rate)
    sign = -1.0 if flip_sign else 1.0

    def init_fn(params):
        del params
        return ScaleByLearningRateState(_schedule_count(learning_rate))

    def update_fn(updates, state, params=None):
        del params
        lr = sign * value_at(learning_rate, state.schedule_count)
        updates = jax.tree.map(lambda g: (lr * g).astype(g.dtype), updates)
        return updates, ScaleByLearningRateState(_next_schedule_count(state.schedule_count))

    return optax.GradientTransformation(init_fn, update_fn)


class HeavyBallState(NamedTuple):
    velocity: optax.Updates
    schedule_count: jax.Array | None  # None unless the learning rate or the momentum is a schedule


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
    which differs only when the learning rate changes over time. (Written out
    rather than with ``optax.tree`` helpers: the two conventions must give
    bitwise-equal trajectories.)

    References: Polyak (1964), "Some methods of speeding up the convergence of
    iteration methods"; Sutskever, Martens, Dahl & Hinton (2013), "On the
    importance of initialization and momentum in deep learning".

    Args:
        learning_rate: eta > 0 (a float, an array or a schedule).
        momentum: mu in [0, 1).
        convention: ``"descent"`` or ``"velocity"``: the sign of the stored velocity.
        nesterov: Whether to step from the look-ahead point.

    Returns:
        An ``optax.GradientTransformation``.
    """
    _validate.positive("learning_rate", learning_rate)
    _validate.decay("momentum", momentum)
    _validate.one_of("convention", convention, ("descent", "velocity"))
    sign = 1.0 if convention == "descent" else -1.0

    def init_fn(params):
        return HeavyBallState(optax.tree.zeros_like(params), _schedule_count(learning_rate, momentum))

    def update_fn(updates, state, params=None):
        del params
        lr = value_at(learning_rate, state.schedule_count)
        mu = value_at(momentum, state.schedule_count)
        velocity = jax.tree.map(lambda v, d: (mu * v + sign * lr * d).astype(v.dtype), state.velocity, updates)
        if nesterov:
            step = jax.tree.map(lambda v, d: mu * v + sign * lr * d, velocity, updates)
        else:
            step = velocity
        new_updates = jax.tree.map(lambda s, d: (-sign * s).astype(d.dtype), step, updates)
        return new_updates, HeavyBallState(velocity, _next_schedule_count(state.schedule_count))

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

    Args:
        learning_rate: eta > 0.

    Returns:
        An ``optax.GradientTransformation``; its update needs the parameters.
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

    Args:
        initial_accumulator_value: r at t = 0, >= 0.
        eps: delta >= 0 (inside the root with ``eps_in_sqrt``).
        eps_in_sqrt: Whether to divide by sqrt(r + eps), as optax.

    Returns:
        An ``optax.GradientTransformation``.
    """
    _validate.nonnegative("initial_accumulator_value", initial_accumulator_value)
    _validate.nonnegative("eps", eps)

    def init_fn(params):
        return AdagradState(_count(), optax.tree.full_like(params, initial_accumulator_value))

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


def scale_by_adadelta(rho: Hyperparameter = 0.9, eps: Hyperparameter = 1e-6) -> optax.GradientTransformation:
    """AdaDelta's unit-correcting step (Zeiler 2012, Algorithm 1)::

        E[g^2] <- rho E[g^2] + (1 - rho) g^2
        d = sqrt(E[dx^2] + eps) / sqrt(E[g^2] + eps) * g
        E[dx^2] <- rho E[dx^2] + (1 - rho) d^2

    The update is ``-d`` scaled by a learning rate (1 in the paper).

    Reference: Zeiler (2012), "ADADELTA: an adaptive learning rate method".

    Args:
        rho: The decay of both running averages, in [0, 1) (optax's default 0.9).
        eps: >= 0, inside both roots.

    Returns:
        An ``optax.GradientTransformation``.
    """
    _validate.decay("rho", rho)
    _validate.nonnegative("eps", eps)

    def init_fn(params):
        return AdadeltaState(_count(), optax.tree.zeros_like(params), optax.tree.zeros_like(params))

    def update_fn(updates, state, params=None):
        del params
        r = value_at(rho, state.count)
        e = value_at(eps, state.count)
        sq_grad = _moment(updates, state.sq_grad, r, 2)
        new = jax.tree.map(
            lambda g, eg, ed: (jnp.sqrt(ed + e) / jnp.sqrt(eg + e) * g).astype(g.dtype),
            updates,
            sq_grad,
            state.sq_delta,
        )
        sq_delta = _moment(new, state.sq_delta, r, 2)
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

    Args:
        decay: rho in [0, 1).
        eps: >= 0, inside the root (outside with ``eps_in_sqrt=False``).
        initial_scale: r at t = 0, >= 0.
        eps_in_sqrt: Whether eps goes inside the root.

    Returns:
        An ``optax.GradientTransformation``.
    """
    _validate.decay("decay", decay)
    _validate.nonnegative("eps", eps)
    _validate.nonnegative("initial_scale", initial_scale)

    def init_fn(params):
        return RmsState(_count(), optax.tree.full_like(params, initial_scale))

    def update_fn(updates, state, params=None):
        del params
        rho = value_at(decay, state.count)
        e = value_at(eps, state.count)
        nu = _moment(updates, state.nu, rho, 2)
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

    Args:
        decay: rho in [0, 1).
        eps: >= 0, inside the root (outside with ``eps_in_sqrt=False``).
        initial_scale: n at t = 0, >= 0.
        eps_in_sqrt: Whether eps goes inside the root.

    Returns:
        An ``optax.GradientTransformation``.
    """
    _validate.decay("decay", decay)
    _validate.nonnegative("eps", eps)
    _validate.nonnegative("initial_scale", initial_scale)

    def init_fn(params):
        return CenteredRmsState(_count(), optax.tree.zeros_like(params), optax.tree.full_like(params, initial_scale))

    def update_fn(updates, state, params=None):
        del params
        rho = value_at(decay, state.count)
        e = value_at(eps, state.count)
        mu = _moment(updates, state.mu, rho, 1)
        nu = _moment(updates, state.nu, rho, 2)
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
    mu_dtype: jax.typing.DTypeLike | None = None,
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

    Args:
        b1: The decay of the first moment, in [0, 1).
        b2: The decay of the second moment, in [0, 1).
        eps: >= 0, added to the root.
        eps_root: >= 0, added inside the root.
        mu_dtype: The dtype of the first moment (None: the updates'), as optax.
        nesterov: Whether to use Nadam's Nesterov momentum.

    Returns:
        An ``optax.GradientTransformation``.
    """
    _validate.decay("b1", b1)
    _validate.decay("b2", b2)
    _validate.nonnegative("eps", eps)
    _validate.nonnegative("eps_root", eps_root)
    mu_dtype = None if mu_dtype is None else jax.dtypes.canonicalize_dtype(mu_dtype)

    def init_fn(params):
        return AdamState(_count(), optax.tree.zeros_like(params, dtype=mu_dtype), optax.tree.zeros_like(params))

    def update_fn(updates, state, params=None):
        del params
        beta1, beta2 = value_at(b1, state.count), value_at(b2, state.count)
        e, e_root = value_at(eps, state.count), value_at(eps_root, state.count)
        t = _increment(state.count)
        if mu_dtype is None:
            mu = stored_mu = _moment(updates, state.mu, beta1, 1)
        else:  # as optax: the bias correction reads the moment before it is cast to mu_dtype
            mu = optax.tree.update_moment(updates, state.mu, beta1, 1)
            stored_mu = optax.tree.cast(mu, mu_dtype)
        nu = _moment(updates, state.nu, beta2, 2)
        if nesterov:
            mu_hat = jax.tree.map(
                lambda m, g: beta1 * m + (1 - beta1) * g,
                optax.tree.bias_correction(mu, beta1, _increment(t)),
                optax.tree.bias_correction(updates, beta1, t),
            )
        else:
            mu_hat = optax.tree.bias_correction(mu, beta1, t)
        nu_hat = optax.tree.bias_correction(nu, beta2, t)
        new = jax.tree.map(lambda g, m, n: (m / (jnp.sqrt(n + e_root) + e)).astype(g.dtype), updates, mu_hat, nu_hat)
        return new, AdamState(t, stored_mu, nu)

    return optax.GradientTransformation(init_fn, update_fn)


def scale_by_adamax(
    b1: Hyperparameter = 0.9, b2: Hyperparameter = 0.999, eps: Hyperparameter = 1e-8
) -> optax.GradientTransformation:
    """AdaMax's scaling (Kingma & Ba 2015, Algorithm 2, section 7.1)::

        m <- b1 m + (1 - b1) g,   u <- max(b2 u, |g| + eps),   d = m / ((1 - b1^t) u)

    eps is added to |g| inside the max, as optax does, so that u > 0.

    Args:
        b1: The decay of the first moment, in [0, 1).
        b2: The decay of the infinity norm, in [0, 1).
        eps: >= 0, added to |g|.

    Returns:
        An ``optax.GradientTransformation``.
    """
    _validate.decay("b1", b1)
    _validate.decay("b2", b2)
    _validate.nonnegative("eps", eps)

    def init_fn(params):
        return AdamState(_count(), optax.tree.zeros_like(params), optax.tree.zeros_like(params))

    def update_fn(updates, state, params=None):
        del params
        beta1, beta2 = value_at(b1, state.count), value_at(b2, state.count)
        e = value_at(eps, state.count)
        t = _increment(state.count)
        mu = _moment(updates, state.mu, beta1, 1)
        nu = optax.tree.cast_like(optax.tree.update_infinity_moment(updates, state.nu, beta2, e), state.nu)
        mu_hat = optax.tree.bias_correction(mu, beta1, t)
        new = jax.tree.map(lambda g, m, u: (m / u).astype(g.dtype), updates, mu_hat, nu)
        return new, AdamState(t, mu, nu)

    return optax.GradientTransformation(init_fn, update_fn)


class AddDecayedWeightsState(NamedTuple):
    weight_decay_count: jax.Array | None  # None unless a hyperparameter is a schedule; not "schedule_count",
    # which the learning rate's transform after it may keep: one name, one field


Mask = Any  # a pytree of booleans (a prefix of the parameters' structure), a callable returning one, or None


def _check_mask(mask: Any) -> None:
    if mask is None or callable(mask):
        return
    leaves = jax.tree.leaves(mask)
    bad = [x for x in leaves if not isinstance(x, (bool, np.bool_))]
    if not leaves or bad:
        raise TypeError(
            "mask must be a pytree of booleans (a prefix of the parameters' structure) or a callable that "
            f"returns one, got {mask!r}"
        )


def _decay_weights(scale: Callable[[jax.Array | None], jax.Array], hyperparams: tuple, mask: Mask):
    """u <- u + scale(count) x on the leaves the mask selects (all without a mask)."""

    def init_fn(params):
        del params
        return AddDecayedWeightsState(_schedule_count(*hyperparams))

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError("weight decay needs the parameters: call update(updates, state, params)")
        s = scale(state.weight_decay_count)
        new = jax.tree.map(lambda u, x: (u + s * x).astype(u.dtype), updates, params)
        return new, AddDecayedWeightsState(_next_schedule_count(state.weight_decay_count))

    inner = optax.GradientTransformation(init_fn, update_fn)
    return inner if mask is None else optax.masked(inner, mask)


def add_decayed_weights(weight_decay: Hyperparameter = 0.0, mask: Mask = None) -> optax.GradientTransformation:
    """Add the decayed weights, optax's ``add_decayed_weights``: ``u <- u + lambda_t x``.

    Placed between a direction and the learning rate (as in :func:`jaxgd.adamw` and
    optax), the step becomes ``-eta_t (d + lambda_t x)``: decoupled weight decay
    (Loshchilov & Hutter 2019), multiplied by the learning rate as optax and PyTorch do.

    Args:
        weight_decay: lambda >= 0 (a float, an array or a schedule).
        mask: A pytree of booleans with the parameters' structure (or a prefix of it), or a
            callable returning one from the parameters: True where the decay applies. None: everywhere.

    Returns:
        An ``optax.GradientTransformation``; its update needs the parameters.

    Raises:
        ValueError: If weight_decay is negative or not finite.
        TypeError: If mask is neither None, a callable nor a pytree of booleans.
    """
    _validate.nonnegative("weight_decay", weight_decay)
    _check_mask(mask)
    return _decay_weights(lambda count: value_at(weight_decay, count), (weight_decay,), mask)


def decoupled_weight_decay(
    learning_rate: Hyperparameter, weight_decay: Hyperparameter = 0.0, mask: Mask = None
) -> optax.GradientTransformation:
    """SGDW's decay step, after the learning rate is applied: ``u <- u - eta_t lambda_t x``.

    For chains that apply the learning rate inside (the heavy ball's velocity), this is
    the line ``x <- x - m_t - eta_t lambda x`` of SGDW (Loshchilov & Hutter 2019,
    "Decoupled weight decay regularization", Algorithm 1), with the decay multiplied by
    the learning rate as in optax's and PyTorch's ``weight_decay``.

    Args:
        learning_rate: eta > 0 (a float, an array or a schedule).
        weight_decay: lambda >= 0 (a float, an array or a schedule).
        mask: As in :func:`add_decayed_weights`.

    Returns:
        An ``optax.GradientTransformation``; its update needs the parameters.

    Raises:
        ValueError: If learning_rate or weight_decay is out of range.
        TypeError: If mask is neither None, a callable nor a pytree of booleans.
    """
    _validate.positive("learning_rate", learning_rate)
    _validate.nonnegative("weight_decay", weight_decay)
    _check_mask(mask)

    def scale(count):
        return -value_at(learning_rate, count) * value_at(weight_decay, count)

    return _decay_weights(scale, (learning_rate, weight_decay), mask)


class ReduceOnPlateauState(NamedTuple):
    scale: jax.Array
    best_value: jax.Array
    plateau_count: jax.Array
    cooldown_count: jax.Array


@optimizer(static_argnames=("threshold_mode",))
def reduce_on_plateau(
    factor: float = 0.1,
    patience: int = 10,
    threshold: float = 1e-4,
    threshold_mode: str = "rel",
    cooldown: int = 0,
    min_scale: float = 0.0,
) -> optax.GradientTransformationExtraArgs:
    """Reduce-on-plateau: scale the updates by ``factor`` when the loss stops improving.

    A stateful transform that reads the loss from ``update(..., value=loss)``
    (``jaxgd.run`` passes it). The loss improves when it is below
    best (1 - threshold) (``rel``) or best - threshold (``abs``); after
    ``patience`` updates without improvement the scale is multiplied by
    ``factor`` (never below ``min_scale``) and the count waits ``cooldown``
    updates. Chain it after an optimizer: ``jaxgd.chain(jaxgd.sgd(0.1), reduce_on_plateau())``.
    As PyTorch's ``ReduceLROnPlateau``, evaluated every update.

    Args:
        factor: The multiplier of the scale at a reduction, in [0, 1).
        patience: The number of updates without improvement before a reduction.
        threshold: The relative (``rel``) or absolute (``abs``) improvement that counts.
        threshold_mode: ``"rel"`` or ``"abs"``.
        cooldown: The number of updates after a reduction during which the count waits.
        min_scale: The smallest scale.

    Returns:
        An optimizer (:class:`jaxgd.Optimizer`) whose ``update`` needs ``value=loss``.
    """
    _validate.decay("factor", factor)
    _validate.nonnegative("patience", patience)
    _validate.nonnegative("threshold", threshold)
    _validate.one_of("threshold_mode", threshold_mode, ("rel", "abs"))
    _validate.nonnegative("cooldown", cooldown)
    _validate.nonnegative("min_scale", min_scale)

    def init_fn(params):
        dtype = jnp.result_type(float)
        return ReduceOnPlateauState(
            jnp.ones([], dtype), jnp.asarray(jnp.inf, dtype), jnp.zeros([], jnp.int32), jnp.zeros([], jnp.int32)
        )

    def update_fn(updates, state, params=None, *, value=None, **extra_args):
        del params, extra_args
        if value is None:
            raise ValueError("reduce_on_plateau needs the loss: call update(..., value=loss)")
        value = jnp.asarray(value, state.best_value.dtype)
        if threshold_mode == "rel":
            improved = value < state.best_value * (1 - threshold)
        else:
            improved = value < state.best_value - threshold
        best = jnp.where(improved, value, state.best_value)
        in_cooldown = state.cooldown_count > 0
        plateau = jnp.where(improved | in_cooldown, 0, state.plateau_count + 1)
        reduce = plateau > patience
        scale = jnp.where(reduce, jnp.maximum(state.scale * factor, min_scale), state.scale)
        plateau = jnp.where(reduce, 0, plateau)
        cooldown_count = jnp.where(reduce, cooldown, jnp.maximum(state.cooldown_count - 1, 0))
        new = jax.tree.map(lambda u: (scale * u).astype(u.dtype), updates)
        return new, ReduceOnPlateauState(scale, best, plateau.astype(jnp.int32), cooldown_count.astype(jnp.int32))

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def nesterov_iterate(
    optimizer: optax.GradientTransformation, params: optax.Params, state: optax.OptState
) -> optax.Params:
    """The lecture's iterate x_t from the look-ahead point y_t that :func:`nesterov` (and
    ``rmsprop(..., nesterov=True)``) carries as its parameters.

    With y_t = x_t + mu V_t (Sutskever et al. 2013, V the velocity that is added):
    ``x_t = y_t - mu V_t``; in the ``"descent"`` convention the stored v is -V. mu is read at the
    state's step (constant momenta are exact). ``run(..., record=lambda p, s: nesterov_iterate(opt, p, s))``
    records x_t along a run.

    Args:
        optimizer: The jaxgd ``nesterov`` or ``rmsprop(momentum=..., nesterov=True)`` that made ``state``.
        params: The look-ahead point y_t (the parameters the optimizer carries).
        state: The optimizer's state at step t.

    Returns:
        x_t, a pytree like ``params``.

    Raises:
        ValueError: If the optimizer holds no heavy-ball velocity or no momentum.
    """
    found = [s for s in jax.tree.leaves(state, is_leaf=_is_heavy_ball) if _is_heavy_ball(s)]
    if len(found) != 1 or not hasattr(optimizer, "momentum"):
        raise ValueError(f"nesterov_iterate needs a jaxgd nesterov or rmsprop(momentum=...), got {optimizer!r}")
    (hb,) = found
    sign = -1.0 if getattr(optimizer, "convention", "descent") == "velocity" else 1.0
    mu = value_at(optimizer.momentum, hb.schedule_count)
    return jax.tree.map(lambda y, v: (y + sign * mu * v).astype(y.dtype), params, hb.velocity)


def _is_heavy_ball(x) -> bool:
    return isinstance(x, HeavyBallState)
