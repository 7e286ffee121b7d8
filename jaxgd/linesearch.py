"""Line searches: gradient transformations that scale an incoming direction by a step size.

Each is an ``optax.GradientTransformationExtraArgs`` in the style of
``optax.scale_by_backtracking_linesearch`` and ``optax.scale_by_zoom_linesearch``:
``update(d, state, x, value=f(x), grad=grad f(x), value_fn=f)`` returns ``a d``
for a step ``a`` found along the direction ``d``. Place one last in a chain,
after any direction: a quasi-Newton one (:mod:`jaxgd.second_order`) or a
first-order one (``jaxgd.chain(jaxgd.sgd(1.0), scale_by_backtracking_linesearch())``).

The state reports the search: the step, the value (and gradient) at the
accepted point, the number of trials and evaluations, and ``failed``, set when
no step meeting the search's conditions was found (the step taken is then the
best step with sufficient decrease, or 0). ``has_aux=True`` accepts objectives
returning ``(value, aux)`` (optax issue 1053). Keyword arguments of ``update``
that ``value_fn`` accepts by name (data, say) are passed on to it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxgd import _validate
from jaxgd._core import real_dtype

__all__ = [
    "LinesearchState",
    "scale_by_backtracking_linesearch",
    "scale_by_exact_linesearch",
    "scale_by_zoom_linesearch",
]

InitialGuess = Literal["one", "keep", "quadratic"]


class LinesearchState(NamedTuple):
    """State of a line search, describing its last round.

    Attributes:
      learning_rate: the step a accepted (0 when nothing was accepted).
      value: f at the accepted point x + a d (f(x) when a = 0).
      grad: grad f at the accepted point, or None when the search does not compute it.
      value_init: f(x) at the start of the last round (for the next initial guess).
      slope_init: the slope grad f(x) . d at the start of the last round.
      num_steps: trial steps evaluated in the last round.
      n_fev: function evaluations in the last round.
      n_gev: gradient evaluations in the last round.
      failed: True when no step met the search's conditions.
    """

    learning_rate: jax.Array
    value: jax.Array
    grad: Any
    value_init: jax.Array
    slope_init: jax.Array
    num_steps: jax.Array
    n_fev: jax.Array
    n_gev: jax.Array
    failed: jax.Array


# --------------------------------------------------------------------------- helpers shared with second_order


def fn_kwargs(value_fn: Callable, extra_args: dict[str, Any]) -> dict[str, Any]:
    """The entries of ``extra_args`` that ``value_fn`` takes by name (its data, say)."""
    if not extra_args:
        return {}
    try:
        params = inspect.signature(value_fn).parameters
    except (TypeError, ValueError):
        return {}
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return dict(extra_args)
    return {k: v for k, v in extra_args.items() if k in params}


def scalar_fn(value_fn: Callable | None, has_aux: bool, kwargs: dict[str, Any], who: str) -> Callable:
    """``x -> f(x)``, dropping the aux output when ``has_aux``; a clear error when value_fn is missing."""
    if value_fn is None:
        raise TypeError(f"{who} needs the objective: call update(..., value=f(x), grad=g, value_fn=f)")

    def f(x):
        out = value_fn(x, **kwargs)
        return out[0] if has_aux else out

    return f


def _counter() -> jax.Array:
    return jnp.zeros([], jnp.int32)


def _init_state(params: Any, store_grad: bool) -> LinesearchState:
    dtype = real_dtype(params)
    return LinesearchState(
        learning_rate=jnp.ones([], dtype),
        value=jnp.asarray(jnp.inf, dtype),
        grad=optax.tree.zeros_like(params) if store_grad else None,
        value_init=jnp.asarray(jnp.inf, dtype),
        slope_init=jnp.zeros([], dtype),
        num_steps=_counter(),
        n_fev=_counter(),
        n_gev=_counter(),
        failed=jnp.zeros([], bool),
    )


def _check_common(max_steps: Any, c1: Any) -> None:
    _validate.positive_int("max_steps", max_steps)
    _validate.in_closed_interval("c1", c1, 0.0, 1.0)
    for v in _validate._values(c1):
        if not 0.0 < v < 1.0:
            raise ValueError(f"c1 must lie in (0, 1), got c1={v!r}")


def _initial_guess(
    strategy: str, state: LinesearchState, value: jax.Array, slope: jax.Array, grad_norm: jax.Array
) -> jax.Array:
    """The first trial step: 1, the previous step, or scipy's min(1, 1.01 * 2 (f_k - f_{k-1}) / slope_k)
    (Nocedal & Wright (3.60); f_{-1} = f_0 + ||g_0|| / 2, so the first step is about 1 / ||g_0|| long).
    When the last round made no decrease (the guess is not positive), the previous step."""
    one = jnp.ones_like(slope)
    if strategy == "one":
        return one
    keep = jnp.where(state.learning_rate > 0, state.learning_rate, one)
    if strategy == "keep":
        return keep
    prev = jnp.where(jnp.isfinite(state.value_init), state.value_init, value + 0.5 * grad_norm)
    guess = jnp.minimum(one, 1.01 * 2.0 * (value - prev) / slope)
    return jnp.where(jnp.isfinite(guess) & (guess > 0), guess, keep)


# --------------------------------------------------------------------------- backtracking (Armijo)


def _check_backtracking(
    max_steps: Any, c1: Any, decrease_factor: Any, increase_factor: Any, max_learning_rate: Any
) -> None:
    """Raise a ValueError naming the first bad argument of :func:`scale_by_backtracking_linesearch`."""
    _check_common(max_steps, c1)
    _validate.in_closed_interval("decrease_factor", decrease_factor, 0.0, 1.0)
    for v in _validate._values(decrease_factor):
        if not 0.0 < v < 1.0:
            raise ValueError(f"decrease_factor must lie in (0, 1), got decrease_factor={v!r}")
    for v in _validate._values(increase_factor):
        if not v >= 1.0:
            raise ValueError(f"increase_factor must be >= 1, got increase_factor={v!r}")
    _validate.positive("max_learning_rate", max_learning_rate)


def _grad_at_step(
    f: Callable, params: Any, updates: Any, step: jax.Array, ok: jax.Array, grad: Any
) -> tuple[Any, jax.Array]:
    """(grad f at x + step d, 1) when a step was accepted, else (``grad``, 0): the gradient a search stores."""
    new_x = optax.tree.add_scale(params, step, updates)
    new_grad = jax.lax.cond(ok, jax.grad(f), lambda _: grad, new_x)
    return optax.tree.cast_like(new_grad, grad), ok.astype(jnp.int32)


def scale_by_backtracking_linesearch(
    max_steps: int = 30,
    c1: jax.typing.ArrayLike = 1e-4,
    decrease_factor: jax.typing.ArrayLike = 0.5,
    increase_factor: jax.typing.ArrayLike = jnp.inf,
    max_learning_rate: jax.typing.ArrayLike = 1.0,
    *,
    store_grad: bool = False,
    has_aux: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """Backtracking line search for the Armijo (sufficient decrease) condition::

        f(x + a d) <= f(x) + c1 a grad f(x) . d

    Starts from a = min(increase_factor a_prev, max_learning_rate) (the default,
    ``increase_factor=inf``, starts every round at max_learning_rate = 1, as
    Newton's method wants) and multiplies a by ``decrease_factor`` until the
    condition holds, for at most ``max_steps`` trials. With
    ``decrease_factor=0.8, increase_factor=1.5`` it is
    ``optax.scale_by_backtracking_linesearch(max_steps)`` with optax's defaults
    (jaxgd's differ on purpose: a = 1 first in every round, halved). If d is not a descent
    direction (grad f . d >= 0) or no trial succeeds, the step is 0 and
    ``failed`` is set. ``store_grad=True`` also returns grad f at the accepted point.

    Reference: Armijo (1966); Nocedal & Wright (2006), Algorithm 3.1.

    Args:
        max_steps: The most trials per round, a positive integer.
        c1: The sufficient-decrease constant, in (0, 1).
        decrease_factor: a's factor after a failed trial, in (0, 1).
        increase_factor: a's factor from the last round's step to the first trial, >= 1.
        max_learning_rate: The largest trial step, > 0.
        store_grad: Whether to keep grad f at the accepted point in the state (one more gradient).
        has_aux: Whether ``value_fn`` returns ``(value, aux)``.

    Returns:
        An ``optax.GradientTransformationExtraArgs``; its update needs ``value_fn`` (and takes ``value``
            and ``grad``, which save evaluations).

    Raises:
        ValueError: If an argument is out of range.
    """
    _check_backtracking(max_steps, c1, decrease_factor, increase_factor, max_learning_rate)

    def init_fn(params):
        return _init_state(params, store_grad)

    def update_fn(updates, state, params, *, value=None, grad=None, value_fn=None, **extra_args):
        f = scalar_fn(value_fn, has_aux, fn_kwargs(value_fn, extra_args), "scale_by_backtracking_linesearch")
        if grad is None:
            grad = jax.grad(f)(params)
            value = f(params) if value is None else value
        value = jnp.asarray(value)
        slope = optax.tree.vdot(updates, grad).real.astype(value.dtype)
        descent = slope < 0
        guess = jnp.minimum(increase_factor * state.learning_rate, max_learning_rate).astype(value.dtype)

        def armijo(a, f_a):
            return f_a <= value + c1 * a * slope

        def cond(carry):
            i, _, _, ok = carry
            return descent & ~ok & (i < max_steps)

        def body(carry):
            i, a, _, _ = carry
            a = jnp.where(i > 0, decrease_factor * a, a).astype(value.dtype)
            f_a = f(optax.tree.add_scale(params, a, updates)).astype(value.dtype)
            return i + 1, a, f_a, armijo(a, f_a)

        n, a, f_a, ok = jax.lax.while_loop(cond, body, (_counter(), guess, value, jnp.zeros([], bool)))
        step = jnp.where(ok, a, 0.0).astype(value.dtype)
        new_value = jnp.where(ok, f_a, value)
        new_grad, n_gev = _grad_at_step(f, params, updates, step, ok, grad) if store_grad else (None, _counter())
        new_state = LinesearchState(
            learning_rate=jnp.where(ok, a, state.learning_rate).astype(state.learning_rate.dtype),
            value=new_value.astype(state.value.dtype),
            grad=new_grad,
            value_init=value.astype(state.value.dtype),
            slope_init=slope.astype(state.value.dtype),
            num_steps=n,
            n_fev=n,
            n_gev=n_gev,
            failed=~ok,
        )
        return optax.tree.scale(step, updates), new_state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


# --------------------------------------------------------------------------- strong Wolfe (zoom)


# The zoom search's scalar state, packed in one vector of the value's dtype (flags as 0/1, the
# trial count as a float), so that each trial of the while loop updates it in one fused kernel
# rather than one kernel and one buffer per scalar (much cheaper per trial on CPU).
_ZOOM_FIELDS = (
    "count",
    "zooming",
    "done",
    "wolfe",
    "trial",
    "prev",  # previous trial (bracketing phase) and its value and slope
    "f_prev",
    "s_prev",
    "lo",
    "f_lo",
    "s_lo",
    "hi",
    "f_hi",
    "s_hi",
    "best",  # best step with sufficient decrease so far and its value (its gradient is carried apart)
    "f_best",
    "width",  # the interval's width after the last two trials (inf until zooming)
    "width1",
)
_ZOOM_FLAGS = ("zooming", "done", "wolfe")


def _zoom_unpack(vec: jax.Array) -> dict[str, jax.Array]:
    out = {name: vec[i] for i, name in enumerate(_ZOOM_FIELDS)}
    for name in _ZOOM_FLAGS:
        out[name] = out[name] != 0
    return out


def _zoom_pack(fields: dict[str, Any], dtype: Any) -> jax.Array:
    # a chain of selects on an iota (not jnp.stack, which XLA splits into one kernel per entry)
    where = jax.lax.broadcasted_iota(jnp.int32, (len(_ZOOM_FIELDS),), 0)
    out = jnp.zeros(len(_ZOOM_FIELDS), dtype)
    for i, name in enumerate(_ZOOM_FIELDS):
        out = jnp.where(where == i, jnp.asarray(fields[name]).astype(dtype), out)
    return out


def _cubic_step(lo, f_lo, s_lo, hi, f_hi, s_hi):
    """The next trial between lo (the best step so far) and hi: the minimiser of the cubic through
    (lo, f_lo, s_lo), (hi, f_hi, s_hi) (Nocedal & Wright (3.59)), else of the quadratic through
    (lo, f_lo, s_lo) and (hi, f_hi), else the midpoint; moved into the middle 80% of the interval.

    A minimiser near an end is approached by a tenth of the interval a trial, where bisection
    gives a half (Brown's badly scaled function wants steps 1e-12 of the first bracket); the
    interval still shrinks, as :func:`_zoom_decide` bisects when two trials left it over 0.66 as
    wide (More & Thuente, 1994). When f_lo and f_hi differ by rounding only (100 eps |f|), the
    values say nothing and the slopes are interpolated (the secant a = lo - s_lo w / (s_hi - s_lo)),
    so that a search near a minimiser, where f is flat to rounding, still finds its step.
    """
    width = hi - lo
    d1 = s_lo + s_hi - 3.0 * (f_lo - f_hi) / (lo - hi)
    rad = d1 * d1 - s_lo * s_hi
    d2 = jnp.sign(width) * jnp.sqrt(jnp.maximum(rad, 0.0))
    cubic = hi - width * (s_hi + d2 - d1) / (s_hi - s_lo + 2.0 * d2)
    quad = lo + 0.5 * s_lo / ((f_lo - f_hi) / width + s_lo) * width
    secant = lo - s_lo * width / (s_hi - s_lo)
    left, right, mid = jnp.minimum(lo, hi), jnp.maximum(lo, hi), 0.5 * (lo + hi)

    def inside(a):
        return jnp.isfinite(a) & (a > left) & (a < right)

    a = jnp.where(inside(cubic) & (rad >= 0), cubic, jnp.where(inside(quad), quad, mid))
    blind = jnp.abs(f_hi - f_lo) <= 100 * jnp.finfo(a.dtype).eps * jnp.maximum(jnp.abs(f_lo), jnp.abs(f_hi))
    a = jnp.where(blind, jnp.where(inside(secant), secant, mid), a)
    margin = 0.1 * jnp.abs(width)
    return jnp.clip(a, left + margin, right - margin)


def _check_zoom(
    max_steps: Any,
    c1: Any,
    c2: Any,
    max_learning_rate: Any,
    increase_factor: Any,
    approx_dec_rtol: Any,
    initial_guess: Any,
) -> None:
    """Raise a ValueError naming the first bad argument of :func:`scale_by_zoom_linesearch`."""
    _check_common(max_steps, c1)
    for v1 in _validate._values(c1):
        for v2 in _validate._values(c2):
            if not v1 < v2 < 1.0:
                raise ValueError(f"need 0 < c1 < c2 < 1, got c1={v1!r}, c2={v2!r}")
    for v in _validate._values(max_learning_rate):
        if not v > 0:
            raise ValueError(f"max_learning_rate must be positive, got max_learning_rate={v!r}")
    for v in _validate._values(increase_factor):
        if not (v > 1.0 and v < jnp.inf):
            raise ValueError(f"increase_factor must be > 1 and finite, got increase_factor={v!r}")
    if approx_dec_rtol is not None:
        _validate.nonnegative("approx_dec_rtol", approx_dec_rtol)
    _validate.one_of("initial_guess", initial_guess, ("one", "keep", "quadratic"))


def _zoom_start(value: jax.Array, slope: jax.Array, guess: jax.Array, descent: jax.Array) -> dict[str, Any]:
    """The fields before the first trial: bracketing from 0 to ``guess``, best step 0; done at once unless descent."""
    zero = jnp.zeros([], value.dtype)
    return {
        "count": zero,
        "zooming": False,
        "done": ~descent,
        "wolfe": False,
        "trial": guess,
        "prev": zero,
        "f_prev": value,
        "s_prev": slope,
        "lo": zero,
        "f_lo": value,
        "s_lo": slope,
        "hi": zero,
        "f_hi": value,
        "s_hi": slope,
        "best": zero,
        "f_best": value,
        "width": jnp.inf,
        "width1": jnp.inf,
    }


def _sufficient_decrease(a, f_a, s_a, value, slope, c1, approx_dec_rtol) -> tuple[jax.Array, jax.Array]:
    """(Armijo's f(x + a d) <= f(x) + c1 a slope or Hager & Zhang's approximate Wolfe decrease, the latter alone)
    at a finite trial. The approximate decrease: slope(a) <= (2 c1 - 1) slope(0) and
    f(x + a d) <= f(x) + approx_dec_rtol |f(x)| (never, with ``approx_dec_rtol=None``)."""
    finite = jnp.isfinite(f_a) & jnp.isfinite(s_a)
    armijo = f_a <= value + c1 * a * slope
    if approx_dec_rtol is None:
        return armijo & finite, jnp.zeros_like(finite)
    approx = (s_a <= (2 * c1 - 1) * slope) & (f_a <= value + approx_dec_rtol * jnp.abs(value)) & finite
    return (armijo & finite) | approx, approx


def _bracket_phase(z: dict, a, f_a, s_a, dec, curv) -> tuple[tuple, jax.Array, jax.Array, jax.Array]:
    """Bracketing (Nocedal & Wright, Algorithm 3.5) after trial a: the interval (lo, f_lo, s_lo, hi, f_hi, s_hi)
    it would zoom in, whether a is a strong Wolfe step, whether to zoom next, whether to grow a."""
    b_hi = ~dec | ((f_a > z["f_prev"]) & (z["count"] > 0))
    b_wolfe = ~b_hi & curv
    b_swap = ~b_hi & ~curv & (s_a >= 0)
    b_grow = ~b_hi & ~curv & (s_a < 0)
    interval = (
        jnp.where(b_hi, z["prev"], a),
        jnp.where(b_hi, z["f_prev"], f_a),
        jnp.where(b_hi, z["s_prev"], s_a),
        jnp.where(b_hi, a, z["prev"]),
        jnp.where(b_hi, f_a, z["f_prev"]),
        jnp.where(b_hi, s_a, z["s_prev"]),
    )
    return interval, b_wolfe, b_hi | b_swap, b_grow


def _zoom_phase(z: dict, a, f_a, s_a, dec, curv) -> tuple[tuple, jax.Array]:
    """Zoom (Nocedal & Wright, Algorithm 3.6) after trial a: the shrunk interval, whether a is a strong Wolfe step.

    A trial whose value equals f_lo is not "higher" (the book's >=): where f is flat to rounding its slope decides.
    """
    z_hi = ~dec | (f_a > z["f_lo"])
    z_wolfe = ~z_hi & curv
    z_flip = ~z_hi & ~curv & (s_a * (z["hi"] - z["lo"]) >= 0)
    interval = (
        jnp.where(z_hi, z["lo"], a),
        jnp.where(z_hi, z["f_lo"], f_a),
        jnp.where(z_hi, z["s_lo"], s_a),
        jnp.where(z_hi, a, jnp.where(z_flip, z["lo"], z["hi"])),
        jnp.where(z_hi, f_a, jnp.where(z_flip, z["f_lo"], z["f_hi"])),
        jnp.where(z_hi, s_a, jnp.where(z_flip, z["s_lo"], z["s_hi"])),
    )
    return interval, z_wolfe


def _zoom_decide(
    z: dict, a, f_a, s_a, dec, curv, approx_wolfe, max_learning_rate, increase_factor, threshold
) -> tuple[dict, Any]:
    """The fields after trial a (the current phase's interval, the next trial: grown or cubic, the best step,
    whether done), and whether a's gradient is kept (a is a strong Wolfe step or the best so far)."""
    better = dec & (f_a <= z["f_best"])
    best, f_best = jnp.where(better, a, z["best"]), jnp.where(better, f_a, z["f_best"])
    if_b, b_wolfe, b_to_zoom, b_grow = _bracket_phase(z, a, f_a, s_a, dec, curv)
    at_max = a >= max_learning_rate
    if_z, z_wolfe = _zoom_phase(z, a, f_a, s_a, dec, curv)

    zoom = z["zooming"]
    wolfe = jnp.where(zoom, z_wolfe, b_wolfe) | approx_wolfe
    lo, f_lo, s_lo, hi, f_hi, s_hi = (jnp.where(zoom, zi, bi) for zi, bi in zip(if_z, if_b))
    zooming = zoom | (~zoom & b_to_zoom)
    grow = ~zoom & b_grow
    width = jnp.abs(hi - lo)
    interp = _cubic_step(lo, f_lo, s_lo, hi, f_hi, s_hi)
    interp = jnp.where(zooming & (width >= 0.66 * z["width1"]), 0.5 * (lo + hi), interp)  # More & Thuente's rule
    next_trial = jnp.where(grow, jnp.minimum(increase_factor * a, max_learning_rate), interp)
    tiny = zooming & (jnp.abs(hi - lo) <= threshold * jnp.maximum(jnp.abs(hi), jnp.abs(lo)))
    fields = {
        "count": z["count"] + 1,
        "zooming": zooming,
        "done": wolfe | (grow & at_max) | tiny,
        "wolfe": wolfe,
        "trial": next_trial,
        "prev": jnp.where(grow, a, z["prev"]),
        "f_prev": jnp.where(grow, f_a, z["f_prev"]),
        "s_prev": jnp.where(grow, s_a, z["s_prev"]),
        "lo": lo,
        "f_lo": f_lo,
        "s_lo": s_lo,
        "hi": hi,
        "f_hi": f_hi,
        "s_hi": s_hi,
        "best": jnp.where(wolfe, a, best),
        "f_best": jnp.where(wolfe, f_a, f_best),
        "width": jnp.where(zooming, width, jnp.inf),
        "width1": jnp.where(zooming, z["width"], jnp.inf),
    }
    return fields, wolfe | better


def _zoom_result(z: dict, g_best: Any, state: LinesearchState, value: jax.Array, slope: jax.Array) -> LinesearchState:
    """The state after a search ending with fields ``z``: the best step (the last one kept when it is 0)."""
    count = z["count"].astype(jnp.int32)
    return LinesearchState(
        learning_rate=jnp.where(z["best"] > 0, z["best"], state.learning_rate).astype(state.learning_rate.dtype),
        value=z["f_best"].astype(state.value.dtype),
        grad=optax.tree.cast_like(g_best, state.grad),
        value_init=value.astype(state.value.dtype),
        slope_init=slope.astype(state.value.dtype),
        num_steps=count,
        n_fev=count,
        n_gev=count,
        failed=~z["wolfe"],
    )


def scale_by_zoom_linesearch(
    max_steps: int = 30,
    c1: jax.typing.ArrayLike = 1e-4,
    c2: jax.typing.ArrayLike = 0.9,
    max_learning_rate: jax.typing.ArrayLike = jnp.inf,
    increase_factor: jax.typing.ArrayLike = 2.0,
    approx_dec_rtol: jax.typing.ArrayLike | None = 1e-6,
    *,
    initial_guess: InitialGuess = "one",
    has_aux: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """Line search for the strong Wolfe conditions (bracketing, then zoom)::

        f(x + a d) <= f(x) + c1 a grad f(x) . d        (sufficient decrease)
        |grad f(x + a d) . d| <= c2 |grad f(x) . d|      (curvature)

    Bracketing grows a from the initial guess by ``increase_factor`` until an
    interval holding a strong Wolfe step is found; zoom shrinks it by safeguarded
    cubic interpolation (the slopes' secant where f is flat to rounding; bisection
    when two trials left the interval over 0.66 as wide, as More & Thuente's). Each trial costs one value and
    gradient; the value and gradient at the accepted step are kept in the state
    (so a loop need not evaluate them again). ``initial_guess``: ``"one"``
    (Newton and quasi-Newton directions), ``"keep"`` (the last step) or
    ``"quadratic"`` (a = 2 (f_k - f_{k-1}) / slope, scipy's choice, for
    conjugate gradients). A trial also passes with Hager & Zhang's approximate
    Wolfe conditions, judged by the slope alone where f is flat to rounding::

        f(x + a d) <= f(x) + approx_dec_rtol |f(x)|,  (2 c1 - 1) slope(0) >= slope(a),  |slope(a)| <= c2 |slope(0)|

    Near a minimiser the decrease along the line (~ ||g||^2 / lambda) falls below
    the rounding of f (~ eps |f|, more for a sum): Armijo's test then rejects every
    trial by rounding noise (an ulp's change in the arithmetic, e.g. without FMA,
    decides whether a run stops short), while the slope still shows progress.
    ``approx_dec_rtol=None`` turns the test off. If ``max_steps`` trials find no
    (approximate) Wolfe step, the best step with sufficient decrease (or 0) is
    taken and ``failed`` is set. Defaults differ from ``optax.scale_by_zoom_linesearch``'s
    on purpose: the first trial 1 (optax: ``"keep"``), and interpolation as above
    (optax: cubic, quadratic, bisection); ``approx_dec_rtol=1e-6`` is optax's and
    CG_DESCENT's (on chained Rosenbrock, n = 2, 10, 100, bfgs, lbfgs, nonlinear_cg
    take the same iterations and evaluations with it as without).

    References: Nocedal & Wright (2006), Algorithms 3.5 and 3.6; Hager & Zhang (2006).

    Args:
        max_steps: The most trials per round, a positive integer.
        c1: The sufficient-decrease constant, 0 < c1 < c2.
        c2: The curvature constant, c1 < c2 < 1 (0.9 for quasi-Newton, 0.1 for conjugate gradients).
        max_learning_rate: The largest trial step, > 0 (inf: none).
        increase_factor: a's factor while bracketing, > 1 and finite.
        approx_dec_rtol: The relative increase of f the approximate Wolfe test accepts, >= 0; None: no test.
        initial_guess: ``"one"``, ``"keep"`` or ``"quadratic"``.
        has_aux: Whether ``value_fn`` returns ``(value, aux)``.

    Returns:
        An ``optax.GradientTransformationExtraArgs``; its update needs ``value_fn`` (and takes ``value``
            and ``grad``, which save evaluations).

    Raises:
        ValueError: If an argument is out of range or initial_guess is unknown.
    """
    _check_zoom(max_steps, c1, c2, max_learning_rate, increase_factor, approx_dec_rtol, initial_guess)

    def init_fn(params):
        return _init_state(params, True)

    def update_fn(updates, state, params, *, value=None, grad=None, value_fn=None, **extra_args):
        f = scalar_fn(value_fn, has_aux, fn_kwargs(value_fn, extra_args), "scale_by_zoom_linesearch")
        value_and_grad = jax.value_and_grad(f)
        if grad is None or value is None:
            value, grad = value_and_grad(params)
        value = jnp.asarray(value)
        dtype = value.dtype
        slope = optax.tree.vdot(updates, grad).real.astype(dtype)
        guess = _initial_guess(initial_guess, state, value, slope, optax.tree.norm(grad))
        guess = jnp.minimum(guess, max_learning_rate).astype(dtype)
        threshold = 10 * jnp.finfo(dtype).eps

        def cond(carry):
            z = _zoom_unpack(carry[0])
            return ~z["done"] & (z["count"] < max_steps)

        def body(carry):  # one trial: evaluate f and its slope at a, then bracket or zoom
            z, g_best = _zoom_unpack(carry[0]), carry[1]
            a = z["trial"]
            f_a, g_a = value_and_grad(optax.tree.add_scale(params, a, updates))
            f_a = jnp.asarray(f_a).astype(dtype)
            s_a = optax.tree.vdot(updates, g_a).real.astype(dtype)
            dec, approx = _sufficient_decrease(a, f_a, s_a, value, slope, c1, approx_dec_rtol)
            curv = jnp.abs(s_a) <= -c2 * slope
            fields, keep = _zoom_decide(
                z, a, f_a, s_a, dec, curv, approx & curv, max_learning_rate, increase_factor, threshold
            )
            g_best = optax.tree.where(keep, g_a, g_best)
            return _zoom_pack(fields, dtype), optax.tree.cast_like(g_best, grad)

        start = _zoom_pack(_zoom_start(value, slope, guess, slope < 0), dtype)
        packed, g_best = jax.lax.while_loop(cond, body, (start, grad))
        z = _zoom_unpack(packed)
        return optax.tree.scale(z["best"], updates), _zoom_result(z, g_best, state, value, slope)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


# --------------------------------------------------------------------------- exact (1-D Newton)


def scale_by_exact_linesearch(
    max_steps: int = 1, tol: jax.typing.ArrayLike = 0.0, *, has_aux: bool = False
) -> optax.GradientTransformationExtraArgs:
    """Exact line search by Newton's method on phi(a) = f(x + a d)::

        a <- a - phi'(a) / phi''(a),   from a = 0

    phi'' comes from forward-over-reverse differentiation (a Hessian-vector
    product). On a quadratic one iteration (the default) gives the exact
    minimiser a* = -grad f . d / d^T H d, the line search of linear conjugate
    gradients; elsewhere it is a local 1-D Newton method without safeguards:
    ``failed`` is set if phi'' <= 0 or the result is not finite (the step is then 0).
    Iterations stop early once |phi'(a)| <= tol.

    Args:
        max_steps: Newton iterations per round, a positive integer.
        tol: Stop once |phi'(a)| <= tol, >= 0.
        has_aux: Whether ``value_fn`` returns ``(value, aux)``.

    Returns:
        An ``optax.GradientTransformationExtraArgs``; its update needs ``value_fn``.

    Raises:
        ValueError: If max_steps is not a positive integer or tol is negative.
    """
    _validate.positive_int("max_steps", max_steps)
    _validate.nonnegative("tol", tol)

    def init_fn(params):
        return _init_state(params, False)

    def update_fn(updates, state, params, *, value=None, grad=None, value_fn=None, **extra_args):
        f = scalar_fn(value_fn, has_aux, fn_kwargs(value_fn, extra_args), "scale_by_exact_linesearch")
        dtype = real_dtype(params)

        def phi(a):
            return f(optax.tree.add_scale(params, a, updates))

        dphi = jax.grad(phi)
        d2phi = jax.grad(dphi)

        def cond(carry):
            i, a, ok = carry
            return ok & (i < max_steps) & (jnp.abs(dphi(a)) > tol)

        def body(carry):
            i, a, _ = carry
            curv = d2phi(a)
            a_new = a - dphi(a) / curv
            return i + 1, a_new.astype(dtype), (curv > 0) & jnp.isfinite(a_new)

        n, a, ok = jax.lax.while_loop(cond, body, (_counter(), jnp.zeros([], dtype), jnp.ones([], bool)))
        ok = ok & jnp.isfinite(a)
        step = jnp.where(ok, a, 0.0).astype(dtype)
        new_value = phi(step) if value is None else jnp.where(ok, phi(step), value)
        slope = optax.tree.vdot(updates, grad).real if grad is not None else dphi(jnp.zeros([], dtype))
        new_state = LinesearchState(
            learning_rate=step.astype(state.learning_rate.dtype),
            value=jnp.asarray(new_value).astype(state.value.dtype),
            grad=None,
            value_init=(state.value_init if value is None else jnp.asarray(value)).astype(state.value.dtype),
            slope_init=jnp.asarray(slope).astype(state.value.dtype),
            num_steps=n,
            n_fev=n + 1,
            n_gev=2 * n,
            failed=~ok,
        )
        return optax.tree.scale(step, updates), new_state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
