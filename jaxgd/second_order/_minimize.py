"""``minimize``: a second-order method (or any line-searched transform) run to a gradient tolerance.

Contract: ``fun(x, *args)`` returns a real scalar (``(value, aux)`` with ``has_aux``);
the method takes ``value``, ``grad`` and ``value_fn`` (an
``optax.GradientTransformationExtraArgs``) or only gradients. The loop is one
``lax.while_loop`` under :func:`jaxgd._core.filter_jit`, each iteration one
:func:`jaxgd._core.update_step`; it returns a :class:`MinimizeResult`, whose
fields are also readable by ``scipy.optimize.OptimizeResult``'s names.

Status codes (``MinimizeResult.status``; ``message`` says them in words), the
codes of scipy's BFGS and CG:

====== ==================================================================
status meaning
====== ==================================================================
0      converged: ||grad f(x)|| <= tol
1      ``max_steps`` iterations without convergence
2      a line search failed (met no (approximate) Wolfe conditions) and
       found no decrease in f: the run stopped there. The tolerance may lie
       below what the dtype resolves near the minimiser, or f may be unbounded.
       A search that met its conditions does not stop the run even when f did
       not decrease: where f is flat to rounding near a minimiser, Hager &
       Zhang's approximate Wolfe test accepts a step by its slope, and the run
       goes on to ||grad f|| <= tol (or to max_steps; scipy's L-BFGS-B instead
       reports success when f stops decreasing, by its ftol rule)
3      a non-finite iterate, value or gradient: the run stopped, and x is
       the last finite iterate, with its value (the problem may be unbounded)
====== ==================================================================
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgd import _validate
from jaxgd import linesearch as ls
from jaxgd._core import eval_counts, filter_jit, objective_of, real_dtype, tree_norm, update_step
from jaxgd.second_order._aliases import METHODS
from jaxgd.second_order._base import one, zero

STATUS_MESSAGES: dict[int, str] = {
    0: "converged: ||grad f|| <= tol",
    1: "max_steps iterations reached before ||grad f|| <= tol",
    2: "stopped: the line search found no decrease in f (tol below what the dtype resolves near x? f unbounded?)",
    3: "stopped: a non-finite iterate, value or gradient (unbounded below?); x is the last finite iterate",
}

# scipy.optimize.minimize's spellings (lower case, '-' as '_') of the methods it shares with jaxgd: name, options
SCIPY_METHODS: dict[str, tuple[str, dict[str, Any]]] = {
    "l_bfgs": ("lbfgs", {}),
    "l_bfgs_b": ("lbfgs", {}),  # without bounds: jaxgd.minimize takes none
    "cg": ("nonlinear_cg", {"variant": "pr_plus"}),  # scipy's CG is Polak-Ribiere with beta = max(0, beta_PR)
}


class MinimizeHistory(NamedTuple):
    """f and ||grad f|| at x0 and after each iteration (length ``max_steps + 1``; NaN after the last one)."""

    value: jax.Array
    grad_norm: jax.Array


class MinimizeResult(NamedTuple):
    """The outcome of :func:`minimize`; scipy's names (``fun``, ``jac``, ``nit``, ...) read the same values.

    Attributes:
      x: the final iterate (the last finite one when ``status == 3``).
      value: f(x). Also ``fun``.
      grad: grad f(x). Also ``jac``.
      grad_norm: ||grad f(x)|| (Euclidean, over all leaves; scipy's BFGS and CG use the max-norm).
      steps: iterations taken (not counting a rejected non-finite one). Also ``nit``.
      n_fev, n_gev, n_hev: function, gradient and Hessian (or Hessian-vector product) evaluations.
        Also ``nfev``, ``njev``, ``nhev``.
      converged: grad_norm <= tol, i.e. ``status == 0``. Also ``success``.
      linesearch_failed: the last line search found no step meeting its conditions.
      status: why the run stopped, by the table of :mod:`jaxgd.second_order._minimize` (0 converged,
        1 max_steps, 2 no decrease, 3 non-finite); ``message`` says it in words.
      aux: the objective's aux output at x (``has_aux=True``), else None.
      history: a :class:`MinimizeHistory` (``history=True``), else None.
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
    status: jax.Array
    aux: Any = None
    history: MinimizeHistory | None = None

    fun = property(lambda self: self.value, doc="f(x), as ``value`` (scipy's name)")
    jac = property(lambda self: self.grad, doc="grad f(x), as ``grad`` (scipy's name)")
    nit = property(lambda self: self.steps, doc="iterations, as ``steps`` (scipy's name)")
    nfev = property(lambda self: self.n_fev, doc="function evaluations, as ``n_fev`` (scipy's name)")
    njev = property(lambda self: self.n_gev, doc="gradient evaluations, as ``n_gev`` (scipy's name)")
    nhev = property(lambda self: self.n_hev, doc="Hessian evaluations or products, as ``n_hev`` (scipy's name)")
    success = property(lambda self: self.converged, doc="``status == 0``, as ``converged`` (scipy's name)")
    diverged = property(lambda self: self.status == 3, doc="``status == 3``: stopped at a non-finite point")

    @property
    def message(self) -> Any:
        """The status in words: a str (an array of them for a batched result, from ``vmap``); outside ``jit``."""
        if isinstance(self.status, jax.core.Tracer):
            raise TypeError("MinimizeResult.message is computed from a concrete status: read it outside jit")
        codes = np.asarray(self.status)
        if codes.ndim == 0:
            return STATUS_MESSAGES[int(codes)]
        return np.vectorize(STATUS_MESSAGES.__getitem__, otypes=[object])(codes)


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


def _method_name(name: str) -> tuple[str, dict[str, Any]]:
    """jaxgd's name of a method given by jaxgd's or scipy's spelling (any case), and the options it implies."""
    key = name.lower().replace("-", "_")
    if key in METHODS:
        return key, {}
    if key in SCIPY_METHODS:
        return SCIPY_METHODS[key]
    scipy_names = ("BFGS", "L-BFGS", "L-BFGS-B", "Newton-CG", "CG")
    raise ValueError(f"unknown method {name!r}: jaxgd's are {tuple(METHODS)}, scipy's spellings {scipy_names}")


def _method(method: str | optax.GradientTransformation, has_aux: bool, options: dict[str, Any]) -> Any:
    """The optimizer named by ``method`` (built with ``options``), or ``method`` itself."""
    if isinstance(method, str):
        name, implied = _method_name(method)
        return METHODS[name](has_aux=has_aux, **{**implied, **options})
    if options:
        raise TypeError(f"options {sorted(options)} apply only to a method given by name")
    if not (hasattr(method, "init") and hasattr(method, "update")):
        raise TypeError(f"method must be a name or a GradientTransformation, got {method!r}")
    return method


_NOT_TAKEN = ("jac", "hess", "hessp", "bounds", "constraints", "callback")


def _scipy_options(options: dict[str, Any] | None, settings: dict[str, Any]) -> dict[str, Any]:
    """``settings`` (tol, max_steps, progress, method options) updated from scipy's ``options`` dict.

    ``maxiter`` is ``max_steps``, ``gtol`` is ``tol`` (on the Euclidean norm), ``disp`` is ``progress``,
    ``maxcor`` is L-BFGS's ``memory_size``.
    """
    for name in _NOT_TAKEN:
        if name in settings["method_options"]:
            raise TypeError(
                f"jaxgd.minimize takes no {name!r}: derivatives come from JAX, and it solves unconstrained "
                "problems only (L-BFGS-B without bounds)"
            )
    if options is None:
        return settings
    known = {"maxiter": "max_steps", "gtol": "tol", "disp": "progress"}
    for key, value in options.items():
        if key in known:
            settings[known[key]] = value
        elif key == "maxcor":
            settings["method_options"]["memory_size"] = value
        else:
            raise ValueError(f"options: unknown key {key!r}; jaxgd.minimize takes {(*known, 'maxcor')}")
    return settings


def _as_x0(x0: Any) -> Any:
    """``x0``, with a list or tuple of numbers (or an integer NumPy array) made a float array, as scipy does."""
    if isinstance(x0, (list, tuple)) and all(isinstance(v, (int, float, np.number)) for v in jax.tree.leaves(x0)):
        return jnp.asarray(np.asarray(x0, dtype=float), dtype=jnp.result_type(float))
    if isinstance(x0, np.ndarray) and np.issubdtype(x0.dtype, np.integer):
        return jnp.asarray(x0.astype(float), dtype=jnp.result_type(float))
    return x0


def default_tol(x0: Any) -> float:
    """The tolerance ``tol=None`` means for ``x0``'s dtype: 1e-8 in float64, else sqrt(eps) (3.5e-4 in float32).

    Near a minimiser the computed gradient of an O(1) problem carries rounding errors of a few hundred
    eps (Rosenbrock's about 5e-5 in float32), so a fixed 1e-8 is out of reach in float32; sqrt(eps) is
    the usual tolerance for a quantity known to eps (Gill, Murray & Wright, Practical Optimization,
    ch. 8). float64 keeps 1e-8 (sqrt(eps) would be 1.5e-8).

    Args:
        x0: The starting point, a pytree of floating-point arrays (its first leaf's dtype decides).

    Returns:
        The tolerance on ||grad f||, a float.
    """
    dtype = jnp.dtype(real_dtype(x0))
    return 1e-8 if dtype == jnp.float64 else float(np.sqrt(jnp.finfo(dtype).eps))


def minimize(
    fun: Callable[..., Any],
    x0: Any,
    method: str | optax.GradientTransformation = "bfgs",
    *,
    args: tuple = (),
    tol: jax.typing.ArrayLike | None = None,
    max_steps: int = 1000,
    has_aux: bool = False,
    history: bool = False,
    progress: bool | int = False,
    options: dict[str, Any] | None = None,
    **method_options: Any,
) -> MinimizeResult:
    """Minimise ``fun(x, *args)`` from ``x0`` until ||grad f|| <= ``tol`` or ``max_steps`` iterations.

    ``method``: ``"bfgs"``, ``"lbfgs"``, ``"newton"``, ``"newton_cg"``, ``"nonlinear_cg"``,
    ``"regularized_newton"``, ``"saddle_free_newton"`` (any case; ``method_options`` go to that
    alias, e.g. ``memory_size=5``, ``linesearch="backtracking"``), scipy's spellings of the same
    methods (``"BFGS"``, ``"L-BFGS"``, ``"L-BFGS-B"`` without bounds, ``"Newton-CG"``, ``"CG"``:
    nonlinear CG with PR+, as scipy's), or any ``GradientTransformationExtraArgs`` taking
    ``value``, ``grad``, ``value_fn``. As ``scipy.optimize.minimize``: ``x0`` may be a list,
    ``args`` are passed to ``fun``, and ``options`` takes ``maxiter`` (``max_steps``), ``gtol``
    (``tol``), ``disp`` (``progress``) and ``maxcor`` (``memory_size``).

    ``tol=None``: 1e-8 in float64, sqrt(eps) in other dtypes (3.5e-4 in float32; :func:`default_tol`),
    a gradient norm the dtype can resolve near a minimiser. The run stops early when a line search
    fails and finds no decrease in f (status 2; a search that met its (approximate) Wolfe conditions
    goes on) or at a non-finite iterate, value or gradient (status 3, returning the last finite
    point and its value); see :class:`MinimizeResult`. The loop is one
    jitted ``lax.while_loop``, the final line search's value and gradient reused. ``fun`` (a
    ``Problem``'s data), ``args`` and ``tol`` are traced: new values do not recompile, and
    ``jax.vmap`` over ``x0`` (or data) solves many problems in one call.

    ``has_aux=True``: ``fun`` returns ``(value, aux)``; the result carries the aux at x.
    ``history=True``: f and ||grad f|| per iteration in ``result.history`` (buffers of length
    ``max_steps + 1``, NaN after the last iteration). ``progress=k`` (True: 10) prints f and
    ||grad f|| every k iterations and at the end, from inside the loop: a host callback per report
    (``jax.debug.callback``, under ``lax.cond``; nothing when False). Under ``vmap`` the cond becomes
    a select, so every iteration reports.

    Args:
        fun: ``fun(x, *args)`` -> real scalar (``(scalar, aux)`` with ``has_aux``), or a :class:`jaxgd.Problem`.
        x0: The starting point: a pytree of floating-point arrays, or a list of numbers.
        method: A method's name (jaxgd's or scipy's spelling) or a gradient transformation.
        args: Extra arguments of ``fun`` (one that is not a tuple is taken as a 1-tuple).
        tol: The tolerance on ||grad f|| (Euclidean, over all leaves), >= 0; None: :func:`default_tol`.
        max_steps: The most iterations, a positive integer.
        has_aux: Whether ``fun`` returns ``(value, aux)``.
        history: Whether to record f and ||grad f|| per iteration.
        progress: False, True (every 10 iterations) or k >= 1: print a line every k iterations.
        options: scipy's options dict: ``maxiter``, ``gtol``, ``disp``, ``maxcor``.
        **method_options: Arguments of the method's alias, for a method given by name.

    Returns:
        The result (:class:`MinimizeResult`): x, f(x), grad f(x), iterations, evaluations and the status.

    Raises:
        ValueError: If the method or an option is unknown, max_steps, tol or progress is out of range,
            or x0 is not finite.
        TypeError: If x0 is not floating point, ``fun`` does not return a real scalar, history is not a
            bool, a scipy argument jaxgd does not take is given (``jac``, ``bounds``, ...), or
            method_options are given with a transformation.
    """
    settings = {"tol": tol, "max_steps": max_steps, "progress": progress, "method_options": dict(method_options)}
    settings = _scipy_options(options, settings)
    tol, max_steps, progress = settings["tol"], settings["max_steps"], settings["progress"]
    _validate.positive_int("max_steps", max_steps)
    if not (isinstance(progress, bool) or (isinstance(progress, int) and progress >= 1)):
        raise ValueError(f"progress must be a bool or a positive int (report every k iterations), got {progress!r}")
    if not isinstance(history, (bool, np.bool_)):
        raise TypeError(f"history must be a bool, got {history!r}")
    args = args if isinstance(args, tuple) else (args,)  # as scipy: one extra argument need not be a tuple
    x0 = _as_x0(x0)
    _validate.float_tree("x0", x0)
    tol = default_tol(x0) if tol is None else tol
    _validate.nonnegative("tol", tol)
    opt = _method(method, has_aux, settings["method_options"])
    every = 0 if progress is False else (10 if progress is True else int(progress))
    return _minimize(
        (opt, objective_of(fun), args),
        x0,
        jnp.asarray(tol, real_dtype(x0)),
        max_steps=max_steps,
        has_aux=has_aux,
        history=bool(history),
        every=every,
    )


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
    status: jax.Array  # -1 while running, then a code of STATUS_MESSAGES
    history: MinimizeHistory | None


def _all_finite(*trees: Any) -> jax.Array:
    """Whether every leaf of ``trees`` is finite everywhere (one bool)."""
    flags = [jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree.leaves(trees)]
    return jnp.all(jnp.stack(flags))


def _status(finite: jax.Array, gnorm: jax.Array, tol: jax.Array, stalled: jax.Array, last: jax.Array) -> jax.Array:
    """The status after an iteration (-1: go on), the first that applies of 3, 0, 2, 1."""
    code = jnp.where(last, 1, -1)
    code = jnp.where(stalled, 2, code)
    code = jnp.where(gnorm <= tol, 0, code)
    return jnp.where(finite, code, 3).astype(jnp.int32)


def _print_progress(steps: Any, value: Any, gnorm: Any, status: Any) -> None:
    end = "" if int(status) < 0 else f"  ({STATUS_MESSAGES[int(status)]})"
    print(f"minimize: iteration {int(steps):6d}  f = {float(value): .6e}  ||grad f|| = {float(gnorm):.3e}{end}")


def _report(every: int, steps: jax.Array, value: jax.Array, gnorm: jax.Array, status: jax.Array) -> None:
    """Print a progress line (a host callback) every ``every`` iterations and at the end; nothing if ``every == 0``."""
    if every == 0:
        return

    def report(operands):
        jax.debug.callback(_print_progress, *operands)

    jax.lax.cond((steps % every == 0) | (status >= 0), report, lambda _: None, (steps, value, gnorm, status))


def _new_point(opt, fun, f, c: _Carry, args: tuple, has_aux: bool) -> tuple:
    """One step from c.x: (x, value, grad, state, evaluation counts, search failed, searched)."""
    step = update_step(opt, fun, c.x, c.state, args, has_aux=has_aux, value_grad=(c.value, c.grad))
    counts = eval_counts(step.state)
    n_fev, n_gev = counts["n_fev"], counts["n_gev"]
    search = _last_linesearch(step.state)
    if search is None:  # evaluate f and grad f at the new point
        value, grad = jax.value_and_grad(f)(step.params)
        return step.params, value, grad, step.state, (n_fev + 1, n_gev + 1, counts["n_hev"]), jnp.zeros([], bool), False
    value = search.value.astype(c.value.dtype)  # the search's value (and gradient) at the accepted point
    if search.grad is None:
        grad, n_gev = jax.grad(f)(step.params), n_gev + 1
    else:
        grad = optax.tree.cast_like(search.grad, c.grad)
    return step.params, value, grad, step.state, (n_fev, n_gev, counts["n_hev"]), search.failed, True


@filter_jit(static_argnames=("max_steps", "has_aux", "history", "every"))
def _minimize(
    opt_fun_args: tuple, x0: Any, tol: jax.Array, *, max_steps: int, has_aux: bool, history: bool, every: int
) -> MinimizeResult:
    opt, fun, args = opt_fun_args
    _validate.scalar_output(fun, x0, args, has_aux, what="objective")  # at trace time: once per compilation

    def f(x):
        out = fun(x, *args)
        return out[0] if has_aux else out

    v0, g0 = jax.value_and_grad(f)(x0)
    gnorm0 = tree_norm(g0)
    hist = None
    if history:
        nan = jnp.full(max_steps + 1, jnp.nan, v0.dtype)
        hist = MinimizeHistory(nan.at[0].set(v0), nan.at[0].set(gnorm0.astype(v0.dtype)))
    status0 = _status(_all_finite(v0, g0), gnorm0, tol, jnp.zeros([], bool), jnp.zeros([], bool))

    def body(c: _Carry) -> _Carry:
        x, value, grad, state, (n_fev, n_gev, n_hev), failed, searched = _new_point(opt, fun, f, c, args, has_aux)
        finite = _all_finite(x, value, grad)
        gnorm = tree_norm(grad)
        # a failed search that made no decrease in f stops the run; one that met its (approximate) Wolfe
        # conditions goes on, as its slope shows progress where f is flat to rounding
        stalled = jnp.asarray(searched) & ~(value < c.value) & failed
        status = _status(finite, gnorm, tol, stalled, c.steps + 1 >= max_steps)
        steps = jnp.where(finite, c.steps + 1, c.steps)
        new = (x, value, grad, state, failed)
        x, value, grad, state, failed = (
            optax.tree.where(finite, n, o) for n, o in zip(new, (c.x, c.value, c.grad, c.state, c.failed))
        )
        hist = c.history
        if history:
            i = c.steps + 1  # <= max_steps: the loop runs only while c.steps < max_steps
            hist = MinimizeHistory(
                hist.value.at[i].set(jnp.where(finite, value, jnp.nan)),
                hist.grad_norm.at[i].set(jnp.where(finite, gnorm, jnp.nan).astype(hist.grad_norm.dtype)),
            )
        _report(every, steps, value, tree_norm(grad), status)
        counts = (c.n_fev + n_fev, c.n_gev + n_gev, c.n_hev + n_hev)
        return _Carry(x, value, grad, state, steps, *counts, failed, status, hist)

    no = jnp.zeros([], bool)
    start = _Carry(x0, v0, g0, opt.init(x0), zero(), one(), one(), zero(), no, status0, hist)
    c = jax.lax.while_loop(lambda c: c.status < 0, body, start)
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
        converged=c.status == 0,
        linesearch_failed=c.failed,
        status=c.status,
        aux=fun(c.x, *args)[1] if has_aux else None,
        history=c.history,
    )
