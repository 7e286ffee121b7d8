"""Second-order and quasi-Newton methods, with line searches, and a jitted ``minimize``.

Two layers, as in optax:

* ``scale_by_*`` transforms precondition the incoming gradient, in optax's sign
  convention (the update is to be subtracted, as ``optax.scale_by_lbfgs``'s):
  Newton u = H^{-1} g, BFGS and L-BFGS u = H_k g, nonlinear CG u = -d_k. Those
  that need the objective (the Newton family) read it from the ``value_fn``
  extra argument.
* the aliases (:func:`newton`, :func:`bfgs`, :func:`lbfgs`, ...) chain one, the
  minus sign (``scale_by_learning_rate(learning_rate)``, or ``optax.scale(-1.0)``
  when it is None) and a line search from :mod:`jaxgd.linesearch`, as
  ``optax.lbfgs``. They return :class:`jaxgd.Optimizer`, so they run in
  ``jaxgd.run`` and ``jaxgd.sweep`` (which pass ``value``, ``grad`` and
  ``value_fn``); their numeric hyperparameters are pytree leaves, their options
  (``linesearch`` among them) static.

``linesearch`` takes ``"auto"`` (the method's default, given in its docstring),
``"backtracking"``, ``"zoom"`` (strong Wolfe), ``"exact"`` (1-D Newton, exact on
quadratics), ``None`` (a unit step, times ``learning_rate``) or any transform of
:mod:`jaxgd.linesearch`. ``has_aux=True`` accepts objectives returning
``(value, aux)``. Matrices (Hessians, BFGS's inverse) are formed on the
flattened parameters (``jax.flatten_util.ravel_pytree``); Newton-CG and L-BFGS
only use vectors.

:func:`minimize` runs any of them to a gradient tolerance in one
``lax.while_loop``, counting evaluations, and is ``vmap``-able over starts.

Modules: ``_linalg`` (the Newton family's solves), ``_newton`` (Newton, regularised
Newton, Levenberg-Marquardt, saddle-free Newton), ``_newton_cg``, ``_nonlinear_cg``,
``_quasi_newton`` (BFGS, L-BFGS), ``_aliases`` (the chained methods, ``METHODS``),
``_minimize``.
"""

from jaxgd.second_order._aliases import (
    METHODS,
    LinesearchSpec,
    bfgs,
    lbfgs,
    newton,
    newton_cg,
    nonlinear_cg,
    regularized_newton,
    saddle_free_newton,
)
from jaxgd.second_order._minimize import STATUS_MESSAGES, MinimizeHistory, MinimizeResult, default_tol, minimize
from jaxgd.second_order._minimize import _last_linesearch as _last_linesearch  # tests read a run's search
from jaxgd.second_order._newton import (
    Fallback,
    LevenbergMarquardtState,
    NewtonState,
    scale_by_levenberg_marquardt,
    scale_by_newton,
    scale_by_regularized_newton,
    scale_by_saddle_free_newton,
)
from jaxgd.second_order._newton_cg import NewtonCGState, scale_by_newton_cg
from jaxgd.second_order._nonlinear_cg import CGVariant, NonlinearCGState, scale_by_nonlinear_cg
from jaxgd.second_order._quasi_newton import BFGSState, LBFGSState, scale_by_bfgs, scale_by_lbfgs

__all__ = [
    "METHODS",
    "STATUS_MESSAGES",
    "BFGSState",
    "CGVariant",
    "Fallback",
    "LBFGSState",
    "LevenbergMarquardtState",
    "LinesearchSpec",
    "MinimizeHistory",
    "MinimizeResult",
    "NewtonCGState",
    "NewtonState",
    "NonlinearCGState",
    "bfgs",
    "default_tol",
    "lbfgs",
    "minimize",
    "newton",
    "newton_cg",
    "nonlinear_cg",
    "regularized_newton",
    "saddle_free_newton",
    "scale_by_bfgs",
    "scale_by_lbfgs",
    "scale_by_levenberg_marquardt",
    "scale_by_newton",
    "scale_by_newton_cg",
    "scale_by_nonlinear_cg",
    "scale_by_regularized_newton",
    "scale_by_saddle_free_newton",
]
