"""The second-order aliases: a ``scale_by_*`` transform, the minus sign, and a line search, chained.

As ``optax.lbfgs``: ``chain(scale_by_x(), scale_by_learning_rate(learning_rate), search)``,
with ``optax.scale(-1.0)`` in place of the learning rate when it is None. Each
returns :class:`jaxgd.Optimizer` (an ``optax.GradientTransformationExtraArgs``
whose numeric hyperparameters are pytree leaves), so it runs in ``jaxgd.run``,
``jaxgd.sweep`` and :func:`jaxgd.second_order.minimize`, which pass ``value``,
``grad`` and ``value_fn``. ``linesearch`` takes ``"auto"`` (the method's default,
given in its docstring), ``"backtracking"``, ``"zoom"`` (strong Wolfe),
``"exact"`` (1-D Newton), ``None`` (a unit step, times ``learning_rate``) or any
transform of :mod:`jaxgd.linesearch`. It selects code, so it is a static option
(part of the treedef, as are the other options that are not numbers): a plain
``jax.jit`` takes these optimizers as arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import optax

from jaxgd import _validate
from jaxgd import linesearch as ls
from jaxgd import transforms as T
from jaxgd._core import Hyperparameter
from jaxgd._recipe import Optimizer, optimizer
from jaxgd.second_order._newton import (
    Fallback,
    scale_by_levenberg_marquardt,
    scale_by_newton,
    scale_by_regularized_newton,
    scale_by_saddle_free_newton,
)
from jaxgd.second_order._newton_cg import scale_by_newton_cg
from jaxgd.second_order._nonlinear_cg import CGVariant, scale_by_nonlinear_cg
from jaxgd.second_order._quasi_newton import scale_by_bfgs, scale_by_lbfgs

LinesearchSpec = str | optax.GradientTransformation | None


def _make_linesearch(spec: LinesearchSpec, default: Callable[[], Any], has_aux: bool) -> Any:
    """The line search named by ``spec`` (``default()`` for ``"auto"``), or None for no search."""
    if isinstance(spec, str):
        _validate.one_of("linesearch", spec, ("auto", "backtracking", "zoom", "exact", "none"))
        if spec == "auto":
            return default()
        if spec == "backtracking":
            return ls.scale_by_backtracking_linesearch(has_aux=has_aux)
        if spec == "zoom":
            return ls.scale_by_zoom_linesearch(has_aux=has_aux)
        if spec == "exact":
            return ls.scale_by_exact_linesearch(has_aux=has_aux)
        return None
    if spec is None:
        return None
    if not (hasattr(spec, "init") and hasattr(spec, "update")):
        raise TypeError(f"linesearch must be a name, None or a GradientTransformation, got {spec!r}")
    return spec


def _assemble(
    direction: optax.GradientTransformation,
    learning_rate: Hyperparameter | None,
    linesearch: LinesearchSpec,
    default: Callable[[], Any],
    has_aux: bool,
) -> optax.GradientTransformationExtraArgs:
    """``chain(direction, -learning_rate, search)``: the learning rate -1 when None, no search when None."""
    parts = [optax.with_extra_args_support(direction)]
    parts.append(optax.scale(-1.0) if learning_rate is None else T.scale_by_learning_rate(learning_rate))
    search = _make_linesearch(linesearch, default, has_aux)
    if search is not None:
        parts.append(search)
    return optax.chain(*parts)


def _backtracking(has_aux: bool) -> Callable[[], Any]:
    return lambda: ls.scale_by_backtracking_linesearch(has_aux=has_aux)


def _zoom(has_aux: bool, **kwargs: Any) -> Callable[[], Any]:
    return lambda: ls.scale_by_zoom_linesearch(has_aux=has_aux, **kwargs)


@optimizer(static_argnames=("linesearch", "fallback", "has_aux"))
def newton(
    learning_rate: Hyperparameter | None = None,
    linesearch: LinesearchSpec = "auto",
    fallback: Fallback = "shift",
    has_aux: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """Newton's method, ``x <- x - a H^{-1} g`` (Cholesky; see :func:`scale_by_newton` for ``fallback``).

    Default line search: backtracking from a = 1, so near a minimiser with a
    positive definite Hessian the unit step is taken and convergence is quadratic.
    ``newton(linesearch=None, fallback="none")`` is the pure Newton iteration.

    Args:
        learning_rate: eta > 0, multiplying the direction before the line search (with
            ``linesearch=None``, the step a); None (the default): 1.
        linesearch: ``"auto"`` (the default above), ``"backtracking"``, ``"zoom"``, ``"exact"``, None or a
            transform of :mod:`jaxgd.linesearch`.
        fallback: The step where H is not positive definite: ``"shift"``, ``"gradient"``,
            ``"saddle_free"`` or ``"none"`` (see :func:`scale_by_newton`).
        has_aux: Whether the objective returns ``(value, aux)``.

    Returns:
        An optimizer (:class:`jaxgd.Optimizer`) whose update takes ``value``, ``grad`` and ``value_fn``,
            as ``jaxgd.run`` and :func:`minimize` pass them.

    Raises:
        ValueError: If linesearch is an unknown name or fallback is not one of the four.
        TypeError: If linesearch is neither a name, None nor a gradient transformation.
    """
    direction = scale_by_newton(fallback, has_aux=has_aux)
    return _assemble(direction, learning_rate, linesearch, _backtracking(has_aux), has_aux)


@optimizer(static_argnames=("adaptive", "linesearch", "has_aux"))
def regularized_newton(
    alpha: Hyperparameter = 1e-3,
    adaptive: bool = False,
    learning_rate: Hyperparameter | None = None,
    linesearch: LinesearchSpec = "auto",
    increase_factor: jax.typing.ArrayLike = 4.0,
    decrease_factor: jax.typing.ArrayLike = 1.0 / 3.0,
    has_aux: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """Regularised Newton, ``x <- x - a (H + alpha I)^{-1} g``.

    ``adaptive=False``: fixed alpha (:func:`scale_by_regularized_newton`), with a
    backtracking line search by default. ``adaptive=True``: alpha adapted by the
    gain ratio, Levenberg-Marquardt style, steps accepted or rejected by the
    method itself (:func:`scale_by_levenberg_marquardt`); no line search by default.

    Args:
        alpha: The damping alpha >= 0 (> 0 with ``adaptive``; there its starting value).
        adaptive: Whether alpha adapts (Levenberg-Marquardt) rather than stays fixed.
        learning_rate: eta > 0, multiplying the direction before the line search (with
            ``linesearch=None``, the step a); None (the default): 1.
        linesearch: ``"auto"`` (the default above), ``"backtracking"``, ``"zoom"``, ``"exact"``, None or a
            transform of :mod:`jaxgd.linesearch`.
        increase_factor: With ``adaptive``: alpha's factor after a poor step, > 1.
        decrease_factor: With ``adaptive``: alpha's factor after a good step, in (0, 1).
        has_aux: Whether the objective returns ``(value, aux)``.

    Returns:
        An optimizer (:class:`jaxgd.Optimizer`) whose update takes ``value``, ``grad`` and ``value_fn``,
            as ``jaxgd.run`` and :func:`minimize` pass them.

    Raises:
        ValueError: If linesearch is an unknown name or a factor or alpha is out of range.
        TypeError: If linesearch is neither a name, None nor a gradient transformation.
    """
    if adaptive:
        direction = scale_by_levenberg_marquardt(alpha, increase_factor, decrease_factor, has_aux=has_aux)
        return _assemble(direction, learning_rate, linesearch, lambda: None, has_aux)
    direction = scale_by_regularized_newton(alpha, has_aux=has_aux)
    return _assemble(direction, learning_rate, linesearch, _backtracking(has_aux), has_aux)


@optimizer(static_argnames=("linesearch", "has_aux"))
def saddle_free_newton(
    damping: Hyperparameter = 1e-6,
    learning_rate: Hyperparameter | None = None,
    linesearch: LinesearchSpec = "auto",
    has_aux: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """Saddle-free Newton, ``x <- x - a |H|^{-1} g`` (:func:`scale_by_saddle_free_newton`); backtracking by default.

    Args:
        damping: The floor on |lambda|, > 0.
        learning_rate: eta > 0, multiplying the direction before the line search (with
            ``linesearch=None``, the step a); None (the default): 1.
        linesearch: ``"auto"`` (the default above), ``"backtracking"``, ``"zoom"``, ``"exact"``, None or a
            transform of :mod:`jaxgd.linesearch`.
        has_aux: Whether the objective returns ``(value, aux)``.

    Returns:
        An optimizer (:class:`jaxgd.Optimizer`) whose update takes ``value``, ``grad`` and ``value_fn``,
            as ``jaxgd.run`` and :func:`minimize` pass them.

    Raises:
        ValueError: If linesearch is an unknown name or damping is not positive.
        TypeError: If linesearch is neither a name, None nor a gradient transformation.
    """
    direction = scale_by_saddle_free_newton(damping, has_aux=has_aux)
    return _assemble(direction, learning_rate, linesearch, _backtracking(has_aux), has_aux)


@optimizer(static_argnames=("max_cg_steps", "linesearch", "has_aux"))
def newton_cg(
    max_cg_steps: int | None = None,
    learning_rate: Hyperparameter | None = None,
    linesearch: LinesearchSpec = "auto",
    has_aux: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """Hessian-free Newton-CG (:func:`scale_by_newton_cg`); default line search: strong Wolfe from a = 1.

    Args:
        max_cg_steps: The most CG iterations per step; None: the dimension.
        learning_rate: eta > 0, multiplying the direction before the line search (with
            ``linesearch=None``, the step a); None (the default): 1.
        linesearch: ``"auto"`` (the default above), ``"backtracking"``, ``"zoom"``, ``"exact"``, None or a
            transform of :mod:`jaxgd.linesearch`.
        has_aux: Whether the objective returns ``(value, aux)``.

    Returns:
        An optimizer (:class:`jaxgd.Optimizer`) whose update takes ``value``, ``grad`` and ``value_fn``,
            as ``jaxgd.run`` and :func:`minimize` pass them.

    Raises:
        ValueError: If linesearch is an unknown name or max_cg_steps is not a positive integer.
        TypeError: If linesearch is neither a name, None nor a gradient transformation.
    """
    direction = scale_by_newton_cg(max_cg_steps, has_aux=has_aux)
    return _assemble(direction, learning_rate, linesearch, _zoom(has_aux), has_aux)


@optimizer(static_argnames=("variant", "restart_every", "linesearch", "has_aux"))
def nonlinear_cg(
    variant: CGVariant = "polak_ribiere",
    restart_every: int | None = None,
    learning_rate: Hyperparameter | None = None,
    linesearch: LinesearchSpec = "auto",
    has_aux: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """Nonlinear conjugate gradients (:func:`scale_by_nonlinear_cg`).

    Default line search: strong Wolfe with c2 = 0.1 and scipy's initial guess
    2 (f_k - f_{k-1}) / slope (a CG direction carries no step length).

    Args:
        variant: The formula for beta: ``"polak_ribiere"``, ``"fletcher_reeves"``,
            ``"hestenes_stiefel"`` or ``"pr_plus"``.
        restart_every: Restart (d = -g) every this many steps; None: only when needed.
        learning_rate: eta > 0, multiplying the direction before the line search (with
            ``linesearch=None``, the step a); None (the default): 1.
        linesearch: ``"auto"`` (the default above), ``"backtracking"``, ``"zoom"``, ``"exact"``, None or a
            transform of :mod:`jaxgd.linesearch`.
        has_aux: Whether the objective returns ``(value, aux)``.

    Returns:
        An optimizer (:class:`jaxgd.Optimizer`) whose update takes ``value``, ``grad`` and ``value_fn``,
            as ``jaxgd.run`` and :func:`minimize` pass them.

    Raises:
        ValueError: If linesearch is an unknown name, variant is unknown or restart_every is not a positive integer.
        TypeError: If linesearch is neither a name, None nor a gradient transformation.
    """
    direction = scale_by_nonlinear_cg(variant, restart_every)
    default = _zoom(has_aux, c2=0.1, initial_guess="quadratic")
    return _assemble(direction, learning_rate, linesearch, default, has_aux)


@optimizer(static_argnames=("linesearch", "scale_init_precond", "has_aux"))
def bfgs(
    learning_rate: Hyperparameter | None = None,
    linesearch: LinesearchSpec = "auto",
    scale_init_precond: bool = True,
    has_aux: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """BFGS with a dense inverse Hessian (:func:`scale_by_bfgs`); default line search: strong Wolfe from a = 1.

    Args:
        learning_rate: eta > 0, multiplying the direction before the line search (with
            ``linesearch=None``, the step a); None (the default): 1.
        linesearch: ``"auto"`` (the default above), ``"backtracking"``, ``"zoom"``, ``"exact"``, None or a
            transform of :mod:`jaxgd.linesearch`.
        scale_init_precond: Whether H_0 is (y^T s / y^T y) I before the first update.
        has_aux: Whether the objective returns ``(value, aux)``.

    Returns:
        An optimizer (:class:`jaxgd.Optimizer`) whose update takes ``value``, ``grad`` and ``value_fn``,
            as ``jaxgd.run`` and :func:`minimize` pass them.

    Raises:
        ValueError: If linesearch is an unknown name.
        TypeError: If linesearch is neither a name, None nor a gradient transformation.
    """
    return _assemble(scale_by_bfgs(scale_init_precond), learning_rate, linesearch, _zoom(has_aux), has_aux)


@optimizer(static_argnames=("memory_size", "scale_init_precond", "linesearch", "has_aux"))
def lbfgs(
    learning_rate: Hyperparameter | None = None,
    memory_size: int = 10,
    scale_init_precond: bool = True,
    linesearch: LinesearchSpec = "auto",
    has_aux: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """L-BFGS (:func:`scale_by_lbfgs`); default line search: strong Wolfe from a = 1.

    The arguments of ``optax.lbfgs``, in its order (positional calls mean the same).
    ``lbfgs(eta, linesearch=None)`` matches ``optax.lbfgs(eta, linesearch=None)``
    step for step. The default line search differs on purpose: jaxgd's
    :func:`jaxgd.linesearch.scale_by_zoom_linesearch` (30 trials) where ``optax.lbfgs``
    uses ``optax.scale_by_zoom_linesearch(20, initial_guess_strategy="one")`` (both with
    the approximate Wolfe test, 1e-6); both reach the same minimiser, by different trial steps.

    Args:
        learning_rate: eta > 0, multiplying the direction before the line search (with
            ``linesearch=None``, the step a); None (the default): 1.
        memory_size: m, the number of (s, y) pairs kept, a positive integer.
        scale_init_precond: Whether H_k^0 = gamma I (else I).
        linesearch: ``"auto"`` (the default above), ``"backtracking"``, ``"zoom"``, ``"exact"``, None or a
            transform of :mod:`jaxgd.linesearch`.
        has_aux: Whether the objective returns ``(value, aux)``.

    Returns:
        An optimizer (:class:`jaxgd.Optimizer`) whose update takes ``value``, ``grad`` and ``value_fn``,
            as ``jaxgd.run`` and :func:`minimize` pass them.

    Raises:
        ValueError: If linesearch is an unknown name or memory_size is not a positive integer.
        TypeError: If linesearch is neither a name, None nor a gradient transformation.
    """
    return _assemble(
        scale_by_lbfgs(memory_size, scale_init_precond), learning_rate, linesearch, _zoom(has_aux), has_aux
    )


METHODS: dict[str, Callable[..., Optimizer]] = {
    "bfgs": bfgs,
    "lbfgs": lbfgs,
    "newton": newton,
    "newton_cg": newton_cg,
    "nonlinear_cg": nonlinear_cg,
    "regularized_newton": regularized_newton,
    "saddle_free_newton": saddle_free_newton,
}
