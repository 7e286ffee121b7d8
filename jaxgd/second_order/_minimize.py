"""``minimize``: a second-order method (or any line-searched transform) run to a gradient tolerance.

Contract: ``fun(x)`` returns a real scalar (``(value, aux)`` with ``has_aux``);
the method takes ``value``, ``grad`` and ``value_fn`` (an
``optax.GradientTransformationExtraArgs``) or only gradients. The loop is one
``lax.while_loop`` under :func:`jaxgd._core.filter_jit`, each iteration one
:func:`jaxgd._core.update_step`; it returns a :class:`MinimizeResult`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxgd import _validate
from jaxgd import linesearch as ls
from jaxgd._core import eval_counts, filter_jit, objective_of, tree_norm, update_step
from jaxgd.second_order._aliases import METHODS
from jaxgd.second_order._base import one, zero


class MinimizeResult(NamedTuple):
    """The outcome of :func:`minimize`.

    Attributes:
      x: the final iterate.
      value: f(x).
      grad: grad f(x).
      grad_norm: ||grad f(x)|| (Euclidean, over all leaves).
      steps: iterations taken.
      n_fev, n_gev, n_hev: function, gradient and Hessian (or Hessian-vector product) evaluations.
      converged: grad_norm <= tol.
      linesearch_failed: the last line search found no step meeting its conditions
        (when it found no decrease at all, the run stops there).
      aux: the objective's aux output at x (``has_aux=True``), else None.
    """

    x: Any
    value: jax.Array
    grad: Any
    grad_norm: jax.Array
    steps: jax.Array
    n_fev: jax.Array
    n_gev: jax.Array
    n_hev: jax.Array
    converged: jax.Array
    linesearch_failed: jax.Array
    aux: Any


def _ends_a_chain(node: Any) -> bool:
    """Stops for :func:`_last_linesearch`'s flattening: a search's state, and states without leaves."""
    return isinstance(node, ls.LinesearchState) or node is None or (isinstance(node, tuple) and not node)


def _last_linesearch(state: Any) -> ls.LinesearchState | None:
    """The state of the line search when it is the transform applied last, else None.

    Only then are its value and gradient those at the new iterate. It is the last
    entry of the flattened state, a search's state counting as one entry.
    """
    ends = jax.tree.leaves(state, is_leaf=_ends_a_chain)
    return ends[-1] if ends and isinstance(ends[-1], ls.LinesearchState) else None


def _method(method: str | optax.GradientTransformation, has_aux: bool, options: dict[str, Any]) -> Any:
    """The optimizer named by ``method`` (built with ``options``), or ``method`` itself."""
    if isinstance(method, str):
        _validate.one_of("method", method, tuple(METHODS))
        return METHODS[method](has_aux=has_aux, **options)
    if options:
        raise TypeError(f"options {sorted(options)} apply only to a method given by name")
    if not (hasattr(method, "init") and hasattr(method, "update")):
        raise TypeError(f"method must be a name or a GradientTransformation, got {method!r}")
    return method


def minimize(
    fun: Callable[..., Any],
    x0: Any,
    method: str | optax.GradientTransformation = "bfgs",
    *,
    tol: jax.typing.ArrayLike = 1e-8,
    max_steps: int = 1000,
    has_aux: bool = False,
    **options: Any,
) -> MinimizeResult:
    """Minimise ``fun`` from ``x0`` until ||grad f|| <= ``tol`` or ``max_steps`` iterations.

    ``method`` is one of ``"bfgs"``, ``"lbfgs"``, ``"newton"``, ``"newton_cg"``,
    ``"nonlinear_cg"``, ``"regularized_newton"``, ``"saddle_free_newton"``
    (``options`` go to that alias, e.g. ``memory_size=5``, ``linesearch="backtracking"``)
    or any ``GradientTransformationExtraArgs`` taking ``value``, ``grad``, ``value_fn``.
    The loop is one jitted ``lax.while_loop``; the value and gradient found by a
    final line search are reused, not evaluated again. It stops early when a
    line search fails without any decrease. ``fun`` (and a ``Problem``'s data)
    and ``tol`` are traced, so new values do not recompile, and ``jax.vmap``
    over ``x0`` (or over problem data) solves many problems in one call.
    ``has_aux=True``: ``fun`` returns ``(value, aux)``; the result carries the aux at x.
    """
    _validate.positive_int("max_steps", max_steps)
    _validate.nonnegative("tol", tol)
    _validate.float_tree("x0", x0)
    opt = _method(method, has_aux, options)
    return _minimize((opt, objective_of(fun)), x0, jnp.asarray(tol), max_steps=max_steps, has_aux=has_aux)


class _Carry(NamedTuple):
    x: Any
    value: jax.Array
    grad: Any
    state: Any
    steps: jax.Array
    n_fev: jax.Array
    n_gev: jax.Array
    n_hev: jax.Array
    failed: jax.Array
    stalled: jax.Array


@filter_jit(static_argnames=("max_steps", "has_aux"))
def _minimize(opt_and_fun: tuple, x0: Any, tol: jax.Array, *, max_steps: int, has_aux: bool) -> MinimizeResult:
    opt, fun = opt_and_fun
    _validate.scalar_output(fun, x0, (), has_aux, what="objective")  # at trace time: once per compilation

    def f(x):
        out = fun(x)
        return out[0] if has_aux else out

    value_and_grad = jax.value_and_grad(f)
    v0, g0 = value_and_grad(x0)

    def cond(c: _Carry):
        return (c.steps < max_steps) & (tree_norm(c.grad) > tol) & ~c.stalled & jnp.isfinite(c.value)

    def body(c: _Carry) -> _Carry:
        step = update_step(opt, fun, c.x, c.state, has_aux=has_aux, value_grad=(c.value, c.grad))
        counts = eval_counts(step.state)
        n_fev, n_gev = counts["n_fev"], counts["n_gev"]
        search = _last_linesearch(step.state)
        if search is None:  # evaluate f and grad f at the new point
            value, grad = value_and_grad(step.params)
            n_fev, n_gev = n_fev + 1, n_gev + 1
            failed = jnp.zeros([], bool)
            stalled = failed
        else:  # the search's value (and gradient) at the accepted point
            value = search.value.astype(c.value.dtype)
            if search.grad is None:
                grad = jax.grad(f)(step.params)
                n_gev = n_gev + 1
            else:
                grad = optax.tree.cast_like(search.grad, c.grad)
            failed = search.failed
            stalled = failed & (tree_norm(step.updates) == 0)
        return _Carry(
            step.params,
            value,
            grad,
            step.state,
            c.steps + 1,
            c.n_fev + n_fev,
            c.n_gev + n_gev,
            c.n_hev + counts["n_hev"],
            failed,
            stalled,
        )

    start = _Carry(x0, v0, g0, opt.init(x0), zero(), one(), one(), zero(), jnp.zeros([], bool), jnp.zeros([], bool))
    c = jax.lax.while_loop(cond, body, start)
    gnorm = tree_norm(c.grad)
    return MinimizeResult(
        x=c.x,
        value=c.value,
        grad=c.grad,
        grad_norm=gnorm,
        steps=c.steps,
        n_fev=c.n_fev,
        n_gev=c.n_gev,
        n_hev=c.n_hev,
        converged=gnorm <= tol,
        linesearch_failed=c.failed,
        aux=fun(c.x)[1] if has_aux else None,
    )
