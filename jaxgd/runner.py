"""Run an optimizer on a loss under ``jit`` and ``lax.scan``, recording a Trajectory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxgd import _validate
from jaxgd._core import evaluate, filter_jit, objective_of, tree_norm, update_step

__all__ = ["Trajectory", "run", "tree_norm"]  # tree_norm: re-exported from jaxgd._core


class Trajectory(NamedTuple):
    """The record of a run of T steps.

    Attributes:
      steps: (R,) the step index of each row of ``params``: 0, k, 2k, ... and T.
      params: the iterates x_t at those steps (each leaf with a leading axis R).
      loss: (T + 1,) f(x_t) for t = 0 .. T.
      grad_norm: (T + 1,) ||grad f(x_t)||.
      update_ratio: (T,) ||u_t|| / ||x_t||, the update-to-parameter ratio (r ~ 1e-3 heuristic).
      final_params: x_T.
      final_state: the optimizer state after T updates.
      final_aux: the loss's aux output at x_T (``has_aux=True``), else None.
      recorded: ``record(x_t, state_t)`` at the steps of ``params`` (leading axis R), else None.
    """

    steps: jax.Array
    params: Any
    loss: jax.Array
    grad_norm: jax.Array
    update_ratio: jax.Array
    final_params: Any
    final_state: Any
    final_aux: Any = None
    recorded: Any = None


def _check_inputs(params: Any, steps: int, record_every: int) -> None:
    _validate.positive_int("steps", steps)
    _validate.positive_int("record_every", record_every)
    _validate.float_tree("params", params)


def _leading(tree: Any) -> set[int]:
    return {jnp.shape(x)[0] if jnp.ndim(x) else -1 for x in jax.tree.leaves(tree)}


def run(
    optimizer: optax.GradientTransformation,
    loss: Callable[..., jax.Array],
    params: Any,
    steps: int,
    *,
    record_every: int = 1,
    batches: Any = None,
    key: jax.Array | None = None,
    has_aux: bool = False,
    record: Callable[[Any, Any], Any] | None = None,
) -> Trajectory:
    """Run ``optimizer`` on ``loss`` from ``params`` for ``steps`` updates.

    ``loss`` is called as ``loss(params)``, or ``loss(params, batch)`` when
    ``batches`` (a pytree whose leaves have a leading axis of length ``steps``)
    is given, with ``key`` appended (a fresh key each step, split from ``key``)
    when a PRNG key is given. The final loss f(x_T) reuses the last batch. A
    stochastic loss of :mod:`jaxgd.stochastic` (``MiniBatch``, ``NoisyGradient``)
    needs ``key``; :func:`jaxgd.stochastic.run` also records its full objective.

    Transforms that take extra arguments (line searches, reduce-on-plateau)
    receive ``value``, ``grad`` and ``value_fn``, as ``optax.lbfgs`` expects.
    With ``has_aux=True`` the loss returns ``(value, aux)``; ``value_fn`` then
    does too (build such transforms with ``has_aux=True``), and the aux at x_T
    is kept in ``final_aux``.

    ``record(x_t, state_t)``, when given, is evaluated at every recorded step and kept in
    ``Trajectory.recorded`` (e.g. :func:`jaxgd.nesterov_iterate`, the lecture's x_t of Nesterov's method).

    The whole run is one ``jit``-compiled ``lax.scan``. The optimizer's and the
    loss's array leaves are traced arguments: running again with other
    hyperparameter values of the same shape reuses the compiled program. It is
    ``vmap``-able over hyperparameters and initial points.

    Args:
        optimizer: Any optax gradient transformation (a jaxgd optimizer or optax's).
        loss: ``loss(params[, batch][, key])`` -> scalar (or ``(scalar, aux)`` with ``has_aux``).
        params: The starting point, any pytree of floating-point arrays.
        steps: The number of updates.
        record_every: Record the iterate every this many steps (and the last).
        batches: A pytree whose leaves have a leading axis of length ``steps``: batch t goes to step t.
        key: A PRNG key, split into one key per step for a stochastic loss.
        has_aux: Whether the loss returns ``(value, aux)``.
        record: ``record(x_t, state_t)``, kept at every recorded step.

    Returns:
        The trajectory (:class:`Trajectory`): iterates, losses, final state, and what ``record`` returned.

    Raises:
        ValueError: If steps or record_every is not a positive integer, params are not finite or the
            batches' leading axis is not ``steps`` long.
        TypeError: If params are not floating point or the loss does not return a real scalar.
    """
    _check_inputs(params, steps, record_every)
    if batches is not None and _leading(batches) != {steps}:
        raise ValueError(f"every leaf of batches needs a leading axis of length steps={steps}, got {_leading(batches)}")
    if key is None and getattr(loss, "__jaxgd_needs_key__", False):
        raise ValueError(
            f"{type(loss).__name__} is a stochastic loss loss(params, key): pass key=jax.random.key(seed) to run"
        )
    if key is not None:
        key = jnp.asarray(key)
    if record is not None and not callable(record):
        raise TypeError(f"record must be a function record(params, state), got {record!r}")
    fns = (optimizer, objective_of(loss), record)
    return _run(fns, params, batches, key, steps=steps, record_every=record_every, has_aux=bool(has_aux))


def _loss_args(batch: Any, key: Any) -> tuple:
    return tuple(a for a in (batch, key) if a is not None)


@filter_jit(static_argnames=("steps", "record_every", "has_aux"))
def _run(
    fns: tuple,
    params: Any,
    batches: Any,
    key: Any,
    *,
    steps: int,
    record_every: int,
    has_aux: bool = False,
) -> Trajectory:
    optimizer, loss_fn, record = fns

    def snapshot(carry):
        return carry[0], (None if record is None else record(*carry))

    keys = jax.random.split(key, steps) if key is not None else None
    xs_all = (batches, keys)
    first = jax.tree.map(lambda x: x[0], xs_all)
    _validate.scalar_output(loss_fn, params, _loss_args(*first), has_aux)

    def one_step(carry, xs):
        x, state = carry
        step = update_step(optimizer, loss_fn, x, state, _loss_args(*xs), has_aux=has_aux)
        ratio = tree_norm(step.updates) / tree_norm(x)
        return (step.params, step.state), (step.value, tree_norm(step.grad), ratio)

    def chunk(carry, xs):
        return jax.lax.scan(one_step, carry, xs, length=record_every)

    n_outer, rem = divmod(steps, record_every)
    head = jax.tree.map(lambda x: x[: n_outer * record_every].reshape(n_outer, record_every, *x.shape[1:]), xs_all)
    tail = jax.tree.map(lambda x: x[n_outer * record_every :], xs_all)

    def outer(carry, xs):
        carry_out, metrics = chunk(carry, xs)
        return carry_out, (snapshot(carry), metrics)

    carry = (params, optimizer.init(params))
    recorded = []
    metrics = []
    if n_outer:
        carry, (rec, m) = jax.lax.scan(outer, carry, head, length=n_outer)
        recorded.append(rec)
        metrics.append(jax.tree.map(lambda a: a.reshape(-1, *a.shape[2:]), m))
    recorded.append(jax.tree.map(lambda a: a[None], snapshot(carry)))
    if rem:
        carry, m = jax.lax.scan(one_step, carry, tail, length=rem)
        metrics.append(m)
        recorded.append(jax.tree.map(lambda a: a[None], snapshot(carry)))
    final_params, final_state = carry
    last = jax.tree.map(lambda x: x[-1], xs_all)
    final_value, final_grad, final_aux = evaluate(loss_fn, final_params, _loss_args(*last), has_aux)
    loss_hist, gnorm_hist, ratio_hist = (jnp.concatenate(parts) for parts in zip(*metrics))
    recorded_steps = list(range(0, n_outer * record_every + 1, record_every)) + ([steps] if rem else [])
    rows, extra = jax.tree.map(lambda *a: jnp.concatenate(a), *recorded)
    return Trajectory(
        steps=jnp.asarray(recorded_steps, jnp.int32),
        params=rows,
        loss=jnp.concatenate([loss_hist, final_value[None]]),
        grad_norm=jnp.concatenate([gnorm_hist, tree_norm(final_grad)[None]]),
        update_ratio=ratio_hist,
        final_params=final_params,
        final_state=final_state,
        final_aux=final_aux,
        recorded=extra,
    )
