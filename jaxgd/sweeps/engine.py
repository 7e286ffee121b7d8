"""The compiled sweep: one run's loop with its checkpoint-and-replay, vmapped over a chunk of runs.

A jaxgd optimizer is a pytree of its hyperparameters, so ``make_optimizer(**hp)``
called inside ``vmap`` with traced scalars is an optimizer per run: no
``optax.inject_hyperparams`` and none of its casts (optax issue 1532).

The loop of one run (:func:`run_one`): a step makes x_{t+1} from grad f(x_t) and
folds a loss into one running number r = min_s f(x_s), which breaks for good (to
-inf) at the first bad value (non-finite or above the blow-up limit). Nothing is
frozen inside the loop, so a step costs one fused loop more than a final-loss-only
sweep; a diverged run goes on (its non-finite numbers reach no other run, the lanes
of ``vmap`` being independent). The steps run in blocks of ``block``: at each
block's end, a run whose r has not broken (has not fallen to ``tol``) moves a
checkpoint there, so the checkpoint stays at the start of the block in which that
happened. After the loop at most ``block`` steps are replayed from each checkpoint,
checking every step, which gives the exact divergence step d, the iterate x_{d-1}
the run is frozen at, the best loss before d and the first step at ``tol``. Only
the loss is checked; a non-finite gradient makes the next loss non-finite. The
default ``block``, about sqrt(steps), balances the per-block bookkeeping
(steps / block) against the replay (block steps).

Levels: ``tol`` and the ``targets`` are each a level, reached at the first step with
f(x_t) - a <= b (a = 0, b = tol; a = f*, b = tau (f(x_0) - f*)). Each has its own
checkpoint, moved at block ends while r - a > b, and its own replay (all replayed in
one vmapped loop).

Only the summaries of ``plan.summaries`` are computed. Without any of those that
check every step (:data:`CHECKED`: best, diverged, tol, targets) the loop is the
plain one a final-loss-only sweep writes: steps, nothing folded, nothing frozen; a
run then counts as diverged when its final loss is bad, and its final iterate is x_T.

With ``value_with_grad`` (:mod:`jaxgd.sweeps.backend`) a step folds f(x_t), taken
from the forward pass of its gradient, instead of evaluating f(x_{t+1}) anew, and
each block ends by folding f at its last iterate, so r means the same at every
block's end.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgd._core import Static, combine, tree_norm, update_step
from jaxgd.sweeps.result import SUMMARY_FIELDS
from jaxgd.sweeps.small_sums import unroll_small_sums

__all__ = ["CHECKED", "DEFAULT_SUMMARIES", "Plan", "Summary", "curve_steps", "default_block", "run_one", "sweep_chunk"]

# The summaries that need every step's loss checked (the running minimum and the checkpoints); without any of them
# the loop only steps.
CHECKED = frozenset({"best", "diverged", "tol", "targets"})
# What a sweep computes when not told (with "tol", "targets" and "curve" when their options are given).
DEFAULT_SUMMARIES = ("final", "best", "diverged", "grad_norm")


@dataclasses.dataclass(frozen=True)
class Plan:
    """Everything static about a compiled chunk; equal plans share one compiled program.

    Attributes:
      make_optimizer: the factory, called with the hyperparameters ``names`` as traced scalars.
      names: the space's hyperparameter names, in the order of the chunk's columns.
      loss_static: the non-array part of the loss (:func:`jaxgd._core.partition`).
      many_problems: whether the problem axis is mapped (else of length 1).
      many_starts: whether the start axis is mapped (else of length 1).
      steps: as in :func:`jaxgd.sweep`.
      curve_every: as in :func:`jaxgd.sweep`.
      keep_params: as in :func:`jaxgd.sweep`.
      block: as in :func:`jaxgd.sweep`.
      summaries: the names of the summaries computed (:data:`jaxgd.sweeps.result.SUMMARY_NAMES`), in that order.
      unroll_sums: the backend's choice to write small sums as adds (:mod:`jaxgd.sweeps.backend`).
      value_with_grad: the backend's choice to take f(x_t) from ``value_and_grad`` (:mod:`jaxgd.sweeps.backend`).
      keyed: a stochastic loss (:mod:`jaxgd.sweeps.seeded`); False for a deterministic one.
      eval_every: a stochastic loss's full objective is summarised every this many steps; None for a
        deterministic one.
    """

    make_optimizer: Callable
    names: tuple[str, ...]
    loss_static: Static
    many_problems: bool
    many_starts: bool
    steps: int
    curve_every: int | None
    keep_params: bool
    block: int
    summaries: tuple[str, ...] = DEFAULT_SUMMARIES
    unroll_sums: bool = False
    value_with_grad: bool = False
    keyed: bool = False
    eval_every: int | None = None

    @property
    def track_tol(self) -> bool:
        return "tol" in self.summaries

    @property
    def checked(self) -> bool:
        """Whether the loop checks every step (some summary of :data:`CHECKED` is asked for)."""
        return not CHECKED.isdisjoint(self.summaries)

    def only(self, summary: Summary) -> Summary:
        """``summary`` with the fields of the summaries not asked for set to None (XLA drops their work)."""
        drop = {field: None for name, field in SUMMARY_FIELDS.items() if name not in self.summaries}
        return summary._replace(**drop, **({} if self.keep_params else {"final_params": None}))


class Summary(NamedTuple):
    """One run's summaries (see :class:`jaxgd.SweepResult`); in a chunk, leaves lead with (chunk, P, S)."""

    final_loss: jax.Array
    best_loss: jax.Array
    final_grad_norm: jax.Array
    tol_step: jax.Array
    diverge_step: jax.Array
    final_params: Any
    curve: Any
    target_steps: Any = None


def default_block(steps: int) -> int:
    """About sqrt(steps): the per-block bookkeeping (steps / block) against the replay (block steps).

    Args:
        steps: The steps of a run.

    Returns:
        The block, isqrt(steps) clipped to [8, 1024].
    """
    return min(1024, max(8, math.isqrt(steps)))


def curve_steps(steps: int, every: int) -> np.ndarray:
    """The steps at which a curve recorded every ``every`` steps has a point: 0, every, 2 every, ..., steps.

    Args:
        steps: The steps of a run.
        every: The steps between points.

    Returns:
        The steps, an int32 array ending with ``steps``.
    """
    n_outer, rem = divmod(steps, every)
    return np.asarray(list(range(0, n_outer * every + 1, every)) + ([steps] if rem else []), np.int32)


# --------------------------------------------------------------------------- one run


class _Carry(NamedTuple):
    """The state of one run between blocks of steps."""

    x: Any  # the live iterate x_t; it runs on after a divergence (the lanes of vmap are independent)
    state: Any
    r: jax.Array  # min_{s <= t} f(x_s), or -inf once some f(x_s) was bad (non-finite or out of bounds)
    t: jax.Array
    div_ckpt: tuple  # (x, state, r, t) at the latest block end before r broke
    level_ckpt: tuple | None  # (x, state, t), each with a leading axis L: per level, the latest block end
    # before r first reached it (r - a <= b) or broke; None without levels


class _Run(NamedTuple):
    """What stays fixed during one run: the optimizer, the loss, the bounds of a good value, the plan."""

    optimizer: optax.GradientTransformation
    loss_fn: Callable
    value_and_grad: Callable
    offsets: jax.Array | None  # (L,) a, per level: reached at f - a <= b ...
    thresholds: jax.Array | None  # (L,) ... b; None without levels
    limit: jax.Array  # a good value is <= limit ...
    lowest: jax.Array  # ... and >= lowest (false for NaN and +-inf)
    inf: jax.Array
    nan: jax.Array
    minus1: jax.Array
    zero: jax.Array
    plan: Plan


def _all_finite(tree: Any) -> jax.Array:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree.leaves(tree)]))


def _select(pred: jax.Array, a: Any, b: Any) -> Any:
    return jax.tree.map(lambda p, q: jnp.where(pred, p, q), a, b)


def levels(plan: Plan, f0: jax.Array, tol: jax.Array, f_star: jax.Array, taus: jax.Array) -> tuple[Any, Any]:
    """The levels (a, b), each (L,), a run tracks: reached at the first f(x_t) - a <= b. ``tol`` first (a = 0,
    b = tol) when tracked, then the targets (a = f*, b = tau (f(x_0) - f*)). (None, None) without levels."""
    parts = []
    if plan.track_tol:
        parts.append((jnp.zeros((1,), f0.dtype), tol.astype(f0.dtype)[None]))
    if "targets" in plan.summaries and taus.shape[0]:
        f_star = f_star.astype(f0.dtype)
        parts.append((jnp.broadcast_to(f_star, taus.shape), taus.astype(f0.dtype) * (f0 - f_star)))
    if not parts:
        return None, None
    return tuple(jnp.concatenate(p) for p in zip(*parts))


def split_levels(plan: Plan, steps: jax.Array | None, none: jax.Array) -> tuple[jax.Array, jax.Array | None]:
    """(tol_step, target_steps) from the steps of the levels of :func:`levels` (``none`` for an absent one)."""
    if steps is None:
        return none, None
    if plan.track_tol:
        return steps[0], steps[1:] if "targets" in plan.summaries else None
    return none, steps


def _start(
    optimizer, loss_fn, x0, tol, blowup, floor, max_loss, f_star, taus, plan
) -> tuple[_Run, _Carry, jax.Array, jax.Array]:
    """The run's constants and its carry at x_0; also f(x_0) and whether f and grad f are finite there.

    The blow-up limit is ``blowup * max(|f(x_0)|, floor)``: relative to f(x_0), with an absolute floor so a
    start near (or at) a minimum, f(x_0) ~ 0, still has a limit and is not flagged by rounding noise."""
    value_and_grad = jax.value_and_grad(loss_fn)
    f0, g0 = value_and_grad(x0)
    inf = jnp.asarray(jnp.inf, f0.dtype)
    nan = jnp.asarray(jnp.nan, f0.dtype)
    scale = jnp.maximum(jnp.abs(f0), floor.astype(f0.dtype))
    limit = jnp.minimum(max_loss.astype(f0.dtype), jnp.where(jnp.isfinite(blowup), blowup * scale, inf))
    lowest = jnp.asarray(-jnp.finfo(f0.dtype).max, f0.dtype)
    limit = jnp.minimum(limit, -lowest)
    ok0 = jnp.isfinite(f0) & _all_finite(g0)
    minus1 = jnp.asarray(-1, jnp.int32)
    zero = jnp.asarray(0, jnp.int32)
    s0 = optimizer.init(x0)
    r0 = jnp.where(ok0, f0, -inf)
    offsets, thresholds = levels(plan, f0, tol, f_star, taus)
    level_ckpt = None
    if offsets is not None:  # one checkpoint per level
        level_ckpt = jax.tree.map(lambda a: jnp.broadcast_to(a, (offsets.shape[0], *a.shape)), (x0, s0, zero))
    run = _Run(optimizer, loss_fn, value_and_grad, offsets, thresholds, limit, lowest, inf, nan, minus1, zero, plan)
    return run, _Carry(x0, s0, r0, zero, (x0, s0, r0, zero), level_ckpt), f0, ok0


def _update(run: _Run, x: Any, state: Any, value_grad: tuple | None = None) -> tuple[Any, Any]:
    """x_{t+1} and the new state, from (f, grad f) at x_t (computed here when not given)."""
    if value_grad is None:
        extra = isinstance(run.optimizer, optax.GradientTransformationExtraArgs)
        value_grad = run.value_and_grad(x) if extra else (None, jax.grad(run.loss_fn)(x))
    step = update_step(run.optimizer, run.loss_fn, x, state, value_grad=value_grad)
    return step.params, step.state


def _good(run: _Run, value: jax.Array) -> jax.Array:
    return (value <= run.limit) & (value >= run.lowest)  # false for NaN and +-inf


def _broken(run: _Run, r: jax.Array) -> jax.Array:
    return ~(r >= run.lowest)


def _reached(run: _Run, value: jax.Array) -> jax.Array:
    """(L,) whether ``value`` reaches each level (f - a <= b); for r, -inf reaches them all."""
    return value - run.offsets <= run.thresholds


def _fold(run: _Run, r: jax.Array, value: jax.Array) -> jax.Array:
    # -inf for a bad value (NaN fails ``value <= limit``; -inf passes it and is kept), and -inf stays: r is
    # broken from the first bad value on. Two selects: a NaN-propagating minimum costs more on XLA:CPU.
    return jnp.where(value <= run.limit, jnp.where(value < r, value, r), -run.inf)


def _step(run: _Run, c: tuple, _: Any) -> tuple[tuple, None]:
    x, state, r = c
    if run.plan.value_with_grad:
        value, grad = run.value_and_grad(x)
        return (*_update(run, x, state, (value, grad)), _fold(run, r, value)), None
    x, state = _update(run, x, state)
    return (x, state, _fold(run, r, run.loss_fn(x))), None


def _run_block(run: _Run, c: _Carry, n: int) -> _Carry:
    """``n`` unchecked steps, then the checkpoints move to the block's end for the runs still good."""
    (x, state, r), _ = jax.lax.scan(functools.partial(_step, run), (c.x, c.state, c.r), None, length=n)
    if run.plan.value_with_grad:
        r = _fold(run, r, run.loss_fn(x))
    t = c.t + n
    # Checkpoints move to the block's end, not kept from its start: the loop's inputs need no copy.
    div_ckpt = _select(_broken(run, r), c.div_ckpt, (x, state, r, t))
    level_ckpt = c.level_ckpt
    if level_ckpt is not None:  # a level's checkpoint stops moving once r reaches it (or breaks: -inf reaches all)
        stay = _reached(run, r)
        level_ckpt = jax.tree.map(
            lambda old, new: jnp.where(stay.reshape(-1, *[1] * new.ndim), old, new[None]), level_ckpt, (x, state, t)
        )
    return _Carry(x, state, r, t, div_ckpt, level_ckpt)


def _advance(run: _Run, c: _Carry, n: int) -> _Carry:
    """``n`` steps in blocks of ``plan.block`` (a shorter last one)."""
    n_blocks, rem = divmod(n, run.plan.block)
    if n_blocks:
        c, _ = jax.lax.scan(lambda c, _: (_run_block(run, c, run.plan.block), None), c, None, length=n_blocks)
    if rem:
        c = _run_block(run, c, rem)
    return c


def _recorded(run: _Run, c: _Carry) -> jax.Array:
    return jnp.where(_broken(run, c.r), run.nan, run.loss_fn(c.x))


def _loop(run: _Run, carry: _Carry) -> tuple[_Carry, jax.Array | None]:
    """All ``plan.steps`` steps, with f(x_t) recorded every ``plan.curve_every`` steps (NaN once broken)."""
    steps, every = run.plan.steps, run.plan.curve_every
    if every is None:
        return _advance(run, carry, steps), None
    n_outer, rem = divmod(steps, every)
    parts = []
    if n_outer:
        carry, points = jax.lax.scan(
            lambda c, _: (_advance(run, c, every), _recorded(run, c)), carry, None, length=n_outer
        )
        parts.append(points)
    if rem or not n_outer:
        parts.append(_recorded(run, carry)[None])
        carry = _advance(run, carry, rem)
    parts.append(_recorded(run, carry)[None])
    return carry, jnp.concatenate(parts)


def _replay(
    run: _Run, x: Any, state: Any, r: jax.Array, t: jax.Array, level: tuple | None = None
) -> tuple[Any, jax.Array, jax.Array, jax.Array]:
    """Up to ``block`` steps from a checkpoint, each checked: the last iterate before the first bad step d, the
    best loss and the first step before d that reaches ``level`` (a, b) (f - a <= b), and d (-1 where none).

    Only x is kept, not frozen: a step costs the fast loop's fused loops plus one per number kept. With
    ``value_with_grad`` the values come from value_and_grad, f(x_t) before the step from x_t (the
    checkpoint's own, known good, first)."""
    plan, minus1 = run.plan, run.minus1

    def body(k, c):
        x, state, keep, r, hit, d = c  # hit and d counted from the checkpoint
        if plan.value_with_grad:
            value, grad = run.value_and_grad(x)
            at, s = x, k  # value = f(x_{t+k})
            x, state = _update(run, x, state, (value, grad))
        else:
            x, state = _update(run, x, state)
            value, at, s = run.loss_fn(x), x, k + 1
        ok = (d < 0) & _good(run, value)
        if level is not None:
            hit = jnp.where(ok & (hit < 0) & (value - level[0] <= level[1]), s, hit)
        keep = _select(ok, at, keep)
        return x, state, keep, jnp.where(ok, jnp.minimum(r, value), r), hit, jnp.where(ok | (d >= 0), d, s)

    n = min(plan.block, plan.steps) + (1 if plan.value_with_grad else 0)
    _, _, keep, r, hit, d = jax.lax.fori_loop(0, n, body, (x, state, x, r, minus1, minus1))
    return keep, r, jnp.where(hit >= 0, t + hit, minus1), jnp.where(d >= 0, t + d, minus1)


def _divergence(run: _Run, carry: _Carry, x0: Any, ok0: jax.Array) -> tuple[jax.Array, jax.Array, Any, jax.Array]:
    """Replayed from the divergence checkpoint: whether the run diverged, the exact step d, x_{d-1} (else the
    final iterate) and the best loss before d."""
    dx, ds, dr, dt = carry.div_ckpt
    div_active = ok0 & _broken(run, carry.r)
    x_div, best_div, _, div_step = _replay(run, dx, ds, dr, dt)
    diverged = ~ok0 | div_active
    div_step = jnp.where(~ok0, run.zero, jnp.where(div_active, div_step, run.minus1))
    x_final = _select(~ok0, x0, _select(div_active, x_div, carry.x))
    best = jnp.where(~ok0, run.inf, jnp.where(div_active, best_div, carry.r))
    return diverged, div_step, x_final, best


def _level_steps(run: _Run, carry: _Carry, f0: jax.Array, ok0: jax.Array) -> jax.Array | None:
    """(L,) replayed from each level's checkpoint (one vmapped replay): the first step that reaches the level,
    -1 if none; None without levels."""
    if carry.level_ckpt is None:
        return None

    def replay(x, state, t, a, b):
        return _replay(run, x, state, run.inf, t, (a, b))[2]

    many = run.offsets.shape[0] > 1
    replayed = mapped(replay, many)(*carry.level_ckpt, run.offsets, run.thresholds)
    # The replay stops counting at d; a run that never reached a level (r - a > b) replayed past its last step.
    at0 = ok0 & _reached(run, f0)
    return jnp.where(at0, run.zero, jnp.where(ok0 & _reached(run, carry.r), replayed, run.minus1))


def run_one(
    optimizer: optax.GradientTransformation,
    loss_fn: Callable,
    x0: Any,
    tol: jax.Array,
    blowup: jax.Array,
    blowup_floor: jax.Array,
    max_loss: jax.Array,
    f_star: jax.Array,
    taus: jax.Array,
    plan: Plan,
) -> Summary:
    """One run of ``plan.steps`` steps from ``x0`` with its summaries (the module's docstring tells how).

    Args:
        optimizer: The run's optax transformation.
        loss_fn: The loss ``f(params)``.
        x0: The start point.
        tol: The loss of ``tol_step`` (-inf: none).
        blowup: The blow-up factor (inf: none).
        blowup_floor: The floor of the blow-up scale max(|f(x_0)|, floor).
        max_loss: The absolute limit on f (inf: none).
        f_star: f*, for the targets.
        taus: (K,) the targets.
        plan: The static plan (:class:`Plan`).

    Returns:
        The run's summaries (:class:`Summary`), those not asked for None.
    """
    run, carry, f0, ok0 = _start(optimizer, loss_fn, x0, tol, blowup, blowup_floor, max_loss, f_star, taus, plan)
    if not plan.checked:
        return _run_plain(run, carry, ok0)
    carry, curve = _loop(run, carry)
    diverged, div_step, x_final, best = _divergence(run, carry, x0, ok0)
    tol_step, target_steps = split_levels(plan, _level_steps(run, carry, f0, ok0), run.minus1)
    f_final, g_final = run.value_and_grad(x_final)
    summary = Summary(
        final_loss=jnp.where(diverged, run.inf, f_final),
        best_loss=best,
        final_grad_norm=tree_norm(g_final),
        tol_step=tol_step,
        diverge_step=div_step,
        final_params=x_final,
        curve=curve,
        target_steps=target_steps,
    )
    return plan.only(summary)


def _run_plain(run: _Run, carry: _Carry, ok0: jax.Array) -> Summary:
    """The plain loop (no summary checks each step): ``plan.steps`` steps, f(x_t) recorded every ``curve_every``
    steps (NaN where bad), then f(x_T), +inf where bad (or where the start was)."""
    plan = run.plan

    def advance(x, state, n):
        def step(c, _):
            return _update(run, *c), None

        return jax.lax.scan(step, (x, state), None, length=n)[0] if n else (x, state)

    def point(x):
        value = run.loss_fn(x)
        return jnp.where(ok0 & _good(run, value), value, run.nan)

    x, state, curve = carry.x, carry.state, None
    if plan.curve_every is None:
        x, state = advance(x, state, plan.steps)
    else:
        n_outer, rem = divmod(plan.steps, plan.curve_every)
        points = []
        if n_outer:
            (x, state), pts = jax.lax.scan(
                lambda c, _: (advance(*c, plan.curve_every), point(c[0])), (x, state), None, length=n_outer
            )
            points.append(pts)
        if rem or not n_outer:
            points.append(point(x)[None])
            x, state = advance(x, state, rem)
        points.append(point(x)[None])
        curve = jnp.concatenate(points)
    return plain_summary(run, ok0, x, *run.value_and_grad(x), curve)


def plain_summary(run: Any, ok0: jax.Array, x: Any, f_final: jax.Array, g_final: Any, curve: Any) -> Summary:
    """The summaries of a plain loop's run (nothing checked on the way): f(x_T), +inf where it or the start is bad."""
    bad = ~ok0 | ~_good(run, f_final)
    summary = Summary(
        final_loss=jnp.where(bad, run.inf, f_final),
        best_loss=None,
        final_grad_norm=tree_norm(g_final),
        tol_step=None,
        diverge_step=None,
        final_params=x,
        curve=curve,
    )
    return run.plan.only(summary)


# --------------------------------------------------------------------------- a chunk of runs


def mapped(fn: Callable, many: bool) -> Callable:
    """``vmap(fn)`` over a leading axis, or, when the axis has length 1 (``many`` False), ``fn`` on its one row
    with the axis put back: an axis of one mapped by ``vmap`` still shapes the compiled loop's arrays."""
    if many:
        return jax.vmap(fn)
    return lambda *a: jax.tree.map(lambda y: y[None], fn(*jax.tree.map(lambda z: z[0], a)))


@functools.partial(jax.jit, static_argnames=("plan",))
def sweep_chunk(
    columns: tuple,
    loss_dynamic: list,
    x0s: Any,
    tol: jax.Array,
    blowup: jax.Array,
    blowup_floor: jax.Array,
    max_loss: jax.Array,
    f_star: jax.Array,
    taus: jax.Array,
    *,
    plan: Plan,
) -> Summary:
    """Summaries of shape (chunk, P, S): configurations x problems x starts, each axis a ``vmap``.

    ``columns``: one (chunk,) array per name of ``plan.names``. ``loss_dynamic`` leaves carry
    a leading problem axis P when ``plan.many_problems``; ``x0s`` leaves carry leading axes
    (P, S); ``f_star`` (P,) is each problem's f* and ``taus`` (K,) the targets (both unused without
    "targets"). With ``plan.unroll_sums`` the loss's small sums become adds (:mod:`jaxgd.sweeps.small_sums`).

    Args:
        columns: One (chunk,) array per name of ``plan.names``.
        loss_dynamic: The losses' array leaves (leading axis P when ``plan.many_problems``).
        x0s: The starts, leaves with leading axes (P, S).
        tol: As in :func:`run_one`.
        blowup: As in :func:`run_one`.
        blowup_floor: As in :func:`run_one`.
        max_loss: As in :func:`run_one`.
        f_star: (P,) each problem's f*.
        taus: (K,) the targets.
        plan: The static plan (:class:`Plan`).

    Returns:
        The summaries (:class:`Summary`), leaves with leading axes (chunk, P, S).
    """

    def per_config(values):
        optimizer = plan.make_optimizer(**dict(zip(plan.names, values)))

        def per_problem(dyn, x0_row, f_star_p):
            loss_fn = combine(dyn, plan.loss_static)
            if plan.unroll_sums:
                loss_fn = unroll_small_sums(loss_fn)
            bounds = (tol, blowup, blowup_floor, max_loss, f_star_p, taus)
            return mapped(lambda x0: run_one(optimizer, loss_fn, x0, *bounds, plan), plan.many_starts)(x0_row)

        if plan.many_problems:
            return jax.vmap(per_problem)(loss_dynamic, x0s, f_star)
        row = jax.tree.map(lambda z: z[0], (x0s, f_star))
        return jax.tree.map(lambda y: y[None], per_problem(loss_dynamic, *row))

    return jax.vmap(per_config)(columns)
