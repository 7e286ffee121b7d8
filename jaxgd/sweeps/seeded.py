"""The compiled sweep of a stochastic loss: configurations x problems x starts x seeds, one ``jit(vmap)``.

A stochastic loss is ``loss(params, key)`` marked ``__jaxgd_needs_key__`` with a ``full`` attribute,
the exact objective (:class:`jaxgd.stochastic.MiniBatch`, :class:`jaxgd.stochastic.NoisyGradient`).
A run with key k takes at step t the gradient of ``loss(x_t, fold_in(k, t))``, as
:func:`jaxgd.stochastic.run` does with ``key=k``, so a sweep's row is that run's iterates (the same
batches; the values to rounding, another program computing them): the mini-batch is drawn and gathered
on the device inside the loop, nothing goes back to the host. The seed axis is the outermost ``vmap``.

Its summaries are taken on the *full* objective f = ``loss.full`` on a fixed schedule: at steps
0, k, 2k, ..., and T (``k = plan.eval_every``). The best loss is the minimum of f over those steps;
the run diverges at the first of them with a bad f (non-finite, or above the blow-up limit of
:mod:`jaxgd.sweeps.engine`) and is frozen at the previous evaluated iterate; ``tol_step`` is the
first of them with f <= tol (and ``target_steps`` the first with f - f* <= tau (f(x_0) - f*)).
The mini-batch loss itself is never summarised. Memory does not grow with ``steps`` (a scan of
scans, no per-step record). With none of the summaries that need the schedule (best, diverged,
tol, targets, curve) the run takes its steps in one loop and f is evaluated at x_T alone.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxgd._core import combine, tree_norm, update_step
from jaxgd.sweeps import engine
from jaxgd.sweeps.engine import Plan, Summary

__all__ = ["run_seeded", "sweep_chunk_seeded"]


class _Carry(NamedTuple):
    x: Any  # the live iterate (it runs on after a divergence; the lanes of vmap are independent)
    state: Any
    t: jax.Array
    keep: Any  # the latest evaluated iterate before divergence
    best: jax.Array  # min of f over the evaluations before divergence
    last: jax.Array  # f at ``keep``
    div_step: jax.Array  # the first evaluation step with a bad f, -1 if none
    level_steps: jax.Array | None  # (L,) the first evaluation step reaching each level (engine.levels), -1 if none


def _sgd_steps(optimizer, loss, key, c: _Carry, n: int) -> tuple[Any, Any, jax.Array]:
    """``n`` stochastic steps from (c.x, c.state, c.t): the step of :func:`jaxgd.stochastic.run` on a keyed loss."""

    def step(xs, _):
        x, state, t = xs
        kt = jax.random.fold_in(key, t)
        value, grad = jax.value_and_grad(loss)(x, kt)
        out = update_step(optimizer, loss, x, state, (kt,), value_grad=(value, grad))
        return (out.params, out.state, t + 1), None

    return jax.lax.scan(step, (c.x, c.state, c.t), None, length=n)[0]


def _evaluated(run: Any, c: _Carry, x: Any, state: Any, t: jax.Array) -> tuple[_Carry, jax.Array]:
    """The carry after an evaluation of f at x_t, and the curve's point (NaN from divergence on)."""
    f = run.loss_fn(x)  # run.loss_fn is the full objective
    ok = (c.div_step < 0) & engine._good(run, f)
    div_step = jnp.where((c.div_step < 0) & ~ok, t, c.div_step)
    level_steps = c.level_steps
    if level_steps is not None:
        level_steps = jnp.where(ok & (level_steps < 0) & engine._reached(run, f), t, level_steps)
    keep = engine._select(ok, x, c.keep)
    best = jnp.where(ok, jnp.minimum(c.best, f), c.best)
    last = jnp.where(ok, f, c.last)
    return _Carry(x, state, t, keep, best, last, div_step, level_steps), jnp.where(ok, f, run.nan)


def run_seeded(optimizer, loss, x0, key, tol, blowup, blowup_floor, max_loss, f_star, taus, plan: Plan) -> Summary:
    """One stochastic run of ``plan.steps`` steps from ``x0`` with key ``key``, summarised on ``loss.full``.

    Args:
        optimizer: The run's optax transformation.
        loss: The stochastic loss ``loss(params, key)``, with its full objective ``loss.full``.
        x0: The start point.
        key: The run's PRNG key; step t uses ``fold_in(key, t)``.
        tol: As in :func:`jaxgd.sweeps.engine.run_one`.
        blowup: As in :func:`jaxgd.sweeps.engine.run_one`.
        blowup_floor: As in :func:`jaxgd.sweeps.engine.run_one`.
        max_loss: As in :func:`jaxgd.sweeps.engine.run_one`.
        f_star: As in :func:`jaxgd.sweeps.engine.run_one`.
        taus: As in :func:`jaxgd.sweeps.engine.run_one`.
        plan: The static plan (:class:`jaxgd.sweeps.engine.Plan`), ``keyed``.

    Returns:
        The run's summaries (:class:`jaxgd.sweeps.engine.Summary`), those not asked for None.
    """
    bounds = (tol, blowup, blowup_floor, max_loss, f_star, taus)
    run, _, f0, ok0 = engine._start(optimizer, loss.full, x0, *bounds, plan)
    dtype = f0.dtype
    if not _scheduled(plan):
        return _run_plain(run, optimizer, loss, key, x0, ok0)
    level_steps0 = None
    if run.offsets is not None:
        level_steps0 = jnp.where(ok0 & engine._reached(run, f0), run.zero, run.minus1)
    c = _Carry(
        x0,
        optimizer.init(x0),
        run.zero,
        x0,
        jnp.where(ok0, f0, run.inf),
        f0,
        jnp.where(ok0, run.minus1, run.zero),
        level_steps0,
    )
    every = plan.eval_every
    n_outer, rem = divmod(plan.steps, every)

    def block(c, n):
        return _evaluated(run, c, *_sgd_steps(optimizer, loss, key, c, n))

    points = [jnp.where(ok0, f0, run.nan)[None]]
    if n_outer:
        c, pts = jax.lax.scan(lambda c, _: block(c, every), c, None, length=n_outer)
        points.append(pts)
    if rem:
        c, pt = block(c, rem)
        points.append(pt[None])
    diverged = c.div_step >= 0
    tol_step, target_steps = engine.split_levels(plan, c.level_steps, run.minus1)
    summary = Summary(
        final_loss=jnp.where(diverged, run.inf, c.last).astype(dtype),
        best_loss=c.best,
        final_grad_norm=tree_norm(jax.grad(loss.full)(c.keep)),
        tol_step=tol_step,
        diverge_step=c.div_step,
        final_params=c.keep,
        curve=jnp.concatenate(points) if plan.curve_every is not None else None,
        target_steps=target_steps,
    )
    return plan.only(summary)


def _scheduled(plan: Plan) -> bool:
    """Whether the run needs the full objective on the schedule (else only at x_T)."""
    return plan.checked or "curve" in plan.summaries


def _run_plain(run: Any, optimizer: Any, loss: Any, key: jax.Array, x0: Any, ok0: jax.Array) -> Summary:
    """All ``plan.steps`` steps in one loop, then f(x_T) (+inf where bad, or where the start was) and its gradient."""
    plan = run.plan
    c = _Carry(x0, optimizer.init(x0), run.zero, None, None, None, None, None)
    x, _, _ = _sgd_steps(optimizer, loss, key, c, plan.steps)
    return engine.plain_summary(run, ok0, x, *jax.value_and_grad(loss.full)(x), None)


@functools.partial(jax.jit, static_argnames=("plan",))
def sweep_chunk_seeded(
    columns: tuple,
    loss_dynamic: list,
    x0s: Any,
    keys: jax.Array,
    tol: jax.Array,
    blowup: jax.Array,
    blowup_floor: jax.Array,
    max_loss: jax.Array,
    f_star: jax.Array,
    taus: jax.Array,
    *,
    plan: Plan,
) -> Summary:
    """Summaries of shape (chunk, P, S K): configurations x problems x (starts x seeds), each axis a ``vmap``.

    As :func:`jaxgd.sweeps.engine.sweep_chunk`, with ``keys`` (K,) the seeds' PRNG keys: the run of
    seed j has key ``keys[j]`` whatever its configuration, problem and start (common random numbers).

    Args:
        columns: As in :func:`jaxgd.sweeps.engine.sweep_chunk`.
        loss_dynamic: As in :func:`jaxgd.sweeps.engine.sweep_chunk`.
        x0s: As in :func:`jaxgd.sweeps.engine.sweep_chunk`.
        keys: (K,) the seeds' PRNG keys.
        tol: As in :func:`jaxgd.sweeps.engine.sweep_chunk`.
        blowup: As in :func:`jaxgd.sweeps.engine.sweep_chunk`.
        blowup_floor: As in :func:`jaxgd.sweeps.engine.sweep_chunk`.
        max_loss: As in :func:`jaxgd.sweeps.engine.sweep_chunk`.
        f_star: As in :func:`jaxgd.sweeps.engine.sweep_chunk`.
        taus: As in :func:`jaxgd.sweeps.engine.sweep_chunk`.
        plan: As in :func:`jaxgd.sweeps.engine.sweep_chunk`, ``keyed``.

    Returns:
        The summaries (:class:`jaxgd.sweeps.engine.Summary`), leaves with leading axes (chunk, P, S K).
    """

    # The seed axis is the outermost vmap: a mini-batch depends on the key alone, so every run of one seed
    # shares its batch, and with the seed axis leading both the batches (K, B, ...) and the iterates
    # (K, C, ...) have it first, so XLA steps them as K batched products with no transposes per step
    # (16 % more steps/s than the seed axis innermost on 2 CPU cores: benchmarks/stochastic_sweep.py).
    def per_seed(key):
        def per_config(values):
            optimizer = plan.make_optimizer(**dict(zip(plan.names, values)))

            def per_problem(dyn, x0_row, f_star_p):
                loss = combine(dyn, plan.loss_static)
                bounds = (tol, blowup, blowup_floor, max_loss, f_star_p, taus)

                def per_start(x0):
                    return run_seeded(optimizer, loss, x0, key, *bounds, plan)

                return engine.mapped(per_start, plan.many_starts)(x0_row)

            if plan.many_problems:
                return jax.vmap(per_problem)(loss_dynamic, x0s, f_star)
            row = jax.tree.map(lambda z: z[0], (x0s, f_star))
            return jax.tree.map(lambda y: y[None], per_problem(loss_dynamic, *row))

        return jax.vmap(per_config)(columns)

    out = jax.vmap(per_seed)(keys)  # (K, chunk, P, S, ...)
    return jax.tree.map(_seeds_last, out)


def _seeds_last(a: jax.Array) -> jax.Array:
    """(K, chunk, P, S, ...) to (chunk, P, S K, ...), the seed index running fastest."""
    a = jnp.moveaxis(a, 0, 3)
    return a.reshape(*a.shape[:2], a.shape[2] * a.shape[3], *a.shape[4:])
