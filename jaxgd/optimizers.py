"""First-order optimizers: short chains of :mod:`jaxgd.transforms`.

Each returns a :class:`jaxgd.Optimizer`, an ``optax.GradientTransformationExtraArgs``
whose pytree leaves are its hyperparameters: it works wherever an optax
optimizer does, and ``jit`` does not recompile when a hyperparameter's value
changes. Every hyperparameter may be a float, a traced array or a schedule.

The functions below build the optax transform (their annotations say so);
:func:`jaxgd._recipe.optimizer` makes each the public factory, annotated
``-> Optimizer``, that keeps the arguments and builds the transform once.
"""

from __future__ import annotations

from typing import Literal

import optax

from jaxgd import _validate
from jaxgd import transforms as T
from jaxgd._core import Hyperparameter
from jaxgd._recipe import optimizer

__all__ = [
    "adadelta",
    "adagrad",
    "adam",
    "adamax",
    "chain",
    "momentum",
    "nadam",
    "nesterov",
    "nesterov_1983",
    "rmsprop",
    "sgd",
]

Convention = Literal["descent", "velocity"]


@optimizer()
def sgd(learning_rate: Hyperparameter) -> optax.GradientTransformation:
    """Gradient descent: ``x <- x - eta g`` (Cauchy 1847; Robbins & Monro 1951 with noisy g)."""
    return T.scale_by_learning_rate(learning_rate)


@optimizer(static_argnames=("convention",))
def momentum(
    learning_rate: Hyperparameter, momentum: Hyperparameter = 0.9, convention: Convention = "descent"
) -> optax.GradientTransformation:
    """Polyak's heavy ball, in either sign convention of the course material.

    ``convention="descent"``: ``v <- mu v + eta g``, ``x <- x - v``;
    ``convention="velocity"``: ``v <- mu v - eta g``, ``x <- x + v``.
    Both give the same trajectory. Matches ``optax.sgd(eta, momentum=mu)`` for a
    constant eta. Reference: Polyak (1964).
    """
    return T.scale_by_heavy_ball(learning_rate, momentum, convention=convention)


@optimizer(static_argnames=("convention",))
def nesterov(
    learning_rate: Hyperparameter, momentum: Hyperparameter = 0.9, convention: Convention = "descent"
) -> optax.GradientTransformation:
    """Nesterov's accelerated gradient in the look-ahead form of Sutskever et al. (2013)::

        v <- mu v - eta grad f(x + mu v),    x <- x + v

    computed through the reparametrisation y = x + mu v, which needs only the
    gradient at the current iterate: ``y <- y + mu^2 v - (1 + mu) eta grad f(y)``.
    The parameters are therefore the look-ahead point y; ``x = y - mu v``.
    Matches ``optax.sgd(eta, momentum=mu, nesterov=True)``.
    """
    return T.scale_by_heavy_ball(learning_rate, momentum, convention=convention, nesterov=True)


@optimizer()
def nesterov_1983(learning_rate: Hyperparameter) -> optax.GradientTransformation:
    """Nesterov (1983) with the rho sequence; see :func:`jaxgd.transforms.scale_by_nesterov_1983`."""
    return T.scale_by_nesterov_1983(learning_rate)


@optimizer(static_argnames=("eps_in_sqrt",))
def adagrad(
    learning_rate: Hyperparameter,
    initial_accumulator_value: float = 0.0,
    eps: Hyperparameter = 1e-7,
    eps_in_sqrt: bool = False,
) -> optax.GradientTransformation:
    """AdaGrad (Duchi et al. 2011; Goodfellow et al. 2016, Algorithm 8.4)::

        r <- r + g^2,    x <- x - eta g / (eps + sqrt(r))

    optax's ``adagrad`` is ``initial_accumulator_value=0.1, eps_in_sqrt=True``.
    """
    _validate.positive("eps", eps)
    return optax.chain(
        T.scale_by_adagrad(initial_accumulator_value, eps, eps_in_sqrt=eps_in_sqrt),
        T.scale_by_learning_rate(learning_rate),
    )


@optimizer()
def adadelta(
    learning_rate: Hyperparameter = 1.0, rho: Hyperparameter = 0.95, eps: Hyperparameter = 1e-6
) -> optax.GradientTransformation:
    """AdaDelta (Zeiler 2012, Algorithm 1); the paper's method has learning_rate = 1.

    See :func:`jaxgd.transforms.scale_by_adadelta`. Matches ``optax.adadelta``.
    """
    _validate.positive("eps", eps)
    return optax.chain(T.scale_by_adadelta(rho, eps), T.scale_by_learning_rate(learning_rate))


@optimizer(static_argnames=("eps_in_sqrt", "centered", "nesterov"))
def rmsprop(
    learning_rate: Hyperparameter,
    decay: Hyperparameter = 0.9,
    eps: Hyperparameter = 1e-8,
    initial_scale: float = 0.0,
    eps_in_sqrt: bool = True,
    centered: bool = False,
    momentum: Hyperparameter | None = None,
    nesterov: bool = False,
) -> optax.GradientTransformation:
    """RMSProp (Hinton, lecture 6e), optionally centred and with momentum.

    Plain::            r <- rho r + (1 - rho) g^2,   x <- x - eta g / sqrt(r + eps)
    ``centered=True``: divides by sqrt(r - gbar^2 + eps), gbar the running mean of g
    (Graves 2013, eqs. 38-41, where momentum=0.9 is used).
    ``momentum=mu``:   v <- mu v - eta g / sqrt(...),   x <- x + v
    ``nesterov=True``: the same with the gradient at the look-ahead point
    (Goodfellow et al. 2016, Algorithm 8.7), reparametrised as in :func:`nesterov`.
    Matches ``optax.rmsprop`` with the same arguments.
    """
    _validate.positive("eps", eps)
    if nesterov and momentum is None:
        raise ValueError("rmsprop(nesterov=True) needs a momentum value, got momentum=None")
    scale = T.scale_by_centered_rms if centered else T.scale_by_rms
    pre = scale(decay, eps, initial_scale, eps_in_sqrt=eps_in_sqrt)
    if momentum is None:
        return optax.chain(pre, T.scale_by_learning_rate(learning_rate))
    return optax.chain(pre, T.scale_by_heavy_ball(learning_rate, momentum, nesterov=nesterov))


@optimizer()
def adam(
    learning_rate: Hyperparameter = 1e-3,
    b1: Hyperparameter = 0.9,
    b2: Hyperparameter = 0.999,
    eps: Hyperparameter = 1e-8,
    eps_root: Hyperparameter = 0.0,
) -> optax.GradientTransformation:
    """Adam (Kingma & Ba 2015, Algorithm 1), bias-corrected::

        m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2
        x <- x - eta m_hat / (sqrt(v_hat + eps_root) + eps)

    eps is outside the root, as in the paper and optax; ``eps_root`` adds one inside.

    Step size. The first step is eta sign(g). Kingma & Ba's bound |step| <=
    eta (1 - b1) / sqrt(1 - b2) (when 1 - b1 > sqrt(1 - b2), else eta) holds when
    one gradient in the history is non-zero; they call it approximate. The exact
    worst case over all histories (eps = 0) is, by Cauchy-Schwarz,
    ``|step_i| <= eta sqrt(sum_s a_s^2 / b_s)`` with a_s = (1 - b1) b1^(t-s) / (1 - b1^t)
    and b_s = (1 - b2) b2^(t-s) / (1 - b2^t) the weights of m_hat and v_hat,
    attained by g_s proportional to a_s / b_s: about 6.8 eta after 2000 steps
    with the default betas.
    """
    _validate.positive("eps", eps)
    return optax.chain(T.scale_by_adam(b1, b2, eps, eps_root), T.scale_by_learning_rate(learning_rate))


@optimizer()
def nadam(
    learning_rate: Hyperparameter = 1e-3,
    b1: Hyperparameter = 0.9,
    b2: Hyperparameter = 0.999,
    eps: Hyperparameter = 1e-8,
    eps_root: Hyperparameter = 0.0,
) -> optax.GradientTransformation:
    """Nadam: Adam with Nesterov momentum (Dozat 2016), in optax's form::

        m_hat = b1 m / (1 - b1^(t+1)) + (1 - b1) g / (1 - b1^t)

    and otherwise as :func:`adam`. Matches ``optax.nadam``.
    """
    _validate.positive("eps", eps)
    return optax.chain(T.scale_by_adam(b1, b2, eps, eps_root, nesterov=True), T.scale_by_learning_rate(learning_rate))


@optimizer()
def adamax(
    learning_rate: Hyperparameter = 2e-3,
    b1: Hyperparameter = 0.9,
    b2: Hyperparameter = 0.999,
    eps: Hyperparameter = 1e-8,
) -> optax.GradientTransformation:
    """AdaMax (Kingma & Ba 2015, section 7.1)::

        m <- b1 m + (1 - b1) g,   u <- max(b2 u, |g| + eps),   x <- x - eta m / ((1 - b1^t) u)

    Matches ``optax.adamax``.
    """
    _validate.positive("eps", eps)
    return optax.chain(T.scale_by_adamax(b1, b2, eps), T.scale_by_learning_rate(learning_rate))


@optimizer()
def chain(*transforms: optax.GradientTransformation) -> optax.GradientTransformationExtraArgs:
    """``optax.chain`` that keeps the hyperparameters of jaxgd optimizers in it as pytree leaves.

    ``jaxgd.chain(jaxgd.adam(lr), optax.clip_by_global_norm(1.0))`` does not
    recompile when ``lr`` changes; ``optax.chain`` of the same does.
    """
    if not transforms:
        raise ValueError("chain needs at least one transform")
    for i, t in enumerate(transforms):
        if not (hasattr(t, "init") and hasattr(t, "update")):
            raise TypeError(f"chain argument {i} is not a GradientTransformation: {t!r}")
    return optax.chain(*transforms)
