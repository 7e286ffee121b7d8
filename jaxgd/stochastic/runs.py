"""Stochastic runs: one ``jit``-compiled ``lax.scan`` per run, each run with its own PRNG key.

Every step draws its sample inside the loop (a mini-batch gathered on the device, or the
noise of a noisy-gradient oracle), so nothing goes back to the host; the *full* objective,
not the mini-batch loss, is evaluated on a fixed schedule of steps, and at the averaged
iterate too when the optimizer averages (:mod:`jaxgd.stochastic.averaging`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgd import _validate
from jaxgd._core import filter_jit, real_dtype, tree_norm, update_step
from jaxgd.stochastic.averaging import averaged_params
from jaxgd.stochastic.estimators import MiniBatchGradient
from jaxgd.stochastic.finite_sum import FiniteSum, check_batch_size
from jaxgd.stochastic.sampling import Sampler

__all__ = ["StochasticTrajectory", "evaluation_steps", "log_steps", "run"]


class StochasticTrajectory(NamedTuple):
    """The record of a stochastic run of T steps, at the evaluation steps t_0 < ... < t_{E-1} = T.

    Attributes:
      steps: (E,) the evaluation steps.
      loss: (E,) the full objective f(x_t) (not a mini-batch loss).
      grad_norm: (E,) ||grad f(x_t)||, the full gradient.
      averaged_loss: (E,) f at the averaged iterate where the optimizer averages, else None.
      grad_evals: (E,) per-example gradients spent before step t (divide by n for epochs), int32.
      final_params: x_T. final_state: the optimizer state after T updates.
      final_average: the averaged iterate after T updates, or None.
    """

    steps: jax.Array
    loss: jax.Array
    grad_norm: jax.Array
    averaged_loss: jax.Array | None
    grad_evals: jax.Array
    final_params: Any
    final_state: Any
    final_average: Any


def log_steps(steps: int, num: int = 50) -> tuple[int, ...]:
    """About ``num`` steps log-spaced over [1, steps], with 0 and ``steps``: evaluations for log-log slopes."""
    _validate.positive_int("steps", steps)
    _validate.positive_int("num", num)
    grid = np.unique(np.round(np.geomspace(1, steps, num)).astype(int))
    return tuple(int(s) for s in np.concatenate([[0], grid]))


def evaluation_steps(steps: int, eval_at: int | Sequence[int] | None = None) -> tuple[int, ...]:
    """The sorted evaluation steps of a run: every ``eval_at`` steps (an int), the given steps (a sequence),
    or about 100 evenly spaced (None); the last step ``steps`` is always included."""
    _validate.positive_int("steps", steps)
    if eval_at is None:
        eval_at = max(1, steps // 100)
    if isinstance(eval_at, (int, np.integer)) and not isinstance(eval_at, bool):
        _validate.positive_int("eval_at", eval_at)
        chosen = set(range(0, steps + 1, int(eval_at)))
    else:
        arr = np.asarray(eval_at)
        if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"eval_at must be a positive int or a non-empty sequence of step numbers, got {eval_at!r}")
        if arr.min() < 0 or arr.max() > steps:
            raise ValueError(f"eval_at must lie in [0, steps={steps}], got values from {arr.min()} to {arr.max()}")
        chosen = {int(s) for s in arr}
    return tuple(sorted(chosen | {steps}))


def _is_key(key: Any) -> bool:
    dtype = getattr(key, "dtype", None)
    if dtype is None:
        return False
    if jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
        return True
    return dtype == jnp.uint32 and jnp.shape(key)[-1:] == (2,)


def _kind(problem: Any) -> str:
    if isinstance(problem, FiniteSum):
        return "finite_sum"
    if callable(problem) and getattr(problem, "full", None) is not None:
        return "keyed"
    raise TypeError(
        "problem must be a jaxgd.stochastic.FiniteSum or a stochastic loss loss(params, key) with a `full` "
        f"attribute, the exact objective (a MiniBatch, a NoisyGradient); got {type(problem).__name__}"
    )


def _check(problem, kind, key, batch_size, sampling, estimator) -> None:
    _validate.one_of("sampling", sampling, Sampler.SCHEMES)
    deterministic = kind == "finite_sum" and batch_size is None and not problem.takes_key
    if key is None and not deterministic:
        raise ValueError(
            "a stochastic run needs a PRNG key: pass key=jax.random.key(seed) (every run draws its samples from it)"
        )
    if key is not None and not _is_key(key):
        raise TypeError(f"key must be a PRNG key (jax.random.key(seed)), got {type(key).__name__}")
    if kind == "keyed":
        if batch_size is not None:
            raise ValueError("batch_size is for finite sums; this stochastic loss draws its own samples from its key")
        if not isinstance(estimator, MiniBatchGradient):
            raise TypeError(f"{estimator!r} needs a jaxgd.stochastic.FiniteSum, got {type(problem).__name__}")
        return
    if batch_size is not None:
        check_batch_size(batch_size, problem.n)
    if not (hasattr(estimator, "init") and hasattr(estimator, "estimate")):
        raise TypeError(f"estimator must be a gradient estimator (minibatch(), svrg(m), saga()), got {estimator!r}")
    if getattr(estimator, "needs_distinct", False):
        if batch_size is None:
            raise ValueError(f"{estimator!r} needs mini-batches: give batch_size")
        if batch_size > 1 and sampling == "with_replacement":
            raise ValueError(
                f"{estimator!r} needs batches of distinct examples: use batch_size=1 or "
                "sampling='without_replacement' or 'epochs'"
            )


def run(
    optimizer: optax.GradientTransformation,
    problem: Any,
    params: Any,
    steps: int,
    *,
    key: jax.Array | None,
    batch_size: int | None = None,
    sampling: str = "with_replacement",
    estimator: Any = None,
    eval_at: int | Sequence[int] | None = None,
) -> StochasticTrajectory:
    """Run ``optimizer`` on a stochastic problem for ``steps`` updates, recording the full objective.

    ``problem`` is either

    * a :class:`FiniteSum`: each step draws ``batch_size`` example indices by ``sampling``
      (see :class:`Sampler`; ``batch_size=None`` is the full batch) and the ``estimator``
      (:func:`minibatch` by default, :func:`svrg`, :func:`saga`) gives the gradient estimate;
    * a stochastic loss ``loss(params, key)`` with a ``full`` attribute, the exact objective
      (:class:`MiniBatch`, :class:`NoisyGradient`): step t uses the key ``fold_in(key, t)``.

    ``key`` is the run's PRNG key (for a finite sum it is split in two: the sampler's key and
    the model's own, folded with t at each step); the result is a pure function of it,
    so a fixed seed reproduces a run bit for bit and ``vmap`` over keys gives independent
    runs. f(x_t), ||grad f(x_t)|| (and f at the averaged iterate) are evaluated at the steps
    of :func:`evaluation_steps` (``eval_at``), inside the loop: memory does not grow with
    ``steps`` at a fixed number of evaluations. The optimizer's and problem's arrays are traced:
    new values of the same shapes reuse the compiled program, and the run ``vmap`` s over them.
    """
    eval_steps = evaluation_steps(steps, eval_at)
    _validate.float_tree("params", params)
    estimator = check_problem(problem, key, batch_size, sampling, estimator)
    _validate.scalar_output(problem.full, params, what="full objective")
    config = {"steps": steps, "batch_size": batch_size, "sampling": sampling}
    return _run((optimizer, problem, estimator), params, key, eval_steps=eval_steps, **config)


class _Oracle(NamedTuple):
    """One step's sample: the gradient estimate, the loss function and arguments it came from, its cost."""

    value: jax.Array
    grad: Any
    loss_fn: Any
    args: tuple
    state: Any
    cost: jax.Array


def _finite_sum_oracle(problem, estimator, sampler, key):
    k_sample, k_model = (None, None) if key is None else jax.random.split(key)

    def init(params):
        est_state, cost = estimator.init(problem, params)
        return (None if sampler is None else sampler.init(k_sample), est_state), cost

    def step(state, params, t):
        sampler_state, est_state = state
        idx = None
        if sampler is not None:
            idx, sampler_state = sampler.draw(sampler_state, t)
        mkey = jax.random.fold_in(k_model, t) if problem.takes_key else None
        est = estimator.estimate(problem, params, idx, mkey, est_state, t)
        loss_fn, args = (problem, ()) if idx is None else (problem.batch_loss, (idx, mkey))
        return _Oracle(est.value, est.grad, loss_fn, args, (sampler_state, est.state), est.cost)

    return init, step


def _keyed_oracle(loss, key):
    cost = jnp.asarray(getattr(loss, "examples_per_call", 1), jnp.int32)

    def init(params):
        return (), jnp.zeros([], jnp.int32)

    def step(state, params, t):
        kt = jax.random.fold_in(key, t)
        value, grad = jax.value_and_grad(loss)(params, kt)
        return _Oracle(value, grad, loss, (kt,), state, cost)

    return init, step


def make_oracle(problem: Any, estimator: Any, batch_size: int | None, sampling: str, key: Any):
    """``(init, step)`` of the per-step gradient oracle of a checked problem (inside a trace)."""
    if isinstance(problem, FiniteSum):
        sampler = None if batch_size is None else Sampler(problem.n, batch_size, sampling)
        return _finite_sum_oracle(problem, estimator, sampler, key)
    return _keyed_oracle(problem, key)


def check_problem(problem: Any, key: Any, batch_size: int | None, sampling: str, estimator: Any) -> Any:
    """Check a stochastic problem and its options (clear errors naming the argument); the estimator to use."""
    kind = _kind(problem)
    estimator = MiniBatchGradient() if estimator is None else estimator
    _check(problem, kind, key, batch_size, sampling, estimator)
    return estimator


def _evaluate(full, params, opt_state, dtype) -> tuple[jax.Array, jax.Array, jax.Array]:
    f, g = jax.value_and_grad(full)(params)
    avg = averaged_params(opt_state)
    f_avg = full(avg) if avg is not None else jnp.asarray(jnp.nan, dtype)
    return f.astype(dtype), tree_norm(g).astype(dtype), f_avg.astype(dtype)


@filter_jit(static_argnames=("steps", "batch_size", "sampling", "eval_steps"))
def _run(fns, params, key, *, steps, batch_size, sampling, eval_steps) -> StochasticTrajectory:
    optimizer, problem, estimator = fns
    oracle_init, oracle_step = make_oracle(problem, estimator, batch_size, sampling, key)
    full = problem.full
    dtype = real_dtype(params)
    ev = jnp.asarray(eval_steps, jnp.int32)
    n_ev = len(eval_steps)
    opt_state = optimizer.init(params)
    has_avg = averaged_params(opt_state) is not None

    def record(bufs, ptr, x, s, evals):
        def write(b):
            values = (*_evaluate(full, x, s, dtype), evals)
            return tuple(buf.at[ptr].set(v) for buf, v in zip(b, values))

        return write(bufs)

    def body(carry, _):
        x, s, o, t, ptr, evals, bufs = carry
        due = t == ev[jnp.minimum(ptr, n_ev - 1)]
        bufs = jax.lax.cond(due, lambda b: record(b, ptr, x, s, evals), lambda b: b, bufs)
        ptr = ptr + due.astype(jnp.int32)
        step_in = oracle_step(o, x, t)
        step = update_step(optimizer, step_in.loss_fn, x, s, step_in.args, value_grad=(step_in.value, step_in.grad))
        return (step.params, step.state, step_in.state, t + 1, ptr, evals + step_in.cost, bufs), None

    o_state, cost0 = oracle_init(params)
    bufs = (jnp.zeros(n_ev, dtype), jnp.zeros(n_ev, dtype), jnp.zeros(n_ev, dtype), jnp.zeros(n_ev, jnp.int32))
    zero = jnp.zeros([], jnp.int32)
    carry = (params, opt_state, o_state, zero, zero, cost0, bufs)
    carry, _ = jax.lax.scan(body, carry, None, length=steps)
    x, s, _, _, ptr, evals, bufs = carry
    loss, gnorm, avg_loss, grad_evals = record(bufs, ptr, x, s, evals)
    return StochasticTrajectory(
        steps=ev,
        loss=loss,
        grad_norm=gnorm,
        averaged_loss=avg_loss if has_avg else None,
        grad_evals=grad_evals,
        final_params=x,
        final_state=s,
        final_average=averaged_params(s),
    )
