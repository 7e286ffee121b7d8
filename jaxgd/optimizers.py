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

import jax
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
    "adamw",
    "chain",
    "momentum",
    "nadam",
    "nesterov",
    "nesterov_1983",
    "rmsprop",
    "sgd",
]

Convention = Literal["descent", "velocity"]


def _no_mask_without_decay(weight_decay: Hyperparameter | None, mask: T.Mask) -> None:
    if weight_decay is None and mask is not None:
        raise ValueError("a mask was given without a weight_decay; pass weight_decay=... too")


@optimizer()
def sgd(
    learning_rate: Hyperparameter, *, weight_decay: Hyperparameter | None = None, mask: T.Mask = None
) -> optax.GradientTransformation:
    """Gradient descent (Cauchy 1847; Robbins & Monro 1951 with noisy g), with optional weight decay::

        x <- x - eta (g + lambda x)

    For plain SGD decoupled weight decay (Loshchilov & Hutter 2019) and an L2 penalty
    lambda/2 ||x||^2 added to the loss (as ``jaxgd.nn``'s ``l2``) give the same step.
    ``optax.sgd`` has no weight decay: this is ``optax.chain(optax.add_decayed_weights(lambda,
    mask), optax.sgd(eta))``.

    Args:
        learning_rate: eta > 0 (a float, an array or a schedule).
        weight_decay: lambda >= 0, multiplied by the learning rate (as in optax and PyTorch).
            None (the default): no decay, and the state is that of plain SGD.
        mask: Where the decay applies: a pytree of booleans with the parameters' structure
            (or a prefix of it), or a callable returning one; None: everywhere.

    Returns:
        The optimizer (:class:`jaxgd.Optimizer`).
    """
    _no_mask_without_decay(weight_decay, mask)
    if weight_decay is None:
        return T.scale_by_learning_rate(learning_rate)
    return optax.chain(T.add_decayed_weights(weight_decay, mask), T.scale_by_learning_rate(learning_rate))


def _heavy_ball(learning_rate, momentum, convention, nesterov, weight_decay, mask) -> optax.GradientTransformation:
    _no_mask_without_decay(weight_decay, mask)
    hb = T.scale_by_heavy_ball(learning_rate, momentum, convention=convention, nesterov=nesterov)
    if weight_decay is None:
        return hb
    return optax.chain(hb, T.decoupled_weight_decay(learning_rate, weight_decay, mask))


@optimizer(static_argnames=("convention",))
def momentum(
    learning_rate: Hyperparameter,
    momentum: Hyperparameter = 0.9,
    convention: Convention = "descent",
    *,
    weight_decay: Hyperparameter | None = None,
    mask: T.Mask = None,
) -> optax.GradientTransformation:
    """Polyak's heavy ball (Polyak 1964), in either sign convention of the course material.

    ``convention="descent"``: ``v <- mu v + eta g``, ``x <- x - v``;
    ``convention="velocity"``: ``v <- mu v - eta g``, ``x <- x + v``.
    Both give the same trajectory. Matches ``optax.sgd(eta, momentum=mu)`` for a
    constant eta (optax's default momentum is None, plain SGD; here it is 0.9).

    With ``weight_decay=lambda`` this is SGDW (Loshchilov & Hutter 2019, "Decoupled weight
    decay regularization", Algorithm 1): ``x <- x - v - eta lambda x``, the decay outside
    the velocity. An L2 penalty lambda/2 ||x||^2 in the loss (PyTorch's ``SGD(weight_decay=)``,
    ``jaxgd.nn``'s ``l2``) instead feeds lambda x through the velocity, where it is amplified
    1/(1 - mu) times: SGDW's fixed point minimises f + (1 - mu) lambda/2 ||x||^2, not
    f + lambda/2 ||x||^2. The two coincide only for mu = 0.

    Args:
        learning_rate: eta > 0 (a float, an array or a schedule).
        momentum: mu in [0, 1).
        convention: ``"descent"`` or ``"velocity"``: the sign of the stored velocity.
        weight_decay: lambda >= 0, multiplied by the learning rate (as in optax and PyTorch).
            None (the default): no decay, and the state is the heavy ball's alone.
        mask: Where the decay applies: a pytree of booleans with the parameters' structure
            (or a prefix of it), or a callable returning one; None: everywhere.

    Returns:
        The optimizer (:class:`jaxgd.Optimizer`).
    """
    return _heavy_ball(learning_rate, momentum, convention, False, weight_decay, mask)


@optimizer(static_argnames=("convention",))
def nesterov(
    learning_rate: Hyperparameter,
    momentum: Hyperparameter = 0.9,
    convention: Convention = "descent",
    *,
    weight_decay: Hyperparameter | None = None,
    mask: T.Mask = None,
) -> optax.GradientTransformation:
    """Nesterov's accelerated gradient in the look-ahead form of Sutskever et al. (2013)::

        v <- mu v - eta grad f(x + mu v),    x <- x + v

    computed through the reparametrisation y = x + mu v, which needs only the
    gradient at the current iterate: ``y <- y + mu^2 v - (1 + mu) eta grad f(y)``.
    The parameters are therefore the look-ahead point y; ``x = y - mu v``.
    Matches ``optax.sgd(eta, momentum=mu, nesterov=True)``. ``weight_decay`` is
    decoupled, as in :func:`momentum`, and applied to y.

    Args:
        learning_rate: eta > 0 (a float, an array or a schedule).
        momentum: mu in [0, 1).
        convention: ``"descent"`` or ``"velocity"``: the sign of the stored velocity.
        weight_decay: lambda >= 0, multiplied by the learning rate; None: no decay.
        mask: Where the decay applies (see :func:`momentum`).

    Returns:
        The optimizer (:class:`jaxgd.Optimizer`).
    """
    return _heavy_ball(learning_rate, momentum, convention, True, weight_decay, mask)


@optimizer()
def nesterov_1983(learning_rate: Hyperparameter) -> optax.GradientTransformation:
    """Nesterov (1983) with the rho sequence; see :func:`jaxgd.transforms.scale_by_nesterov_1983`.

    Args:
        learning_rate: eta > 0 (1/beta for a beta-smooth f).

    Returns:
        The optimizer (:class:`jaxgd.Optimizer`).
    """
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

    The defaults differ from optax's on purpose (the book's form): ``optax.adagrad`` is
    ``initial_accumulator_value=0.1, eps_in_sqrt=True``, ``g / sqrt(r + eps)``.

    Args:
        learning_rate: eta > 0.
        initial_accumulator_value: r at t = 0, >= 0.
        eps: > 0, added to sqrt(r) (inside the root with ``eps_in_sqrt``).
        eps_in_sqrt: Whether to divide by sqrt(r + eps), as optax.

    Returns:
        The optimizer (:class:`jaxgd.Optimizer`).
    """
    _validate.positive("eps", eps)
    return optax.chain(
        T.scale_by_adagrad(initial_accumulator_value, eps, eps_in_sqrt=eps_in_sqrt),
        T.scale_by_learning_rate(learning_rate),
    )


@optimizer()
def adadelta(
    learning_rate: Hyperparameter = 1.0, rho: Hyperparameter = 0.9, eps: Hyperparameter = 1e-6
) -> optax.GradientTransformation:
    """AdaDelta (Zeiler 2012, Algorithm 1); see :func:`jaxgd.transforms.scale_by_adadelta`.

    Matches ``optax.adadelta`` with the same arguments; rho and eps default to optax's
    (Zeiler's experiments use rho = 0.95). The learning rate defaults to 1, the paper's
    method: optax's default ``learning_rate=None`` (optax 0.2.8) skips the sign flip and
    returns +d, an ascent step, so ``jaxgd.adadelta()`` is ``optax.adadelta(1.0)``.

    Args:
        learning_rate: eta > 0; the paper has no learning rate (eta = 1).
        rho: The decay of the running averages, in [0, 1).
        eps: > 0, inside both roots.

    Returns:
        The optimizer (:class:`jaxgd.Optimizer`).
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
    Matches ``optax.rmsprop`` with the same arguments and with the defaults (optax's
    ``bias_correction`` is not offered).

    Args:
        learning_rate: eta > 0.
        decay: rho in [0, 1).
        eps: > 0, inside the root (outside with ``eps_in_sqrt=False``).
        initial_scale: r at t = 0, >= 0.
        eps_in_sqrt: Whether eps goes inside the root.
        centered: Whether to divide by the running variance rather than the second moment.
        momentum: mu in [0, 1), or None for no momentum.
        nesterov: Whether the momentum is Nesterov's (needs ``momentum``).

    Returns:
        The optimizer (:class:`jaxgd.Optimizer`).

    Raises:
        ValueError: If ``nesterov`` is set without a momentum, or a value is out of range.
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
    Matches ``optax.adam`` (whose learning_rate has no default; here the paper's 1e-3).

    Step size. The first step is eta sign(g). Kingma & Ba's bound |step| <=
    eta (1 - b1) / sqrt(1 - b2) (when 1 - b1 > sqrt(1 - b2), else eta) holds when
    one gradient in the history is non-zero; they call it approximate. The exact
    worst case over all histories (eps = 0) is, by Cauchy-Schwarz,
    ``|step_i| <= eta sqrt(sum_s a_s^2 / b_s)`` with a_s = (1 - b1) b1^(t-s) / (1 - b1^t)
    and b_s = (1 - b2) b2^(t-s) / (1 - b2^t) the weights of m_hat and v_hat,
    attained by g_s proportional to a_s / b_s: about 6.8 eta after 2000 steps
    with the default betas.

    Args:
        learning_rate: eta > 0.
        b1: The decay of the first moment, in [0, 1).
        b2: The decay of the second moment, in [0, 1).
        eps: > 0, added to the root.
        eps_root: >= 0, added inside the root.

    Returns:
        The optimizer (:class:`jaxgd.Optimizer`).
    """
    _validate.positive("eps", eps)
    return optax.chain(T.scale_by_adam(b1, b2, eps, eps_root), T.scale_by_learning_rate(learning_rate))


@optimizer(static_argnames=("mu_dtype", "nesterov"))
def adamw(
    learning_rate: Hyperparameter,
    b1: Hyperparameter = 0.9,
    b2: Hyperparameter = 0.999,
    eps: Hyperparameter = 1e-8,
    eps_root: Hyperparameter = 0.0,
    mu_dtype: jax.typing.DTypeLike | None = None,
    weight_decay: Hyperparameter = 1e-4,
    mask: T.Mask = None,
    *,
    nesterov: bool = False,
) -> optax.GradientTransformation:
    """AdamW: Adam with decoupled weight decay (Loshchilov & Hutter 2019, Algorithm 2)::

        x <- x - eta (m_hat / (sqrt(v_hat + eps_root) + eps) + lambda x)

    optax's signature, defaults and update (``optax.adamw``: the decay is multiplied by
    the learning rate, so lambda is the paper's lambda / alpha). It differs from Adam
    on the loss f + lambda/2 ||x||^2 (an L2 penalty, as ``jaxgd.nn``'s ``l2``): there
    lambda x enters the gradient and is divided by sqrt(v_hat) with it, so weights with
    large gradients are decayed less; here every weight decays at the same rate eta lambda.

    Args:
        learning_rate: eta > 0 (a float, an array or a schedule).
        b1: The decay of the first moment, in [0, 1).
        b2: The decay of the second moment, in [0, 1).
        eps: > 0, added to the root.
        eps_root: >= 0, added inside the root.
        mu_dtype: The dtype of the first moment (None: the parameters').
        weight_decay: lambda >= 0.
        mask: Where the decay applies: a pytree of booleans with the parameters' structure
            (or a prefix of it), or a callable returning one; None: everywhere.
        nesterov: Whether to use Nesterov momentum (NAdamW, as :func:`nadam`).

    Returns:
        The optimizer (:class:`jaxgd.Optimizer`).
    """
    _validate.positive("eps", eps)
    return optax.chain(
        T.scale_by_adam(b1, b2, eps, eps_root, mu_dtype, nesterov=nesterov),
        T.add_decayed_weights(weight_decay, mask),
        T.scale_by_learning_rate(learning_rate),
    )


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

    Args:
        learning_rate: eta > 0.
        b1: The decay of the first moment, in [0, 1).
        b2: The decay of the second moment, in [0, 1).
        eps: > 0, added to the root.
        eps_root: >= 0, added inside the root.

    Returns:
        The optimizer (:class:`jaxgd.Optimizer`).
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

    Matches ``optax.adamax`` (whose learning_rate has no default; here the paper's 2e-3).

    Args:
        learning_rate: eta > 0.
        b1: The decay of the first moment, in [0, 1).
        b2: The decay of the infinity norm, in [0, 1).
        eps: > 0, added to |g|.

    Returns:
        The optimizer (:class:`jaxgd.Optimizer`).
    """
    _validate.positive("eps", eps)
    return optax.chain(T.scale_by_adamax(b1, b2, eps), T.scale_by_learning_rate(learning_rate))


@optimizer()
def chain(*transforms: optax.GradientTransformation) -> optax.GradientTransformationExtraArgs:
    """``optax.chain`` that keeps the hyperparameters of jaxgd optimizers in it as pytree leaves.

    ``jaxgd.chain(jaxgd.adam(lr), optax.clip_by_global_norm(1.0))`` does not
    recompile when ``lr`` changes; ``optax.chain`` of the same does.

    Args:
        *transforms: The transforms to apply in order (jaxgd optimizers or any optax transform).

    Returns:
        The optimizer (:class:`jaxgd.Optimizer`).

    Raises:
        ValueError: If no transform is given.
        TypeError: If an argument is not a gradient transformation.
    """
    if not transforms:
        raise ValueError("chain needs at least one transform")
    for i, t in enumerate(transforms):
        if not (hasattr(t, "init") and hasattr(t, "update")):
            raise TypeError(f"chain argument {i} is not a GradientTransformation: {t!r}")
    return optax.chain(*transforms)
